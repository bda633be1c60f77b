//! A long steady run of the store, as a server runs it: a queue held at `--tickets`, one tick
//! every `--tick-ms` (paced by the wall clock, as the server's tick loop is), each committed
//! with group commit on, background snapshots at the default cadence and pruning every minute.
//! Reports the steady commit p50/p99, the extra cost of ticks that mark a snapshot, the file
//! size (redb file plus snapshot files) each minute against the size of the live state (the
//! newest snapshot file), the latency of logins (refresh-token writes) that wait for the tick's
//! commit, and, at the end, the time to recover.
//!
//! `cargo run --release -p matchwright-benches --bin storage-soak -- --tickets 1000000 --minutes 30`
//!
//! The queue is filled first, `--fill-per-tick` arrivals a tick (unpaced), then held: each
//! tick's arrivals replace its departures (`matchwright_benches::SteadyState`, mean wait 30 s,
//! sessions ending with results, so ratings, history and match rows churn as in a server).
//! Each minute it also prints where the file's pages go, table by table (`Store::space`).
//! With `--players N` the players come back after N, so the per-player tables level off as a
//! game's do; without it every arrival is a new player and they grow all run.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use matchwright_benches::{SteadyConfig, SteadyState, matcher_config};
use matchwright_ecs::PlayerId;
use matchwright_storage::{
    CommitReport, RefreshToken, Store, StoreError, StoreHandle, StoreOptions, TickInput,
};

#[derive(Parser)]
#[command(about = "Matchwright storage soak: a long steady run against a real store")]
struct Args {
    /// Tickets held in the queue.
    #[arg(long, default_value_t = 100_000)]
    tickets: usize,
    /// Minutes of steady ticks after the fill.
    #[arg(long, default_value_t = 30.0)]
    minutes: f64,
    /// Wall time per tick (the server's tick interval).
    #[arg(long, default_value_t = 100)]
    tick_ms: u64,
    /// Arrivals per tick while filling.
    #[arg(long, default_value_t = 10_000)]
    fill_per_tick: usize,
    /// Logins per second, each a refresh-token write waiting for the next tick's commit.
    #[arg(long, default_value_t = 50)]
    logins_per_second: u64,
    /// How long journal entries and snapshots are kept (`journal_keep_ms`; default the
    /// store's, an hour).
    #[arg(long)]
    keep_minutes: Option<f64>,
    /// Players in the game: ids come back after this many arrivals' players, so the per-player
    /// tables (ratings, leaderboard, history) stop growing once everyone has played, as in a
    /// game with a player base. 0: every arrival is a new player (the tables grow all run).
    #[arg(long, default_value_t = 0)]
    players: u64,
    /// Where to put the store (deleted after).
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// p50, p99 and max of `times`, in ms.
fn summary(times: &mut [Duration]) -> String {
    if times.is_empty() {
        return "none".into();
    }
    times.sort();
    let p = |q: f64| millis(times[((times.len() - 1) as f64 * q) as usize]);
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples)",
        p(0.5),
        p(0.99),
        p(1.0),
        times.len()
    )
}

/// Bytes in the redb file and in the snapshot files beside it.
fn file_sizes(path: &Path) -> (u64, u64, u64) {
    let redb = std::fs::metadata(path).map_or(0, |m| m.len());
    let mut snapshots = Vec::new();
    let dir = PathBuf::from(format!("{}.snapshots", path.display()));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if let Ok(meta) = entry.metadata() {
                snapshots.push((meta.modified().ok(), meta.len()));
            }
        }
    }
    let total = snapshots.iter().map(|(_, len)| len).sum();
    let newest = snapshots
        .iter()
        .max_by_key(|(modified, _)| *modified)
        .map_or(0, |(_, len)| *len);
    (redb, total, newest)
}

