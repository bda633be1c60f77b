//! A run of duels the Postgres tests share: each tick two new players queue (matched at once)
//! and the matches formed the tick before get their game server and a result, so matches,
//! sessions, ratings and history all change; every tick is committed to the store.

#![allow(clippy::unwrap_used)]

use matchwright_ecs::{
    Command, Config, EnqueueTicket, Event, MatchId, Matcher, PlayerId, Rating, TicketId,
};
use matchwright_storage::{Store, StoreOptions, TickInput};

/// A tick's events as the store committed them (and a partition would publish them).
pub struct TickEvents {
    pub tick: u64,
    pub now_ms: u64,
    pub events: Vec<Event>,
}

/// One tick's commands among `players` players; the first team of odd matches wins.
pub fn tick_commands(tick: u64, formed: &mut Vec<MatchId>, players: u64) -> Vec<Command> {
    let mut commands = Vec::new();
    for player in [tick * 2, tick * 2 + 1] {
        commands.push(Command::Enqueue(EnqueueTicket::solo(
            TicketId(player),
            "duel-1v1",
            PlayerId(player % players),
            Rating::new(1500.0 + (player % 7) as f64 * 10.0, 100.0),
            vec![30, 90, 200, 250],
        )));
    }
    for match_id in formed.drain(..) {
        commands.push(Command::SessionReady {
            match_id,
            server: format!("10.1.0.{}:7777", match_id.0 % 200),
        });
        let first_wins = match_id.0 % 2 == 1;
        commands.push(Command::ReportResult {
            match_id,
            placements: if first_wins { vec![1, 2] } else { vec![2, 1] },
        });
    }
    commands
}

/// Runs `ticks` ticks into `store` (tick `t` at `t * 100` ms); returns their events.
pub fn run_ticks(
    store: &mut Store,
    matcher: &mut Matcher,
    ticks: u64,
    formed: &mut Vec<MatchId>,
    players: u64,
) -> Vec<TickEvents> {
    let mut all = Vec::new();
    for _ in 0..ticks {
        let tick = store.last_tick() + 1;
        let commands = tick_commands(tick, formed, players);
        for command in &commands {
            matcher.submit(command.clone()).unwrap();
        }
        let now_ms = tick * 100;
        let report = matcher.tick(now_ms).unwrap();
        let events: Vec<Event> = matcher.drain_events().collect();
        for event in &events {
            if let Event::MatchFormed { summary } = event {
                formed.push(summary.match_id);
            }
        }
        let input = TickInput {
            tick: report.tick,
            now_ms,
            commands: &commands,
            events: &events,
        };
        store.commit_tick(input, matcher).unwrap();
        all.push(TickEvents {
            tick: report.tick,
            now_ms,
            events,
        });
    }
    all
}

/// A new store in `dir` that keeps rows for the mirror, and its matcher (default config).
pub fn mirrored_store(dir: &std::path::Path) -> (Store, Matcher) {
    let options = StoreOptions {
        mirror: true,
        ..StoreOptions::default()
    };
    let opened = Store::open(dir.join("s.redb"), Config::default(), 5, options).unwrap();
    (opened.store, opened.matcher)
}
