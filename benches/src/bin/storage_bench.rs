//! Storage benchmarks: commit cost per tick (1k and 10k commands), recovery time with a large
//! queue, and mirror throughput into Postgres (when DATABASE_URL is set).
//!
//! `cargo run --release -p matchwright-benches --bin storage-bench -- --tickets 1000000`
//!
//! `--mirror-rows N` runs the mirror alone: it fills the outbox with the first N rows of the
//! same fill (snapshots off, so it is quick) and times only the drain; with `--profile` it
//! drains step by step and reports where the time went (outbox reads, Postgres, deletes).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use matchwright_benches::{SteadyConfig, matcher_config};
use matchwright_ecs::{Command, Config, Event, Matcher};
use matchwright_sim::population::{Population, PopulationConfig};
use matchwright_storage::mirror::{self, DrainStats, Mirror, MirrorOptions};
use matchwright_storage::{OutboxReader, Store, StoreOptions, TickInput};

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
    /// Mirror only: fill the outbox with (at least) this many rows and time only the drain.
    #[arg(long)]
    mirror_rows: Option<u64>,
    /// Rows per mirror batch (default: the mirror's default).
    #[arg(long)]
    batch_rows: Option<usize>,
    /// Mirror partitions: connections writing a batch at once (default: the mirror's default).
    #[arg(long)]
    partitions: Option<usize>,
    /// With `--mirror-rows`: drain step by step (read, apply, acknowledge) and time each step.
    #[arg(long)]
    profile: bool,
    /// Keep the mirror's schema after the run (to look at it), instead of dropping it.
    #[arg(long)]
    keep_schema: bool,
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
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("matchwright-storage-bench-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).expect("create the bench directory");
    let steady = SteadyConfig {
        tickets: args.tickets,
        ..SteadyConfig::default()
    };
    let population_config = PopulationConfig::default();
    let config = matcher_config(&steady, &population_config);
    let url = args
        .postgres
        .clone()
        .or_else(|| std::env::var("DATABASE_URL").ok());

    if let Some(rows) = args.mirror_rows {
        let url = url.expect("--mirror-rows needs --postgres or DATABASE_URL");
        mirror_only(&args, &dir, &config, &population_config, rows, url);
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    bench_commits(&dir, &config, &population_config);
    let (store, outbox_rows) = bench_recovery(&dir, &config, &population_config, args.tickets);
    // The store is closed before the mirror runs: only the drain is timed (the reader keeps
    // the file open).
    let reader = store.outbox_reader();
    drop(store);
    match url {
        None => println!("mirror: skipped (no --postgres and no DATABASE_URL)"),
        Some(url) => {
            let stats = run_drain(&args, reader, url);
            println!(
                "mirror: {} rows (of {outbox_rows} queued) in {:.2} s = {:.0} rows/s; \
                 CPU: Postgres {:.1} s, storage-bench {:.1} s",
                stats.rows,
                stats.elapsed.as_secs_f64(),
                stats.rows as f64 / stats.elapsed.as_secs_f64(),
                stats.postgres_cpu,
                stats.own_cpu
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// 1. Commit cost per tick (journal + derived state + outbox), snapshots off.
fn bench_commits(dir: &std::path::Path, config: &Config, population_config: &PopulationConfig) {
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
            Population::new(1, population_config.clone(), config).expect("population");
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
}

/// 2. Recovery with a large queue: fill in ticks of 10k commands (snapshots as configured),
///    then reopen and time it. Returns the reopened store and its outbox rows.
fn bench_recovery(
    dir: &std::path::Path,
    config: &Config,
    population_config: &PopulationConfig,
    tickets: usize,
) -> (Store, u64) {
    let path = dir.join("recovery.redb");
    let options = StoreOptions {
        mirror: true,
        ..StoreOptions::default()
    };
    let (snapshot_commit, outbox_rows) = {
        let opened = Store::open(&path, config.clone(), 2, options.clone()).expect("open");
        let (mut store, mut matcher) = (opened.store, opened.matcher);
        let mut population =
            Population::new(2, population_config.clone(), config).expect("population");
        let started = Instant::now();
        let mut times = drive(
            &mut store,
            &mut matcher,
            &mut population,
            10_000,
            100_000,
            Some(tickets),
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
    (opened.store, outbox_rows)
}

/// The mirror alone: the first `rows` outbox rows of the recovery fill (same seed, snapshots
/// off), then the drain, timed.
fn mirror_only(
    args: &Args,
    dir: &std::path::Path,
    config: &Config,
    population_config: &PopulationConfig,
    rows: u64,
    url: String,
) {
    let path = dir.join("mirror.redb");
    let options = StoreOptions {
        mirror: true,
        snapshot_every_ticks: u64::MAX,
        snapshot_every_commands: u64::MAX,
        outbox_limit: rows.saturating_mul(2).max(1_000_000),
        ..StoreOptions::default()
    };
    let opened = Store::open(&path, config.clone(), 2, options).expect("open");
    let (mut store, mut matcher) = (opened.store, opened.matcher);
    let mut population = Population::new(2, population_config.clone(), config).expect("population");
    let started = Instant::now();
    let mut ticks = 0;
    while store.outbox_rows() < rows {
        drive(&mut store, &mut matcher, &mut population, 10_000, 1, None);
        ticks += 1;
    }
    let queued = store.outbox_rows();
    println!(
        "mirror only: {queued} outbox rows from {ticks} ticks ({} queued tickets) in {:.1} s",
        matcher.queued_tickets(),
        started.elapsed().as_secs_f64()
    );
    // Only the drain is timed: the store (and whatever it runs besides) is closed first; the
    // reader keeps the database open.
    let reader = store.outbox_reader();
    drop((matcher, store));
    let stats = if args.profile {
        profile_drain(args, reader, url)
    } else {
        run_drain(args, reader, url)
    };
    let profile = if args.profile {
        format!(
            " (outbox reads {:.2} s, Postgres {:.2} s, outbox deletes {:.2} s)",
            stats.read.as_secs_f64(),
            stats.write.as_secs_f64(),
            stats.acknowledge.as_secs_f64()
        )
    } else {
        String::new()
    };
    println!(
        "mirror: {} rows (of {queued} queued) in {} batches, {:.2} s = {:.0} rows/s{profile}; \
         CPU: Postgres {:.1} s ({:.0} rows per Postgres CPU second), storage-bench {:.1} s",
        stats.rows,
        stats.batches,
        stats.elapsed.as_secs_f64(),
        stats.rows as f64 / stats.elapsed.as_secs_f64(),
        stats.postgres_cpu,
        stats.rows as f64 / stats.postgres_cpu.max(1e-9),
        stats.own_cpu,
    );
}

/// CPU seconds each process named `comm` has used so far, by pid (Linux `/proc`; empty
/// elsewhere). `self` is this process.
fn cpu_by_pid(comm: &str) -> BTreeMap<String, f64> {
    let mut cpu = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return cpu;
    };
    for entry in entries.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = &stat[open + 1..close];
        let is_self = comm == "self" && pid == std::process::id().to_string();
        if name != comm && !is_self {
            continue;
        }
        // After the name: state, ppid, ... utime and stime are the 12th and 13th (USER_HZ).
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        if let (Some(user), Some(system)) = (ticks(11), ticks(12)) {
            cpu.insert(pid, (user + system) / 100.0);
        }
    }
    cpu
}

/// CPU seconds used by the processes named `comm` since `before` (new processes in full).
fn cpu_since(before: &BTreeMap<String, f64>, comm: &str) -> f64 {
    cpu_by_pid(comm)
        .iter()
        .map(|(pid, now)| now - before.get(pid).copied().unwrap_or(0.0))
        .sum()
}

/// What a drain did and how long its parts took.
#[derive(Default)]
struct Timed {
    rows: u64,
    batches: u64,
    elapsed: Duration,
    /// CPU seconds of the Postgres server's processes during the drain.
    postgres_cpu: f64,
    /// CPU seconds of this process during the drain.
    own_cpu: f64,
    read: Duration,
    write: Duration,
    acknowledge: Duration,
}

fn bench_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn bench_options(args: &Args, url: String) -> (MirrorOptions, String) {
    let schema = format!("storage_bench_{}", std::process::id());
    let mut options = MirrorOptions::new(url);
    options.schema = Some(schema.clone());
    if let Some(batch_rows) = args.batch_rows {
        options.batch_rows = batch_rows;
    }
    if let Some(partitions) = args.partitions {
        options.partitions = partitions;
    }
    (options, schema)
}

/// 3. Mirror throughput: the drain task, into a fresh schema, until the outbox is empty.
fn run_drain(args: &Args, reader: OutboxReader, url: String) -> Timed {
    let (options, schema) = bench_options(args, url);
    bench_runtime().block_on(async {
        let mirror = Mirror::connect(&options)
            .await
            .expect("connect to Postgres");
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let _ = stop.send(true); // drain everything, then stop
        let (postgres, own) = (cpu_by_pid("postgres"), cpu_by_pid("self"));
        let started = Instant::now();
        let stats: DrainStats =
            mirror::drain(reader, mirror.clone(), options.clone(), stopped).await;
        let elapsed = started.elapsed();
        let (postgres_cpu, own_cpu) = (cpu_since(&postgres, "postgres"), cpu_since(&own, "self"));
        if args.keep_schema {
            println!("kept the schema {schema}");
        } else {
            let _ = sqlx_drop(&mirror, &schema).await;
        }
        Timed {
            rows: stats.rows,
            batches: stats.batches,
            elapsed,
            postgres_cpu,
            own_cpu,
            ..Timed::default()
        }
    })
}

/// The drain's steps one after the other, each timed: read a batch from redb, apply it in
/// Postgres, delete it from the outbox.
fn profile_drain(args: &Args, reader: OutboxReader, url: String) -> Timed {
    let (options, schema) = bench_options(args, url);
    bench_runtime().block_on(async {
        let mirror = Mirror::connect(&options)
            .await
            .expect("connect to Postgres");
        let mut timed = Timed::default();
        let (postgres, own) = (cpu_by_pid("postgres"), cpu_by_pid("self"));
        let started = Instant::now();
        let mut after = None;
        loop {
            let step = Instant::now();
            let batch = reader.read_batch(after, options.batch_rows).expect("read");
            timed.read += step.elapsed();
            let Some((last, _)) = batch.last() else {
                break;
            };
            let last = *last;
            let step = Instant::now();
            mirror.apply(&batch).await.expect("apply");
            timed.write += step.elapsed();
            let step = Instant::now();
            reader.acknowledge(last).expect("acknowledge");
            timed.acknowledge += step.elapsed();
            timed.rows += batch.len() as u64;
            timed.batches += 1;
            after = Some(last);
        }
        timed.elapsed = started.elapsed();
        timed.postgres_cpu = cpu_since(&postgres, "postgres");
        timed.own_cpu = cpu_since(&own, "self");
        if args.keep_schema {
            println!("kept the schema {schema}");
        } else {
            let _ = sqlx_drop(&mirror, &schema).await;
        }
        timed
    })
}

async fn sqlx_drop(mirror: &Mirror, schema: &str) -> Result<(), String> {
    mirror.drop_schema(schema).await.map_err(|e| e.to_string())
}
