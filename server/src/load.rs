//! `matchwright load`: a load generator that drives a real server the way players and game
//! servers do, over HTTP and the live-event WebSocket, and measures it.
//!
//! It registers `--players` accounts (or logs them in when they exist), opens each one's
//! event socket, and keeps every player cycling for `--duration` seconds: enqueue, wait for
//! `match_found` on the socket (accepting when the queue asks), wait for the session, play,
//! glance at the profile and the leaderboard, think, and queue again. It also acts as the game
//! servers: about `--game-ms` after a session starts it posts the result (with the game-server
//! key), so ratings, history and leaderboards move as they would in production. Think times
//! and game lengths vary from half to one and a half times their setting, and players start
//! spread over one cycle, so the load is steady rather than a herd moving in step.
//!
//! It reports, per route: requests, requests per second, p50/p99/max latency, and errors by
//! status; plus enqueue -> match-found latency (from sending `POST /v1/queue` to the socket's
//! `match_found`), all in HdrHistograms. Setup (registration, which is argon2 on the server and
//! slow by design) is not measured. A progress line runs unless `--quiet`.
//!
//! With `--quic ADDR`, players speak QUIC through the client SDK (`matchwright_transport`):
//! register or log in, enqueue, accept, cancel and read their queue status over one QUIC
//! connection each, with events on its event stream. The game servers' results and the queue
//! listing still go over `--http` (game servers speak HTTP). Routes are reported as `QUIC
//! enqueue`, `QUIC accept`, and so on, beside the HTTP ones.
//!
//! Bounds: one task and one socket (or QUIC connection) per player; the HTTP client keeps at most
//! `--max-connections` idle connections; each histogram is fixed-size (1 µs to 1 h, 3
//! significant digits).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use hdrhistogram::Histogram;
use matchwright_transport::wire::Event;
use matchwright_transport::{Client, ClientError, EventStream, QuicEndpoint};
use serde::Serialize;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

/// `matchwright load` options.
#[derive(Clone, Debug, clap::Args)]
pub struct LoadArgs {
    /// The server's HTTP address, e.g. `127.0.0.1:8080` or `http://127.0.0.1:8080`.
    #[arg(long)]
    pub http: String,
    /// Concurrent players.
    #[arg(long, default_value_t = 100)]
    pub players: usize,
    /// Seconds of measured load (after setup).
    #[arg(long, default_value_t = 30)]
    pub duration: u64,
    /// The game mode to play: its first queue is used (default: the server's first queue).
    #[arg(long)]
    pub mode: Option<String>,
    /// The queue to play, by name (instead of `--mode`).
    #[arg(long, conflicts_with = "mode")]
    pub queue: Option<String>,
    /// The game-server key, to post results as the game servers. Default: the
    /// `MATCHWRIGHT_GAME_SERVER_KEY` variable, else `secrets.toml` in `--data-dir`.
    #[arg(long)]
    pub server_key: Option<String>,
    /// The server's data directory (to read the game-server key from its `secrets.toml`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// How long a fake game lasts before its result is posted (ms).
    #[arg(long, default_value_t = 5_000)]
    pub game_ms: u64,
    /// How long a player waits between a game and the next queue (ms).
    #[arg(long, default_value_t = 1_000)]
    pub think_ms: u64,
    /// Usernames are this prefix and the player's number.
    #[arg(long, default_value = "load-")]
    pub prefix: String,
    /// Registrations and logins in flight at once during setup.
    #[arg(long, default_value_t = 32)]
    pub setup_concurrency: usize,
    /// Idle HTTP connections kept to the server.
    #[arg(long, default_value_t = 1_024)]
    pub max_connections: usize,
    /// Players speak QUIC to this address (through the client SDK) instead of HTTP; results
    /// and the queue listing still use `--http`.
    #[arg(long)]
    pub quic: Option<std::net::SocketAddr>,
    /// Client UDP sockets the `--quic` players' connections are spread over.
    #[arg(long, default_value_t = 16)]
    pub quic_endpoints: usize,
    /// The server certificate's SHA-256 fingerprint, for `--quic` (printed by `matchwright
    /// serve`). Default: that of the development certificate in `--data-dir`.
    #[arg(long)]
    pub fingerprint: Option<String>,
    /// Also write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,
}

const PASSWORD: &str = "load-generator-password";

