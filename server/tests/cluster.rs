//! A matcher partition on real processes and a real NATS JetStream (`nats-server -js` on a
//! free loopback port with its own store; never the machine's shared server): two replicas of
//! `matchwright matcher`, commands appended all along, the leader killed with SIGKILL ten
//! times (a new standby started after each kill). Checked at the end, from the log itself:
//! every command the log acknowledged was applied by exactly one tick, the whole log replays
//! with every tick's event hash equal to its leader's, no player is in two matches, and each
//! failover handed the log to another replica. The failover times are printed (the target,
//! 1 s, is a benchmark's to judge: docs/cluster.md).
//!
//! Without `nats-server` on the PATH the test says it was skipped, unless
//! `MATCHWRIGHT_REQUIRE_NATS=1` (as `.ci/run` sets), where that is a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command as Process, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use matchwright_cluster::agreement::{config_hash, seed};
use matchwright_cluster::replica::Replica;
use matchwright_cluster::{LogItem, PartitionLog, TickMessage};
use matchwright_ecs::{Command, Config, EnqueueTicket, Event, MatchId, PlayerId, Rating, TicketId};
use tokio::sync::Mutex;

const PARTITION: &str = "p1";
/// Leaders killed: 10, or `MATCHWRIGHT_CLUSTER_KILLS` (more, to measure failover times).
fn kills() -> usize {
    std::env::var("MATCHWRIGHT_CLUSTER_KILLS")
        .ok()
        .and_then(|kills| kills.parse().ok())
        .unwrap_or(10)
}

/// Children killed when the test ends, however it ends.
struct Children(Vec<(String, Child)>);

impl Drop for Children {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// `nats-server` on the PATH (none: the test is skipped, unless it is required).
fn nats_server() -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nats-server"))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        let required = std::env::var("MATCHWRIGHT_REQUIRE_NATS").is_ok_and(|value| value == "1");
        assert!(
            !required,
            "nats-server is not on the PATH and MATCHWRIGHT_REQUIRE_NATS=1: install the \
             Debian package nats-server"
        );
    }
    found
}

fn start_nats(binary: &Path, port: u16, store: &Path) -> Child {
    Process::new(binary)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server starts")
}

fn start_replica(url: &str, name: &str) -> Child {
    Process::new(env!("CARGO_BIN_EXE_matchwright"))
        .args(["matcher", "--partition", PARTITION, "--nats", url])
        .args(["--replica", name])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("matchwright matcher starts")
}

