//! A test driver for crash recovery: opens (or recovers) a store, then runs the matcher on a
//! random command stream (a pure function of the seed and the tick number), committing every
//! tick, and prints `committed <tick> <chain hash>` after each commit returns. The crash test
//! kills it with SIGKILL at random moments and checks what survived.
//!
//! Usage: `store-writer PATH SEED UNTIL_TICK [SNAPSHOT_EVERY_TICKS]` (25 by default; snapshots
//! are taken off the tick thread, so a kill often lands in the middle of one).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::process::ExitCode;

use matchwright_ecs::codec;
use matchwright_ecs::{
    Command, Config, EnqueueTicket, Event, MatchId, PartyId, PlayerId, Rating, TicketId,
    TicketMember,
};
use matchwright_storage::{Store, StoreOptions, TickInput};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The commands of one tick: random, and the same for the same seed and tick.
fn commands_for(seed: u64, tick: u64) -> Vec<Command> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ tick.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let queues = ["duel-1v1", "ranked-5v5", "trios-ffa"];
    let recent_match = |rng: &mut ChaCha8Rng| MatchId(rng.random_range(0..(tick * 4 + 1)));
    let mut commands = Vec::new();
    for _ in 0..rng.random_range(20..60) {
        let player = PlayerId(rng.random_range(1..3_000));
        let command = match rng.random_range(0..100) {
            0..=54 => {
                let pings = (0..4).map(|_| rng.random_range(20..220)).collect();
                Command::Enqueue(EnqueueTicket {
                    ticket: TicketId(tick * 1_000 + rng.random_range(0..1_000)),
                    queue: queues[rng.random_range(0..queues.len())].to_string(),
                    party: None,
                    members: vec![TicketMember {
                        player,
                        rating: Rating::new(rng.random_range(900.0..2_100.0), 120.0),
                        pings_ms: pings,
                        attributes: Default::default(),
                        roles: Vec::new(),
                        avoid: Vec::new(),
                    }],
                    max_ping_ms: None,
                    waiting_since_ms: None,
                    attributes: Default::default(),
                })
            }
            55..=61 => Command::Cancel {
                ticket: TicketId(rng.random_range(0..(tick * 1_000 + 1))),
            },
            62..=79 => Command::AcceptMatch {
                match_id: recent_match(&mut rng),
                player,
            },
            80..=82 => Command::DeclineMatch {
                match_id: recent_match(&mut rng),
                player,
            },
            83..=88 => Command::SessionReady {
                match_id: recent_match(&mut rng),
                server: "127.0.0.1:7777".into(),
            },
            89..=92 => Command::Heartbeat {
                match_id: recent_match(&mut rng),
            },
            93..=96 => Command::ReportResult {
                match_id: recent_match(&mut rng),
                placements: vec![1, 2],
            },
            _ => Command::CreateParty {
                party: PartyId(rng.random_range(0..500)),
                leader: player,
            },
        };
        commands.push(command);
    }
    commands
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(Ok(seed)), Some(Ok(until))) = (
        args.get(1),
        args.get(2).map(|s| s.parse::<u64>()),
        args.get(3).map(|s| s.parse::<u64>()),
    ) else {
        eprintln!("usage: store-writer PATH SEED UNTIL_TICK [SNAPSHOT_EVERY_TICKS]");
        return ExitCode::from(2);
    };
    let snapshot_every = match args.get(4).map(|s| s.parse::<u64>()) {
        None => 25,
        Some(Ok(every)) if every > 0 => every,
        Some(_) => {
            eprintln!("store-writer: SNAPSHOT_EVERY_TICKS must be a positive number");
            return ExitCode::from(2);
        }
    };
    let options = StoreOptions {
        snapshot_every_ticks: snapshot_every,
        mirror: true,
        ..StoreOptions::default()
    };
    let opened = match Store::open(path, Config::default(), seed, options) {
        Ok(opened) => opened,
        Err(error) => {
            eprintln!("store-writer: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (mut store, mut matcher) = (opened.store, opened.matcher);
    matcher.check_invariants();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "recovered {} {}",
        opened.recovery.last_tick,
        codec::hex(&opened.recovery.chain_hash)
    );
    let mut events: Vec<Event> = Vec::new();
    for tick in store.last_tick() + 1..=until {
        let commands = commands_for(seed, tick);
        for command in &commands {
            if let Err(error) = matcher.submit(command.clone()) {
                eprintln!("store-writer: {error}");
                return ExitCode::FAILURE;
            }
        }
        let now_ms = tick * 100;
        let report = match matcher.tick(now_ms) {
            Ok(report) => report,
            Err(error) => {
                eprintln!("store-writer: {error}");
                return ExitCode::FAILURE;
            }
        };
        events.clear();
        events.extend(matcher.drain_events());
        let input = TickInput {
            tick: report.tick,
            now_ms,
            commands: &commands,
            events: &events,
        };
        match store.commit_tick(input, &matcher) {
            Ok(commit) => {
                let _ = writeln!(
                    out,
                    "committed {} {}",
                    commit.tick,
                    codec::hex(&commit.chain_hash)
                );
                let _ = out.flush();
            }
            Err(error) => {
                eprintln!("store-writer: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