/// Locks a mutex; a panic elsewhere while holding it leaves plain counters and maps that are
/// still usable, so a poisoned lock is taken as it is.
fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 1 h at 3 significant digits: fixed size, never resizes.
    Histogram::new_with_bounds(1, 3_600_000_000, 3)
        .expect("1 us .. 1 h at 3 digits is a valid histogram")
}

#[derive(Default)]
struct RouteStats {
    latency: Option<Histogram<u64>>,
    errors: BTreeMap<String, u64>,
    /// The first error body seen per status, to say what went wrong.
    samples: BTreeMap<String, String>,
}

/// Everything measured, shared by the players' tasks.
#[derive(Default)]
struct Measurements {
    routes: Mutex<BTreeMap<String, RouteStats>>,
    match_found: Mutex<Option<Histogram<u64>>>,
    requests: AtomicU64,
    errors: AtomicU64,
    matches: AtomicU64,
    results: AtomicU64,
    measuring: AtomicBool,
}

impl Measurements {
    fn record(&self, route: &str, took: Duration, status: Result<u16, String>, body: &Value) {
        if !self.measuring.load(Ordering::Relaxed) {
            return;
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut routes = locked(&self.routes);
        let stats = routes.entry(route.to_string()).or_default();
        let micros = (took.as_micros() as u64).clamp(1, 3_600_000_000);
        let _ = stats.latency.get_or_insert_with(histogram).record(micros);
        let failed = match status {
            Ok(code) if (200..300).contains(&code) => None,
            Ok(code) => Some(code.to_string()),
            Err(kind) => Some(kind),
        };
        if let Some(key) = failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
            *stats.errors.entry(key.clone()).or_default() += 1;
            stats.samples.entry(key).or_insert_with(|| body.to_string());
        }
    }

    fn record_match_found(&self, took: Duration) {
        if !self.measuring.load(Ordering::Relaxed) {
            return;
        }
        let micros = (took.as_micros() as u64).clamp(1, 3_600_000_000);
        let mut found = locked(&self.match_found);
        let _ = found.get_or_insert_with(histogram).record(micros);
    }
}

