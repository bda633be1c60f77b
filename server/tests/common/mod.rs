//! What the end-to-end tests share: a config with a fleet and known secrets, the real
//! `matchwright` binary started on free ports with a temporary data directory, an HTTP client
//! and the live-event WebSocket.

#![allow(dead_code, clippy::unwrap_used, clippy::print_stderr)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

pub const SERVER_KEY: &str = "e2e-game-server-key-0123456789abcdefgh";
pub const SESSION_SECRET: &str = "e2e-session-secret-0123456789abcdefghij";
/// The operator key gateways on a shared record are started with.
pub const OPERATOR_KEY: &str = "cluster-operator-key-0123456789abcdefghijk";

pub const JWT_SECRET: &str = "e2e-jwt-secret-0123456789abcdefghijklmnop";

/// Per-IP limits off: every test client shares 127.0.0.1. Per-player limits stay at the
/// defaults.
pub const NO_IP_LIMITS: &str = "\n[rate_limits]\nread = { per_player_per_minute = 100, per_ip_per_minute = 0 }\n\
     write = { per_player_per_minute = 30, per_ip_per_minute = 0 }\n\
     auth = { per_ip_per_minute = 0 }\n";

pub fn write_config(dir: &Path) -> std::path::PathBuf {
    write_config_with(dir, NO_IP_LIMITS)
}

/// The test config plus `extra` TOML tables.
pub fn write_config_with(dir: &Path, extra: &str) -> std::path::PathBuf {
    write_config_server(dir, "", extra)
}

/// The test config with `server` lines added to its `[server]` table, plus `extra` tables.
pub fn write_config_server(dir: &Path, server: &str, extra: &str) -> std::path::PathBuf {
    // The shipped defaults, with acceptance on in ranked-5v5 and a fleet.
    let shipped = include_str!("../../../config/matchwright.toml");
    let marker = "name = \"ranked-5v5\"\n";
    let config = shipped.replacen(
        marker,
        &format!("{marker}acceptance = {{ timeout_ms = 30000 }}\n"),
        1,
    );
    let text = format!(
        "{config}\n[server]\ntick_interval_ms = 50\ngame_server_key = \"{SERVER_KEY}\"\n\
         session_secret = \"{SESSION_SECRET}\"\n{server}\n\
         [[fleet.servers]]\nregion = \"eu-west\"\naddress = \"198.51.100.7:7777\"\ncapacity = 4\n{extra}"
    );
    let path = dir.join("matchwright.toml");
    std::fs::write(&path, text).unwrap();
    path
}

pub struct Server {
    pub child: Child,
    pub base: String,
    /// The QUIC address and the certificate fingerprint the server printed.
    pub quic: (std::net::SocketAddr, String),
}

impl Server {
    pub fn start(data_dir: &Path, config: &Path) -> Self {
        Self::start_with(data_dir, config, &[])
    }

    /// Starts the server with `extra` arguments to `serve`.
    pub fn start_with(data_dir: &Path, config: &Path, extra: &[&std::ffi::OsStr]) -> Self {
        Self::start_env(data_dir, config, extra, &[])
    }

    /// Starts the server with `extra` arguments and environment variables set (`Some`) or
    /// removed (`None`).
    pub fn start_env(
        data_dir: &Path,
        config: &Path,
        extra: &[&std::ffi::OsStr],
        variables: &[(&str, Option<&str>)],
    ) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_matchwright"));
        for (name, value) in variables {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        command
            .args([
                "serve",
                "--http",
                "127.0.0.1:0",
                "--quic",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(data_dir)
            .arg("--config")
            .arg(config)
            .args(extra);
        Self::spawn(command)
    }

    /// Starts `matchwright gateway` in front of the partitions on `nats`, named `name`.
    pub fn start_gateway(data_dir: &Path, config: &Path, nats: &str, name: &str) -> Self {
        Self::spawn(Self::gateway_command(data_dir, config, nats, name))
    }

    /// A gateway on the cluster's shared record at `postgres`, with the secrets every
    /// gateway of the cluster shares.
    pub fn start_gateway_on(
        data_dir: &Path,
        config: &Path,
        nats: &str,
        name: &str,
        postgres: &str,
    ) -> Self {
        let mut command = Self::gateway_command(data_dir, config, nats, name);
        command
            .args(["--postgres", postgres])
            .env("MATCHWRIGHT_JWT_SECRET", JWT_SECRET)
            .env("MATCHWRIGHT_OPERATOR_KEYS", OPERATOR_KEY);
        Self::spawn(command)
    }

    fn gateway_command(data_dir: &Path, config: &Path, nats: &str, name: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_matchwright"));
        command
            .args(["gateway", "--http", "127.0.0.1:0", "--quic", "127.0.0.1:0"])
            .args(["--nats", nats, "--name", name, "--data-dir"])
            .arg(data_dir)
            .arg("--config")
            .arg(config);
        command
    }

    /// Runs `command` and reads the addresses it prints.
    fn spawn(mut command: Command) -> Self {
        let mut child = command
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
        // "matchwright: quic on 127.0.0.1:PORT (ALPN matchwright/1, certificate sha256 HEX, ...)"
        let second = lines
            .by_ref()
            .map(Result::unwrap)
            .find(|line| line.starts_with("matchwright: quic on"))
            .expect("the server prints its QUIC address");
        let words: Vec<&str> = second.split_whitespace().collect();
        let at = words.iter().position(|word| *word == "on").unwrap() + 1;
        let quic_addr = words[at].parse().unwrap();
        let at = words.iter().position(|word| *word == "sha256").unwrap() + 1;
        let fingerprint = words[at].trim_end_matches([',', ')']).to_string();
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            base,
            quic: (quic_addr, fingerprint),
        }
    }

    /// An HTTP client of this server.
    pub fn client(&self) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: self.base.clone(),
        }
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server as an operator would (SIGTERM) and waits for it: it commits what it
    /// has and flushes its trace segments.
    pub fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "the server stopped with {exit}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

impl Client {
    pub async fn call(
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

    /// Waits until `/readyz` answers 200 (at most 4 s).
    pub async fn wait_ready(&self) {
        for _ in 0..200 {
            let (status, _) = self.call(reqwest::Method::GET, "/readyz", None, None).await;
            if status == StatusCode::OK {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the server never became ready");
    }

    pub async fn register(&self, name: &str) -> (u64, String) {
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

/// An error answer: its status and its code.
pub fn assert_error(answer: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["error"], code, "{}", answer.1);
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect_events(base: &str, token: &str) -> Socket {
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

pub async fn next_event(socket: &mut Socket) -> Value {
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
pub async fn wait_event(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let event = next_event(socket).await;
        if event["type"] == kind {
            return event;
        }
    }
}
pub mod nats;

/// `DATABASE_URL` with a schema of its own (created here), or `None` when it is not set.
pub async fn record_url(test: &str) -> Option<(String, sqlx::PgPool)> {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("SKIPPED {test}: DATABASE_URL is not set (CI sets it; see .ci/run)");
        return None;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let schema = format!("gateway_record_{}_{nanos}", std::process::id());
    let admin = sqlx::PgPool::connect(&url).await.expect("Postgres answers");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .expect("a schema");
    let separator = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{separator}options[search_path]={schema}");
    let pool = sqlx::PgPool::connect(&url).await.expect("Postgres answers");
    Some((url, pool))
}
