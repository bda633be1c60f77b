//! A matcher partition on real processes and a real NATS JetStream (`nats-server -js` on a
//! free loopback port with its own store; never the machine's shared server): replicas of
//! `matchwright matcher` (three at a time) writing snapshots every 20 ticks, commands appended
//! all along, and
//! - the leader killed with SIGKILL ten times (a new replica started after each, from the
//!   newest snapshot once there is one),
//! - the leader paused with SIGSTOP past its lease and resumed (two replicas then believe
//!   they lead for a moment: the log must stay one chain),
//! - a standby paused past two trims of the log and resumed (it must start over from a
//!   snapshot, not stop),
//! - a standby stopped with SIGTERM (it must not depose the leader),
//! - a tick appended after a stale tick refused as deposed.
//!
//! Checked at the end, from a reader that followed the log from its first message: every
//! command the log acknowledged was applied by exactly one tick, the whole log replays with
//! every tick's event hash equal to its leader's, no player is ever in two live matches, every
//! replica still runs, a snapshot was marked and the log trimmed behind it, and a replica
//! given another config refuses to start. The failover times are printed (the target, 1 s,
//! is a benchmark's to judge: docs/cluster.md).
//!
//! Without `nats-server` on the PATH the test says it was skipped, unless
//! `MATCHWRIGHT_REQUIRE_NATS=1` (as `.ci/run` sets), where that is a failure.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command as Process, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use matchwright_cluster::agreement::fresh_replica;
use matchwright_cluster::log::AppendError;
use matchwright_cluster::partitions::ClusterSection;
use matchwright_cluster::snapshot::Snapshots;
use matchwright_cluster::{LogItem, PartitionLog, TickMessage};
use matchwright_ecs::TicketId;
use matchwright_ecs::{Command, Config, EnqueueTicket, Event, MatchId, PlayerId, Rating};
use tokio::sync::Mutex;

mod common;

use common::nats::{Nats, connect, nats_server};

const PARTITION: &str = "p1";

/// Leaders killed: 10, or `MATCHWRIGHT_CLUSTER_KILLS` (more, to measure failover times).
fn kills() -> usize {
    std::env::var("MATCHWRIGHT_CLUSTER_KILLS")
        .ok()
        .and_then(|kills| kills.parse().ok())
        .unwrap_or(10)
        .max(1)
}