/// One route's line of the report.
#[derive(Clone, Debug, Serialize)]
pub struct RouteReport {
    /// `METHOD /path` (ids as `{id}`).
    pub route: String,
    /// Requests sent.
    pub requests: u64,
    /// Per second of the measured window.
    pub per_second: f64,
    /// Latency percentiles (ms).
    pub p50_ms: f64,
    /// 99th percentile (ms).
    pub p99_ms: f64,
    /// Slowest (ms).
    pub max_ms: f64,
    /// Failed requests by status (or `transport`).
    pub errors: BTreeMap<String, u64>,
    /// The first error body per status.
    pub error_samples: BTreeMap<String, String>,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct LoadReport {
    /// Players driven.
    pub players: usize,
    /// The queue played.
    pub queue: String,
    /// Seconds measured.
    pub seconds: f64,
    /// Every route, then `all`.
    pub routes: Vec<RouteReport>,
    /// Enqueue -> match found (ms): samples, p50, p99, max.
    pub match_found_samples: u64,
    /// Median.
    pub match_found_p50_ms: f64,
    /// 99th percentile.
    pub match_found_p99_ms: f64,
    /// Slowest.
    pub match_found_max_ms: f64,
    /// Matches seen forming.
    pub matches: u64,
    /// Results posted as the game servers.
    pub results_posted: u64,
    /// Failed requests (any route).
    pub errors: u64,
}

/// How players reach the server.
#[derive(Clone, Debug)]
enum Transport {
    Http,
    Quic {
        addr: std::net::SocketAddr,
        fingerprint: String,
        /// The UDP sockets the players' connections share (each is read by one task, so a
        /// few spread the work; one per player would cost a socket and buffers each).
        endpoints: Vec<QuicEndpoint>,
    },
}

struct Target {
    transport: Transport,
    base: String,
    ws_base: String,
    http: reqwest::Client,
    server_key: String,
    queue: String,
    mode: String,
    season: String,
    regions: Vec<String>,
    acceptance: bool,
    game_ms: u64,
    think_ms: u64,
    measured: Arc<Measurements>,
    /// Matches whose result is scheduled already.
    results_scheduled: Mutex<HashSet<u64>>,
    deadline: Mutex<Option<Instant>>,
}

impl Target {
    /// Sends one request and records it under `route`; the JSON answer (Null if none) and
    /// the status, or `None` on a transport failure.
    async fn call(
        &self,
        method: reqwest::Method,
        route: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Option<(u16, Value)> {
        self.call_expecting(method, route, path, token, body, &[])
            .await
    }

    /// A player's `GET`.
    async fn get(&self, route: &str, path: &str, token: &str) -> Option<(u16, Value)> {
        self.call(reqwest::Method::GET, route, path, Some(token), None)
            .await
    }

    /// As [`Target::call`], where the statuses in `expected` are answers, not failures (a
    /// player leaving the queue at the end of the run may just have been matched: 409).
    async fn call_expecting(
        &self,
        method: reqwest::Method,
        route: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        expected: &[u16],
    ) -> Option<(u16, Value)> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let started = Instant::now();
        let answer = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let value = response.json::<Value>().await.unwrap_or(Value::Null);
                Ok((status, value))
            }
            Err(error) => Err(error),
        };
        let took = started.elapsed();
        match answer {
            Ok((status, value)) => {
                let counted = if expected.contains(&status) {
                    200
                } else {
                    status
                };
                self.measured.record(route, took, Ok(counted), &value);
                Some((status, value))
            }
            Err(_) => {
                self.measured
                    .record(route, took, Err("transport".into()), &Value::Null);
                None
            }
        }
    }

    /// Times one SDK call and records it under `route` (statuses in `expected` count as
    /// answers); the value, or the status it failed with (`None`: no answer at all).
    async fn sdk<T>(
        &self,
        route: &str,
        call: impl Future<Output = Result<T, ClientError>>,
        expected: &[u16],
    ) -> Result<T, Option<u16>> {
        let started = Instant::now();
        let answer = call.await;
        let took = started.elapsed();
        match answer {
            Ok(value) => {
                self.measured.record(route, took, Ok(200), &Value::Null);
                Ok(value)
            }
            Err(ClientError::Server(error)) => {
                let counted = if expected.contains(&error.status) {
                    200
                } else {
                    error.status
                };
                let body = json!({"error": error.code, "message": error.message});
                self.measured.record(route, took, Ok(counted), &body);
                Err(Some(error.status))
            }
            Err(other) => {
                let body = json!({"error": other.to_string()});
                self.measured
                    .record(route, took, Err("transport".into()), &body);
                Err(None)
            }
        }
    }

    fn past_deadline(&self) -> bool {
        locked(&self.deadline).is_some_and(|deadline| Instant::now() >= deadline)
    }
}

/// Why `load` could not run.
#[derive(Debug)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn game_server_key(args: &LoadArgs) -> Result<String, LoadError> {
    if let Some(key) = &args.server_key {
        return Ok(key.clone());
    }
    if let Ok(key) = std::env::var("MATCHWRIGHT_GAME_SERVER_KEY")
        && !key.is_empty()
    {
        return Ok(key);
    }
    let Some(dir) = &args.data_dir else {
        return Err(LoadError(
            "give the game-server key: --server-key KEY, MATCHWRIGHT_GAME_SERVER_KEY, or --data-dir DIR of the server (its secrets.toml)".into(),
        ));
    };
    let path = dir.join("secrets.toml");
    let text = std::fs::read_to_string(&path)
        .map_err(|error| LoadError(format!("cannot read {}: {error}", path.display())))?;
    let table: toml::Table = text
        .parse()
        .map_err(|error| LoadError(format!("{} is not TOML: {error}", path.display())))?;
    table
        .get("game_server_key")
        .and_then(|value| value.as_str())
        .map(str::to_string)
        .ok_or_else(|| LoadError(format!("{} has no game_server_key", path.display())))
}

