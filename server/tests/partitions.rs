//! Two matcher partitions of one cluster on real processes and a real NATS JetStream: the
//! `[cluster]` map gives each its queues, and a player holds one ticket in the whole cluster.
//!
//! - A partition the map does not list is refused at start.
//! - The same players are enqueued into both partitions at once: each is queued in exactly
//!   one, and the other refuses the enqueue naming the partition that holds them.
//! - An enqueue into a queue another partition runs is refused, naming that partition.
//! - A player whose ticket is cancelled, or whose session ends, is released: they can then
//!   queue in the other partition.
//! - Each partition numbers its matches in its own range; both logs replay with every tick's
//!   event hash equal to its leader's.
//! - The leader of one partition is killed: its standby takes over and still releases.
//! - Each replica's `/readyz` answers ready, and its `/metrics` say who leads, how many
//!   enqueues it refused and how many takeovers it made.
//!
//! And a partition rides out its NATS server paused (SIGSTOP: slow and unreachable) and
//! stopped and restarted under load: every command the log acknowledged is applied once,
//! the log replays, and both replicas recover by themselves. A tick (with its claims) longer
//! than the lease does not cost a failover: the leader renews from a task of its own.
//!
//! Skipped without `nats-server` on the PATH, unless `MATCHWRIGHT_REQUIRE_NATS=1`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use matchwright_cluster::agreement::fresh_replica;
use matchwright_cluster::claims::Claims;
use matchwright_cluster::message::Refusal;
use matchwright_cluster::partitions::ClusterSection;
use matchwright_cluster::{LogItem, PartitionLog, TickMessage};
use matchwright_ecs::{Command, EnqueueTicket, Event, MatchId, PlayerId, Rating, TicketId};

mod common;

use common::nats::{Nats, connect, nats_server};

const CONFIG: &str = r#"
replace_queues = true

[[queues]]
name = "duel-a"
teams = 2
team_size = 1
max_party_size = 1

[[queues]]
name = "duel-b"
teams = 2
team_size = 1
max_party_size = 1

# Two teams of eight: never fills in this test, so a ticket stays queued.
[[queues]]
name = "hold-b"
teams = 2
team_size = 8
max_party_size = 1

[[cluster.partitions]]
name = "pa"
queues = ["duel-a"]

[[cluster.partitions]]
name = "pb"
queues = ["duel-b", "hold-b"]
"#;

/// Players raced into both partitions.
const RACED: u64 = 300;

/// The replicas, killed when the test ends.
struct Replicas(Vec<(String, Child)>);

impl Drop for Replicas {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Replicas {
    /// Starts a replica serving its operations endpoints; returns their base URL.
    fn start(&mut self, partition: &str, name: &str, url: &str, config: &Path) -> String {
        self.start_with(partition, name, url, config, &[])
    }

    /// As [`Replicas::start`], with more arguments.
    fn start_with(
        &mut self,
        partition: &str,
        name: &str,
        url: &str,
        config: &Path,
        extra: &[&str],
    ) -> String {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .expect("a free port");
        let child = matcher(partition, name, url, config)
            .args(["--http", &format!("127.0.0.1:{port}")])
            .args(extra)
            .stderr(Stdio::inherit())
            .spawn()
            .expect("matchwright matcher starts");
        self.0.push((name.to_owned(), child));
        format!("http://127.0.0.1:{port}")
    }

    /// Every replica is still running (none stopped by itself).
    fn assert_alive(&mut self) {
        for (name, child) in &mut self.0 {
            let status = child.try_wait().expect("a child's status");
            assert!(status.is_none(), "{name} stopped by itself: {status:?}");
        }
    }

