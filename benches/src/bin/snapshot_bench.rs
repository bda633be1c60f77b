//! Snapshot benchmark: a matcher filled in memory (no store) to N queued tickets by the storage
//! bench's population, then the phases of a snapshot and of a recovery from it, each timed:
//! export (`Matcher::snapshot`), encode and decode (`codec`, as storage writes and reads
//! snapshots), restore (`Matcher::restore`). Then checks the restored matcher is the original:
//! its own export equals the snapshot, and a few identical ticks on both give the same events.
//!
//! `cargo run --release -p matchwright-benches --bin snapshot-bench -- --tickets 1000000`
//!
//! `--workload rules` fills `ranked-5v5` with rules and roles instead of the default config's
//! three plain queues (each ticket then carries attributes and roles in the snapshot).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use matchwright_benches::{RuleChecks, RulesShape, SteadyConfig, Workload, matcher_config};
use matchwright_ecs::{Command, Matcher, Snapshot, codec};
use matchwright_sim::population::Population;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Which queues are filled.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Fill {
    /// The default config's three plain queues (as the storage bench fills them).
    Mixed,
    /// `ranked-5v5` with rules and roles.
    Rules,
}

#[derive(Parser)]
#[command(about = "Matchwright snapshot benchmark: export, encode, decode, restore")]
struct Args {
    /// Queued tickets to reach.
    #[arg(long, default_value_t = 1_000_000)]
    tickets: usize,
    /// Which queues are filled.
    #[arg(long, value_enum, default_value_t = Fill::Mixed)]
    workload: Fill,
    /// Times each phase is run (the best and the worst are printed).
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Ticks run on both matchers after the restore, to compare their events.
    #[arg(long, default_value_t = 5)]
    check_ticks: usize,
    /// Also print the encoded size of each part of the snapshot.
    #[arg(long)]
    sizes: bool,
}

/// Arrivals per tick while filling (as the storage bench's recovery fill).
const ARRIVALS_PER_TICK: usize = 10_000;
/// Virtual time per tick.
const TICK_MS: u64 = 100;

/// The population's commands for one tick: at least `per_tick` of them, dressed for rules
/// when the workload has them.
fn arrivals(
    population: &mut Population,
    shape: &mut Option<RulesShape>,
    per_tick: usize,
) -> Vec<Command> {
    let mut commands: Vec<Command> = Vec::with_capacity(per_tick);
    while commands.len() < per_tick {
        commands.extend(population.arrival().commands);
    }
    if let Some(shape) = shape {
        shape.dress(&mut commands);
    }
    commands
}

/// Runs one tick of `commands`; returns the hash of its events.
fn run_tick(matcher: &mut Matcher, commands: &[Command], now_ms: u64) -> [u8; 32] {
    for command in commands {
        matcher.submit(command.clone()).expect("events are drained");
    }
    matcher.tick(now_ms).expect("events are drained");
    let events: Vec<_> = matcher.drain_events().collect();
    codec::hash_events(&events)
}