/// Runs the load and returns its report (printed by [`print_report`]).
pub async fn run(args: LoadArgs) -> Result<LoadReport, LoadError> {
    if args.players == 0 {
        return Err(LoadError("--players must be at least 1".into()));
    }
    if args.duration == 0 {
        return Err(LoadError("--duration must be at least 1 second".into()));
    }
    let server_key = game_server_key(&args)?;
    let base = if args.http.starts_with("http://") {
        args.http.trim_end_matches('/').to_string()
    } else if args.http.contains("://") {
        return Err(LoadError(format!(
            "--http {}: only http:// is spoken (put TLS in front of the server, not between it and this tool)",
            args.http
        )));
    } else {
        format!("http://{}", args.http.trim_end_matches('/'))
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.max_connections)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|error| LoadError(format!("cannot build the HTTP client: {error}")))?;
    let info: Value = http
        .get(format!("{base}/v1/queues"))
        .send()
        .await
        .map_err(|error| LoadError(format!("the server at {base} does not answer: {error}")))?
        .json()
        .await
        .map_err(|error| LoadError(format!("GET {base}/v1/queues is not JSON: {error}")))?;
    let queues = info["queues"].as_array().cloned().unwrap_or_default();
    let chosen = queues.iter().find(|queue| match (&args.queue, &args.mode) {
        (Some(name), _) => queue["name"] == name.as_str(),
        (None, Some(mode)) => queue["mode"] == mode.as_str(),
        (None, None) => true,
    });
    let Some(chosen) = chosen else {
        let names: Vec<String> = queues
            .iter()
            .map(|q| format!("{} (mode {})", q["name"], q["mode"]))
            .collect();
        return Err(LoadError(format!(
            "no such queue or mode on the server; it runs {}",
            names.join(", ")
        )));
    };
    let regions: Vec<String> = info["regions"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if regions.is_empty() {
        return Err(LoadError("the server lists no regions".into()));
    }
    let transport = match args.quic {
        None => Transport::Http,
        Some(addr) => Transport::Quic {
            addr,
            fingerprint: quic_fingerprint(&args)?,
            endpoints: (0..args.quic_endpoints.max(1))
                .map(|_| QuicEndpoint::for_server(addr))
                .collect::<Result<_, _>>()
                .map_err(|error| LoadError(format!("--quic: {error}")))?,
        },
    };
    let target = Arc::new(Target {
        transport,
        ws_base: base.replacen("http://", "ws://", 1),
        base,
        http,
        server_key,
        queue: chosen["name"].as_str().unwrap_or_default().to_string(),
        mode: chosen["mode"].as_str().unwrap_or_default().to_string(),
        season: info["season"].as_str().unwrap_or("default").to_string(),
        regions,
        acceptance: chosen["acceptance"].as_bool().unwrap_or(false),
        game_ms: args.game_ms,
        think_ms: args.think_ms,
        measured: Arc::new(Measurements::default()),
        results_scheduled: Mutex::new(HashSet::new()),
        deadline: Mutex::new(None),
    });

    // Setup: accounts and sockets, not measured.
    let progress = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(args.players as u64)
    };
    progress.set_message("registering players and opening their sockets");
    let gate = Arc::new(tokio::sync::Semaphore::new(args.setup_concurrency.max(1)));
    let mut setups = tokio::task::JoinSet::new();
    for index in 0..args.players {
        let target = Arc::clone(&target);
        let gate = Arc::clone(&gate);
        let name = format!("{}{index}", args.prefix);
        let progress = progress.clone();
        setups.spawn(async move {
            let _permit = gate.acquire().await;
            let player = set_up_player(&target, &name, index).await;
            progress.inc(1);
            player
        });
    }
    let mut players = Vec::with_capacity(args.players);
    while let Some(joined) = setups.join_next().await {
        match joined {
            Ok(Ok(player)) => players.push(player),
            Ok(Err(error)) => return Err(error),
            Err(error) => return Err(LoadError(format!("a setup task failed: {error}"))),
        }
    }
    progress.finish_and_clear();

    // The measured run.
    let started = Instant::now();
    let duration = Duration::from_secs(args.duration);
    *locked(&target.deadline) = Some(started + duration);
    target.measured.measuring.store(true, Ordering::Relaxed);
    let mut tasks = tokio::task::JoinSet::new();
    for player in players {
        let target = Arc::clone(&target);
        tasks.spawn(async move { play(target, player).await });
    }
    let ticker = if args.quiet {
        None
    } else {
        let target = Arc::clone(&target);
        Some(tokio::spawn(async move {
            let bar = indicatif::ProgressBar::new(duration.as_secs());
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let measured = &target.measured;
                let elapsed = started.elapsed().as_secs_f64().max(0.001);
                bar.set_position(started.elapsed().as_secs().min(duration.as_secs()));
                bar.set_message(format!(
                    "{:.0} req/s, {} matches, {} errors",
                    measured.requests.load(Ordering::Relaxed) as f64 / elapsed,
                    measured.matches.load(Ordering::Relaxed),
                    measured.errors.load(Ordering::Relaxed)
                ));
                if started.elapsed() >= duration {
                    bar.finish_and_clear();
                    return;
                }
            }
        }))
    };
    tokio::time::sleep(duration).await;
    target.measured.measuring.store(false, Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    if let Some(ticker) = ticker {
        let _ = ticker.await;
    }
    // Players wind down: the queued leave the queue, and games in progress get their results
    // (so the next run does not find its players still in a session).
    let wind_down = tokio::time::timeout(
        Duration::from_millis(args.game_ms * 2) + Duration::from_secs(10),
        async {
            while tasks.join_next().await.is_some() {}
            while !locked(&target.results_scheduled).is_empty() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        },
    );
    if wind_down.await.is_err() {
        tasks.abort_all();
    }
    Ok(report(&target, args.players, seconds))
}

