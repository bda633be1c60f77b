//! End to end: the real `matchwright` binary on a free port with a temporary data dir, driven
//! over real HTTP and WebSocket connections. Ten players queue 5v5, the match arrives over
//! WebSocket, everyone accepts, a game server heartbeats and posts a result, ratings change.
//! A server killed with players in queue keeps them queued after a restart. A bad config is a
//! clear message and a non-zero exit.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::{
    Client, NO_IP_LIMITS, SERVER_KEY, SESSION_SECRET, Server, Socket, connect_events, next_event,
    wait_event, write_config, write_config_with,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_players_queue_accept_play_and_their_ratings_change() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let server = Server::start(&dir.path().join("data"), &config);
    let client = Client {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    // Ready once the tick loop has ticked (not before: /readyz says why).
    let mut ready = (StatusCode::SERVICE_UNAVAILABLE, Value::Null);
    for _ in 0..100 {
        ready = client
            .call(reqwest::Method::GET, "/readyz", None, None)
            .await;
        if ready.0 == StatusCode::OK {
            break;
        }
        assert_eq!(ready.1["error"], "not_ready", "{}", ready.1);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(ready.0, StatusCode::OK, "{}", ready.1);

    let mut players = Vec::new();
    for index in 0..10 {
        let (id, token) = client.register(&format!("player{index}")).await;
        let socket = connect_events(&client.base, &token).await;
        players.push((id, token, socket));
    }
    let (_, outsider) = client.register("outsider").await;
    for (_, token, _) in &players {
        let (status, body) = client
            .call(
                reqwest::Method::POST,
                "/v1/queue",
                Some(token),
                Some(json!({"queue": "ranked-5v5", "pings": {"eu-west": 25, "us-east": 95}})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // The match arrives over WebSocket, awaiting acceptance.
    let mut match_id = None;
    for (id, _, socket) in &mut players {
        let found = wait_event(socket, "match_found").await;
        assert_eq!(found["state"], "awaiting_acceptance", "{found}");
        assert_eq!(found["players"].as_array().unwrap().len(), 10);
        assert!(found["accept_by_ms"].as_u64().is_some());
        assert!(
            found["players"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["player_id"] == *id)
        );
        let this = found["match_id"].as_u64().unwrap();
        assert_eq!(*match_id.get_or_insert(this), this, "one match for all ten");
    }
    let match_id = match_id.unwrap();
    // Someone else's match: refused.
    let (status, body) = client
        .call(
            reqwest::Method::POST,
            &format!("/v1/match/{match_id}/accept"),
            Some(&outsider),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "not_your_match");
    for (_, token, _) in &players {
        let (status, body) = client
            .call(
                reqwest::Method::POST,
                &format!("/v1/match/{match_id}/accept"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // Everyone hears the match is on and where to play, with a session token.
    let mut tokens = Vec::new();
    for (id, _, socket) in &mut players {
        let ready = wait_event(socket, "session_ready").await;
        assert_eq!(ready["match_id"], match_id);
        assert_eq!(ready["server"], "198.51.100.7:7777");
        let claims = matchwright_server::auth::verify_session_token(
            SESSION_SECRET.as_bytes(),
            ready["session_token"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(claims.sub, id.to_string());
        assert_eq!(claims.match_id, match_id);
        tokens.push(claims);
    }
    // The session endpoint gives the same, only to the match's players.
    let (status, session) = client
        .call(
            reqwest::Method::GET,
            &format!("/v1/session/{match_id}"),
            Some(&players[0].1),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["state"], "active");
    assert_eq!(session["server"], "198.51.100.7:7777");
    let (status, body) = client
        .call(
            reqwest::Method::GET,
            &format!("/v1/session/{match_id}"),
            Some(&outsider),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // The game server heartbeats, then posts the result.
    let (status, body) = client
        .call(
            reqwest::Method::POST,
            &format!("/v1/server/session/{match_id}/heartbeat"),
            Some(SERVER_KEY),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = client
        .call(
            reqwest::Method::POST,
            &format!("/v1/server/session/{match_id}/result"),
            Some("not the key, but long enough to look like one"),
            Some(json!({"winner": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = client
        .call(
            reqwest::Method::POST,
            &format!("/v1/server/session/{match_id}/result"),
            Some(SERVER_KEY),
            Some(json!({"winner": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Ratings change: winners up, losers down, pushed and in the profile.
    for (index, (_, token, socket)) in players.iter_mut().enumerate() {
        let changed = wait_event(socket, "ratings_changed").await;
        let before = changed["before"]["mu"].as_f64().unwrap();
        let after = changed["after"]["mu"].as_f64().unwrap();
        let team = tokens[index].team;
        if team == 0 {
            assert!(after > before, "{changed}");
        } else {
            assert!(after < before, "{changed}");
        }
        let (_, profile) = client
            .call(reqwest::Method::GET, "/v1/profile/me", Some(token), None)
            .await;
        let ranked = profile["ratings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["mode"] == "ranked")
            .unwrap()
            .clone();
        assert_eq!(ranked["games"], 1, "{profile}");
        assert_eq!(ranked["rating"]["mu"].as_f64().unwrap(), after);
        let (_, status) = client
            .call(reqwest::Method::GET, "/v1/queue", Some(token), None)
            .await;
        assert_eq!(status["status"], "idle");
    }
    let (status, metrics) = (
        client
            .http
            .get(format!("{}/metrics", client.base))
            .send()
            .await
            .unwrap()
            .status(),
        client
            .http
            .get(format!("{}/metrics", client.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(status, StatusCode::OK);
    // Every metric the shipped Grafana dashboard queries is on the server.
    let dashboard: Value =
        serde_json::from_str(include_str!("../../deploy/grafana/matchwright.json")).unwrap();
    let queried = dashboard_metrics(&dashboard);
    assert!(queried.len() >= 20, "{queried:?}");
    for name in &queried {
        let sample = metrics.lines().any(|line| {
            !line.starts_with('#')
                && line
                    .strip_prefix(name.as_str())
                    .is_some_and(|rest| rest.starts_with(['{', ' ']))
        });
        assert!(
            sample,
            "the dashboard queries {name}, which /metrics does not have"
        );
    }
    for (_, _, socket) in &mut players {
        let _ = socket.close(None).await;
    }
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_keeps_its_players_queued_with_their_waiting_time() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let data = dir.path().join("data");
    let server = Server::start(&data, &config);
    let client = Client {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    let mut queued = Vec::new();
    for index in 0..3 {
        let (_, token) = client.register(&format!("waiter{index}")).await;
        let (status, body) = client
            .call(
                reqwest::Method::POST,
                "/v1/queue",
                Some(&token),
                Some(json!({"queue": "ranked-5v5", "pings": {"eu-west": 40}})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        queued.push((token, body["waiting_since_ms"].as_u64().unwrap()));
    }
    // kill -9: no goodbye. Every answered enqueue was committed before its answer.
    server.kill();
    let server = Server::start(&data, &config);
    let client = Client {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    for (token, since) in &queued {
        // The access token is still valid: the secrets live in the data dir.
        let (status, body) = client
            .call(reqwest::Method::GET, "/v1/queue", Some(token), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "queued", "{body}");
        assert_eq!(body["waiting_since_ms"].as_u64(), Some(*since));
        assert_eq!(body["queue"], "ranked-5v5");
    }
    // And they can leave the queue on the new process.
    let (status, body) = client
        .call(
            reqwest::Method::DELETE,
            "/v1/queue",
            Some(&queued[0].0),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[test]
fn a_bad_config_is_a_clear_message_and_a_failing_exit() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[server]\ntick_interval_ms = 0\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_matchwright"))
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--quic",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("server.tick_interval_ms") && stderr.contains("bad.toml"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "nothing was created for a bad config"
    );
}

/// The metric names in a Grafana dashboard's queries (histograms as their `_bucket`,
/// `_sum` or `_count` series, as queried).
fn dashboard_metrics(dashboard: &Value) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(at) = rest.find(|c: char| c.is_ascii_lowercase()) {
                rest = &rest[at..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                let word = &rest[..end];
                if word.starts_with("matchwright_") || word.starts_with("process_") {
                    names.insert(word.to_string());
                }
                rest = &rest[end..];
            }
        }
    }
    names
}

async fn post(
    client: &Client,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    client
        .call(reqwest::Method::POST, path, Some(token), body)
        .await
}

/// The next `party_updated` with this change.
async fn party_change(socket: &mut Socket, change: &str) -> Value {
    loop {
        let event = wait_event(socket, "party_updated").await;
        if event["change"] == change {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_party_invites_readies_queues_together_lands_on_one_team_and_chats() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let server = Server::start(&dir.path().join("data"), &config);
    let client = Client {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    client.wait_ready().await;
    let mut players = Vec::new();
    for index in 0..10 {
        let (id, token) = client.register(&format!("member{index}")).await;
        let socket = connect_events(&client.base, &token).await;
        players.push((id, token, socket));
    }
    let ids: Vec<u64> = players.iter().map(|p| p.0).collect();
    let tokens: Vec<String> = players.iter().map(|p| p.1.clone()).collect();
    let pings = json!({"eu-west": 30});

    // The leader creates the party and invites two players.
    let (status, party) = post(&client, "/v1/party", &tokens[0], None).await;
    assert_eq!(status, StatusCode::CREATED, "{party}");
    let party_id = party["party_id"].as_u64().unwrap();
    assert_eq!(party["leader_id"], ids[0]);
    party_change(&mut players[0].2, "created").await;
    let base = format!("/v1/party/{party_id}");
    for invitee in [1, 2] {
        let (status, body) = post(
            &client,
            &format!("{base}/invite"),
            &tokens[0],
            Some(json!({"player_id": ids[invitee]})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let invite = wait_event(&mut players[invitee].2, "party_invite").await;
        assert_eq!(invite["party_id"], party_id);
        assert_eq!(invite["from_player_id"], ids[0]);
    }
    // Only the leader invites; only the invited join; outsiders cannot look.
    let (status, body) = post(
        &client,
        &format!("{base}/invite"),
        &tokens[1],
        Some(json!({"player_id": ids[3]})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = post(&client, &format!("{base}/join"), &tokens[3], None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "not_invited");
    let (status, _) = client
        .call(reqwest::Method::GET, &base, Some(&tokens[3]), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for member in [1, 2] {
        let (status, body) = post(&client, &format!("{base}/join"), &tokens[member], None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let joined = party_change(&mut players[0].2, "joined").await;
        assert_eq!(joined["player_id"], ids[member]);
    }

    // A member who leaves a queued party takes it out of the queue.
    for member in [1, 2] {
        let (status, body) = post(
            &client,
            &format!("{base}/ready"),
            &tokens[member],
            Some(json!({"pings": pings})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = post(
        &client,
        "/v1/queue",
        &tokens[0],
        Some(json!({"queue": "ranked-5v5", "pings": pings})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let queued = wait_event(&mut players[1].2, "queued").await;
    let (status, body) = post(&client, &format!("{base}/leave"), &tokens[2], None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let left = wait_event(&mut players[0].2, "queue_left").await;
    assert_eq!(left["ticket_id"], queued["ticket_id"]);
    assert_eq!(left["reason"], "party_changed");
    let (_, status_now) = client
        .call(reqwest::Method::GET, "/v1/queue", Some(&tokens[1]), None)
        .await;
    assert_eq!(status_now["status"], "idle", "{status_now}");

    // The leader kicks a member; the kicked player is told.
    let (status, body) = post(
        &client,
        &format!("{base}/kick"),
        &tokens[0],
        Some(json!({"player_id": ids[1]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let kicked = party_change(&mut players[1].2, "kicked").await;
    assert_eq!(kicked["player_id"], ids[1]);
    assert_eq!(kicked["party"]["members"].as_array().unwrap().len(), 1);

    // Back together: invite, join, and the queue waits for every member to be ready.
    for member in [1, 2] {
        let (status, body) = post(
            &client,
            &format!("{base}/invite"),
            &tokens[0],
            Some(json!({"player_id": ids[member]})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = post(&client, &format!("{base}/join"), &tokens[member], None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let queue_body = json!({"queue": "ranked-5v5", "pings": pings});
    let (status, body) = post(&client, "/v1/queue", &tokens[0], Some(queue_body.clone())).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "party_not_ready");
    let (status, body) = post(&client, "/v1/queue", &tokens[1], Some(queue_body.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "not_party_leader");
    for member in [1, 2] {
        let (status, body) = post(
            &client,
            &format!("{base}/ready"),
            &tokens[member],
            Some(json!({})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let mut readied = Vec::new();
    while readied.len() < 2 {
        let ready = party_change(&mut players[0].2, "ready").await;
        assert_eq!(ready["party"]["party_id"], party_id);
        readied.push(ready["player_id"].as_u64().unwrap());
        if readied.len() == 2 {
            let members = ready["party"]["members"].as_array().unwrap();
            assert_eq!(members.len(), 3, "{ready}");
            for member in members {
                assert_eq!(member["ready"], member["player_id"] != ids[0], "{ready}");
            }
        }
    }
    readied.sort_unstable();
    let mut expected = vec![ids[1], ids[2]];
    expected.sort_unstable();
    assert_eq!(readied, expected);

    // Chat reaches every member.
    let (status, body) = post(
        &client,
        &format!("{base}/chat"),
        &tokens[1],
        Some(json!({"text": "gl hf"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for member in [0, 2] {
        let line = wait_event(&mut players[member].2, "party_chat").await;
        assert_eq!(line["line"]["text"], "gl hf");
        assert_eq!(line["line"]["player_id"], ids[1]);
    }
    let (status, body) = post(
        &client,
        &format!("{base}/chat"),
        &tokens[1],
        Some(json!({"text": "x".repeat(500)})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, shown) = client
        .call(reqwest::Method::GET, &base, Some(&tokens[2]), None)
        .await;
    assert_eq!(shown["members"].as_array().unwrap().len(), 3, "{shown}");
    assert_eq!(shown["chat"][0]["text"], "gl hf");

    // The party queues as one ticket, with seven solos.
    let (status, body) = post(&client, "/v1/queue", &tokens[0], Some(queue_body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for token in &tokens[3..] {
        let (status, body) = post(&client, "/v1/queue", token, Some(queue_body.clone())).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let mut teams = Vec::new();
    let mut match_id = 0;
    for (_, _, socket) in &mut players {
        let found = wait_event(socket, "match_found").await;
        teams.push(found["your_team"].as_u64().unwrap());
        match_id = found["match_id"].as_u64().unwrap();
    }
    assert_eq!(teams[0], teams[1], "the party plays on one team: {teams:?}");
    assert_eq!(teams[0], teams[2], "the party plays on one team: {teams:?}");
    for token in &tokens {
        let (status, body) = post(
            &client,
            &format!("/v1/match/{match_id}/accept"),
            token,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    wait_event(&mut players[0].2, "session_ready").await;
    let (status, body) = post(
        &client,
        &format!("/v1/server/session/{match_id}/result"),
        SERVER_KEY,
        Some(json!({"winner": teams[0]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    wait_event(&mut players[0].2, "ratings_changed").await;

    // The match is in the leader's history, and the winners lead the leaderboard.
    let (status, history) = client
        .call(
            reqwest::Method::GET,
            "/v1/matches/history",
            Some(&tokens[0]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(history["matches"][0]["match_id"], match_id);
    assert_eq!(history["matches"][0]["placement"], 1);
    assert_eq!(history["next_cursor"], Value::Null);
    let (status, board) = client
        .call(
            reqwest::Method::GET,
            "/v1/leaderboard/default?mode=ranked&limit=5",
            Some(&tokens[0]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{board}");
    let top: Vec<u64> = board["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["player_id"].as_u64().unwrap())
        .collect();
    assert!(
        top.contains(&ids[0]),
        "the winning leader is in the top five: {board}"
    );
    assert!(board["next_cursor"].is_string());
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaderboards_rank_by_conservative_rating_and_page_with_cursors() {
    use matchwright_ecs::{PlayerId, Rating};
    use matchwright_storage::{Account, RatingRecord, Store, StoreOptions};
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // 250 rated players, written into the store before the server opens it.
    let settings = matchwright_server::settings::Settings::load(&config).unwrap();
    {
        let opened = Store::open(
            data.join("matchwright.redb"),
            settings.matcher.clone(),
            settings.server.seed,
            StoreOptions::default(),
        )
        .unwrap();
        let handle = opened.store.handle();
        let mut rows = Vec::new();
        for n in 1..=250_u64 {
            handle
                .create_account(&Account {
                    player: PlayerId(n),
                    username: format!("ranked{n}"),
                    password_hash: "unused".into(),
                    display_name: format!("Ranked {n}"),
                    regions: Vec::new(),
                    created_at_ms: 0,
                })
                .unwrap();
            // mu - 3 sigma is spread; a high mu with a high sigma ranks below a lower, surer one.
            let rating = Rating::new(
                1000.0 + (n * 37 % 250) as f64 * 4.0,
                50.0 + (n % 7) as f64 * 30.0,
            );
            rows.push((
                PlayerId(n),
                RatingRecord {
                    rating,
                    games: n,
                    updated_at_ms: 0,
                },
            ));
        }
        handle.import_ratings("ranked", "default", &rows).unwrap();
    }
    let server = Server::start(&data, &config);
    let client = Client {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    client.wait_ready().await;
    let (_, token) = client.register("reader").await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => {
                format!("/v1/leaderboard/default?mode=ranked&limit=100&cursor={cursor}")
            }
            None => "/v1/leaderboard/default?mode=ranked&limit=100".to_string(),
        };
        let (status, page) = client
            .call(reqwest::Method::GET, &path, Some(&token), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for entry in page["entries"].as_array().unwrap() {
            seen.push((
                entry["rank"].as_u64().unwrap(),
                entry["player_id"].as_u64().unwrap(),
                entry["rating"]["conservative"].as_f64().unwrap(),
                entry["display_name"].as_str().unwrap().to_string(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 250, "every player exactly once");
    let ranks: Vec<u64> = seen.iter().map(|s| s.0).collect();
    assert_eq!(ranks, (1..=250).collect::<Vec<_>>());
    assert!(
        seen.windows(2).all(|pair| pair[0].2 >= pair[1].2),
        "best conservative rating first"
    );
    let mut players: Vec<u64> = seen.iter().map(|s| s.1).collect();
    players.sort_unstable();
    players.dedup();
    assert_eq!(players.len(), 250);
    assert_eq!(seen[0].3, format!("Ranked {}", seen[0].1));
    // Bad input is named.
    for (path, field) in [
        ("/v1/leaderboard/default?mode=nope", "mode"),
        ("/v1/leaderboard/default?mode=ranked&limit=0", "limit"),
        (
            "/v1/leaderboard/default?mode=ranked&cursor=garbage",
            "cursor",
        ),
        ("/v1/matches/history?cursor=x", "cursor"),
    ] {
        let (status, body) = client
            .call(reqwest::Method::GET, path, Some(&token), None)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        assert_eq!(body["field"], field, "{path}: {body}");
    }
    // Another season is empty, not an error.
    let (status, body) = client
        .call(
            reqwest::Method::GET,
            "/v1/leaderboard/season-9?mode=ranked",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["entries"].as_array().unwrap().len(), 0);
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_rate_limit_gets_429_with_retry_after_and_others_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_with(
        dir.path(),
        "\n[rate_limits]\nwrite = { per_player_per_minute = 5, per_ip_per_minute = 0 }\n\
         auth = { per_ip_per_minute = 4 }\n",
    );
    let server = Server::start(&dir.path().join("data"), &config);
    let client = Client {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    client.wait_ready().await;
    let (_, greedy) = client.register("greedy").await;
    let (_, polite) = client.register("polite").await;
    let patch = json!({"display_name": "Greedy"});
    for _ in 0..5 {
        let (status, body) = client
            .call(
                reqwest::Method::PATCH,
                "/v1/profile/me",
                Some(&greedy),
                Some(patch.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let response = client
        .http
        .patch(format!("{}/v1/profile/me", client.base))
        .bearer_auth(&greedy)
        .json(&patch)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=12).contains(&retry_after),
        "one write comes back every 12 s: {retry_after}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    // Reads are another bucket; another player is not affected.
    let (status, _) = client
        .call(reqwest::Method::GET, "/v1/profile/me", Some(&greedy), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = client
        .call(
            reqwest::Method::PATCH,
            "/v1/profile/me",
            Some(&polite),
            Some(json!({"display_name": "Polite"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Accounts are limited per address: two registrations and two logins, then 429.
    let login = json!({"username": "polite", "password": "a good long password"});
    for expected in [
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::TOO_MANY_REQUESTS,
    ] {
        let (status, body) = client
            .call(
                reqwest::Method::POST,
                "/v1/auth/login",
                None,
                Some(login.clone()),
            )
            .await;
        assert_eq!(status, expected, "{body}");
    }
    // Health is never limited.
    for _ in 0..20 {
        let (status, _) = client
            .call(reqwest::Method::GET, "/healthz", None, None)
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    server.kill();
}

/// No per-IP limits, and game servers in the regions the test config has none in (load
/// players live in every region).
fn fleet_in_every_region() -> String {
    let mut extra = NO_IP_LIMITS.to_string();
    for (region, port) in [("us-east", 7778), ("ap-southeast", 7779), ("sa-east", 7780)] {
        extra.push_str(&format!(
            "\n[[fleet.servers]]\nregion = \"{region}\"\naddress = \"198.51.100.7:{port}\"\ncapacity = 8\n"
        ));
    }
    extra
}

#[test]
fn a_short_load_run_plays_matches_and_reports_every_route() {
    let dir = tempfile::tempdir().unwrap();
    // Load players live in every region: give each region game servers.
    let extra = fleet_in_every_region();
    let config = write_config_with(dir.path(), &extra);
    let server = Server::start(&dir.path().join("data"), &config);
    // Players over HTTP, then over QUIC: one player loop on the SDK, the routes named by
    // transport (the QUIC fingerprint comes from the server's data directory).
    let quic_addr = server.quic.0.to_string();
    let data_dir = dir.path().join("data");
    for (transport, extra, rows) in [
        (
            "http",
            vec!["--prefix", "http-"],
            vec!["| POST /v1/queue |", "| GET /v1/leaderboard/{season} |"],
        ),
        (
            "quic",
            vec!["--prefix", "quic-", "--quic", quic_addr.as_str()],
            vec!["| QUIC enqueue |", "| QUIC leaderboard |"],
        ),
    ] {
        let report = dir.path().join(format!("load-{transport}.json"));
        let output = Command::new(env!("CARGO_BIN_EXE_matchwright"))
            .args([
                "load",
                "--http",
                &server.base,
                "--players",
                "12",
                "--duration",
                "6",
            ])
            .args([
                "--queue",
                "duel-1v1",
                "--game-ms",
                "1500",
                "--think-ms",
                "500",
                "--quiet",
            ])
            .args(&extra)
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--server-key", SERVER_KEY, "--json"])
            .arg(&report)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{transport} load failed: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        for route in rows.iter().chain(&["| all |", "enqueue -> match found"]) {
            assert!(stdout.contains(route), "{route} missing from:\n{stdout}");
        }
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        assert!(
            report["matches"].as_u64().unwrap() >= 3,
            "{transport}: {report}"
        );
        assert!(
            report["results_posted"].as_u64().unwrap() >= 1,
            "{transport}: {report}"
        );
        assert!(
            report["match_found_samples"].as_u64().unwrap() >= 6,
            "{transport}: {report}"
        );
        assert_eq!(report["errors"], 0, "{transport}: {report}");
    }
    // Bad input: no such queue is a clear error and exit 2.
    let output = Command::new(env!("CARGO_BIN_EXE_matchwright"))
        .args([
            "load",
            "--http",
            &server.base,
            "--players",
            "1",
            "--duration",
            "1",
        ])
        .args([
            "--queue",
            "no-such-queue",
            "--server-key",
            SERVER_KEY,
            "--quiet",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("duel-1v1"), "names the queues: {stderr}");
}

// ---------------------------------------------------------------------------------------------
// QUIC (the SDK over both transports, and raw frames for bad input)

use matchwright_transport::ClientError;
use matchwright_transport::codec as wire_codec;
use matchwright_transport::wire::{self, Event};

async fn sdk_quic(server: &Server) -> matchwright_transport::Client {
    let (addr, fingerprint) = &server.quic;
    matchwright_transport::Client::connect_quic(*addr, fingerprint)
        .await
        .unwrap()
}

/// The next event that `wanted` picks out (others are skipped), within 10 s.
async fn sdk_event<T>(
    events: &mut matchwright_transport::EventStream,
    mut wanted: impl FnMut(&Event) -> Option<T>,
) -> T {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("an event within 10 s")
            .expect("the event stream is open")
            .unwrap();
        if let Some(found) = wanted(&event) {
            return found;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_and_http_players_party_up_queue_and_play_one_match() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let server = Server::start(&dir.path().join("data"), &config);
    Client {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    }
    .wait_ready()
    .await;
    let pings = [("eu-west", 30)];

    // Ten players: even ones over QUIC, odd ones over HTTP, all through the SDK.
    let mut clients = Vec::new();
    let mut streams = Vec::new();
    let mut ids = Vec::new();
    let mut logins = Vec::new();
    for n in 0..10 {
        let client = if n % 2 == 0 {
            sdk_quic(&server).await
        } else {
            matchwright_transport::Client::connect_http(&server.base)
                .await
                .unwrap()
        };
        let tokens = client
            .register(&format!("mixed{n}"), "a good long password", None)
            .await
            .unwrap();
        let mut events = client.events().unwrap();
        let welcome = sdk_event(&mut events, |event| match event {
            Event::Welcome { player_id } => Some(*player_id),
            _ => None,
        })
        .await;
        assert_eq!(welcome, tokens.player_id);
        ids.push(tokens.player_id);
        logins.push(tokens);
        clients.push(client);
        streams.push(events);
    }
    assert_eq!(clients[0].transport(), "quic");
    assert_eq!(clients[1].transport(), "http");

    // A party across transports: player 0 (QUIC) leads, player 1 (HTTP) joins.
    let party = clients[0].create_party().await.unwrap();
    clients[0].invite(party.party_id, ids[1]).await.unwrap();
    let invite = sdk_event(&mut streams[1], |event| match event {
        Event::PartyInvite {
            party_id,
            from_player_id,
            ..
        } => Some((*party_id, *from_player_id)),
        _ => None,
    })
    .await;
    assert_eq!(invite, (party.party_id, ids[0]));
    let joined = clients[1].join(party.party_id).await.unwrap();
    assert_eq!(joined.members.len(), 2);
    sdk_event(&mut streams[0], |event| match event {
        Event::PartyUpdated { change, .. } if change == "joined" => Some(()),
        _ => None,
    })
    .await;
    clients[1]
        .ready(party.party_id, true, &pings)
        .await
        .unwrap();
    clients[0].chat(party.party_id, "glhf").await.unwrap();
    let line = sdk_event(&mut streams[1], |event| match event {
        Event::PartyChat { line, .. } => Some(line.text.clone()),
        _ => None,
    })
    .await;
    assert_eq!(line, "glhf");
    // A member does not queue the party; the error is the same over HTTP as over QUIC.
    let refused = clients[1].enqueue("ranked-5v5", &pings).await.unwrap_err();
    assert_eq!(refused.code(), Some("not_party_leader"));
    let status = clients[0].enqueue("ranked-5v5", &pings).await.unwrap();
    assert_eq!(status.status, "queued");
    for client in &clients[2..] {
        client.enqueue("ranked-5v5", &pings).await.unwrap();
    }

    // Everyone hears of one match, accepts it over their transport, and gets the session.
    let mut match_ids = Vec::new();
    let mut teams = Vec::new();
    for events in &mut streams {
        let (match_id, team) = sdk_event(events, |event| match event {
            Event::MatchFound {
                match_id,
                state,
                your_team,
                ..
            } if state == "awaiting_acceptance" => Some((*match_id, *your_team)),
            _ => None,
        })
        .await;
        match_ids.push(match_id);
        teams.push(team);
    }
    assert!(
        match_ids.iter().all(|id| *id == match_ids[0]),
        "{match_ids:?}"
    );
    assert_eq!(teams[0], teams[1], "the party plays on one team");
    for client in &clients {
        let done = client.accept(match_ids[0]).await.unwrap();
        assert_eq!(done.status, "accepted");
    }
    for (n, events) in streams.iter_mut().enumerate() {
        let (server_address, token) = sdk_event(events, |event| match event {
            Event::SessionReady {
                server,
                session_token,
                ..
            } => Some((server.clone(), session_token.clone())),
            _ => None,
        })
        .await;
        assert_eq!(server_address, "198.51.100.7:7777", "player {n}");
        assert!(!token.is_empty());
    }
    // The session over QUIC and over HTTP says the same.
    let over_quic = clients[0].session(match_ids[0]).await.unwrap();
    let over_http = clients[1].session(match_ids[0]).await.unwrap();
    assert_eq!(over_quic.state, "active");
    assert_eq!(over_quic.players, over_http.players);
    assert_eq!(over_quic.players.len(), 10);
    let status = clients[2].queue_status().await.unwrap();
    assert_eq!(status.status, "in_match");

    // The game server reports the result (HTTP only); the winners hear of their new rating.
    let http = Client {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    let (status, body) = http
        .call(
            reqwest::Method::POST,
            &format!("/v1/server/session/{}/result", match_ids[0]),
            Some(SERVER_KEY),
            Some(json!({"winner": teams[0]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (mode, after) = sdk_event(&mut streams[0], |event| match event {
        Event::RatingsChanged {
            mode,
            before,
            after,
            ..
        } if after.mu > before.mu => Some((mode.clone(), *after)),
        _ => None,
    })
    .await;
    check_player_routes_over_quic(&http, &clients, &logins, (match_ids[0], &mode, after)).await;
    server.kill();
}

/// The player routes beyond matchmaking are QUIC requests too, answering what their HTTP
/// routes answer: refresh, profile (read and change), leaderboard, history, logout. Player 0
/// is on QUIC and won match `played.0` in `played.1` with rating `played.2`; player 1 is
/// its teammate, on HTTP.
async fn check_player_routes_over_quic(
    http: &Client,
    clients: &[matchwright_transport::Client],
    logins: &[wire::Tokens],
    played: (u64, &str, wire::Rating),
) {
    let (match_id, mode, rating) = played;
    let (quic, over_http) = (&clients[0], &clients[1]);
    assert_eq!(quic.transport(), "quic");
    // Refresh: new tokens for the same player, the old refresh token spent.
    let refreshed = quic.refresh(&logins[0].refresh_token).await.unwrap();
    assert_eq!(refreshed.player_id, logins[0].player_id);
    assert_eq!(refreshed.token_type, "Bearer");
    assert!(refreshed.refresh_expires_in > refreshed.expires_in);
    assert_ne!(refreshed.refresh_token, logins[0].refresh_token);
    // The HTTP client refreshes too, and goes on with its new access token.
    let refreshed_http = over_http.refresh(&logins[1].refresh_token).await.unwrap();
    assert_eq!(refreshed_http.player_id, logins[1].player_id);
    assert_eq!(
        over_http.profile().await.unwrap().player_id,
        logins[1].player_id
    );

    // The profile: changed and read over QUIC, the same over HTTP.
    let patch = wire::ProfilePatch {
        display_name: Some("Mixed Zero".into()),
        regions: Some(vec!["eu-west".into()]),
    };
    let changed = quic.update_profile(patch).await.unwrap();
    let profile = quic.profile().await.unwrap();
    assert_eq!(changed, profile);
    assert_eq!(profile.player_id, logins[0].player_id);
    assert_eq!(profile.username, "mixed0");
    assert_eq!(profile.display_name, "Mixed Zero");
    assert_eq!(profile.regions, ["eu-west"]);
    let ranked = profile.ratings.iter().find(|r| r.mode == mode).unwrap();
    assert_eq!((ranked.games, ranked.rating), (1, rating));
    let bad = wire::ProfilePatch {
        display_name: None,
        regions: Some(vec!["mars".into()]),
    };
    let refused = quic.update_profile(bad).await.unwrap_err();
    let ClientError::Server(refused) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(
        (
            refused.status,
            refused.code.as_str(),
            refused.field.as_deref()
        ),
        (422, "invalid_field", Some("regions[0]"))
    );
    let (status, body) = http
        .call(
            reqwest::Method::GET,
            "/v1/profile/me",
            Some(&refreshed.access_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let read: wire::Profile = serde_json::from_value(body).unwrap();
    let summary = |p: &wire::Profile| {
        let games: Vec<(String, u64)> = p
            .ratings
            .iter()
            .map(|r| (r.mode.clone(), r.games))
            .collect();
        (
            p.player_id,
            p.display_name.clone(),
            p.regions.clone(),
            games,
        )
    };
    assert_eq!(summary(&read), summary(&profile));

    // The leaderboard, in two pages, over QUIC; the same ranking over HTTP.
    let season = quic.queues().await.unwrap().season;
    let first = wire::LeaderboardQuery {
        mode: mode.to_string(),
        limit: Some(4),
        cursor: None,
    };
    let page = quic.leaderboard(&season, first.clone()).await.unwrap();
    assert_eq!(
        (page.season.as_str(), page.mode.as_str()),
        (season.as_str(), mode)
    );
    assert_eq!(page.entries.len(), 4);
    let rest = wire::LeaderboardQuery {
        mode: mode.to_string(),
        limit: Some(50),
        cursor: page.next_cursor.clone(),
    };
    let rest = quic.leaderboard(&season, rest).await.unwrap();
    assert!(rest.next_cursor.is_none());
    let ranked: Vec<(u64, u64)> = page
        .entries
        .iter()
        .chain(&rest.entries)
        .map(|entry| (entry.rank, entry.player_id))
        .collect();
    assert_eq!(ranked.len(), 10, "{ranked:?}");
    assert!(
        ranked
            .iter()
            .enumerate()
            .all(|(n, (rank, _))| *rank == n as u64 + 1)
    );
    let http_page = over_http.leaderboard(&season, first).await.unwrap();
    let http_ranked: Vec<(u64, u64)> = http_page
        .entries
        .iter()
        .map(|entry| (entry.rank, entry.player_id))
        .collect();
    assert_eq!(http_ranked, ranked[..4]);
    let unknown = wire::LeaderboardQuery {
        mode: "no such mode".into(),
        limit: None,
        cursor: None,
    };
    let refused = quic
        .leaderboard(&season, unknown.clone())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("invalid_field"));
    let refused = over_http.leaderboard(&season, unknown).await.unwrap_err();
    assert_eq!(refused.code(), Some("invalid_field"));

    // History: the match, won, for both teammates.
    for client in [quic, over_http] {
        let history = client.history(wire::HistoryQuery::default()).await.unwrap();
        assert_eq!(history.matches.len(), 1, "{}", client.transport());
        assert_eq!(history.matches[0].match_id, match_id);
        assert_eq!(history.matches[0].mode, mode);
        assert_eq!(history.matches[0].placement, Some(1));
        assert!(history.next_cursor.is_none());
    }

    // Logout over QUIC revokes the login: its refresh token is refused, with the same error
    // over QUIC as over HTTP (where the body carries the status).
    quic.logout(&refreshed.refresh_token).await.unwrap();
    let ClientError::Server(over_quic) = quic.refresh(&refreshed.refresh_token).await.unwrap_err()
    else {
        panic!("a server refusal expected")
    };
    let (status, body) = http
        .call(
            reqwest::Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refreshed.refresh_token})),
        )
        .await;
    assert_eq!(status.as_u16(), over_quic.status, "{body}");
    assert_eq!(over_quic.status, 401);
    assert_eq!(body["status"], over_quic.status, "{body}");
    assert_eq!(body["error"], over_quic.code, "{body}");
    assert_eq!(body["field"], Value::Null, "{body}");
    assert_eq!(
        serde_json::from_value::<wire::WireError>(body)
            .unwrap()
            .code,
        over_quic.code
    );
}

/// Opens a stream, writes `bytes` (then finishes, if asked), and reads what the server sends
/// until it closes the stream.
async fn raw_exchange(
    connection: &quinn::Connection,
    bytes: &[u8],
    finish: bool,
) -> Vec<wire::ServerMessage> {
    let (mut send, mut recv) = connection.open_bi().await.unwrap();
    // The server may stop reading before all of it arrived; that is its answer too.
    let _ = send.write_all(bytes).await;
    if finish {
        let _ = send.finish();
    }
    let received = tokio::time::timeout(Duration::from_secs(10), recv.read_to_end(1 << 20))
        .await
        .expect("the server closes the stream within 10 s")
        .expect("the stream ends cleanly");
    let mut messages = Vec::new();
    let mut rest = received.as_slice();
    while let Some((body, next)) =
        wire_codec::split_frame(rest, wire_codec::MAX_FRAME_BYTES).unwrap()
    {
        messages.push(wire_codec::decode_server(body).unwrap());
        rest = next;
    }
    messages
}

fn protocol_error_code(messages: &[wire::ServerMessage]) -> String {
    match messages {
        [wire::ServerMessage::ProtocolError(error)] => error.code.clone(),
        [wire::ServerMessage::Failed { error, .. }] => error.code.clone(),
        other => panic!("expected one error frame, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_quic_input_gets_an_error_frame_and_a_closed_stream_and_others_carry_on() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let server = Server::start(&dir.path().join("data"), &config);
    Client {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    }
    .wait_ready()
    .await;
    // A well-behaved player, busy throughout.
    let good = sdk_quic(&server).await;
    good.register("steady", "a good long password", None)
        .await
        .unwrap();

    let (addr, fingerprint) = &server.quic;
    let crypto = matchwright_transport::quic::tls::client_crypto(fingerprint).unwrap();
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(crypto).unwrap();
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    endpoint.set_default_client_config(quinn::ClientConfig::new(std::sync::Arc::new(crypto)));
    let connection = endpoint.connect(*addr, "localhost").unwrap().await.unwrap();
    assert_eq!(
        connection
            .handshake_data()
            .unwrap()
            .downcast::<quinn::crypto::rustls::HandshakeData>()
            .unwrap()
            .protocol
            .unwrap(),
        b"matchwright/1"
    );

    let frame = |message: &wire::ClientMessage| {
        wire_codec::frame(message, wire_codec::MAX_FRAME_BYTES).unwrap()
    };
    let status = wire::ClientMessage {
        id: 1,
        request: wire::Request::QueueStatus,
    };
    // Garbage.
    let garbage = [
        5,
        0,
        0,
        0,
        wire_codec::PROTOCOL_VERSION,
        0xff,
        0xfe,
        0xfd,
        0xfc,
    ];
    assert_eq!(
        protocol_error_code(&raw_exchange(&connection, &garbage, false).await),
        "malformed_message"
    );
    // A truncated frame: the client finishes its side inside a frame.
    let whole = frame(&status);
    assert_eq!(
        protocol_error_code(&raw_exchange(&connection, &whole[..whole.len() - 1], true).await),
        "truncated_frame"
    );
    // An oversize frame: refused from its length prefix.
    let mut oversize = (10_000_000u32).to_le_bytes().to_vec();
    oversize.extend_from_slice(&[wire_codec::PROTOCOL_VERSION; 64]);
    assert_eq!(
        protocol_error_code(&raw_exchange(&connection, &oversize, false).await),
        "frame_too_large"
    );
    // An unknown message kind.
    let mut unknown = Vec::new();
    wire_codec::encode_frame(&(9u64, 250u32), wire_codec::MAX_FRAME_BYTES, &mut unknown).unwrap();
    assert_eq!(
        protocol_error_code(&raw_exchange(&connection, &unknown, false).await),
        "unknown_message"
    );
    // Another protocol version.
    let mut other_version = frame(&status);
    other_version[wire_codec::LENGTH_BYTES] = wire_codec::PROTOCOL_VERSION + 1;
    assert_eq!(
        protocol_error_code(&raw_exchange(&connection, &other_version, false).await),
        "unsupported_version"
    );
    // A request before authentication.
    let answer = raw_exchange(&connection, &frame(&status), false).await;
    assert!(
        matches!(&answer[..], [wire::ServerMessage::Failed { id: 1, error }] if error.code == "not_authenticated" && error.status == 401),
        "{answer:?}"
    );

    // The same connection still works on a new stream: log in, then ask.
    let login = wire::ClientMessage {
        id: 2,
        request: wire::Request::Register(wire::RegisterRequest {
            username: "recovered".into(),
            password: "a good long password".into(),
            display_name: None,
        }),
    };
    let mut both = frame(&login);
    both.extend_from_slice(&frame(&wire::ClientMessage {
        id: 3,
        ..status.clone()
    }));
    let (mut send, mut recv) = connection.open_bi().await.unwrap();
    send.write_all(&frame(&login)).await.unwrap();
    let mut prefix = [0u8; 4];
    recv.read_exact(&mut prefix).await.unwrap();
    let mut body = vec![0u8; u32::from_le_bytes(prefix) as usize];
    recv.read_exact(&mut body).await.unwrap();
    assert!(matches!(
        wire_codec::decode_server(&body).unwrap(),
        wire::ServerMessage::Response {
            id: 2,
            response: wire::Response::Tokens(_)
        }
    ));
    send.write_all(&frame(&wire::ClientMessage {
        id: 3,
        ..status.clone()
    }))
    .await
    .unwrap();
    send.finish().unwrap();
    let rest = recv.read_to_end(1 << 20).await.unwrap();
    let (body, _) = wire_codec::split_frame(&rest, wire_codec::MAX_FRAME_BYTES)
        .unwrap()
        .unwrap();
    assert!(matches!(
        wire_codec::decode_server(body).unwrap(),
        wire::ServerMessage::Response {
            id: 3,
            response: wire::Response::QueueStatus(_)
        }
    ));
    drop(both);

    // And the well-behaved player never noticed.
    let queues = good.queues().await.unwrap();
    assert!(queues.queues.iter().any(|queue| queue.name == "duel-1v1"));
    assert_eq!(good.queue_status().await.unwrap().status, "idle");
    // Clients that come and go do not keep their event subscriptions: the same player logs
    // in on more fresh connections than it may hold event streams at once.
    for _ in 0..6 {
        let client = sdk_quic(&server).await;
        client
            .login("steady", "a good long password")
            .await
            .unwrap();
        client.close();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A wrong pin is refused at the handshake.
    let wrong = "00".repeat(32);
    let refused = matchwright_transport::Client::connect_quic(*addr, &wrong).await;
    assert!(
        matches!(&refused, Err(ClientError::Connection(why)) if why.contains("handshake")),
        "{refused:?}"
    );
    connection.close(0u32.into(), b"done");
    server.kill();
}

// ---------------------------------------------------------------------------------------------
// Record and replay

/// Runs `matchwright` with `args`; returns the exit code, stdout and stderr.
fn matchwright(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_matchwright"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The number after `word ` in `text`.
fn number_after(text: &str, word: &str) -> u64 {
    let at = text
        .find(&format!("{word} "))
        .unwrap_or_else(|| panic!("no `{word}` in {text}"));
    text[at + word.len() + 1..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_recorded_serve_run_replays_identically_and_so_does_its_exported_journal() {
    let dir = tempfile::tempdir().unwrap();
    let extra = fleet_in_every_region();
    let config = write_config_with(dir.path(), &extra);
    let data_dir = dir.path().join("data");
    let traces = dir.path().join("traces");
    let server = Server::start_with(
        &data_dir,
        &config,
        &[
            "--record".as_ref(),
            traces.as_os_str(),
            "--record-events".as_ref(),
        ],
    );
    // Clients play: queue, accept, play, post results, read profiles and boards.
    let (code, stdout, stderr) = matchwright(&[
        "load".as_ref(),
        "--http".as_ref(),
        server.base.as_ref(),
        "--players".as_ref(),
        "12".as_ref(),
        "--duration".as_ref(),
        "5".as_ref(),
        "--queue".as_ref(),
        "duel-1v1".as_ref(),
        "--game-ms".as_ref(),
        "1000".as_ref(),
        "--think-ms".as_ref(),
        "300".as_ref(),
        "--quiet".as_ref(),
        "--server-key".as_ref(),
        SERVER_KEY.as_ref(),
    ]);
    assert_eq!(code, Some(0), "load failed: {stdout}\n{stderr}");
    server.stop();

    // The recording replays tick for tick.
    let (code, stdout, stderr) =
        matchwright(&["replay".as_ref(), traces.as_os_str(), "--quiet".as_ref()]);
    assert_eq!(code, Some(0), "replay failed: {stdout}\n{stderr}");
    assert!(stdout.contains(": identical"), "{stdout}");
    assert!(stdout.contains("with events"), "{stdout}");
    assert!(number_after(&stdout, "matches") >= 3, "{stdout}");
    assert!(number_after(&stdout, "commands") >= 20, "{stdout}");

    // So does the journal, exported from the stopped server's store (its events re-derived
    // and checked against the journal's hashes).
    let exported = dir.path().join("journal.mwtrace");
    let (code, stdout, stderr) = matchwright(&[
        "trace".as_ref(),
        "export".as_ref(),
        "--data-dir".as_ref(),
        data_dir.as_os_str(),
        "--out".as_ref(),
        exported.as_os_str(),
        "--events".as_ref(),
    ]);
    assert_eq!(code, Some(0), "export failed: {stdout}\n{stderr}");
    assert!(stdout.contains("exported ticks 1.."), "{stdout}");
    let (code, stdout, stderr) =
        matchwright(&["replay".as_ref(), exported.as_os_str(), "--quiet".as_ref()]);
    assert_eq!(
        code,
        Some(0),
        "replay of the export failed: {stdout}\n{stderr}"
    );
    assert!(number_after(&stdout, "matches") >= 3, "{stdout}");

    // A damaged copy is a clear error naming the byte, and exit 2.
    let mut bytes = std::fs::read(&exported).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    let damaged = dir.path().join("damaged.mwtrace");
    std::fs::write(&damaged, &bytes).unwrap();
    let (code, _, stderr) =
        matchwright(&["replay".as_ref(), damaged.as_os_str(), "--quiet".as_ref()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("FAILED") && stderr.contains("at byte"),
        "{stderr}"
    );
    assert!(
        stderr.contains("replayed identically before this"),
        "{stderr}"
    );
    // And so is a truncated one (cut inside its last frame).
    let bytes = std::fs::read(&exported).unwrap();
    let truncated = dir.path().join("truncated.mwtrace");
    std::fs::write(&truncated, &bytes[..bytes.len() - 3]).unwrap();
    let (code, _, stderr) =
        matchwright(&["replay".as_ref(), truncated.as_os_str(), "--quiet".as_ref()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("truncated"), "{stderr}");
    // A store a server holds is not exported from.
    let export_to = |name: &str| {
        matchwright(&[
            "trace".as_ref(),
            "export".as_ref(),
            "--data-dir".as_ref(),
            data_dir.as_os_str(),
            "--out".as_ref(),
            dir.path().join(name).as_os_str(),
        ])
    };
    let server = Server::start(&data_dir, &config);
    let (code, _, stderr) = export_to("busy.mwtrace");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("open in another process"), "{stderr}");
    // Nor one a killed server left unclean: the message says how to recover it.
    server.kill();
    let (code, _, stderr) = export_to("unclean.mwtrace");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("not closed cleanly"), "{stderr}");
    assert!(!dir.path().join("unclean.mwtrace").exists());
}

/// Registers `count` players, each with a live event socket.
async fn players_with_events(
    client: &Client,
    prefix: &str,
    count: usize,
) -> Vec<(u64, String, Socket)> {
    let mut players = Vec::new();
    for index in 0..count {
        let (id, token) = client.register(&format!("{prefix}{index}")).await;
        let socket = connect_events(&client.base, &token).await;
        players.push((id, token, socket));
    }
    players
}

async fn queue_duel(client: &Client, token: &str) {
    let (status, body) = post(
        client,
        "/v1/queue",
        token,
        Some(json!({"queue": "duel-1v1", "pings": {"eu-west": 25}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// The first two of `players` queue for a duel and get its session on the fleet's server;
/// returns the match.
async fn first_two_in_a_duel_session(
    client: &Client,
    players: &mut [(u64, String, Socket)],
) -> u64 {
    for (_, token, _) in &players[..2] {
        queue_duel(client, token).await;
    }
    let mut match_id = 0;
    for (_, _, socket) in &mut players[..2] {
        let ready = wait_event(socket, "session_ready").await;
        match_id = ready["match_id"].as_u64().unwrap();
        assert_eq!(ready["server"], "198.51.100.7:7777");
    }
    match_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_game_server_backfills_a_player_who_left_and_the_new_player_gets_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let server = Server::start(&dir.path().join("data"), &config);
    let client = Client {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    client.wait_ready().await;
    let mut players = players_with_events(&client, "backfill", 3).await;
    let match_id = first_two_in_a_duel_session(&client, &mut players).await;
    let session = format!("/v1/server/session/{match_id}");
    // Only the game server may say who left; a player not in the session is refused.
    let leaver = players[0].0;
    let (status, body) = post(
        &client,
        &format!("{session}/leave"),
        &players[2].1,
        Some(json!({"player_id": leaver})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = post(
        &client,
        &format!("{session}/leave"),
        SERVER_KEY,
        Some(json!({"player_id": players[2].0})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = post(
        &client,
        &format!("{session}/leave"),
        SERVER_KEY,
        Some(json!({"player": leaver})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = post(
        &client,
        &format!("{session}/leave"),
        SERVER_KEY,
        Some(json!({"player_id": leaver})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "player_left");
    let (_, status) = client
        .call(reqwest::Method::GET, "/v1/queue", Some(&players[0].1), None)
        .await;
    assert_eq!(status["status"], "idle", "the leaver is free: {status}");
    // The server asks for one player for the leaver's team; a player in the queue fills it.
    let (_, view) = client
        .call(
            reqwest::Method::GET,
            &format!("/v1/session/{match_id}"),
            Some(&players[1].1),
            None,
        )
        .await;
    let stayer_team = view["your_team"].as_u64().unwrap();
    let mut open_slots = vec![0, 0];
    open_slots[1 - stayer_team as usize] = 1;
    let (status, body) = post(
        &client,
        &format!("{session}/backfill"),
        SERVER_KEY,
        Some(json!({"open_slots": open_slots})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    queue_duel(&client, &players[2].1).await;
    let joiner = &mut players[2];
    let found = wait_event(&mut joiner.2, "match_found").await;
    assert_eq!(found["match_id"], match_id, "{found}");
    assert_eq!(found["state"], "active", "{found}");
    assert_eq!(found["your_team"], 1 - stayer_team);
    let ready = wait_event(&mut joiner.2, "session_ready").await;
    assert_eq!(ready["match_id"], match_id);
    assert_eq!(ready["server"], "198.51.100.7:7777");
    let claims = matchwright_server::auth::verify_session_token(
        SESSION_SECRET.as_bytes(),
        ready["session_token"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(claims.sub, joiner.0.to_string());
    assert_eq!(claims.match_id, match_id);
    // The game ends without a result: nobody's rating changes, everyone is free.
    let (status, body) = post(&client, &format!("{session}/end"), SERVER_KEY, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (_, token, socket) in &mut players[1..3] {
        let ended = wait_event(socket, "session_ended").await;
        assert_eq!(ended["placements"], Value::Null, "{ended}");
        let (_, status) = client
            .call(reqwest::Method::GET, "/v1/queue", Some(token), None)
            .await;
        assert_eq!(status["status"], "idle");
    }
    let (status, body) = post(&client, &format!("{session}/end"), SERVER_KEY, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_fleet_cancels_and_requeues_once_per_backoff_not_every_tick() {
    let dir = tempfile::tempdir().unwrap();
    // One game server in the only region the players can play in; a 1 s backoff.
    let path = write_config(dir.path());
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("capacity = 4", "capacity = 1")
        .replace(
            "allocation_backoff_ms = 5000",
            "allocation_backoff_ms = 1000",
        );
    std::fs::write(&path, text).unwrap();
    let server = Server::start(&dir.path().join("data"), &path);
    let client = Client {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    client.wait_ready().await;
    let mut players = players_with_events(&client, "fleet", 4).await;
    let playing = first_two_in_a_duel_session(&client, &mut players).await;
    for (_, token, _) in &players[2..] {
        queue_duel(&client, token).await;
    }
    // For 3.5 s (70 ticks of 50 ms) the fleet is full: each attempt is one match_found, one
    // match_cancelled{allocation_failed}, one requeued, about once a second.
    let watched = &mut players[2].2;
    let mut attempts = Vec::new();
    let until = tokio::time::Instant::now() + Duration::from_millis(3_500);
    while tokio::time::Instant::now() < until {
        let Ok(event) = tokio::time::timeout_at(until, next_event(watched)).await else {
            break;
        };
        match event["type"].as_str().unwrap() {
            "match_found" => attempts.push(vec!["match_found".to_string()]),
            "match_cancelled" => {
                assert_eq!(event["reason"], "allocation_failed", "{event}");
                attempts.last_mut().unwrap().push("match_cancelled".into());
            }
            "requeued" => attempts.last_mut().unwrap().push("requeued".into()),
            _ => {}
        }
    }
    assert!(
        (2..=5).contains(&attempts.len()),
        "one attempt per backoff (1 s) in 3.5 s, not one per tick: {attempts:?}"
    );
    for attempt in &attempts[..attempts.len() - 1] {
        assert_eq!(attempt, &["match_found", "match_cancelled", "requeued"]);
    }
    let (_, status) = client
        .call(reqwest::Method::GET, "/v1/queue", Some(&players[2].1), None)
        .await;
    assert!(
        ["queued", "in_match"].contains(&status["status"].as_str().unwrap()),
        "still waiting, with its ticket: {status}"
    );
    // The server frees up: the waiting pair gets it.
    let (status, body) = post(
        &client,
        &format!("/v1/server/session/{playing}/end"),
        SERVER_KEY,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (_, _, socket) in &mut players[2..] {
        let ready = wait_event(socket, "session_ready").await;
        assert_ne!(ready["match_id"], playing);
    }
    server.kill();
}

#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_matchwright"))
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--quic",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Up once it prints its address; its start-up log lines are written by then.
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = stdout.next().unwrap().unwrap();
    assert!(first.contains("http://"), "{first}");
    std::thread::sleep(Duration::from_millis(300));
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stderr);
    assert!(logs.contains("INFO"), "no log lines: {logs}");
    assert!(!logs.contains('\u{1b}'), "colour codes in a pipe: {logs:?}");
}