/// A thread writing `per_second` refresh tokens a second through the store's group commit,
/// timing each until durable; stops when `stop` is set.
fn logins(
    handle: StoreHandle,
    per_second: u64,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(Vec<Duration>, u64)> {
    std::thread::spawn(move || {
        let mut times = Vec::new();
        let mut refused = 0;
        let gap = Duration::from_secs(1) / u32::try_from(per_second.max(1)).unwrap_or(1);
        let mut n: u64 = 0;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let mut hash = [0_u8; 32];
            hash[..8].copy_from_slice(&n.to_le_bytes());
            let token = RefreshToken {
                player: PlayerId(n),
                family: n,
                expires_at_ms: u64::MAX,
                rotated: false,
            };
            let started = Instant::now();
            // A write the tick loop did not commit in time is refused (`Busy`), as a login
            // would be: counted, and its wait is in the times.
            match handle.put_refresh_token(&hash, &token) {
                Ok(()) => {}
                Err(StoreError::Busy { .. }) => refused += 1,
                Err(error) => panic!("a login's write failed: {error}"),
            }
            times.push(started.elapsed());
            std::thread::sleep(gap.saturating_sub(started.elapsed()));
        }
        (times, refused)
    })
}

/// What the steady phase measured.
#[derive(Default)]
struct Steady {
    plain: Vec<Duration>,
    marked: Vec<Duration>,
    ticks: u64,
    late: u64,
}

/// Runs one tick of `state` and commits it; returns the commit's report and time.
fn tick(state: &mut SteadyState, store: &mut Store, most: usize) -> (CommitReport, Duration) {
    state.step_towards(most);
    let started = Instant::now();
    let report = store
        .commit_tick(
            TickInput {
                tick: store.last_tick() + 1,
                now_ms: state.now_ms(),
                commands: state.last_commands(),
                events: state.last_events(),
            },
            &state.matcher,
        )
        .expect("commit");
    (report, started.elapsed())
}

