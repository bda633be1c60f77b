//! End to end: the real `matchwright` binary on a free port with a temporary data dir, driven
//! over real HTTP and WebSocket connections. Ten players queue 5v5, the match arrives over
//! WebSocket, everyone accepts, a game server heartbeats and posts a result, ratings change.
//! A server killed with players in queue keeps them queued after a restart. A bad config is a
//! clear message and a non-zero exit.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

const SERVER_KEY: &str = "e2e-game-server-key-0123456789abcdefgh";
const SESSION_SECRET: &str = "e2e-session-secret-0123456789abcdefghij";

fn write_config(dir: &Path) -> std::path::PathBuf {
    // The shipped defaults, with acceptance on in ranked-5v5 and a fleet.
    let shipped = include_str!("../../config/matchwright.toml");
    let marker = "name = \"ranked-5v5\"\n";
    let config = shipped.replacen(
        marker,
        &format!("{marker}acceptance = {{ timeout_ms = 30000 }}\n"),
        1,
    );
    let text = format!(
        "{config}\n[server]\ntick_interval_ms = 50\ngame_server_key = \"{SERVER_KEY}\"\n\
         session_secret = \"{SESSION_SECRET}\"\n\n\
         [[fleet.servers]]\nregion = \"eu-west\"\naddress = \"198.51.100.7:7777\"\ncapacity = 4\n"
    );
    let path = dir.join("matchwright.toml");
    std::fs::write(&path, text).unwrap();
    path
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(data_dir: &Path, config: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_matchwright"))
            .args(["serve", "--http", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().unwrap().unwrap();
        // "matchwright: listening on http://127.0.0.1:PORT (...)"
        let base = first
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_string();
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, base }
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let value = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, value)
    }

    async fn register(&self, name: &str) -> (u64, String) {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/v1/auth/register",
                None,
                Some(json!({"username": name, "password": "a good long password"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["player_id"].as_u64().unwrap(),
            body["access_token"].as_str().unwrap().to_string(),
        )
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect_events(base: &str, token: &str) -> Socket {
    let url = format!("{}/v1/events", base.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let welcome = next_event(&mut socket).await;
    assert_eq!(welcome["type"], "welcome");
    socket
}

async fn next_event(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

/// The next event of `kind`, skipping others.
async fn wait_event(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let event = next_event(socket).await;
        if event["type"] == kind {
            return event;
        }
    }
}

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
    for name in [
        "matchwright_tick_duration_seconds",
        "matchwright_queue_depth",
        "matchwright_time_to_match_seconds",
        "matchwright_match_quality",
        "matchwright_matches_total",
        "matchwright_matches_per_second",
        "matchwright_http_request_duration_seconds",
        "matchwright_mirror_lag_rows",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
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
        .args(["serve", "--http", "127.0.0.1:0", "--data-dir"])
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