async fn connect(url: &str) -> async_nats::Client {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match async_nats::connect(url).await {
            Ok(client) => return client,
            Err(error) if Instant::now() > deadline => panic!("NATS at {url}: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn duelist(id: u64) -> Command {
    Command::Enqueue(EnqueueTicket::solo(
        TicketId(id),
        "duel-1v1",
        PlayerId(id),
        Rating::new(1500.0 + (id % 40) as f64 * 10.0, 100.0),
        vec![30, 90, 200, 250],
    ))
}

/// The last tick message of the log, if any.
async fn last_tick(log: &PartitionLog) -> Option<TickMessage> {
    let seq = log.last_tick_seq().await.ok()?;
    if seq == 0 {
        return None;
    }
    let mut reader = log.read_from(seq).await.ok()?;
    match reader.next().await? {
        Ok(LogItem::Tick { message, .. }) => Some(message),
        _ => None,
    }
}

/// Waits until a replica other than `not` appends a tick; returns it and the wait.
async fn next_leader(
    log: &PartitionLog,
    not: Option<&str>,
    within: Duration,
) -> (String, Duration) {
    let started = Instant::now();
    let before = last_tick(log).await.map_or(0, |tick| tick.record.tick);
    loop {
        if let Some(tick) = last_tick(log).await
            && tick.record.tick > before
            && Some(tick.leader.as_str()) != not
        {
            return (tick.leader, started.elapsed());
        }
        assert!(
            started.elapsed() < within,
            "no new leader within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Appends commands until told to stop; returns the acknowledged log sequences.
async fn append_all_along(log: PartitionLog, stop: Arc<AtomicBool>, acked: Arc<Mutex<Vec<u64>>>) {
    let mut id = 0_u64;
    while !stop.load(Ordering::Relaxed) {
        id += 1;
        // A repeat under the same message id must be dropped by the log.
        let repeats = if id.is_multiple_of(50) { 2 } else { 1 };
        for _ in 0..repeats {
            match log
                .append_command(&duelist(id), &format!("enqueue-{id}"))
                .await
            {
                Ok(seq) => acked.lock().await.push(seq),
                Err(error) => panic!("appending command {id}: {error}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
}

/// Every tick message of the log, read until one has consumed every command through `through`.
async fn ticks_through(log: &PartitionLog, through: u64) -> Vec<(u64, TickMessage)> {
    let mut reader = log.read_from(1).await.expect("the log reads");
    let mut ticks = Vec::new();
    let deadline = Duration::from_secs(30);
    loop {
        let item = tokio::time::timeout(deadline, reader.next())
            .await
            .expect("the leader consumes every command")
            .expect("the reader goes on")
            .expect("every log message decodes");
        if let LogItem::Tick { seq, message } = item {
            let done = message.commands_through >= through;
            ticks.push((seq, message));
            if done {
                return ticks;
            }
        }
    }
}

/// Replays the ticks on a fresh replica (each tick's events checked against its leader's
/// hash), checking that no player is ever in two live matches; returns how many matches
/// formed.
fn replay(ticks: &[(u64, TickMessage)]) -> usize {
    let config = Config::default();
    let mut replica = Replica::new(config.clone(), seed(&config_hash(PARTITION, &config)))
        .expect("the default config is valid");
    let mut live: BTreeMap<MatchId, Vec<PlayerId>> = BTreeMap::new();
    let mut playing: BTreeMap<PlayerId, MatchId> = BTreeMap::new();
    let mut formed = 0;
    for (seq, message) in ticks {
        assert!(
            replica
                .on_tick(*seq, message)
                .expect("every tick replays to its leader's hash"),
            "tick {} applies",
            message.record.tick
        );
        for event in replica.events() {
            match event {
                Event::MatchProposed { summary, .. } | Event::MatchFormed { summary } => {
                    if live.contains_key(&summary.match_id) {
                        continue;
                    }
                    formed += 1;
                    let players: Vec<PlayerId> = summary.players().collect();
                    for player in &players {
                        let other = playing.insert(*player, summary.match_id);
                        assert!(
                            other.is_none(),
                            "{player:?} in {other:?} and {:?}",
                            summary.match_id
                        );
                    }
                    live.insert(summary.match_id, players);
                }
                Event::MatchCancelled { match_id, .. }
                | Event::SessionEnded { match_id, .. }
                | Event::SessionAbandoned { match_id, .. } => {
                    for player in live.remove(match_id).unwrap_or_default() {
                        playing.remove(&player);
                    }
                }
                _ => {}
            }
        }
    }
    formed
}

/// A replica given another config than the partition's refuses to start, naming both hashes.
fn refuses_another_config(url: &str, dir: &Path) {
    let shipped = include_str!("../../config/matchwright.toml");
    let changed = shipped.replace(
        "max_commands_per_tick = 200000",
        "max_commands_per_tick = 1000",
    );
    assert_ne!(
        shipped, changed,
        "the shipped config sets max_commands_per_tick"
    );
    let file = dir.join("changed.toml");
    std::fs::write(&file, changed).expect("the config is written");
    let output = Process::new(env!("CARGO_BIN_EXE_matchwright"))
        .args([
            "matcher",
            "--partition",
            PARTITION,
            "--nats",
            url,
            "--replica",
            "odd",
        ])
        .arg("--config")
        .arg(&file)
        .output()
        .expect("matchwright matcher runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "a replica with another config started"
    );
    assert!(
        stderr.contains("this process's config hashes to") && stderr.contains("the cluster's to"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_survives_its_leader_killed_ten_times_and_loses_nothing() {
    let Some(binary) = nats_server() else {
        eprintln!("SKIPPED cluster test: nats-server is not on the PATH");
        return;
    };
    let store = tempfile::tempdir().expect("a temporary directory");
    let port = free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let mut children = Children(vec![(
        "nats".into(),
        start_nats(&binary, port, store.path()),
    )]);
    let client = connect(&url).await;
    let log = PartitionLog::open(client, PARTITION)
        .await
        .expect("the log opens");
    for name in ["r0", "r1"] {
        children.0.push((name.into(), start_replica(&url, name)));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let appender = tokio::spawn(append_all_along(log.clone(), stop.clone(), acked.clone()));
    let (mut leader, _) = next_leader(&log, None, Duration::from_secs(20)).await;
    let mut failovers = Vec::new();
    for kill in 0..kills() {
        tokio::time::sleep(Duration::from_millis(300)).await;
        for (name, child) in &mut children.0 {
            assert!(
                child.try_wait().expect("a child's status").is_none() || name.starts_with("dead"),
                "{name} stopped by itself (a standby that diverged stops)"
            );
        }
        let at = children
            .0
            .iter()
            .position(|(name, _)| *name == leader)
            .expect("the leader is one of ours");
        children.0[at].1.kill().expect("SIGKILL");
        children.0[at].0 = format!("dead-{leader}");
        let (next, took) = next_leader(&log, Some(&leader), Duration::from_secs(20)).await;
        failovers.push(took);
        let name = format!("r{}", kill + 2);
        children.0.push((name.clone(), start_replica(&url, &name)));
        leader = next;
    }
    stop.store(true, Ordering::Relaxed);
    appender.await.expect("the appender ends");
    let acked = acked.lock().await.clone();
    let through = acked.iter().copied().max().expect("commands were appended");
    let ticks = ticks_through(&log, through).await;

    let mut applied: BTreeMap<u64, usize> = BTreeMap::new();
    for (_, message) in &ticks {
        for seq in &message.command_seqs {
            *applied.entry(*seq).or_insert(0) += 1;
        }
    }
    for seq in &acked {
        assert_eq!(
            applied.get(seq),
            Some(&1),
            "acknowledged command {seq} applied once"
        );
    }
    let formed = replay(&ticks);
    assert!(formed > 0, "matches formed");
    refuses_another_config(&url, store.path());
    let leaders: BTreeSet<&str> = ticks.iter().map(|(_, tick)| tick.leader.as_str()).collect();
    assert!(
        leaders.len() > kills(),
        "every failover handed the log on: {leaders:?}"
    );
    let mut sorted = failovers.clone();
    sorted.sort();
    println!(
        "cluster: {} commands ({} distinct), {} ticks, {formed} matches, {} leaders; failover from SIGKILL to the \
         next leader's first tick: median {:?}, max {:?}, all {:?}",
        acked.len(),
        applied.len(),
        ticks.len(),
        leaders.len(),
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1],
        failovers
    );
}