/// The processes of the test, killed when it ends, however it ends.
struct Cluster {
    url: String,
    _nats: Nats,
    replicas: Vec<(String, Child)>,
    dead: Vec<String>,
    started: usize,
    snapshot_every_ticks: u64,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.replicas {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Cluster {
    fn start(binary: &Path, store: &Path) -> Self {
        let nats = Nats::start(binary, store);
        Self {
            url: nats.url.clone(),
            _nats: nats,
            replicas: Vec::new(),
            dead: Vec::new(),
            started: 0,
            snapshot_every_ticks: 20,
        }
    }

    /// Starts one more replica; returns its name.
    fn add_replica(&mut self) -> String {
        let name = format!("r{}", self.started);
        self.started += 1;
        let child = Process::new(env!("CARGO_BIN_EXE_matchwright"))
            .args(["matcher", "--partition", PARTITION, "--nats", &self.url])
            .args(["--replica", &name, "--snapshot-every-ticks"])
            .arg(self.snapshot_every_ticks.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("matchwright matcher starts");
        self.replicas.push((name.clone(), child));
        name
    }

    /// Sends a signal to a replica (`KILL` counts it dead).
    fn signal(&mut self, name: &str, signal: &str) {
        let child = &self
            .replicas
            .iter()
            .find(|(n, _)| n == name)
            .expect("ours")
            .1;
        let status = Process::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} {name}");
        if signal == "KILL" || signal == "TERM" {
            self.dead.push(name.to_owned());
        }
    }

    /// Every replica not stopped on purpose is still running (a standby that diverged would
    /// have stopped).
    fn assert_alive(&mut self) {
        for (name, child) in &mut self.replicas {
            if !self.dead.contains(name) {
                let status = child.try_wait().expect("a child's status");
                assert!(status.is_none(), "{name} stopped by itself: {status:?}");
            }
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

/// The last tick's number and leader.
async fn last_tick(log: &PartitionLog) -> Option<(u64, String)> {
    let (_, tick) = log.last_tick().await.ok()??;
    Some((tick.record.tick, tick.leader))
}

/// Waits until a replica other than `not` appends a tick; returns it and the wait.
async fn next_leader(log: &PartitionLog, not: Option<&str>) -> (String, Duration) {
    let started = Instant::now();
    let before = last_tick(log).await.map_or(0, |(tick, _)| tick);
    loop {
        if let Some((tick, leader)) = last_tick(log).await
            && tick > before
            && Some(leader.as_str()) != not
        {
            return (leader, started.elapsed());
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no new leader in 20 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Appends commands until told to stop; returns the acknowledged log sequences. Every 50th
/// command is sent twice under its message id: the log must answer the first's sequence.
async fn append_all_along(log: PartitionLog, stop: Arc<AtomicBool>) -> Vec<u64> {
    let mut acked = Vec::new();
    let mut id = 0_u64;
    while !stop.load(Ordering::Relaxed) {
        id += 1;
        let key = format!("enqueue-{id}");
        let seq = log
            .append_command(&duelist(id), &key)
            .await
            .expect("appended");
        if id.is_multiple_of(50) {
            let again = log
                .append_command(&duelist(id), &key)
                .await
                .expect("appended");
            assert_eq!(again, seq, "a repeated message id is the first message");
        }
        acked.push(seq);
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    acked
}

/// Follows the log from its first message into `seen` (fast: it only decodes), so that the
/// end of the test sees every message though the log is trimmed behind snapshots.
async fn tap(log: PartitionLog, seen: Arc<Mutex<Vec<LogItem>>>) {
    let mut reader = log.read_from(1).await.expect("the log reads");
    while let Some(item) = reader.next().await {
        seen.lock()
            .await
            .push(item.expect("every log message reads"));
    }
}

/// The ticks the tap saw, once one has consumed every command through `through`.
async fn ticks_through(seen: &Mutex<Vec<LogItem>>, through: u64) -> Vec<(u64, TickMessage)> {
    let started = Instant::now();
    loop {
        let ticks: Vec<(u64, TickMessage)> = seen
            .lock()
            .await
            .iter()
            .filter_map(|item| match item {
                LogItem::Tick { seq, message } => Some((*seq, message.clone())),
                LogItem::Command { .. } => None,
            })
            .collect();
        if ticks
            .last()
            .is_some_and(|(_, tick)| tick.commands_through >= through)
        {
            return ticks;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "commands left unapplied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Replays the ticks on a fresh replica (each tick's events checked against its leader's
/// hash), checking that no player is ever in two live matches; returns how many formed.
fn replay(ticks: &[(u64, TickMessage)]) -> usize {
    let config = Config::default();
    let mut replica = fresh_replica(PARTITION, &config, &ClusterSection::default())
        .expect("the default config is valid");
    let mut live: BTreeMap<MatchId, Vec<PlayerId>> = BTreeMap::new();
    let mut playing: BTreeMap<PlayerId, MatchId> = BTreeMap::new();
    let mut formed = 0;
    for (seq, message) in ticks {
        let applied = replica
            .on_tick(*seq, message)
            .expect("every tick replays to its hash");
        assert!(applied, "tick {} applies", message.record.tick);
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
                        assert!(other.is_none(), "{player:?} in {other:?} and another match");
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

/// Kills the leader `kills()` times; returns the failover times and the last leader.
async fn kill_leaders(
    cluster: &mut Cluster,
    log: &PartitionLog,
    mut leader: String,
) -> (Vec<Duration>, String) {
    let mut failovers = Vec::new();
    for _ in 0..kills() {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cluster.assert_alive();
        cluster.signal(&leader, "KILL");
        let (next, took) = next_leader(log, Some(&leader)).await;
        failovers.push(took);
        cluster.add_replica();
        leader = next;
    }
    (failovers, leader)
}

/// A replica that runs and is not the one now leading.
async fn a_standby(cluster: &Cluster, log: &PartitionLog) -> String {
    let leader = last_tick(log).await.expect("ticks").1;
    cluster
        .replicas
        .iter()
        .map(|(name, _)| name.clone())
        .find(|name| *name != leader && !cluster.dead.contains(name))
        .expect("a standby")
}

/// Pauses the leader past its lease, then resumes it: another must lead meanwhile, and the
/// resumed one must step down and run on (the log stays one chain: checked at the end).
async fn pause_the_leader(cluster: &mut Cluster, log: &PartitionLog, leader: &str) {
    cluster.signal(leader, "STOP");
    next_leader(log, Some(leader)).await;
    cluster.signal(leader, "CONT");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    cluster.assert_alive();
}

/// Pauses a standby for three snapshot intervals (the log is trimmed past it meanwhile), then
/// resumes it: it must notice the hole and start over from the newest snapshot, not stop.
async fn pause_a_standby(cluster: &mut Cluster, log: &PartitionLog) {
    let standby = a_standby(cluster, log).await;
    cluster.signal(&standby, "STOP");
    tokio::time::sleep(Duration::from_secs(6)).await;
    cluster.signal(&standby, "CONT");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    cluster.assert_alive();
}

/// Stops a standby with SIGTERM: the leader must stay and tick on.
async fn stop_a_standby(cluster: &mut Cluster, log: &PartitionLog) {
    let standby = a_standby(cluster, log).await;
    let (before, leader) = last_tick(log).await.expect("ticks");
    cluster.signal(&standby, "TERM");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (after, leading) = last_tick(log).await.expect("ticks");
    assert!(
        after > before + 5,
        "the leader ticks on ({before} -> {after})"
    );
    assert_eq!(
        leading, leader,
        "stopping a standby does not depose the leader"
    );
}

/// A tick appended after a stale one is refused: a deposed leader cannot write.
async fn stale_append_is_refused(log: &PartitionLog) {
    let (_, last) = log.last_tick().await.expect("reads").expect("ticks");
    let refused = log.append_tick(&last, 1).await;
    assert!(matches!(refused, Err(AppendError::Deposed)), "{refused:?}");
}

/// The partition's log, exported as a trace, replays tick for tick with `matchwright replay`.
fn exported_trace_replays(url: &str, dir: &Path) {
    let trace = dir.join("p1.mwtrace");
    let exported = Process::new(env!("CARGO_BIN_EXE_matchwright"))
        .args([
            "cluster",
            "export",
            "--partition",
            PARTITION,
            "--nats",
            url,
            "--out",
        ])
        .arg(&trace)
        .output()
        .expect("matchwright cluster export runs");
    let said = String::from_utf8_lossy(&exported.stdout).into_owned()
        + &String::from_utf8_lossy(&exported.stderr);
    assert!(exported.status.success(), "{said}");
    // "wrote FILE: N ticks, M commands, from tick B": a trace of ticks from a snapshot.
    let number_before = |word: &str| -> u64 {
        let at = said.find(word).expect(word);
        let digits: String = said[..at]
            .trim_end()
            .rsplit(' ')
            .next()
            .unwrap_or("")
            .into();
        digits.parse().unwrap_or(0)
    };
    assert!(number_before(" ticks,") > 0, "{said}");
    let base: u64 = said
        .rsplit("from tick ")
        .next()
        .unwrap_or("")
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(base > 0, "the trace starts from a snapshot: {said}");
    let replayed = Process::new(env!("CARGO_BIN_EXE_matchwright"))
        .arg("replay")
        .arg(&trace)
        .output()
        .expect("matchwright replay runs");
    let report = String::from_utf8_lossy(&replayed.stdout).into_owned()
        + &String::from_utf8_lossy(&replayed.stderr);
    assert_eq!(replayed.status.code(), Some(0), "{report}");
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
    let (same, other) = (dir.join("same.toml"), dir.join("changed.toml"));
    std::fs::write(&same, shipped).expect("written");
    std::fs::write(&other, changed).expect("written");
    let run = |file: &Path| {
        let mut child = Process::new(env!("CARGO_BIN_EXE_matchwright"))
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
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("matchwright matcher runs");
        let started = Instant::now();
        while child.try_wait().expect("status").is_none()
            && started.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        child.wait_with_output().expect("output")
    };
    let refused = run(&other);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(
        refused.status.code(),
        Some(1),
        "refused, not killed: {stderr}"
    );
    assert!(stderr.contains("the cluster's to"), "{stderr}");
    let accepted = run(&same);
    assert_eq!(
        accepted.status.code(),
        None,
        "the same config runs (killed after 5 s)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_survives_kills_pauses_and_stops_and_loses_nothing() {
    let Some(binary) = nats_server() else {
        eprintln!("SKIPPED cluster test: nats-server is not on the PATH");
        return;
    };
    let store = tempfile::tempdir().expect("a temporary directory");
    let mut cluster = Cluster::start(&binary, store.path());
    let client = connect(&cluster.url).await;
    let log = PartitionLog::open(client.clone(), PARTITION)
        .await
        .expect("the log opens");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let tapping = tokio::spawn(tap(log.clone(), seen.clone()));
    for _ in 0..3 {
        cluster.add_replica();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let appender = tokio::spawn(append_all_along(log.clone(), stop.clone()));
    let (leader, _) = next_leader(&log, None).await;
    let (failovers, leader) = kill_leaders(&mut cluster, &log, leader).await;
    pause_the_leader(&mut cluster, &log, &leader).await;
    pause_a_standby(&mut cluster, &log).await;
    stop_a_standby(&mut cluster, &log).await;
    stale_append_is_refused(&log).await;
    stop.store(true, Ordering::Relaxed);
    let acked = appender.await.expect("the appender ends");
    let through = *acked.iter().max().expect("commands were appended");
    let ticks = ticks_through(&seen, through).await;
    tapping.abort();
    cluster.assert_alive();
    let summary = verify(&ticks, &acked, &failovers, &log, &client).await;
    println!("{summary}");
    exported_trace_replays(&cluster.url, store.path());
    refuses_another_config(&cluster.url, store.path());
}

/// The end's checks on what the tap saw; returns a summary to print.
async fn verify(
    ticks: &[(u64, TickMessage)],
    acked: &[u64],
    failovers: &[Duration],
    log: &PartitionLog,
    client: &async_nats::Client,
) -> String {
    let mut applied: BTreeMap<u64, usize> = BTreeMap::new();
    for seq in ticks.iter().flat_map(|(_, tick)| &tick.command_seqs) {
        *applied.entry(*seq).or_insert(0) += 1;
    }
    for seq in acked {
        assert_eq!(
            applied.get(seq),
            Some(&1),
            "acknowledged command {seq} applied once"
        );
    }
    let formed = replay(ticks);
    assert!(formed > 0, "matches formed");
    let leaders: std::collections::BTreeSet<&str> =
        ticks.iter().map(|(_, tick)| tick.leader.as_str()).collect();
    assert!(
        leaders.len() > kills(),
        "every failover handed the log on: {leaders:?}"
    );
    let jetstream = async_nats::jetstream::new(client.clone());
    let snapshots = Snapshots::open(&jetstream, PARTITION).await.expect("opens");
    let (mark, _) = snapshots
        .newest()
        .await
        .expect("reads")
        .expect("a snapshot was marked");
    let first = log.first_seq().await.expect("the stream's state");
    assert!(
        first > 1,
        "the log was trimmed behind the snapshots (first sequence {first})"
    );
    let mut sorted = failovers.to_vec();
    sorted.sort();
    format!(
        "cluster: {} commands, {} ticks, {formed} matches, {} leaders, newest snapshot at tick \
         {}, log from {first}; failover from SIGKILL to the next leader's first tick: median \
         {:?}, max {:?}, all {:?}",
        acked.len(),
        ticks.len(),
        leaders.len(),
        mark.tick,
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1],
        failovers
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_without_a_standby_still_snapshots_and_trims_its_log() {
    let Some(binary) = nats_server() else {
        eprintln!("SKIPPED cluster test: nats-server is not on the PATH");
        return;
    };
    let store = tempfile::tempdir().expect("a temporary directory");
    let mut cluster = Cluster::start(&binary, store.path());
    cluster.snapshot_every_ticks = 10;
    let client = connect(&cluster.url).await;
    let log = PartitionLog::open(client.clone(), PARTITION)
        .await
        .expect("the log opens");
    cluster.add_replica();
    let snapshots = Snapshots::open(&async_nats::jetstream::new(client), PARTITION)
        .await
        .expect("opens");
    let started = Instant::now();
    let mut marks = Vec::new();
    while marks.len() < 2 {
        let id = started.elapsed().as_millis() as u64 + 1;
        log.append_command(&duelist(id), &format!("solo-{id}"))
            .await
            .expect("appended");
        if let Some((mark, _)) = snapshots.newest().await.expect("reads")
            && marks.last() != Some(&mark.tick)
        {
            marks.push(mark.tick);
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the leader wrote {marks:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let first = log.first_seq().await.expect("the stream's state");
    assert!(
        first > 1,
        "the log was trimmed behind the leader's snapshots (from {first})"
    );
    cluster.assert_alive();
}
