//! `matchwright gateway` in front of two matcher partitions (a leader and a standby each), all
//! real processes on a real NATS JetStream, driven over HTTP and WebSocket as by any client:
//!
//! - Players register and queue through the gateway; matches form in both partitions, each
//!   numbered in its partition's range, and reach the players over WebSocket. A ranked match
//!   is accepted through the gateway (a match command routed by its id) and formed; its
//!   partition's leader allocates a game server of the fleet, and the game server's result,
//!   posted through the gateway, ends the session and changes the ratings.
//! - The answers are the partitions': a queued player reads their ticket and its explain (from
//!   a replica), a cancel takes it out, an unknown queue is a 422 naming the field, a party is
//!   a clear 501.
//! - The gateway is killed and started again: it rebuilds its view from the partitions'
//!   snapshots and events (the queued player is still queued, the duel still played).
//! - NATS stopped: the gateway is not ready and answers commands 503 with a clear error;
//!   NATS started again: it recovers by itself and queues again.
//!
//! - A queue split by region between two partitions: each ticket plays in its best region's
//!   partition; a ticket of it is explained and cancelled there.
//! - Two gateways on one shared record (Postgres, `DATABASE_URL`, a schema of the test's own):
//!   a player registered at one logs in and refreshes at the other; a duel between players of
//!   both is rated once in Postgres though both gateways record it, also across a gateway's
//!   restart; each gateway reads the ratings, history and leaderboard back.
//!
//! Skipped without `nats-server` on the PATH, unless `MATCHWRIGHT_REQUIRE_NATS=1` (and the
//! shared-record test without `DATABASE_URL`).

use std::path::Path;
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

mod common;

use common::nats::{Nats, nats_server};
use common::{Client, SERVER_KEY, Server, connect_events, wait_event, write_config_with};

const MAP: &str = r#"
[[cluster.partitions]]
name = "duels"
queues = ["duel-1v1"]

[[cluster.partitions]]
name = "teams"
queues = ["ranked-5v5", "trios-ffa"]
"#;

/// The partitions' replicas, killed when the test ends.
struct Replicas(Vec<Child>);

impl Drop for Replicas {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn replica(partition: &str, name: &str, url: &str, config: &Path) -> Child {
    Process::new(env!("CARGO_BIN_EXE_matchwright"))
        .args(["matcher", "--partition", partition, "--nats", url])
        .args([
            "--replica",
            name,
            "--snapshot-every-ticks",
            "20",
            "--config",
        ])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("matchwright matcher starts")
}

/// A NATS server, the cluster's config, and two partitions of a leader and a standby each.
fn two_partitions(binary: &Path) -> (tempfile::TempDir, Nats, std::path::PathBuf, Replicas) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let nats = Nats::start(binary, &dir.path().join("nats"));
    let config = write_config_with(dir.path(), &format!("{}{MAP}", common::NO_IP_LIMITS));
    let mut replicas = Replicas(Vec::new());
    for (partition, name) in [
        ("duels", "duels-a"),
        ("teams", "teams-a"),
        ("duels", "duels-b"),
        ("teams", "teams-b"),
    ] {
        replicas
            .0
            .push(replica(partition, name, &nats.url, &config));
    }
    (dir, nats, config, replicas)
}