    fn kill(&mut self, name: &str) {
        let (_, child) = self.0.iter_mut().find(|(n, _)| n == name).expect("ours");
        child.kill().expect("killed");
        child.wait().expect("reaped");
    }
}

fn matcher(partition: &str, name: &str, url: &str, config: &Path) -> Process {
    let mut process = Process::new(env!("CARGO_BIN_EXE_matchwright"));
    process
        .args(["matcher", "--partition", partition, "--nats", url])
        .args(["--replica", name, "--snapshot-every-ticks", "0", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    process
}

fn enqueue(queue: &str, player: u64, ticket: u64) -> Command {
    Command::Enqueue(EnqueueTicket::solo(
        TicketId(ticket),
        queue,
        PlayerId(player),
        Rating::new(1500.0 + (player % 30) as f64 * 10.0, 100.0),
        vec![30, 90, 200, 250],
    ))
}

/// Appends `command` and waits until a tick has consumed it; returns its sequence.
async fn append_and_wait(log: &PartitionLog, command: &Command, id: &str) -> u64 {
    let seq = log.append_command(command, id).await.expect("appended");
    wait_consumed(log, seq).await;
    seq
}

async fn wait_consumed(log: &PartitionLog, seq: u64) {
    let started = Instant::now();
    loop {
        if let Ok(Some((_, tick))) = log.last_tick().await
            && tick.commands_through >= seq
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{}: command {seq} not consumed in 30 s",
            log.partition()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every message of the log up to its last tick.
async fn read_log(log: &PartitionLog) -> Vec<LogItem> {
    let last = log.last_tick_seq().await.expect("the last tick");
    let mut reader = log.read_from(1).await.expect("the log reads");
    let mut items = Vec::new();
    while let Some(item) = reader.next().await {
        let item = item.expect("every message reads");
        let done = matches!(&item, LogItem::Tick { seq, .. } if *seq >= last);
        items.push(item);
        if done {
            return items;
        }
    }
    panic!("the log ended before its last tick");
}

fn ticks(items: &[LogItem]) -> Vec<(u64, &TickMessage)> {
    items
        .iter()
        .filter_map(|item| match item {
            LogItem::Tick { seq, message } => Some((*seq, message)),
            LogItem::Command { .. } => None,
        })
        .collect()
}

/// Replays a partition's ticks as a fresh replica does (checking each event hash); returns
/// every event.
fn replay(
    partition: &str,
    map: &ClusterSection,
    config: &matchwright_ecs::Config,
    items: &[LogItem],
) -> Vec<Event> {
    let mut replica = fresh_replica(partition, config, map).expect("a replica");
    let mut events = Vec::new();
    for (seq, message) in ticks(items) {
        replica
            .on_tick(seq, message)
            .unwrap_or_else(|error| panic!("{partition}: tick at {seq}: {error}"));
        events.extend(replica.events().iter().cloned());
    }
    events
}

/// Per player, the partition that applied their enqueue and the refusals they got.
#[derive(Default)]
struct Outcomes {
    applied: BTreeMap<u64, Vec<&'static str>>,
    refused: BTreeMap<u64, Vec<(&'static str, Refusal)>>,
}

impl Outcomes {
    fn read(&mut self, partition: &'static str, items: &[LogItem]) {
        let mut enqueued: BTreeMap<u64, u64> = BTreeMap::new();
        for item in items {
            match item {
                LogItem::Command {
                    seq,
                    command: Ok(Command::Enqueue(ticket)),
                    ..
                } => {
                    enqueued.insert(*seq, ticket.members[0].player.0);
                }
                LogItem::Tick { message, .. } => {
                    for command in &message.record.commands {
                        if let Command::Enqueue(ticket) = command {
                            let player = ticket.members[0].player.0;
                            self.applied.entry(player).or_default().push(partition);
                        }
                    }
                    for refused in &message.refused {
                        let player = enqueued[&refused.seq];
                        let reason = refused.reason.clone();
                        self.refused
                            .entry(player)
                            .or_default()
                            .push((partition, reason));
                    }
                }
                LogItem::Command { .. } => {}
            }
        }
    }
}

/// A metric's value in a replica's `/metrics` (0 when the series is absent).
async fn metric(ops: &str, series: &str) -> f64 {
    let text = reqwest::get(format!("{ops}/metrics"))
        .await
        .expect("/metrics answers")
        .text()
        .await
        .expect("a body");
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Waits until a replica's `/readyz` answers 200.
async fn wait_ready(ops: &str) {
    let started = Instant::now();
    loop {
        if let Ok(answer) = reqwest::get(format!("{ops}/readyz")).await
            && answer.status() == reqwest::StatusCode::OK
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{ops} not ready in 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_released(claims: &Claims, player: u64) {
    let started = Instant::now();
    while claims
        .holder(PlayerId(player))
        .await
        .expect("a claim reads")
        .is_some()
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "player {player}'s claim was not released in 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The log of `partition`, once its leader has ticked a first command.
async fn led_log(client: &async_nats::Client, partition: &str) -> PartitionLog {
    let log = PartitionLog::open(client.clone(), partition)
        .await
        .expect("the partition's log");
    let warm_up = Command::Heartbeat {
        match_id: MatchId(0),
    };
    append_and_wait(&log, &warm_up, "warm-up").await;
    log
}

/// A temporary directory, a NATS server storing in it, and the cluster's config file in it
/// (none: no `nats-server` on the PATH).
fn set_up() -> Option<(tempfile::TempDir, Nats, std::path::PathBuf)> {
    let binary = nats_server()?;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let nats = Nats::start(&binary, &dir.path().join("nats"));
    let config_path = dir.path().join("cluster.toml");
    std::fs::write(&config_path, CONFIG).expect("the config is written");
    Some((dir, nats, config_path))
}

fn formed(events: &[Event]) -> Vec<(MatchId, Vec<PlayerId>)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::MatchFormed { summary } => Some((summary.match_id, summary.players().collect())),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_holds_one_ticket_across_partitions() {
    let Some((_dir, nats, config_path)) = set_up() else {
        eprintln!(
            "SKIPPED: nats-server is not on the PATH (install the Debian package nats-server)"
        );
        return;
    };
    let settings = matchwright_server::settings::Settings::from_toml_str(CONFIG).expect("valid");
    let (config, map) = (settings.matcher, settings.cluster);

    let unknown = matcher("pc", "x", &nats.url, &config_path)
        .stderr(Stdio::piped())
        .output()
        .expect("matchwright matcher runs");
    assert_eq!(
        unknown.status.code(),
        Some(2),
        "a partition outside the map is refused"
    );
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("not in the config's [cluster] map"),
        "{stderr}"
    );

    let mut replicas = Replicas(Vec::new());
    let pa0 = replicas.start("pa", "pa-0", &nats.url, &config_path);
    let pb0 = replicas.start("pb", "pb-0", &nats.url, &config_path);
    let client = connect(&nats.url).await;
    let pa = led_log(&client, "pa").await;
    let pb = led_log(&client, "pb").await;
    // Standbys once the leaders lead, so the kill below is of a known leader.
    let pa1 = replicas.start("pa", "pa-1", &nats.url, &config_path);
    replicas.start("pb", "pb-1", &nats.url, &config_path);
    for ops in [&pa0, &pb0, &pa1] {
        wait_ready(ops).await;
    }
    let leads =
        |partition: &str| format!("matchwright_partition_leader{{partition=\"{partition}\"}}");
    assert_eq!(metric(&pa0, &leads("pa")).await, 1.0, "pa-0 leads");
    assert_eq!(metric(&pa1, &leads("pa")).await, 0.0, "pa-1 follows");

    // The same players into both partitions at once.
    let race = |log: PartitionLog, queue: &'static str| {
        tokio::spawn(async move {
            let mut last = 0;
            for player in 1..=RACED {
                let command = enqueue(queue, player, player);
                last = log
                    .append_command(&command, &format!("race-{player}"))
                    .await
                    .expect("appended");
            }
            last
        })
    };
    let (last_a, last_b) = (race(pa.clone(), "duel-a"), race(pb.clone(), "duel-b"));
    let (last_a, last_b) = (last_a.await.expect("raced"), last_b.await.expect("raced"));
    wait_consumed(&pa, last_a).await;
    wait_consumed(&pb, last_b).await;

    // Players of one partition only, so that matches form in both whoever won the race.
    for player in 501..=510 {
        append_and_wait(
            &pa,
            &enqueue("duel-a", player, player),
            &format!("own-{player}"),
        )
        .await;
        let other = player + 100;
        append_and_wait(
            &pb,
            &enqueue("duel-b", other, other),
            &format!("own-{other}"),
        )
        .await;
    }

    // Another partition's queue.
    append_and_wait(&pa, &enqueue("duel-b", 9_001, 9_001), "wrong").await;

    // Held by pb while queued in hold-b; released by a cancel.
    let claims = Claims::open(&async_nats::jetstream::new(client.clone()), "test")
        .await
        .expect("the claims");
    append_and_wait(&pb, &enqueue("hold-b", 7_001, 7_001), "hold").await;
    append_and_wait(&pa, &enqueue("duel-a", 7_001, 7_001), "hold-elsewhere").await;
    assert_eq!(
        claims
            .holder(PlayerId(7_001))
            .await
            .expect("reads")
            .map(|(p, _)| p),
        Some("pb".to_owned())
    );
    append_and_wait(
        &pb,
        &Command::Cancel {
            ticket: TicketId(7_001),
        },
        "cancel",
    )
    .await;
    wait_released(&claims, 7_001).await;
    append_and_wait(&pa, &enqueue("duel-a", 7_001, 7_001), "after-cancel").await;

    let (items_a, items_b) = (read_log(&pa).await, read_log(&pb).await);
    let mut outcomes = Outcomes::default();
    outcomes.read("pa", &items_a);
    outcomes.read("pb", &items_b);
    for player in 1..=RACED {
        let applied = &outcomes.applied[&player];
        assert_eq!(applied.len(), 1, "player {player} queued in {applied:?}");
        let refused = &outcomes.refused[&player];
        let other = if applied[0] == "pa" { "pb" } else { "pa" };
        let expected = Refusal::PlayerElsewhere {
            player: PlayerId(player),
            partition: applied[0].to_owned(),
        };
        assert_eq!(refused, &vec![(other, expected)], "player {player}");
    }
    let both: BTreeSet<&str> = (1..=RACED).map(|p| outcomes.applied[&p][0]).collect();
    eprintln!("the race was won by partitions {both:?}");
    let elsewhere = |partition: &str| {
        format!(
            "matchwright_partition_refused_total{{partition=\"{partition}\",reason=\"player_elsewhere\"}}"
        )
    };
    let counted = metric(&pa0, &elsewhere("pa")).await + metric(&pb0, &elsewhere("pb")).await;
    assert_eq!(
        counted,
        (RACED + 1) as f64,
        "the refusals are counted (7001's too)"
    );
    assert_eq!(
        outcomes.refused[&9_001],
        vec![(
            "pa",
            Refusal::WrongPartition {
                queue: "duel-b".into(),
                partition: Some("pb".into())
            }
        )]
    );
    assert_eq!(
        outcomes.applied[&7_001],
        vec!["pa", "pb"],
        "queued in pb, then in pa after the cancel (read pa first)"
    );
    assert!(matches!(
        &outcomes.refused[&7_001][..],
        [("pa", Refusal::PlayerElsewhere { partition, .. })] if partition == "pb"
    ));

    // Matches are numbered per partition; the logs replay.
    let events_a = replay("pa", &map, &config, &items_a);
    let events_b = replay("pb", &map, &config, &items_b);
    let (formed_a, formed_b) = (formed(&events_a), formed(&events_b));
    assert!(
        !formed_a.is_empty() && !formed_b.is_empty(),
        "matches form in both partitions"
    );
    assert!(
        formed_a.iter().all(|(id, _)| id.0 >> 40 == 1),
        "pa numbers from 1 << 40"
    );
    assert!(
        formed_b.iter().all(|(id, _)| id.0 >> 40 == 2),
        "pb numbers from 2 << 40"
    );

    // A session's end releases its players, also after the leader is killed.
    replicas.kill("pa-0");
    let (match_id, players) = formed_a[0].clone();
    for player in &players {
        assert_eq!(
            claims.holder(*player).await.expect("reads").map(|(p, _)| p),
            Some("pa".to_owned()),
            "a player in a match keeps the claim"
        );
    }
    append_and_wait(&pa, &Command::EndSession { match_id }, "end").await;
    let leader = pa
        .last_tick()
        .await
        .expect("reads")
        .expect("a tick")
        .1
        .leader;
    assert_eq!(leader, "pa-1", "the standby leads");
    assert_eq!(metric(&pa1, &leads("pa")).await, 1.0);
    let takeovers = "matchwright_partition_takeovers_total{partition=\"pa\"}";
    assert_eq!(metric(&pa1, takeovers).await, 1.0);
    for player in &players {
        wait_released(&claims, player.0).await;
        let command = enqueue("duel-b", player.0, player.0 + 100_000);
        append_and_wait(&pb, &command, &format!("after-end-{}", player.0)).await;
    }
    let mut after = Outcomes::default();
    after.read("pb", &read_log(&pb).await);
    for player in &players {
        assert_eq!(
            after.applied[&player.0],
            vec!["pb"],
            "queued in pb after its session"
        );
    }
    replay("pa", &map, &config, &read_log(&pa).await);
}

/// Appends an enqueue for each next player until told to stop, retrying each under its
/// message id while NATS is away; returns each player's acknowledged sequence.
async fn append_through_outages(
    log: PartitionLog,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<(u64, u64)> {
    let mut acked = Vec::new();
    let mut player = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        player += 1;
        let command = enqueue("duel-a", player, player);
        let id = format!("load-{player}");
        loop {
            let appended =
                tokio::time::timeout(Duration::from_secs(2), log.append_command(&command, &id));
            if let Ok(Ok(seq)) = appended.await {
                acked.push((player, seq));
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_rides_out_a_paused_and_a_restarted_nats() {
    let Some((_dir, mut nats, config_path)) = set_up() else {
        eprintln!(
            "SKIPPED: nats-server is not on the PATH (install the Debian package nats-server)"
        );
        return;
    };
    let settings = matchwright_server::settings::Settings::from_toml_str(CONFIG).expect("valid");
    let mut replicas = Replicas(Vec::new());
    let first = replicas.start("pa", "pa-0", &nats.url, &config_path);
    let client = connect(&nats.url).await;
    let pa = led_log(&client, "pa").await;
    let second = replicas.start("pa", "pa-1", &nats.url, &config_path);
    wait_ready(&second).await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let appender = tokio::spawn(append_through_outages(pa.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    nats.signal("STOP");
    tokio::time::sleep(Duration::from_secs(3)).await;
    nats.signal("CONT");
    tokio::time::sleep(Duration::from_secs(1)).await;
    nats.stop();
    tokio::time::sleep(Duration::from_secs(2)).await;
    nats.restart();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked = appender.await.expect("the appender ends");
    let last = acked.last().expect("commands were acknowledged").1;
    wait_consumed(&pa, last).await;

    let items = read_log(&pa).await;
    // Each acknowledged command is consumed by exactly one tick: applied, or refused because
    // the claims could not be reached just then (the client is told to retry).
    let mut consumed: BTreeMap<u64, usize> = BTreeMap::new();
    let mut unavailable = 0;
    for (_, message) in ticks(&items) {
        for seq in &message.command_seqs {
            *consumed.entry(*seq).or_default() += 1;
        }
        for refused in &message.refused {
            assert!(
                matches!(refused.reason, Refusal::ClaimsUnavailable { .. }),
                "only the outage refuses: {refused:?}"
            );
            *consumed.entry(refused.seq).or_default() += 1;
            unavailable += 1;
        }
    }
    for (player, seq) in &acked {
        assert_eq!(
            consumed.get(seq),
            Some(&1),
            "player {player}'s command {seq} consumed once"
        );
    }
    eprintln!("{unavailable} enqueues refused while the claims were unreachable");
    replay("pa", &settings.cluster, &settings.matcher, &items);
    replicas.assert_alive();
    wait_ready(&first).await;
    wait_ready(&second).await;
    eprintln!(
        "{} commands acknowledged through the outages, each consumed once",
        acked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_longer_than_the_lease_does_not_cost_a_failover() {
    let Some((_dir, nats, config_path)) = set_up() else {
        eprintln!(
            "SKIPPED: nats-server is not on the PATH (install the Debian package nats-server)"
        );
        return;
    };
    let lease_ms = 100;
    let mut replicas = Replicas(Vec::new());
    replicas.start_with(
        "pa",
        "pa-0",
        &nats.url,
        &config_path,
        &["--lease-ms", "100"],
    );
    let client = connect(&nats.url).await;
    let pa = led_log(&client, "pa").await;
    let standby = replicas.start_with(
        "pa",
        "pa-1",
        &nats.url,
        &config_path,
        &["--lease-ms", "100"],
    );
    wait_ready(&standby).await;
    // A burst: its claims and its tick take the leader longer than the lease.
    let mut last = 0;
    for batch in 0..30_u64 {
        let commands: Vec<(Command, String)> = (0..1_000)
            .map(|i| {
                let player = batch * 1_000 + i + 1;
                (enqueue("duel-a", player, player), format!("burst-{player}"))
            })
            .collect();
        last = *pa
            .append_commands(&commands)
            .await
            .expect("appended")
            .last()
            .expect("some");
    }
    wait_consumed(&pa, last).await;
    append_and_wait(
        &pa,
        &Command::Heartbeat {
            match_id: MatchId(0),
        },
        "after",
    )
    .await;
    let items = read_log(&pa).await;
    let ticks = ticks(&items);
    let longest = ticks
        .windows(2)
        .map(|pair| pair[1].1.record.now_ms - pair[0].1.record.now_ms)
        .max()
        .expect("ticks");
    eprintln!("the longest gap between two ticks: {longest} ms (lease {lease_ms} ms)");
    assert!(
        longest > lease_ms,
        "the burst was meant to outlast the lease"
    );
    let leaders: BTreeSet<&str> = ticks.iter().map(|(_, t)| t.leader.as_str()).collect();
    assert_eq!(leaders, BTreeSet::from(["pa-0"]), "no failover");
    replicas.assert_alive();
}