struct LoadPlayer {
    home: usize,
    connection: Connection,
}

/// A player's line to the server.
enum Connection {
    Http { token: String, socket: Socket },
    Quic { client: Client, events: EventStream },
}

/// The fingerprint to pin: `--fingerprint`, else the development certificate's in
/// `--data-dir`.
fn quic_fingerprint(args: &LoadArgs) -> Result<String, LoadError> {
    matchwright_transport::quic::tls::pinned_fingerprint(
        args.fingerprint.as_deref(),
        args.data_dir.as_deref(),
    )
    .map_err(|error| LoadError(format!("--quic: {error}")))
}

/// Registers `name` over QUIC (or logs in when it exists) and takes its event stream.
async fn set_up_quic_player(
    target: &Target,
    endpoint: &QuicEndpoint,
    addr: std::net::SocketAddr,
    fingerprint: &str,
    name: &str,
) -> Result<Connection, LoadError> {
    let client = Client::connect_quic_via(endpoint, addr, fingerprint)
        .await
        .map_err(|error| LoadError(format!("{name} cannot connect over QUIC: {error}")))?;
    for attempt in 0..20 {
        let registered = target
            .sdk(
                "QUIC register",
                client.register(name, PASSWORD, None),
                &[409],
            )
            .await;
        let answer = match registered {
            Err(Some(409)) => {
                target
                    .sdk("QUIC login", client.login(name, PASSWORD), &[])
                    .await
            }
            other => other,
        };
        match answer {
            Ok(_) => {
                let events = client
                    .events()
                    .map_err(|error| LoadError(error.to_string()))?;
                return Ok(Connection::Quic { client, events });
            }
            Err(Some(429 | 503) | None) => {
                tokio::time::sleep(Duration::from_millis(250 * (attempt + 1))).await;
            }
            Err(Some(status)) => {
                return Err(LoadError(format!(
                    "cannot register or log in {name} over QUIC: {status}"
                )));
            }
        }
    }
    Err(LoadError(format!(
        "cannot register or log in {name} over QUIC: the server kept refusing"
    )))
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn set_up_player(target: &Target, name: &str, home: usize) -> Result<LoadPlayer, LoadError> {
    if let Transport::Quic {
        addr,
        fingerprint,
        endpoints,
    } = &target.transport
    {
        let endpoint = &endpoints[home % endpoints.len()];
        let connection = set_up_quic_player(target, endpoint, *addr, fingerprint, name).await?;
        return Ok(LoadPlayer { home, connection });
    }
    let body = json!({"username": name, "password": PASSWORD});
    let mut token = None;
    for attempt in 0..20 {
        let registered = target
            .call(
                reqwest::Method::POST,
                "POST /v1/auth/register",
                "/v1/auth/register",
                None,
                Some(&body),
            )
            .await;
        let answer = match registered {
            Some((409, _)) => {
                target
                    .call(
                        reqwest::Method::POST,
                        "POST /v1/auth/login",
                        "/v1/auth/login",
                        None,
                        Some(&body),
                    )
                    .await
            }
            other => other,
        };
        match answer {
            Some((200 | 201, value)) => {
                token = value["access_token"].as_str().map(str::to_string);
                break;
            }
            Some((429 | 503, _)) | None => {
                tokio::time::sleep(Duration::from_millis(250 * (attempt + 1))).await;
            }
            Some((status, value)) => {
                return Err(LoadError(format!(
                    "cannot register or log in {name}: {status} {value}"
                )));
            }
        }
    }
    let token = token.ok_or_else(|| {
        LoadError(format!(
            "cannot register or log in {name}: the server kept refusing (rate limits? raise [rate_limits].auth.per_ip_per_minute for load runs)"
        ))
    })?;
    let mut request = format!("{}/v1/events", target.ws_base)
        .into_client_request()
        .map_err(|error| LoadError(format!("bad events address: {error}")))?;
    let header = format!("Bearer {token}")
        .parse()
        .map_err(|_| LoadError("a token is not a header value".into()))?;
    request.headers_mut().insert("authorization", header);
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|error| LoadError(format!("cannot open {name}'s event socket: {error}")))?;
    Ok(LoadPlayer {
        home,
        connection: Connection::Http { token, socket },
    })
}