/// Fills `matcher` until `tickets` are queued (or the ticks run out); returns the ticks run.
fn fill(
    matcher: &mut Matcher,
    population: &mut Population,
    shape: &mut Option<RulesShape>,
    tickets: usize,
) -> u64 {
    let mut ticks = 0;
    while matcher.queued_tickets() < tickets && ticks < 100_000 {
        let commands = arrivals(population, shape, ARRIVALS_PER_TICK);
        ticks += 1;
        run_tick(matcher, &commands, ticks * TICK_MS);
    }
    ticks
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs `phase` `rounds` times; prints its best and worst times; returns its last result.
fn timed<T>(name: &str, rounds: usize, mut phase: impl FnMut() -> T) -> T {
    let mut times = Vec::with_capacity(rounds);
    let mut result = None;
    for _ in 0..rounds.max(1) {
        // The previous round's result is dropped before the next one is timed.
        drop(result.take());
        let started = Instant::now();
        result = Some(phase());
        times.push(started.elapsed());
    }
    times.sort();
    let (best, worst) = (times[0], times[times.len() - 1]);
    if times.len() == 1 {
        println!("{name:>8}: {:8.1} ms", millis(best));
    } else {
        println!(
            "{name:>8}: {:8.1} ms (worst of {}: {:.1} ms)",
            millis(best),
            times.len(),
            millis(worst)
        );
    }
    result.expect("at least one round")
}

fn main() {
    let args = Args::parse();
    let workload = match args.workload {
        Fill::Mixed => Workload::Mixed,
        Fill::Rules => Workload::RankedRules(RuleChecks::ALL),
    };
    let steady = SteadyConfig {
        tickets: args.tickets,
        workload,
        ..SteadyConfig::default()
    };
    let population_config = workload.population();
    let config = matcher_config(&steady, &population_config);
    let mut matcher = Matcher::new(config.clone(), steady.seed).expect("config");
    let mut population = Population::new(2, population_config, &config).expect("population");
    let mut shape = workload.shape(steady.seed);

    let started = Instant::now();
    let ticks = fill(&mut matcher, &mut population, &mut shape, args.tickets);
    println!(
        "filled {} queued tickets ({}) in {ticks} ticks ({:.1} s); {:?}",
        matcher.queued_tickets(),
        workload.name(),
        started.elapsed().as_secs_f64(),
        matcher.counts()
    );

    let snapshot = timed("export", args.rounds, || {
        matcher.snapshot().expect("between ticks")
    });
    let bytes = timed("encode", args.rounds, || codec::encode(&snapshot));
    let decoded: Snapshot = timed("decode", args.rounds, || {
        codec::decode(&bytes).expect("decodes")
    });
    let mut restored = timed("restore", args.rounds, || {
        Matcher::restore(config.clone(), &decoded).expect("restores")
    });
    println!(
        "encoded: {:.1} MB ({:.0} bytes per queued ticket)",
        bytes.len() as f64 / 1e6,
        bytes.len() as f64 / snapshot.queued_tickets().max(1) as f64
    );
    if args.sizes {
        print_sizes(&snapshot);
    }
    check(
        &mut matcher,
        &mut restored,
        &snapshot,
        &mut population,
        &mut shape,
        args.check_ticks,
        ticks,
    );
}

/// Checks the restored matcher against the original: the same export, then the same events
/// for the same commands.
fn check(
    original: &mut Matcher,
    restored: &mut Matcher,
    snapshot: &Snapshot,
    population: &mut Population,
    shape: &mut Option<RulesShape>,
    check_ticks: usize,
    ticks: u64,
) {
    let again = restored.snapshot().expect("between ticks");
    assert!(
        again == *snapshot,
        "the restored matcher's export differs from the snapshot"
    );
    for tick in 1..=check_ticks as u64 {
        let commands = arrivals(population, shape, ARRIVALS_PER_TICK / 10);
        let now_ms = (ticks + tick) * TICK_MS;
        let expected = run_tick(original, &commands, now_ms);
        let found = run_tick(restored, &commands, now_ms);
        assert_eq!(
            codec::hex(&found),
            codec::hex(&expected),
            "tick {tick} after the restore: the events differ"
        );
    }
    println!(
        "check: the restored matcher's export is the snapshot, and {check_ticks} ticks after it emit the same events"
    );
}

/// The encoded size of each part of the snapshot.
fn print_sizes(snapshot: &Snapshot) {
    let size = |bytes: Vec<u8>| bytes.len() as f64 / 1e6;
    println!(
        "   parts: players {:.1} MB ({}), parties {:.1} MB ({}), tickets {:.1} MB ({}), matches {:.1} MB ({})",
        size(codec::encode(&snapshot.players)),
        snapshot.players.len(),
        size(codec::encode(&snapshot.parties)),
        snapshot.parties.len(),
        size(codec::encode(&snapshot.tickets)),
        snapshot.tickets.len(),
        size(codec::encode(&snapshot.matches)),
        snapshot.matches.len(),
    );
}