fn main() {
    let args = Args::parse();
    // A player still queued or playing cannot be queued again: a base too small for the
    // queue (parties of up to 5, sessions, the churn) would never fill it.
    if args.players > 0 && args.players < 5 * args.tickets as u64 {
        eprintln!(
            "storage-soak: --players must be 0 or at least 5 x --tickets ({}), got {}",
            5 * args.tickets,
            args.players
        );
        std::process::exit(2);
    }
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("matchwright-storage-soak-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).expect("create the bench directory");
    let path = dir.join("soak.redb");
    let steady = SteadyConfig {
        tickets: args.tickets,
        tick_ms: args.tick_ms,
        player_base: (args.players > 0).then_some(args.players),
        ..SteadyConfig::default()
    };
    let config = matcher_config(&steady, &steady.workload.population());
    let mut options = StoreOptions::default();
    if let Some(minutes) = args.keep_minutes {
        options.journal_keep_ms = (minutes * 60_000.0) as u64;
    }
    let opened = Store::open(&path, config.clone(), steady.seed, options.clone()).expect("open");
    let mut store = opened.store;
    store.enable_group_commit();
    let mut state = SteadyState::new(steady.clone());
    state.matcher = opened.matcher;

    let started = Instant::now();
    // Departures start with the first tick: the queue is full at 99% of its size.
    while state.matcher.queued_tickets() < args.tickets / 100 * 99 {
        tick(&mut state, &mut store, args.fill_per_tick);
    }
    println!(
        "filled {} queued tickets in {} ticks ({:.1} s)",
        state.matcher.queued_tickets(),
        store.last_tick(),
        started.elapsed().as_secs_f64()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let login_thread = logins(store.handle(), args.logins_per_second, Arc::clone(&stop));
    let measured = run_steady(&args, &mut state, &mut store, &path);
    stop.store(true, Ordering::Relaxed);
    // The login thread's last write waits for a commit: one more tick lets it finish.
    while !login_thread.is_finished() {
        tick(&mut state, &mut store, usize::MAX);
        std::thread::sleep(Duration::from_millis(args.tick_ms));
    }
    let (mut login_times, refused) = login_thread.join().expect("the login thread");
    report(measured, &mut login_times);
    println!("logins refused (not committed within the store's wait): {refused}");
    println!(
        "commands refused by the matcher: {} (with --players, a player coming back while still queued, playing or in a party)",
        state.rejected()
    );
    recover(&path, config, steady.seed, options, store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The steady phase: a tick every `tick_ms`, pruning and a size line every minute.
fn run_steady(args: &Args, state: &mut SteadyState, store: &mut Store, path: &Path) -> Steady {
    let mut measured = Steady::default();
    let interval = Duration::from_millis(args.tick_ms);
    let started = Instant::now();
    let end = started + Duration::from_secs_f64(args.minutes * 60.0);
    let mut next_tick = Instant::now();
    let mut next_minute = started;
    let mut minute = 0;
    while Instant::now() < end {
        let (report, time) = tick(state, store, usize::MAX);
        measured.ticks += 1;
        if report.snapshot {
            measured.marked.push(time);
        } else {
            measured.plain.push(time);
        }
        if Instant::now() >= next_minute {
            let pruning = Instant::now();
            let pruned = store.prune(state.now_ms()).expect("prune");
            let pruning = pruning.elapsed();
            let (redb, snapshots, newest) = file_sizes(path);
            println!(
                "minute {minute}: redb {:.0} MB, snapshot files {:.0} MB (newest {:.0} MB); \
                 {} journal entries, {} snapshots, pruned {pruned} in {:.0} ms",
                redb as f64 / 1e6,
                snapshots as f64 / 1e6,
                newest as f64 / 1e6,
                store.journal_len().unwrap_or(0),
                store.snapshot_count().unwrap_or(0),
                millis(pruning),
            );
            print_space(store);
            minute += 1;
            next_minute += Duration::from_secs(60);
            // The minute's pruning and measuring are not a tick: the next one starts after.
            next_tick = Instant::now();
            continue;
        }
        next_tick += interval;
        match next_tick.checked_duration_since(Instant::now()) {
            Some(wait) => std::thread::sleep(wait),
            None => {
                measured.late += 1;
                next_tick = Instant::now();
            }
        }
    }
    measured
}

/// The tables holding data, largest first, and the bytes the file has allocated.
fn print_space(store: &mut Store) {
    let started = Instant::now();
    let Ok(space) = store.space() else {
        return;
    };
    let took = started.elapsed();
    let mb = |bytes: u64| bytes as f64 / 1e6;
    let mut tables: Vec<_> = space
        .tables
        .iter()
        .filter(|t| t.occupied_bytes > 0)
        .collect();
    tables.sort_by_key(|t| std::cmp::Reverse(t.occupied_bytes));
    let listed: Vec<String> = tables
        .iter()
        .map(|table| format!("{} {:.1}", table.name, mb(table.occupied_bytes)))
        .collect();
    println!(
        "  space: {:.0} MB allocated, {:.0} MB in tables (MB each: {}); measured in {:.0} ms",
        mb(space.allocated_bytes),
        mb(space.occupied_bytes()),
        listed.join(", "),
        millis(took)
    );
}

fn report(mut measured: Steady, login_times: &mut [Duration]) {
    println!(
        "steady: {} ticks, {} late (a tick and its commit took longer than the interval)",
        measured.ticks, measured.late
    );
    println!(
        "commit, ticks without a snapshot: {}",
        summary(&mut measured.plain)
    );
    println!(
        "commit, ticks marking a snapshot: {}",
        summary(&mut measured.marked)
    );
    println!(
        "login (token write until durable): {}",
        summary(login_times)
    );
}

/// Closes the store as it stands (a snapshot may be in flight, as at a crash), reopens it
/// and times recovery.
fn recover(
    path: &Path,
    config: matchwright_ecs::Config,
    seed: u64,
    options: StoreOptions,
    store: Store,
) {
    drop(store);
    let (redb, snapshots, newest) = file_sizes(path);
    println!(
        "closed: redb {:.0} MB, snapshot files {:.0} MB (newest {:.0} MB)",
        redb as f64 / 1e6,
        snapshots as f64 / 1e6,
        newest as f64 / 1e6
    );
    let started = Instant::now();
    let opened = Store::open(path, config, seed, options).expect("reopen");
    let recovery = &opened.recovery;
    println!(
        "recovery: {} queued tickets, snapshot at tick {} + {} ticks ({} commands) replayed, \
         in {:.0} ms (snapshot loaded and restored in {} ms)",
        recovery.queued_tickets,
        recovery.snapshot_tick,
        recovery.replayed_ticks,
        recovery.replayed_commands,
        millis(started.elapsed()),
        recovery.snapshot_load_ms
    );
}