/// Waits until `base/readyz` answers `want`.
async fn wait_readyz(base: &str, want: StatusCode, within: Duration) {
    let started = Instant::now();
    loop {
        if let Ok(answer) = reqwest::get(format!("{base}/readyz")).await
            && answer.status() == want
        {
            return;
        }
        assert!(
            started.elapsed() < within,
            "{base}/readyz did not answer {want} in {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn enqueue(client: &Client, token: &str, queue: &str) -> (StatusCode, Value) {
    client
        .call(
            Method::POST,
            "/v1/queue",
            Some(token),
            Some(json!({"queue": queue, "pings": {"eu-west": 25, "us-east": 95}})),
        )
        .await
}

async fn queue_status(client: &Client, token: &str) -> Value {
    let (status, body) = client
        .call(Method::GET, "/v1/queue", Some(token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_serves_the_api_in_front_of_two_partitions() {
    let Some(binary) = nats_server() else {
        eprintln!("skipped: no nats-server on the PATH");
        return;
    };
    let (dir, mut nats, config, mut replicas) = two_partitions(&binary);
    let data = dir.path().join("gateway");
    let gateway = Server::start_gateway(&data, &config, &nats.url, "g1");
    wait_readyz(&gateway.base, StatusCode::OK, Duration::from_secs(30)).await;
    let client = Client {
        http: reqwest::Client::new(),
        base: gateway.base.clone(),
    };

    // Bad input gets a clear error, before anything reaches a partition.
    let (_, outsider) = client.register("outsider").await;
    let (status, body) = enqueue(&client, &outsider, "no-such-queue").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "queue", "{body}");
    let (status, body) = client
        .call(Method::POST, "/v1/party", Some(&outsider), None)
        .await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{body}");
    assert_eq!(body["error"], "not_in_cluster", "{body}");

    // A duel in partition `duels` (match ids from 1 << 40).
    let mut duelists = Vec::new();
    for name in ["duel-1", "duel-2"] {
        let (id, token) = client.register(name).await;
        let socket = connect_events(&gateway.base, &token).await;
        duelists.push((id, token, socket));
    }
    for (_, token, _) in &duelists {
        let (status, body) = enqueue(&client, token, "duel-1v1").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let mut duel_match = 0;
    for (_, _, socket) in &mut duelists {
        let found = wait_event(socket, "match_found").await;
        duel_match = found["match_id"].as_u64().expect("a match id");
        assert_eq!(duel_match >> 40, 1, "a match of partition `duels`: {found}");
        wait_event(socket, "session_ready").await;
    }

    // A ranked 5v5 in partition `teams` (ids from 2 << 40), accepted through the gateway.
    let mut ranked = Vec::new();
    for index in 0..10 {
        let (id, token) = client.register(&format!("ranked-{index}")).await;
        let socket = connect_events(&gateway.base, &token).await;
        let (status, body) = enqueue(&client, &token, "ranked-5v5").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ranked.push((id, token, socket));
    }
    let mut ranked_match = 0;
    for (_, _, socket) in &mut ranked {
        let found = wait_event(socket, "match_found").await;
        assert_eq!(found["state"], "awaiting_acceptance", "{found}");
        ranked_match = found["match_id"].as_u64().expect("a match id");
        assert_eq!(
            ranked_match >> 40,
            2,
            "a match of partition `teams`: {found}"
        );
    }
    for (_, token, _) in &ranked {
        let path = format!("/v1/match/{ranked_match}/accept");
        let (status, body) = client.call(Method::POST, &path, Some(token), None).await;
        assert!(status.is_success(), "{status} {body}");
    }
    for (_, _, socket) in &mut ranked {
        let found = wait_event(socket, "match_found").await;
        assert_eq!(
            found["state"], "allocating",
            "formed once all accepted: {found}"
        );
    }

    // A player alone in a queue reads their ticket; a cancel takes it out.
    let (_, waiting) = client.register("waiting").await;
    let (status, body) = enqueue(&client, &waiting, "trios-ffa").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(queue_status(&client, &waiting).await["status"], "queued");
    // Explain comes from a replica of the ticket's partition (NATS request-reply).
    let (status, why) = client
        .call(Method::GET, "/v1/queue/explain", Some(&waiting), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{why}");
    assert_eq!(why["queue"], "trios-ffa", "{why}");
    assert!(
        why["checks"].as_array().is_some_and(|c| !c.is_empty()),
        "{why}"
    );
    let (_, leaving) = client.register("leaving").await;
    let (status, body) = enqueue(&client, &leaving, "trios-ffa").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = client
        .call(Method::DELETE, "/v1/queue", Some(&leaving), None)
        .await;
    assert!(status.is_success(), "{status} {body}");
    assert_eq!(queue_status(&client, &leaving).await["status"], "idle");
    let (status, body) = client
        .call(Method::GET, "/v1/queue/explain", Some(&leaving), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // The duel's game server heartbeats (a session command routed by its match id), so the
    // session stays up while the gateway restarts.
    let path = format!("/v1/server/session/{duel_match}/heartbeat");
    let (status, body) = client
        .call(Method::POST, &path, Some(SERVER_KEY), None)
        .await;
    assert!(status.is_success(), "{status} {body}");
    // Killed and started again, the gateway rebuilds its view from the partitions.
    gateway.kill();
    let gateway = Server::start_gateway(&data, &config, &nats.url, "g1");
    wait_readyz(&gateway.base, StatusCode::OK, Duration::from_secs(30)).await;
    let client = Client {
        http: reqwest::Client::new(),
        base: gateway.base.clone(),
    };
    assert_eq!(queue_status(&client, &waiting).await["status"], "queued");
    let (_, token, _) = &duelists[0];
    let status = queue_status(&client, token).await;
    assert_eq!(status["status"], "in_match", "{status}");
    assert_eq!(status["match_id"].as_u64(), Some(duel_match), "{status}");

    // NATS away: not ready, and a command is a clear 503; back: recovers by itself.
    nats.stop();
    wait_readyz(
        &gateway.base,
        StatusCode::SERVICE_UNAVAILABLE,
        Duration::from_secs(10),
    )
    .await;
    let (_, token, _) = &duelists[0];
    let (status, body) = enqueue(&client, token, "trios-ffa").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let code = body["error"].as_str().unwrap_or_default();
    assert!(
        ["log_unavailable", "no_answer", "request_timeout"].contains(&code),
        "a clear error: {body}"
    );
    assert!(
        body["message"].as_str().is_some_and(|m| m.len() > 20),
        "{body}"
    );
    nats.restart();
    wait_readyz(&gateway.base, StatusCode::OK, Duration::from_secs(60)).await;
    let (_, late) = client.register("late").await;
    // A retry after an answer lost with NATS may find the first attempt queued (409).
    let started = Instant::now();
    loop {
        let (status, body) = enqueue(&client, &late, "trios-ffa").await;
        if status == StatusCode::CREATED || status == StatusCode::CONFLICT {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "queues again after NATS is back: {status} {body}"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    assert_eq!(queue_status(&client, &late).await["status"], "queued");
    for child in &mut replicas.0 {
        let status = child.try_wait().expect("a child's status");
        assert!(status.is_none(), "a replica stopped by itself: {status:?}");
    }
}

/// Runs `matchwright load` against `base` on `queue`; returns its JSON report.
fn load(dir: &Path, base: &str, queue: &str, players: &str, prefix: &str) -> Child {
    Process::new(env!("CARGO_BIN_EXE_matchwright"))
        .args([
            "load",
            "--http",
            base,
            "--players",
            players,
            "--duration",
            "12",
        ])
        .args(["--queue", queue, "--game-ms", "1000", "--think-ms", "300"])
        .args([
            "--prefix",
            prefix,
            "--quiet",
            "--server-key",
            SERVER_KEY,
            "--json",
        ])
        .arg(dir.join(format!("{prefix}report.json")))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("matchwright load starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_carry_load_into_two_partitions() {
    let Some(binary) = nats_server() else {
        eprintln!("skipped: no nats-server on the PATH");
        return;
    };
    let (dir, nats, config, mut replicas) = two_partitions(&binary);
    let first = Server::start_gateway(&dir.path().join("g1"), &config, &nats.url, "g1");
    let second = Server::start_gateway(&dir.path().join("g2"), &config, &nats.url, "g2");
    for gateway in [&first, &second] {
        wait_readyz(&gateway.base, StatusCode::OK, Duration::from_secs(30)).await;
    }
    // Duelists on both gateways share one queue (players of one gateway meet the other's;
    // unique player ids across gateways keep them apart); a ranked 5v5 (with acceptance) in
    // the other partition.
    let runs = [
        ("a-", load(dir.path(), &first.base, "duel-1v1", "10", "a-")),
        ("b-", load(dir.path(), &second.base, "duel-1v1", "10", "b-")),
        (
            "c-",
            load(dir.path(), &second.base, "ranked-5v5", "40", "c-"),
        ),
    ];
    for (prefix, run) in runs {
        let output = run.wait_with_output().expect("the load ran");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "load {prefix} failed: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report = std::fs::read_to_string(dir.path().join(format!("{prefix}report.json")))
            .expect("the report");
        let report: Value = serde_json::from_str(&report).expect("JSON");
        // Each load process posts the result of every match its players saw, as its game
        // server: a duel between the two gateways' players gets two posts, and the second is
        // refused: 409 `wrong_match_phase` while the session ends, 404 `unknown_match` once
        // it has. Anything else is an error.
        for route in report["routes"].as_array().expect("routes") {
            let name = route["route"].as_str().unwrap_or_default();
            let errors = route["errors"].as_object().expect("errors by status");
            let expected = |status: &str, code: &str| {
                route["error_samples"][status]
                    .as_str()
                    .is_some_and(|sample| sample.contains(code))
            };
            let allowed = name == "POST /v1/server/session/{id}/result"
                && errors.keys().all(|status| match status.as_str() {
                    "409" => expected("409", "wrong_match_phase"),
                    "404" => expected("404", "unknown_match"),
                    _ => false,
                });
            assert!(
                errors.is_empty() || allowed || name == "all",
                "load {prefix}: {name}: {route}"
            );
        }
        assert!(
            report["matches"].as_u64() >= Some(1),
            "load {prefix}: {report}"
        );
        assert!(
            report["results_posted"].as_u64() >= Some(1),
            "load {prefix}: {report}"
        );
    }
    for child in &mut replicas.0 {
        let status = child.try_wait().expect("a child's status");
        assert!(status.is_none(), "a replica stopped by itself: {status:?}");
    }
    drop(nats);
}

/// Each player's (games, mu) in `mode`, as the shared record holds them.
async fn recorded_ratings(pool: &sqlx::PgPool, mode: &str) -> Vec<(i64, i64, f64)> {
    sqlx::query_as("SELECT player_id, games, mu FROM ratings WHERE mode = $1 ORDER BY player_id")
        .bind(mode)
        .fetch_all(pool)
        .await
        .unwrap_or_default()
}

/// Waits until the record holds exactly `players`, each with one rated game.
async fn wait_recorded(pool: &sqlx::PgPool, players: &[u64]) -> Vec<(i64, i64, f64)> {
    let started = Instant::now();
    loop {
        let rows = recorded_ratings(pool, "duel").await;
        let ids: Vec<u64> = rows.iter().map(|row| row.0 as u64).collect();
        if ids == players && rows.iter().all(|row| row.1 == 1) {
            return rows;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the record holds {rows:?}, not one game for each of {players:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Two gateways share one record: a player registered at one logs in and refreshes at the
/// other, a duel between players of both is rated once in Postgres (both gateways record),
/// and each gateway reads those ratings, history and leaderboards back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateways_share_accounts_and_record_each_rating_once_in_postgres() {
    let Some(binary) = nats_server() else {
        eprintln!("skipped: no nats-server on the PATH");
        return;
    };
    let test = "gateways_share_accounts_and_record_each_rating_once_in_postgres";
    let Some((url, pool)) = common::record_url(test).await else {
        return;
    };
    let (dir, nats, config, _replicas) = two_partitions(&binary);
    let first = Server::start_gateway_on(&dir.path().join("g1"), &config, &nats.url, "g1", &url);
    let second = Server::start_gateway_on(&dir.path().join("g2"), &config, &nats.url, "g2", &url);
    for gateway in [&first, &second] {
        wait_readyz(&gateway.base, StatusCode::OK, Duration::from_secs(30)).await;
    }
    let at = |gateway: &Server| Client {
        http: reqwest::Client::new(),
        base: gateway.base.clone(),
    };
    let (one, two) = (at(&first), at(&second));

    // One account, whichever gateway: taken at the other, logs in and refreshes there.
    let (ann, _) = one.register("ann").await;
    let again = json!({"username": "ann", "password": "a good long password"});
    let (status, body) = two
        .call(Method::POST, "/v1/auth/register", None, Some(again.clone()))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "username_taken", "{body}");
    let (status, login) = two
        .call(Method::POST, "/v1/auth/login", None, Some(again))
        .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    assert_eq!(login["player_id"].as_u64(), Some(ann), "{login}");
    let refresh = json!({"refresh_token": login["refresh_token"]});
    let (status, body) = one
        .call(Method::POST, "/v1/auth/refresh", None, Some(refresh))
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a token of g2 refreshes at g1: {body}"
    );
    let ann_token = body["access_token"].as_str().expect("a token").to_string();
    let (bob, bob_token) = two.register("bob").await;

    // Ann (at g1) and Bob (at g2) duel; both gateways record; the game counts once. An
    // operator watching g2's event stream sees the duel form, its ratings change and its
    // session end.
    let mut players = vec![ann, bob];
    players.sort_unstable();
    let mut stream = two
        .http
        .get(format!("{}/v1/admin/events", two.base))
        .bearer_auth(common::OPERATOR_KEY)
        .send()
        .await
        .expect("the operators' stream");
    assert_eq!(stream.status(), StatusCode::OK);
    let duelists = [(&one, ann_token.as_str()), (&two, bob_token.as_str())];
    duel(duelists, &first.base, &second.base).await;
    let seen = operator_events(
        &mut stream,
        &["match_formed", "ratings_changed", "session_ended"],
    )
    .await;
    let formed = &seen[0]["event"];
    let mut in_match: Vec<u64> = (formed["players"].as_array().unwrap().iter())
        .map(|p| p["player"].as_u64().unwrap())
        .collect();
    in_match.sort_unstable();
    assert_eq!(in_match, players, "{formed}");
    assert_eq!(formed["queue"], "duel-1v1", "{formed}");
    wait_recorded(&pool, &players).await;

    // g1 killed and started again reads on from the record's mark: the next duel (Cyd at g1,
    // Dina at g2) is recorded, and nothing of the first twice.
    first.kill();
    let first = Server::start_gateway_on(&dir.path().join("g1"), &config, &nats.url, "g1", &url);
    wait_readyz(&first.base, StatusCode::OK, Duration::from_secs(30)).await;
    let one = at(&first);
    let (cy, cy_token) = one.register("cyd").await;
    let (di, di_token) = two.register("dina").await;
    let duelists = [(&one, cy_token.as_str()), (&two, di_token.as_str())];
    duel(duelists, &first.base, &second.base).await;
    players.extend([cy, di]);
    players.sort_unstable();
    let rows = wait_recorded(&pool, &players).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(recorded_ratings(&pool, "duel").await, rows, "recorded once");
    let history: i64 = sqlx::query_scalar("SELECT count(*) FROM match_history")
        .fetch_one(&pool)
        .await
        .expect("history");
    assert_eq!(history, 4, "two duels of two players");

    // Each gateway reads the record: Ann's profile at g2, Bob's history at g1, the board.
    let (status, profile) = two
        .call(Method::GET, "/v1/profile/me", Some(&ann_token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    let duel_rating = profile["ratings"]
        .as_array()
        .and_then(|all| all.iter().find(|r| r["mode"] == "duel"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(duel_rating["games"], 1, "{profile}");
    let ann_mu = rows.iter().find(|row| row.0 as u64 == ann).expect("ann").2;
    assert_eq!(
        duel_rating["rating"]["mu"].as_f64(),
        Some(ann_mu),
        "{profile}"
    );
    let (status, history) = one
        .call(Method::GET, "/v1/matches/history", Some(&bob_token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(
        history["matches"].as_array().map(Vec::len),
        Some(1),
        "{history}"
    );
    let (status, board) = one
        .call(
            Method::GET,
            "/v1/leaderboard/default?mode=duel&limit=1",
            Some(&bob_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{board}");
    assert_eq!(
        board["entries"].as_array().map(Vec::len),
        Some(1),
        "{board}"
    );
    let cursor = board["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_string();
    let (status, rest) = two
        .call(
            Method::GET,
            &format!("/v1/leaderboard/default?mode=duel&limit=5&cursor={cursor}"),
            Some(&ann_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rest}");
    let ranked: Vec<u64> = [&board, &rest]
        .iter()
        .flat_map(|page| page["entries"].as_array().cloned().unwrap_or_default())
        .filter_map(|entry| entry["player_id"].as_u64())
        .collect();
    assert_eq!(ranked.len(), 4, "every player ranked once: {board} {rest}");
    ranked
        .iter()
        .for_each(|id| assert!(players.contains(id), "{ranked:?}"));
    banned_at_one_gateway_is_refused_at_the_other(&one, &two, bob, &bob_token).await;
}

/// The operators' event stream's events of each of `kinds`, the first of each, in the order
/// of `kinds` (each must come after the one before it).
async fn operator_events(stream: &mut reqwest::Response, kinds: &[&str]) -> Vec<Value> {
    let (mut text, mut found) = (String::new(), Vec::new());
    while found.len() < kinds.len() {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
            .await
            .expect("an event within 10 s")
            .expect("the stream reads")
            .expect("the stream stays open");
        text.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        while let Some(end) = text.find("\n\n") {
            let message: String = text.drain(..end + 2).collect();
            for data in message.lines().filter_map(|l| l.strip_prefix("data: ")) {
                let event: Value = serde_json::from_str(data).expect("JSON");
                if found.len() < kinds.len() && event["event"]["type"] == kinds[found.len()] {
                    found.push(event);
                }
            }
        }
    }
    found
}

/// An operator bans Bob at g1: his token is refused at g2 from his next request, and g2's
/// audit log shows the ban; lifted at g2, he is back at g1.
async fn banned_at_one_gateway_is_refused_at_the_other(
    one: &Client,
    two: &Client,
    bob: u64,
    bob_token: &str,
) {
    let ban = format!("/v1/admin/players/{bob}/ban");
    let reason = Some(json!({"reason": "abuse"}));
    let (status, body) = one
        .call(Method::POST, &ban, Some(common::OPERATOR_KEY), reason)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = two
        .call(Method::GET, "/v1/profile/me", Some(bob_token), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "banned", "{body}");
    let (status, page) = two
        .call(
            Method::GET,
            "/v1/admin/audit",
            Some(common::OPERATOR_KEY),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["entries"][0]["action"], "ban_player", "{page}");
    assert_eq!(page["entries"][0]["target"], format!("player {bob}"));
    let (status, body) = two
        .call(Method::DELETE, &ban, Some(common::OPERATOR_KEY), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = one
        .call(Method::GET, "/v1/profile/me", Some(bob_token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// One duel: each player queues at their own gateway; the first one's gateway takes the game
/// server's result (the first player's team wins); both see their ratings change.
async fn duel(players: [(&Client, &str); 2], first_base: &str, second_base: &str) {
    let mut sockets = [
        connect_events(first_base, players[0].1).await,
        connect_events(second_base, players[1].1).await,
    ];
    for (client, token) in players {
        let (status, body) = enqueue(client, token, "duel-1v1").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let found = wait_event(&mut sockets[0], "match_found").await;
    let match_id = found["match_id"].as_u64().expect("a match id");
    let winner = found["your_team"].as_u64().expect("a team");
    wait_event(&mut sockets[0], "session_ready").await;
    let path = format!("/v1/server/session/{match_id}/result");
    let (status, body) = players[0]
        .0
        .call(
            Method::POST,
            &path,
            Some(SERVER_KEY),
            Some(json!({"winner": winner})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for socket in &mut sockets {
        wait_event(socket, "ratings_changed").await;
    }
}

const BY_REGION: &str = r#"
[[cluster.partitions]]
name = "duels-eu"
queues = ["duel-1v1"]
regions = ["eu-west"]

[[cluster.partitions]]
name = "duels-rest"
queues = ["duel-1v1"]
regions = ["us-east", "ap-southeast", "sa-east"]

[[cluster.partitions]]
name = "teams"
queues = ["ranked-5v5", "trios-ffa"]
"#;

async fn enqueue_with(client: &Client, token: &str, pings: Value) -> (StatusCode, Value) {
    let body = json!({"queue": "duel-1v1", "pings": pings});
    client
        .call(Method::POST, "/v1/queue", Some(token), Some(body))
        .await
}

/// A queue split by region: each ticket goes to the partition of its best region and plays
/// only there (two duels, one per partition, each in its partition's id range and region); a
/// ticket of the split queue is explained and cancelled through the partition its claim names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_split_by_region_plays_in_each_partitions_regions() {
    let Some(binary) = nats_server() else {
        eprintln!("skipped: no nats-server on the PATH");
        return;
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let nats = Nats::start(&binary, &dir.path().join("nats"));
    let config = write_config_with(dir.path(), &format!("{}{BY_REGION}", common::NO_IP_LIMITS));
    let _replicas = Replicas(
        ["duels-eu", "duels-rest", "teams"]
            .iter()
            .map(|partition| replica(partition, &format!("{partition}-a"), &nats.url, &config))
            .collect(),
    );
    let gateway = Server::start_gateway(&dir.path().join("g1"), &config, &nats.url, "g1");
    wait_readyz(&gateway.base, StatusCode::OK, Duration::from_secs(30)).await;
    let client = Client {
        http: reqwest::Client::new(),
        base: gateway.base.clone(),
    };
    // Two players best in eu-west (a ping to us-east too), two best in us-east.
    let eu = json!({"eu-west": 25, "us-east": 95});
    let us = json!({"us-east": 20, "eu-west": 90});
    for (names, pings, partition, region) in [
        (["eu-a", "eu-b"], &eu, 1, "eu-west"),
        (["us-a", "us-b"], &us, 2, "us-east"),
    ] {
        let mut sockets = Vec::new();
        for name in names {
            let (_, token) = client.register(name).await;
            sockets.push(connect_events(&gateway.base, &token).await);
            let (status, body) = enqueue_with(&client, &token, pings.clone()).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        for socket in &mut sockets {
            let found = wait_event(socket, "match_found").await;
            let match_id = found["match_id"].as_u64().expect("a match id");
            assert_eq!(match_id >> 40, partition, "{found}");
            assert_eq!(found["region"], region, "{found}");
        }
    }
    // A lone us-east ticket: explained and cancelled through its partition.
    let (_, lone) = client.register("us-lone").await;
    let (status, body) = enqueue_with(&client, &lone, us.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, why) = client
        .call(Method::GET, "/v1/queue/explain", Some(&lone), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{why}");
    assert_eq!(why["queue"], "duel-1v1", "{why}");
    let (status, body) = client
        .call(Method::DELETE, "/v1/queue", Some(&lone), None)
        .await;
    assert!(status.is_success(), "{status} {body}");
    assert_eq!(queue_status(&client, &lone).await["status"], "idle");
}