impl LoadPlayer {
    /// Joins the queue: the status it got (201 queued), or `None` with no answer.
    async fn enqueue(&self, target: &Target, pings: &[(String, u16)]) -> Option<u16> {
        match &self.connection {
            Connection::Http { token, .. } => {
                let pings: serde_json::Map<String, Value> = pings
                    .iter()
                    .map(|(region, ping)| (region.clone(), json!(ping)))
                    .collect();
                let body = json!({"queue": target.queue, "pings": pings});
                target
                    .call(
                        reqwest::Method::POST,
                        "POST /v1/queue",
                        "/v1/queue",
                        Some(token),
                        Some(&body),
                    )
                    .await
                    .map(|(status, _)| status)
            }
            Connection::Quic { client, .. } => {
                let pings: Vec<(&str, u16)> = pings.iter().map(|(r, p)| (r.as_str(), *p)).collect();
                match target
                    .sdk("QUIC enqueue", client.enqueue(&target.queue, &pings), &[])
                    .await
                {
                    Ok(_) => Some(201),
                    Err(status) => status,
                }
            }
        }
    }

    /// Whether the server has this player idle (neither queued nor in a match).
    async fn is_idle(&self, target: &Target) -> bool {
        match &self.connection {
            Connection::Http { token, .. } => target
                .get("GET /v1/queue", "/v1/queue", token)
                .await
                .is_some_and(|(_, body)| body["status"] == "idle"),
            Connection::Quic { client, .. } => target
                .sdk("QUIC queue_status", client.queue_status(), &[])
                .await
                .is_ok_and(|status| status.status == "idle"),
        }
    }

    /// What a player glances at between games.
    async fn browse(&self, target: &Target, board: &str) {
        match &self.connection {
            Connection::Http { token, .. } => {
                let _ = target
                    .get("GET /v1/profile/me", "/v1/profile/me", token)
                    .await;
                let _ = target
                    .get("GET /v1/leaderboard/{season}", board, token)
                    .await;
            }
            Connection::Quic { client, .. } => {
                let _ = target
                    .sdk("QUIC queue_status", client.queue_status(), &[])
                    .await;
            }
        }
    }

    async fn accept(&self, target: &Target, match_id: u64) {
        match &self.connection {
            Connection::Http { token, .. } => {
                let path = format!("/v1/match/{match_id}/accept");
                let _ = target
                    .call(
                        reqwest::Method::POST,
                        "POST /v1/match/{id}/accept",
                        &path,
                        Some(token),
                        None,
                    )
                    .await;
            }
            Connection::Quic { client, .. } => {
                let _ = target
                    .sdk("QUIC accept", client.accept(match_id), &[])
                    .await;
            }
        }
    }

    /// Leaves the queue at the end of the run (it may just have been matched: 404/409 are
    /// answers).
    async fn leave_queue(&self, target: &Target) {
        match &self.connection {
            Connection::Http { token, .. } => {
                let _ = target
                    .call_expecting(
                        reqwest::Method::DELETE,
                        "DELETE /v1/queue",
                        "/v1/queue",
                        Some(token),
                        None,
                        &[404, 409],
                    )
                    .await;
            }
            Connection::Quic { client, .. } => {
                let _ = target
                    .sdk("QUIC cancel", client.cancel(), &[404, 409])
                    .await;
            }
        }
    }

