//! Storage benchmarks: commit cost per tick (1k and 10k commands), recovery time with a large
//! queue, and mirror throughput into Postgres (when DATABASE_URL is set).
//!
//! `cargo run --release -p matchwright-benches --bin storage-bench -- --tickets 1000000`

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use matchwright_benches::{SteadyConfig, matcher_config};
use matchwright_ecs::{Command, Event, Matcher};
use matchwright_sim::population::{Population, PopulationConfig};
use matchwright_storage::mirror::{self, Mirror, MirrorOptions};
use matchwright_storage::{Store, StoreOptions, TickInput};

#[derive(Parser)]
#[command(about = "Matchwright storage benchmarks")]
struct Args {
    /// Queued tickets to reach for the recovery benchmark.
    #[arg(long, default_value_t = 1_000_000)]
    tickets: usize,
    /// Where to put the store files (deleted after).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Postgres for the mirror benchmark (default: $DATABASE_URL; skipped if neither).
    #[arg(long)]
    postgres: Option<String>,
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs `ticks` ticks of `per_tick` arrivals' commands, committing each; returns commit times.
fn drive(
    store: &mut Store,
    matcher: &mut Matcher,
    population: &mut Population,
    per_tick: usize,
    ticks: usize,
    until_queued: Option<usize>,
) -> Vec<Duration> {
    let mut times = Vec::new();
    let mut events: Vec<Event> = Vec::new();
    for _ in 0..ticks {
        if until_queued.is_some_and(|target| matcher.queued_tickets() >= target) {
            break;
        }
        let mut commands: Vec<Command> = Vec::with_capacity(per_tick);
        while commands.len() < per_tick {
            commands.extend(population.arrival().commands);
        }
        for command in &commands {
            matcher.submit(command.clone()).expect("events are drained");
        }
        let now_ms = (store.last_tick() + 1) * 100;
        let report = matcher.tick(now_ms).expect("events are drained");
        events.clear();
        events.extend(matcher.drain_events());
        let started = Instant::now();
        store
            .commit_tick(
                TickInput {
                    tick: report.tick,
                    now_ms,
                    commands: &commands,
                    events: &events,
                },
                matcher,
            )
            .expect("commit");
        times.push(started.elapsed());
    }
    times
}

fn summary(times: &mut [Duration]) -> String {
    times.sort();
    let p = |q: f64| millis(times[((times.len() - 1) as f64 * q) as usize]);
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        p(0.5),
        p(0.99),
        p(1.0)
    )
}

fn main() {
    let args = Args::parse();
    let dir = args.dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("matchwright-storage-bench-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).expect("create the bench directory");
    let steady = SteadyConfig {
        tickets: args.tickets,
        ..SteadyConfig::default()
    };
    let population_config = PopulationConfig::default();
    let config = matcher_config(&steady, &population_config);

    // 1. Commit cost per tick (journal + derived state + outbox), snapshots off.
    for per_tick in [1_000, 10_000] {
        let path = dir.join(format!("commit-{per_tick}.redb"));
        let options = StoreOptions {
            snapshot_every_ticks: u64::MAX,
            snapshot_every_commands: u64::MAX,
            mirror: true,
            ..StoreOptions::default()
        };
        let opened = Store::open(&path, config.clone(), 1, options).expect("open");
        let (mut store, mut matcher) = (opened.store, opened.matcher);
        let mut population =
            Population::new(1, population_config.clone(), &config).expect("population");
        let mut times = drive(
            &mut store,
            &mut matcher,
            &mut population,
            per_tick,
            100,
            None,
        );
        println!(
            "commit, {per_tick} commands/tick, 100 ticks: {}",
            summary(&mut times)
        );
        drop(store);
        let _ = std::fs::remove_file(&path);
    }

    // 2. Recovery with a large queue: fill in ticks of 10k commands (snapshots as configured),
    //    then reopen and time it.
    let path = dir.join("recovery.redb");
    let options = StoreOptions {
        mirror: true,
        ..StoreOptions::default()
    };
    let (snapshot_commit, outbox_rows) = {
        let opened = Store::open(&path, config.clone(), 2, options.clone()).expect("open");
        let (mut store, mut matcher) = (opened.store, opened.matcher);
        let mut population =
            Population::new(2, population_config.clone(), &config).expect("population");
        let started = Instant::now();
        let mut times = drive(
            &mut store,
            &mut matcher,
            &mut population,
            10_000,
            100_000,
            Some(args.tickets),
        );
        println!(
            "filled {} queued tickets in {} ticks ({:.1} s); commit {}",
            matcher.queued_tickets(),
            times.len(),
            started.elapsed().as_secs_f64(),
            summary(&mut times)
        );
        let max = times.last().copied().unwrap_or_default();
        (max, store.outbox_rows())
    };
    println!(
        "the slowest commit (one with a snapshot of the whole queue): {:.0} ms",
        millis(snapshot_commit)
    );
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let started = Instant::now();
    let opened = Store::open(&path, config.clone(), 2, options).expect("reopen");
    let elapsed = started.elapsed();
    let recovery = &opened.recovery;
    println!(
        "recovery: {} queued tickets, {} live matches, snapshot at tick {} + {} ticks ({} commands) \
         replayed, in {:.0} ms (file {:.0} MB)",
        recovery.queued_tickets,
        opened.matcher.live_matches(),
        recovery.snapshot_tick,
        recovery.replayed_ticks,
        recovery.replayed_commands,
        millis(elapsed),
        size as f64 / 1e6
    );

    // 3. Mirror throughput: drain the recovery store's outbox into a fresh schema.
    let url = args.postgres.or_else(|| std::env::var("DATABASE_URL").ok());
    match url {
        None => println!("mirror: skipped (no --postgres and no DATABASE_URL)"),
        Some(url) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let schema = format!("storage_bench_{}", std::process::id());
            let mut mirror_options = MirrorOptions::new(url);
            mirror_options.schema = Some(schema.clone());
            let (rows, elapsed) = runtime.block_on(async {
                let mirror = Mirror::connect(&mirror_options)
                    .await
                    .expect("connect to Postgres");
                let (stop, stopped) = tokio::sync::watch::channel(false);
                let _ = stop.send(true); // drain everything, then stop
                let started = Instant::now();
                let stats = mirror::drain(
                    opened.store.outbox_reader(),
                    mirror.clone(),
                    mirror_options.clone(),
                    stopped,
                )
                .await;
                let elapsed = started.elapsed();
                let _ = sqlx_drop(&mirror, &schema).await;
                (stats.rows, elapsed)
            });
            println!(
                "mirror: {rows} rows (of {outbox_rows} queued) in {:.2} s = {:.0} rows/s",
                elapsed.as_secs_f64(),
                rows as f64 / elapsed.as_secs_f64()
            );
        }
    }
    drop(opened);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn sqlx_drop(mirror: &Mirror, schema: &str) -> Result<(), String> {
    mirror.drop_schema(schema).await.map_err(|e| e.to_string())
}