    /// The next event within `step`: `Ok(None)` when none came, `Err` when the line is gone.
    async fn next_event(&mut self, step: Duration) -> Result<Option<Event>, ()> {
        match &mut self.connection {
            Connection::Http { socket, .. } => {
                match tokio::time::timeout(step, socket.next()).await {
                    Err(_) => Ok(None),
                    Ok(None | Some(Err(_))) => Err(()),
                    Ok(Some(Ok(Message::Text(text)))) => Ok(Event::from_json(text.as_str()).ok()),
                    Ok(Some(Ok(_))) => Ok(None),
                }
            }
            Connection::Quic { events, .. } => {
                match tokio::time::timeout(step, events.next()).await {
                    Err(_) => Ok(None),
                    Ok(None | Some(Err(_))) => Err(()),
                    Ok(Some(Ok(event))) => Ok(Some(event)),
                }
            }
        }
    }
}

/// What the socket said while waiting.
enum Waited {
    /// The session is over (ended or abandoned), or the ticket left the queue.
    Done,
    /// Nothing for a long while, or the socket closed.
    Lost,
}

/// One player's loop until the deadline.
async fn play(target: Arc<Target>, mut player: LoadPlayer) {
    // Players live near one region each (round robin): 20 ms there, 120 ms elsewhere.
    let pings: Vec<(String, u16)> = target
        .regions
        .iter()
        .enumerate()
        .map(|(index, region)| {
            let ping = if index == player.home % target.regions.len() {
                20
            } else {
                120
            };
            (region.clone(), ping)
        })
        .collect();
    let board = format!(
        "/v1/leaderboard/{}?mode={}&limit=20",
        target.season, target.mode
    );
    // Start out of step: somewhere within one think-and-play cycle.
    let cycle_ms = target.think_ms + target.game_ms;
    let mut draws = (player.home as u64) << 32;
    tokio::time::sleep(jittered(cycle_ms, draws) / 2).await;
    while !target.past_deadline() {
        draws += 1;
        let sent = Instant::now();
        match player.enqueue(&target, &pings).await {
            Some(201) => {}
            Some(409) => {
                // Still queued or in a match from before (the server re-queues a match that
                // found no game server): find out where, and wait there.
                if player.is_idle(&target).await {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                } else if matches!(
                    wait_for_game(&target, &mut player, None).await,
                    Waited::Lost
                ) {
                    return;
                }
                continue;
            }
            Some(429 | 503) | None => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            Some(_) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        }
        if matches!(
            wait_for_game(&target, &mut player, Some(sent)).await,
            Waited::Lost
        ) {
            return;
        }
        player.browse(&target, &board).await;
        tokio::time::sleep(jittered(target.think_ms, draws)).await;
    }
}

/// Waits on the socket until this player's game is over; accepts matches and schedules
/// results on the way. Leaves the queue at the deadline.
async fn wait_for_game(
    target: &Arc<Target>,
    player: &mut LoadPlayer,
    mut sent: Option<Instant>,
) -> Waited {
    let mut found_at: Option<Instant> = None;
    let mut idle_for = Duration::ZERO;
    let step = Duration::from_millis(500);
    loop {
        if target.past_deadline() && found_at.is_none() {
            player.leave_queue(target).await;
            return Waited::Done;
        }
        let event = match player.next_event(step).await {
            Ok(None) => {
                idle_for += step;
                if idle_for > Duration::from_secs(120) {
                    return Waited::Lost;
                }
                continue;
            }
            Err(()) => return Waited::Lost,
            Ok(Some(event)) => event,
        };
        idle_for = Duration::ZERO;
        match event {
            Event::MatchFound {
                match_id, state, ..
            } => {
                if found_at.is_none() {
                    found_at = Some(Instant::now());
                    // Once per enqueue: a match that falls through and forms again is not a
                    // second sample.
                    if let Some(sent) = sent.take() {
                        target.measured.record_match_found(sent.elapsed());
                    }
                }
                if state == "awaiting_acceptance" && target.acceptance {
                    player.accept(target, match_id).await;
                }
            }
            Event::MatchCancelled { .. } => {
                // Our ticket goes back to its queue (a `requeued` follows) or leaves it.
                found_at = None;
            }
            Event::SessionReady { match_id, .. } => {
                schedule_result(target, match_id);
            }
            Event::SessionAbandoned { reason, .. } if reason == "allocation_failed" => {
                // No game server was free: the server puts our ticket back in its queue.
                found_at = None;
            }
            Event::SessionEnded { .. }
            | Event::SessionAbandoned { .. }
            | Event::QueueLeft { .. } => {
                return Waited::Done;
            }
            _ => {}
        }
    }
}

/// Posts the match's result `game_ms` from now, once per match, as its game server.
fn schedule_result(target: &Arc<Target>, match_id: u64) {
    let first = locked(&target.results_scheduled).insert(match_id);
    if !first {
        return;
    }
    target.measured.matches.fetch_add(1, Ordering::Relaxed);
    let target = Arc::clone(target);
    tokio::spawn(async move {
        tokio::time::sleep(jittered(target.game_ms, match_id)).await;
        let path = format!("/v1/server/session/{match_id}/result");
        let body = json!({"winner": match_id % 2});
        let key = target.server_key.clone();
        let answer = target
            .call(
                reqwest::Method::POST,
                "POST /v1/server/session/{id}/result",
                &path,
                Some(&key),
                Some(&body),
            )
            .await;
        if matches!(answer, Some((200, _))) {
            target.measured.results.fetch_add(1, Ordering::Relaxed);
        }
        locked(&target.results_scheduled).remove(&match_id);
    });
}

/// A duration drawn evenly from half to one and a half times `base_ms` (splitmix64 over
/// `seed`): players out of step, as real ones are, rather than a herd that moves at once.
fn jittered(base_ms: u64, seed: u64) -> Duration {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let unit = (z >> 11) as f64 / (1_u64 << 53) as f64;
    Duration::from_millis((base_ms as f64 * (0.5 + unit)) as u64)
}

fn millis(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1e3
}

fn report(target: &Target, players: usize, seconds: f64) -> LoadReport {
    let measured = &target.measured;
    let routes = locked(&measured.routes);
    let mut all = histogram();
    let mut all_errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut lines = Vec::new();
    for (route, stats) in routes.iter() {
        let Some(latency) = &stats.latency else {
            continue;
        };
        let _ = all.add(latency);
        for (status, count) in &stats.errors {
            *all_errors.entry(status.clone()).or_default() += count;
        }
        lines.push(RouteReport {
            route: route.clone(),
            requests: latency.len(),
            per_second: latency.len() as f64 / seconds,
            p50_ms: millis(latency, 0.5),
            p99_ms: millis(latency, 0.99),
            max_ms: latency.max() as f64 / 1e3,
            errors: stats.errors.clone(),
            error_samples: stats.samples.clone(),
        });
    }
    lines.push(RouteReport {
        route: "all".into(),
        requests: all.len(),
        per_second: all.len() as f64 / seconds,
        p50_ms: millis(&all, 0.5),
        p99_ms: millis(&all, 0.99),
        max_ms: all.max() as f64 / 1e3,
        errors: all_errors,
        error_samples: BTreeMap::new(),
    });
    let found = locked(&measured.match_found);
    let empty = histogram();
    let found = found.as_ref().unwrap_or(&empty);
    LoadReport {
        players,
        queue: target.queue.clone(),
        seconds,
        routes: lines,
        match_found_samples: found.len(),
        match_found_p50_ms: millis(found, 0.5),
        match_found_p99_ms: millis(found, 0.99),
        match_found_max_ms: found.max() as f64 / 1e3,
        matches: measured.matches.load(Ordering::Relaxed),
        results_posted: measured.results.load(Ordering::Relaxed),
        errors: measured.errors.load(Ordering::Relaxed),
    }
}

/// Prints the report as a table.
pub fn print_report(report: &LoadReport, out: &mut impl std::io::Write) -> std::io::Result<()> {
    writeln!(
        out,
        "matchwright load: {} players on {} for {:.1} s",
        report.players, report.queue, report.seconds
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| route | requests | req/s | p50 ms | p99 ms | max ms | errors |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---|")?;
    for line in &report.routes {
        let errors = if line.errors.is_empty() {
            "-".to_string()
        } else {
            line.errors
                .iter()
                .map(|(status, count)| format!("{status}: {count}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            out,
            "| {} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {} |",
            line.route,
            line.requests,
            line.per_second,
            line.p50_ms,
            line.p99_ms,
            line.max_ms,
            errors
        )?;
    }
    for line in &report.routes {
        for (status, body) in &line.error_samples {
            writeln!(out, "first {status} on {}: {body}", line.route)?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "enqueue -> match found: {} samples, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        report.match_found_samples,
        report.match_found_p50_ms,
        report.match_found_p99_ms,
        report.match_found_max_ms
    )?;
    writeln!(
        out,
        "matches started: {}, results posted: {}, failed requests: {}",
        report.matches, report.results_posted, report.errors
    )?;
    out.flush()
}
