//! The server's configuration file and its secrets.
//!
//! One TOML file holds the matcher's config (exactly as `config/matchwright.toml`: regions,
//! limits, rating, sessions, queues) plus two tables of the server's own: `[server]` (tick
//! interval, token lifetimes, bounds, secrets) and `[fleet]` (the game servers to allocate
//! from). Every field has a default, so an empty file, or no file, is a working server.
//! Unknown fields are errors, named with their table, like the matcher's.
//!
//! Secrets (the JWT signing key, the session-token key game servers verify with, and the key
//! game servers authenticate with) come from `[server]` when set there (where `environment`
//! puts the `MATCHWRIGHT_JWT_SECRET`-style variables and `_FILE`s), or else from
//! `secrets.toml` in the data directory, which the first start creates with fresh random
//! values (mode 0600), so tokens stay valid across restarts.
//!
//! `environment` also overrides any setting here from `MATCHWRIGHT__TABLE__FIELD` variables,
//! between [`Settings::parse_table`] and [`Settings::from_table`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use matchwright_cluster::partitions::ClusterSection;
use matchwright_ecs::{Config, ConfigError};
use serde::{Deserialize, Serialize};

/// Everything the server is configured with.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// The matcher's config.
    pub matcher: Config,
    /// The server's own settings.
    pub server: ServerSection,
    /// The game servers.
    pub fleet: FleetSection,
    /// Parties' invites, chat and ready checks.
    pub lobby: LobbySection,
    /// Request rate limits.
    pub rate_limits: RateLimitSection,
    /// Game clients over QUIC.
    pub quic: QuicSection,
    /// OpenTelemetry traces.
    pub telemetry: TelemetrySection,
    /// `[cluster]`: which partition runs which queue (`matchwright matcher`; `serve`
    /// ignores it).
    pub cluster: ClusterSection,
    /// Match and session events for backends, as signed webhooks.
    pub webhooks: WebhooksSection,
}

/// `[telemetry]`: OpenTelemetry traces over OTLP/HTTP (protobuf), `telemetry.rs`. Off unless
/// `otlp_endpoint` is set here or `OTEL_EXPORTER_OTLP_ENDPOINT` (or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is in the environment: off, there is no exporter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySection {
    /// The collector's OTLP/HTTP address, e.g. `http://127.0.0.1:4318`; spans are sent to
    /// `/v1/traces` under it (as with `OTEL_EXPORTER_OTLP_ENDPOINT`, which it overrides).
    /// `http://` only: the exporter has no TLS (a collector on the host or in the pod).
    pub otlp_endpoint: Option<String>,
    /// The `service.name` of the spans.
    pub service_name: String,
    /// Finished spans wait at most this long before they are sent, in batches.
    pub batch_delay_ms: u64,
}

impl Default for TelemetrySection {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "matchwright".into(),
            batch_delay_ms: 5_000,
        }
    }
}

impl TelemetrySection {
    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(endpoint) = &self.otlp_endpoint {
            check_otlp_endpoint(endpoint)
                .map_err(|why| ConfigError::new("telemetry.otlp_endpoint", why))?;
        }
        if self.service_name.is_empty() || self.service_name.len() > 255 {
            return Err(ConfigError::new(
                "telemetry.service_name",
                "must be 1 to 255 characters",
            ));
        }
        if !(10..=600_000).contains(&self.batch_delay_ms) {
            return Err(ConfigError::new(
                "telemetry.batch_delay_ms",
                "must be between 10 and 600000",
            ));
        }
        Ok(())
    }
}

/// `[webhooks]`: match and session events for studios' backends, delivered as signed HTTP
/// POSTs from the store's webhook outbox (`webhooks`, docs/webhooks.md). Off with no
/// endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksSection {
    /// Where events go; each gets every event it takes, in order, at least once.
    pub endpoints: Vec<WebhookEndpoint>,
    /// One delivery attempt waits this long for the answer's status.
    pub timeout_ms: u64,
    /// The wait after the first failed attempt; it doubles with each failure up to
    /// `max_backoff_ms`.
    pub first_backoff_ms: u64,
    /// The longest wait between two attempts.
    pub max_backoff_ms: u64,
    /// An event is given up on (a dead letter) after this many failed attempts...
    pub max_attempts: u32,
    /// ... or when an attempt fails and the event is older than this.
    pub give_up_after_ms: u64,
    /// Events waiting for an endpoint at most; beyond, the oldest are given up on (dead
    /// letters) without being sent.
    pub max_pending: u64,
}

impl Default for WebhooksSection {
    fn default() -> Self {
        Self {
            endpoints: Vec::new(),
            timeout_ms: 5_000,
            first_backoff_ms: 500,
            max_backoff_ms: 60_000,
            max_attempts: 10,
            give_up_after_ms: 60 * 60 * 1_000,
            max_pending: 100_000,
        }
    }
}

/// One webhook endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpoint {
    /// Its name (1 to 64 of `a-z`, `0-9`, `-`, `_`): it keys the endpoint's place in the
    /// outbox, so renaming it starts it afresh at the newest event.
    pub name: String,
    /// Where events are POSTed: `http://` or `https://`.
    pub url: String,
    /// The event types it takes (`match_formed`, `match_backfilled`, `session_started`,
    /// `session_ended`, `session_abandoned`, `ratings_changed`). Default: all.
    #[serde(default)]
    pub events: Option<Vec<String>>,
}

impl WebhookEndpoint {
    /// Whether it takes events of type `kind`.
    pub fn takes(&self, kind: &str) -> bool {
        self.events
            .as_ref()
            .is_none_or(|kinds| kinds.iter().any(|k| k == kind))
    }
}

impl WebhooksSection {
    fn validate(&self, secret: bool) -> Result<(), ConfigError> {
        if !self.endpoints.is_empty() && !secret {
            return Err(ConfigError::new(
                "server.webhook_secret",
                "is needed to sign deliveries when [webhooks] endpoints are configured \
                 (set MATCHWRIGHT_WEBHOOK_SECRET)",
            ));
        }
        if self.endpoints.len() > 16 {
            return Err(ConfigError::new("webhooks.endpoints", "at most 16"));
        }
        for (index, endpoint) in self.endpoints.iter().enumerate() {
            endpoint.validate(index)?;
            if self.endpoints[..index]
                .iter()
                .any(|e| e.name == endpoint.name)
            {
                return Err(ConfigError::new(
                    format!("webhooks.endpoints[{index}].name"),
                    format!("`{}` names two endpoints", endpoint.name),
                ));
            }
        }
        for (field, value, range) in [
            ("webhooks.timeout_ms", self.timeout_ms, 100..=60_000),
            (
                "webhooks.first_backoff_ms",
                self.first_backoff_ms,
                10..=600_000,
            ),
            (
                "webhooks.max_backoff_ms",
                self.max_backoff_ms,
                10..=3_600_000,
            ),
            (
                "webhooks.max_attempts",
                u64::from(self.max_attempts),
                1..=1_000,
            ),
            (
                "webhooks.give_up_after_ms",
                self.give_up_after_ms,
                1_000..=7 * 24 * 3_600_000,
            ),
            ("webhooks.max_pending", self.max_pending, 1..=10_000_000),
        ] {
            if !range.contains(&value) {
                return Err(ConfigError::new(
                    field,
                    format!("must be between {} and {}", range.start(), range.end()),
                ));
            }
        }
        if self.first_backoff_ms > self.max_backoff_ms {
            return Err(ConfigError::new(
                "webhooks.first_backoff_ms",
                "must not be longer than webhooks.max_backoff_ms",
            ));
        }
        Ok(())
    }
}

impl WebhookEndpoint {
    fn validate(&self, index: usize) -> Result<(), ConfigError> {
        let field = |name: &str| format!("webhooks.endpoints[{index}].{name}");
        let name_ok = (1..=64).contains(&self.name.len())
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(ConfigError::new(
                field("name"),
                "must be 1 to 64 of a-z, 0-9, `-` and `_`",
            ));
        }
        let uri: Result<axum::http::Uri, _> = self.url.parse();
        let url_ok = uri.as_ref().is_ok_and(|uri| {
            matches!(uri.scheme_str(), Some("http" | "https"))
                && uri.host().is_some_and(|host| !host.is_empty())
        });
        if !url_ok || self.url.len() > 2_048 {
            return Err(ConfigError::new(
                field("url"),
                "is not an http:// or https:// URL (at most 2048 bytes)",
            ));
        }
        for kind in self.events.iter().flatten() {
            if !matchwright_transport::wire::BackendEventData::KINDS.contains(&kind.as_str()) {
                return Err(ConfigError::new(
                    field("events"),
                    format!(
                        "`{kind}` is not an event type; they are {}",
                        matchwright_transport::wire::BackendEventData::KINDS.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Whether `endpoint` is an address the OTLP exporter can send to: `http://host[:port][/path]`,
/// no query. The reason when it is not.
pub fn check_otlp_endpoint(endpoint: &str) -> Result<(), String> {
    let uri: axum::http::Uri = endpoint
        .parse()
        .map_err(|_| format!("`{endpoint}` is not a URL"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!(
            "`{endpoint}` is not an http:// URL (the exporter has no TLS: send to a collector \
             on the host or in the pod)"
        ));
    }
    if uri.host().is_none_or(str::is_empty) || uri.query().is_some() {
        return Err(format!(
            "`{endpoint}` is not http://host[:port][/path] without a query"
        ));
    }
    Ok(())
}

/// `[quic]`: the QUIC listener's certificate and its limits per connection (the address is
/// `serve --quic`). Without `cert` and `key` the server makes a self-signed development
/// certificate on first start (kept in the data directory) and prints its SHA-256
/// fingerprint for clients to pin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuicSection {
    /// The certificate chain (PEM; a relative path is from the working directory).
    pub cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub key: Option<PathBuf>,
    /// The largest frame accepted or sent; a longer one closes the stream with
    /// `frame_too_large`.
    pub max_frame_bytes: usize,
    /// Request streams one connection may hold open.
    pub max_streams_per_connection: u32,
    /// Requests of one connection answered at once; then the server stops reading the
    /// connection's stream until one is answered.
    pub max_in_flight_per_connection: usize,
    /// Requests per second per connection (a burst of one second's worth); over it the answer
    /// is 429 `rate_limited`. 0 turns it off. `[rate_limits]` applies as well.
    pub requests_per_second_per_connection: u32,
    /// Connections at once; more are refused.
    pub max_connections: usize,
    /// A connection silent this long is closed (clients ping every `keep_alive_s`; the
    /// server sends no pings of its own). A connection that has not logged in this long after
    /// it opened is closed too.
    pub idle_timeout_s: u64,
    /// Keep-alive interval.
    pub keep_alive_s: u64,
    /// The UDP socket's receive and send buffers; the kernel caps them at
    /// `net.core.rmem_max` and `wmem_max`. Too small drops packets in bursts of many clients,
    /// and each drop costs a retransmission timeout.
    pub socket_buffer_bytes: usize,
}

impl Default for QuicSection {
    fn default() -> Self {
        Self {
            cert: None,
            key: None,
            max_frame_bytes: 64 * 1024,
            max_streams_per_connection: 4,
            max_in_flight_per_connection: 64,
            requests_per_second_per_connection: 200,
            max_connections: 20_000,
            idle_timeout_s: 30,
            keep_alive_s: 10,
            socket_buffer_bytes: 4 << 20,
        }
    }
}

/// `[lobby]`: the bounds of what the lobby keeps per party (see `lobby`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LobbySection {
    /// Pending invites per party; another is refused with 409 `too_many_invites`.
    pub max_invites: usize,
    /// An invite expires this long after it was sent.
    pub invite_ttl_s: u64,
    /// Recent chat lines kept per party (shown by `GET /v1/party/{id}`); the oldest goes.
    pub chat_history: usize,
    /// The longest chat line, in characters; a longer one is refused with 422.
    pub max_chat_chars: usize,
}

impl Default for LobbySection {
    fn default() -> Self {
        Self {
            max_invites: 16,
            invite_ttl_s: 300,
            chat_history: 50,
            max_chat_chars: 200,
        }
    }
}

/// One route class's limits: requests per minute per player (authenticated requests) and per
/// client IP (every request), each a token bucket that holds a minute's worth and refills
/// evenly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimit {
    /// Requests per minute per player; 0 turns the per-player limit off.
    pub per_player_per_minute: u32,
    /// Requests per minute per client IP; 0 turns the per-IP limit off.
    pub per_ip_per_minute: u32,
}

/// `[rate_limits]`: limits per route class. Over a limit the answer is 429 with
/// `Retry-After` (seconds). Health, readiness, metrics and the OpenAPI document are not
/// limited.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSection {
    /// Whether limits apply at all.
    pub enabled: bool,
    /// Reads: player `GET` routes (profile, queue, sessions, parties, leaderboards, history,
    /// the live-event socket). The seeds' 100 per minute.
    pub read: RateLimit,
    /// Writes: player `POST`, `PATCH` and `DELETE` routes. The seeds' 30 per minute.
    pub write: RateLimit,
    /// Accounts: register, login, refresh, logout (per IP only: there is no player yet).
    pub auth: RateLimit,
    /// Game servers: heartbeats, results and backfill (per IP: one host runs many sessions).
    pub game_server: RateLimit,
    /// The header that carries the client's address when a proxy stands in front (e.g.
    /// `x-forwarded-for`, whose last address, the one the proxy appended, is used, or
    /// `x-real-ip`). Default: none, the
    /// socket's peer address. Set it only behind a proxy that sets the header: clients can
    /// write any value into it.
    pub client_ip_header: Option<String>,
}

impl Default for RateLimitSection {
    fn default() -> Self {
        Self {
            enabled: true,
            read: RateLimit {
                per_player_per_minute: 100,
                per_ip_per_minute: 100,
            },
            write: RateLimit {
                per_player_per_minute: 30,
                per_ip_per_minute: 30,
            },
            auth: RateLimit {
                per_player_per_minute: 0,
                per_ip_per_minute: 30,
            },
            game_server: RateLimit {
                per_player_per_minute: 0,
                per_ip_per_minute: 60_000,
            },
            client_ip_header: None,
        }
    }
}

/// `[server]`: the tick loop, tokens, bounds and secrets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// Commands that arrive within one interval are applied by one tick and committed together.
    pub tick_interval_ms: u64,
    /// The matcher's seed (its tie-breaks and random choices).
    pub seed: u64,
    /// The season ratings are kept under.
    pub season: String,
    /// Request bodies larger than this are refused with 413.
    pub body_limit_bytes: usize,
    /// Access tokens (JWT) live this long.
    pub access_token_ttl_s: u64,
    /// Refresh tokens live this long.
    pub refresh_token_ttl_s: u64,
    /// Session tokens (for the game server) live this long.
    pub session_token_ttl_s: u64,
    /// Commands waiting for the next tick; beyond it requests get 503 `busy`.
    pub max_pending_commands: usize,
    /// Live-event sockets one player may hold; another is refused with 409.
    pub max_sockets_per_player: usize,
    /// Events buffered per socket; a client that falls this far behind is disconnected (it
    /// reconnects and reads its state with `GET /v1/queue`).
    pub socket_buffer: usize,
    /// The JWT signing secret (at least 32 bytes). Set it with `MATCHWRIGHT_JWT_SECRET` or
    /// `MATCHWRIGHT_JWT_SECRET_FILE` rather than in a file. Default: from `secrets.toml`.
    pub jwt_secret: Option<String>,
    /// The session-token secret game servers verify tokens with (at least 32 bytes).
    pub session_secret: Option<String>,
    /// The key game servers authenticate with (`Authorization: Bearer KEY`; at least 32 bytes).
    pub game_server_key: Option<String>,
    /// The secret game servers register with (`POST /v1/fleet/servers`; at least 32 bytes;
    /// `MATCHWRIGHT_FLEET_REGISTRATION_SECRET(_FILE)`). Default: none, and registration is
    /// closed. Set, `serve`'s development fleet is off (partitions keep theirs): its matches
    /// go to registered servers and to
    /// `[fleet] servers`, if any.
    pub fleet_registration_secret: Option<String>,
    /// The secret webhook deliveries are signed with (HMAC-SHA256, the
    /// `Matchwright-Signature` header; at least 32 bytes; `MATCHWRIGHT_WEBHOOK_SECRET(_FILE)`).
    /// Needed when `[webhooks] endpoints` are configured.
    pub webhook_secret: Option<String>,
    /// The keys operators authenticate with on the `/v1/admin/...` routes
    /// (`Authorization: Bearer KEY`; each at least 32 bytes, compared in constant time). Set
    /// them with `MATCHWRIGHT_OPERATOR_KEYS` or `MATCHWRIGHT_OPERATOR_KEYS_FILE` (keys separated
    /// by commas or line breaks) rather than in a file. Default: none (the admin routes refuse
    /// everyone). Each opens every admin route; see `read_only_operator_keys` for keys that
    /// only read.
    pub operator_keys: Vec<String>,
    /// Operator keys that open the admin routes that read (queues, tickets, matches, the audit
    /// log) but not the actions (403 `read_only_operator`). The same rules as `operator_keys`
    /// (`MATCHWRIGHT_READ_ONLY_OPERATOR_KEYS(_FILE)`); a key may not be in both.
    pub read_only_operator_keys: Vec<String>,
    /// Open HTTP connections (WebSockets included); beyond it new ones are closed at accept.
    pub max_connections: usize,
    /// Open HTTP connections from one IP address (0: no per-IP cap); beyond it new ones from
    /// that address are closed at accept.
    pub max_connections_per_ip: usize,
    /// Time to receive a request's head, from the connection's start or the end of the
    /// previous response (so also how long an idle keep-alive connection stays open); and,
    /// once the head is in, time to receive its body (beyond it 408 `body_timeout`).
    pub header_timeout_ms: u64,
    /// Time from a request's head to its answer; beyond it 503 `request_timeout` (the request
    /// may still have taken effect). Keep it above `header_timeout_ms`.
    pub request_timeout_ms: u64,
    /// A write to a connection (an answer, a WebSocket frame) that makes no progress for this
    /// long closes the connection (a client that sends requests and never reads the answers).
    pub write_timeout_ms: u64,
    /// Time one live-event WebSocket write may take; a socket that does not take it is closed.
    pub websocket_write_timeout_ms: u64,
    /// A live-event WebSocket that sends nothing (not even a pong to the server's pings, sent
    /// every half of this) for this long is closed.
    pub websocket_idle_timeout_ms: u64,
    /// On SIGTERM: how long open requests and sockets get to finish before the server exits.
    pub shutdown_grace_ms: u64,
    /// Browser origins allowed to call the API (CORS), e.g. `["https://game.example"]`;
    /// `["*"]` allows any. Default: none (no CORS headers; preflights get 405).
    pub cors_origins: Vec<String>,
    /// Password hashes (argon2, about 19 MiB each) computed at once; 0: one per CPU core.
    pub password_hash_concurrency: usize,
    /// Logins and registrations waiting for a hashing slot; beyond it 503 with `Retry-After`.
    pub password_hash_queue: usize,
    /// An address of its own for `/metrics`, `/healthz` and `/readyz` (e.g. `127.0.0.1:9464`);
    /// when set, `/metrics` is no longer on the public port. Default: none (all on one port).
    pub metrics_listen: Option<std::net::SocketAddr>,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            tick_interval_ms: 100,
            seed: 1,
            season: "default".into(),
            body_limit_bytes: 64 * 1024,
            access_token_ttl_s: 15 * 60,
            refresh_token_ttl_s: 30 * 24 * 60 * 60,
            session_token_ttl_s: 60 * 60,
            max_pending_commands: 100_000,
            max_sockets_per_player: 4,
            socket_buffer: 256,
            jwt_secret: None,
            session_secret: None,
            game_server_key: None,
            fleet_registration_secret: None,
            webhook_secret: None,
            operator_keys: Vec::new(),
            read_only_operator_keys: Vec::new(),
            max_connections: 10_000,
            max_connections_per_ip: 1_000,
            header_timeout_ms: 10_000,
            request_timeout_ms: 15_000,
            write_timeout_ms: 10_000,
            websocket_write_timeout_ms: 10_000,
            websocket_idle_timeout_ms: 60_000,
            shutdown_grace_ms: 10_000,
            cors_origins: Vec::new(),
            password_hash_concurrency: 0,
            password_hash_queue: 64,
            metrics_listen: None,
        }
    }
}

impl ServerSection {
    /// The password hashes computed at once: the setting, or the CPU cores.
    pub fn hash_concurrency(&self) -> usize {
        if self.password_hash_concurrency > 0 {
            return self.password_hash_concurrency;
        }
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    }

    fn validate_connections(&self) -> Result<(), ConfigError> {
        let timeouts = [
            ("server.header_timeout_ms", self.header_timeout_ms),
            ("server.request_timeout_ms", self.request_timeout_ms),
            ("server.write_timeout_ms", self.write_timeout_ms),
            (
                "server.websocket_write_timeout_ms",
                self.websocket_write_timeout_ms,
            ),
            (
                "server.websocket_idle_timeout_ms",
                self.websocket_idle_timeout_ms,
            ),
            ("server.shutdown_grace_ms", self.shutdown_grace_ms),
        ];
        for (field, value) in timeouts {
            if !(100..=3_600_000).contains(&value) {
                return Err(ConfigError::new(
                    field,
                    "must be between 100 and 3600000 (milliseconds)",
                ));
            }
        }
        if self.max_connections == 0 || self.max_connections > 1_000_000 {
            return Err(ConfigError::new(
                "server.max_connections",
                "must be between 1 and 1000000",
            ));
        }
        if self.password_hash_concurrency > 1_024 || self.password_hash_queue > 100_000 {
            return Err(ConfigError::new(
                "server.password_hash_concurrency",
                "at most 1024 hashes at once and 100000 waiting",
            ));
        }
        for origin in &self.cors_origins {
            if origin != "*" && !is_origin(origin) {
                return Err(ConfigError::new(
                    "server.cors_origins",
                    format!("`{origin}` is not an origin (scheme://host[:port], no path) or `*`"),
                ));
            }
        }
        Ok(())
    }
}

/// Whether `text` is a browser origin as browsers send it: `http` or `https`, a host and
/// maybe a port, in lower case, nothing after.
fn is_origin(text: &str) -> bool {
    let Ok(uri) = text.parse::<axum::http::Uri>() else {
        return false;
    };
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let host_ok = uri.host().is_some_and(|host| !host.is_empty());
    scheme_ok
        && host_ok
        && uri
            .path_and_query()
            .is_none_or(|path| matches!(path.as_str(), "" | "/"))
        && !text.ends_with('/')
        && text == text.to_ascii_lowercase()
        && axum::http::HeaderValue::from_str(text).is_ok()
}

/// `[fleet]`: game servers by region: a fixed list, and servers that register themselves
/// (`registry`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FleetSection {
    /// The servers. When empty and registration is closed, the development fleet is used:
    /// one `127.0.0.1:7777` per region with room for 1,000 sessions (the server says so at
    /// start).
    pub servers: Vec<FleetServer>,
    /// A registered server not heard from (registration, heartbeat) for this long is taken
    /// out: it gets no new session, its credential stops working, and its sessions are
    /// abandoned when their own heartbeats stop (`[matcher] session heartbeat timeout`).
    pub heartbeat_timeout_ms: u64,
    /// Registered servers at most; beyond, registration is 503 `fleet_full`.
    pub max_registered: usize,
    /// Labels a registered server must carry to host a queue's matches, by queue (e.g.
    /// `duel-1v1 = { map = "arena" }`). A queue not named takes any server of its region.
    pub queue_labels: BTreeMap<String, BTreeMap<String, String>>,
}

impl Default for FleetSection {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            heartbeat_timeout_ms: 15_000,
            max_registered: 10_000,
            queue_labels: BTreeMap::new(),
        }
    }
}

/// The most labels a registered server or a queue's selector has, and the longest label
/// name or value, in bytes.
pub const MAX_LABELS: usize = 16;
/// See [`MAX_LABELS`].
pub const MAX_LABEL_BYTES: usize = 64;

/// Checks labels (a server's or a queue's selector): at most [`MAX_LABELS`], each name and
/// value 1 to [`MAX_LABEL_BYTES`] bytes. The error says what is wrong.
pub fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), String> {
    if labels.len() > MAX_LABELS {
        return Err(format!("at most {MAX_LABELS} labels"));
    }
    for (name, value) in labels {
        for text in [name, value] {
            if text.is_empty() || text.len() > MAX_LABEL_BYTES {
                return Err(format!(
                    "label `{name}`: names and values are 1 to {MAX_LABEL_BYTES} bytes"
                ));
            }
        }
    }
    Ok(())
}

/// One game server (or one address fronting several) and how many sessions it hosts at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetServer {
    /// Its region, one of the config's `regions`.
    pub region: String,
    /// The address players connect to, e.g. `203.0.113.7:7777`.
    pub address: String,
    /// Sessions it hosts at once.
    pub capacity: u32,
}

impl FleetSection {
    /// The development fleet: one local address per region.
    pub fn development(regions: &[String]) -> Self {
        Self {
            servers: regions
                .iter()
                .map(|region| FleetServer {
                    region: region.clone(),
                    address: "127.0.0.1:7777".into(),
                    capacity: 1_000,
                })
                .collect(),
            ..Self::default()
        }
    }
}

/// Why a config file did not load: the file, and the field at fault.
#[derive(Debug)]
pub struct SettingsError {
    /// The file, if any.
    pub path: Option<PathBuf>,
    /// What is wrong, naming the field.
    pub error: ConfigError,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let error = &self.error;
        let place = match &self.path {
            Some(path) => format!("config {}", path.display()),
            None => "config".to_owned(),
        };
        if error.field.is_empty() {
            write!(f, "{place}: {}", error.message)
        } else {
            write!(f, "{place}: field `{}`: {}", error.field, error.message)
        }
    }
}

impl std::error::Error for SettingsError {}

/// The matcher's top-level keys (`matchwright_ecs::Config`, and `replace_queues`).
pub const MATCHER_KEYS: &[&str] = &[
    "regions",
    "limits",
    "rating",
    "sessions",
    "queues",
    "replace_queues",
];
/// The server's own tables.
pub const SERVER_KEYS: &[&str] = &[
    "server",
    "fleet",
    "lobby",
    "rate_limits",
    "quic",
    "telemetry",
    "cluster",
    "webhooks",
];

impl Settings {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|error| SettingsError {
            path: Some(path.to_path_buf()),
            error: ConfigError::new("", format!("cannot read the file: {error}")),
        })?;
        Self::from_toml_str(&text).map_err(|error| SettingsError {
            path: Some(path.to_path_buf()),
            error,
        })
    }

    /// Parses and checks a config.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        Self::from_table(Self::parse_table(text)?)
    }

    /// A config file's TOML, not yet checked.
    pub fn parse_table(text: &str) -> Result<toml::Table, ConfigError> {
        text.parse()
            .map_err(|error: toml::de::Error| ConfigError::new("", error.to_string()))
    }

    /// Checks a parsed config (what [`Settings::from_toml_str`] does after parsing; the
    /// environment's overrides, `environment`, go in between).
    pub fn from_table(mut table: toml::Table) -> Result<Self, ConfigError> {
        let server = match table.remove("server") {
            Some(value) => value
                .try_into::<ServerSection>()
                .map_err(|error| ConfigError::new("server", error.to_string()))?,
            None => ServerSection::default(),
        };
        let fleet = match table.remove("fleet") {
            Some(value) => value
                .try_into::<FleetSection>()
                .map_err(|error| ConfigError::new("fleet", error.to_string()))?,
            None => FleetSection::default(),
        };
        let lobby = match table.remove("lobby") {
            Some(value) => value
                .try_into::<LobbySection>()
                .map_err(|error| ConfigError::new("lobby", error.to_string()))?,
            None => LobbySection::default(),
        };
        let rate_limits = match table.remove("rate_limits") {
            Some(value) => value
                .try_into::<RateLimitSection>()
                .map_err(|error| ConfigError::new("rate_limits", error.to_string()))?,
            None => RateLimitSection::default(),
        };
        let quic = match table.remove("quic") {
            Some(value) => value
                .try_into::<QuicSection>()
                .map_err(|error| ConfigError::new("quic", error.to_string()))?,
            None => QuicSection::default(),
        };
        let cluster = match table.remove("cluster") {
            Some(value) => value
                .try_into::<ClusterSection>()
                .map_err(|error| ConfigError::new("cluster", error.to_string()))?,
            None => ClusterSection::default(),
        };
        let webhooks = match table.remove("webhooks") {
            Some(value) => value
                .try_into::<WebhooksSection>()
                .map_err(|error| ConfigError::new("webhooks", error.to_string()))?,
            None => WebhooksSection::default(),
        };
        let telemetry = match table.remove("telemetry") {
            Some(value) => value
                .try_into::<TelemetrySection>()
                .map_err(|error| ConfigError::new("telemetry", error.to_string()))?,
            None => TelemetrySection::default(),
        };
        if let Some(unknown) = table
            .keys()
            .find(|key| !MATCHER_KEYS.contains(&key.as_str()))
        {
            return Err(ConfigError::new(
                unknown.clone(),
                format!(
                    "not a setting; the config's tables and keys are {}",
                    MATCHER_KEYS
                        .iter()
                        .chain(SERVER_KEYS)
                        .map(|key| format!("`{key}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let matcher = Config::from_operator_toml(table)?;
        let settings = Self {
            matcher,
            server,
            fleet,
            lobby,
            rate_limits,
            quic,
            telemetry,
            cluster,
            webhooks,
        };
        settings.validate()?;
        settings
            .cluster
            .check(&settings.matcher)
            .map_err(|error| ConfigError::new(error.field, error.message))?;
        Ok(settings)
    }

    /// Checks the server's and the fleet's fields (the matcher's config checks itself).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let server = &self.server;
        server.validate_connections()?;
        if !(1..=10_000).contains(&server.tick_interval_ms) {
            return Err(ConfigError::new(
                "server.tick_interval_ms",
                "must be between 1 and 10000",
            ));
        }
        if server.season.is_empty() || server.season.len() > 64 {
            return Err(ConfigError::new(
                "server.season",
                "must be 1 to 64 characters",
            ));
        }
        if !(256..=16 << 20).contains(&server.body_limit_bytes) {
            return Err(ConfigError::new(
                "server.body_limit_bytes",
                "must be between 256 and 16777216",
            ));
        }
        for (field, value) in [
            ("server.access_token_ttl_s", server.access_token_ttl_s),
            ("server.refresh_token_ttl_s", server.refresh_token_ttl_s),
            ("server.session_token_ttl_s", server.session_token_ttl_s),
        ] {
            if !(1..=365 * 24 * 60 * 60).contains(&value) {
                return Err(ConfigError::new(field, "must be between 1 s and a year"));
            }
        }
        for (field, value) in [
            ("server.max_pending_commands", server.max_pending_commands),
            (
                "server.max_sockets_per_player",
                server.max_sockets_per_player,
            ),
            ("server.socket_buffer", server.socket_buffer),
        ] {
            if value == 0 {
                return Err(ConfigError::new(field, "must be at least 1"));
            }
        }
        for (field, value) in [
            ("server.jwt_secret", &server.jwt_secret),
            ("server.session_secret", &server.session_secret),
            ("server.game_server_key", &server.game_server_key),
            (
                "server.fleet_registration_secret",
                &server.fleet_registration_secret,
            ),
            ("server.webhook_secret", &server.webhook_secret),
        ] {
            if value.as_ref().is_some_and(|secret| secret.len() < 32) {
                return Err(ConfigError::new(field, "must be at least 32 bytes"));
            }
        }
        let keys = [
            ("operator_keys", &server.operator_keys),
            ("read_only_operator_keys", &server.read_only_operator_keys),
        ];
        for (name, list) in keys {
            for (index, key) in list.iter().enumerate() {
                if key.len() < 32 {
                    return Err(ConfigError::new(
                        format!("server.{name}[{index}]"),
                        "must be at least 32 bytes",
                    ));
                }
            }
        }
        for (index, key) in server.read_only_operator_keys.iter().enumerate() {
            if server.operator_keys.contains(key) {
                return Err(ConfigError::new(
                    format!("server.read_only_operator_keys[{index}]"),
                    "is also in `server.operator_keys`: a key has one role",
                ));
            }
        }
        for (field, value, range) in [
            ("lobby.max_invites", self.lobby.max_invites, 1..=1_000),
            ("lobby.chat_history", self.lobby.chat_history, 0..=1_000),
            (
                "lobby.max_chat_chars",
                self.lobby.max_chat_chars,
                1..=10_000,
            ),
        ] {
            if !range.contains(&value) {
                return Err(ConfigError::new(
                    field,
                    format!("must be between {} and {}", range.start(), range.end()),
                ));
            }
        }
        if !(1..=7 * 24 * 60 * 60).contains(&self.lobby.invite_ttl_s) {
            return Err(ConfigError::new(
                "lobby.invite_ttl_s",
                "must be between 1 s and a week",
            ));
        }
        let quic = &self.quic;
        if quic.cert.is_some() != quic.key.is_some() {
            return Err(ConfigError::new(
                if quic.cert.is_some() {
                    "quic.key"
                } else {
                    "quic.cert"
                },
                "give both quic.cert and quic.key, or neither (a development certificate)",
            ));
        }
        for (field, value, range) in [
            ("quic.max_frame_bytes", quic.max_frame_bytes, 256..=16 << 20),
            (
                "quic.max_streams_per_connection",
                quic.max_streams_per_connection as usize,
                1..=1_000,
            ),
            (
                "quic.max_in_flight_per_connection",
                quic.max_in_flight_per_connection,
                1..=100_000,
            ),
            ("quic.max_connections", quic.max_connections, 1..=1_000_000),
            (
                "quic.socket_buffer_bytes",
                quic.socket_buffer_bytes,
                64 << 10..=1 << 30,
            ),
            (
                "quic.idle_timeout_s",
                quic.idle_timeout_s as usize,
                1..=3_600,
            ),
            ("quic.keep_alive_s", quic.keep_alive_s as usize, 1..=3_600),
        ] {
            if !range.contains(&value) {
                return Err(ConfigError::new(
                    field,
                    format!("must be between {} and {}", range.start(), range.end()),
                ));
            }
        }
        if quic.keep_alive_s >= quic.idle_timeout_s {
            return Err(ConfigError::new(
                "quic.keep_alive_s",
                "must be shorter than quic.idle_timeout_s, or idle connections are closed",
            ));
        }
        self.telemetry.validate()?;
        self.webhooks
            .validate(self.server.webhook_secret.is_some())?;
        if let Some(header) = &self.rate_limits.client_ip_header
            && axum::http::HeaderName::from_bytes(header.as_bytes()).is_err()
        {
            return Err(ConfigError::new(
                "rate_limits.client_ip_header",
                format!("`{header}` is not a header name"),
            ));
        }
        self.validate_registration()?;
        for (index, entry) in self.fleet.servers.iter().enumerate() {
            if self.matcher.region_index(&entry.region).is_none() {
                return Err(ConfigError::new(
                    format!("fleet.servers[{index}].region"),
                    format!(
                        "`{}` is not one of the configured regions {:?}",
                        entry.region, self.matcher.regions
                    ),
                ));
            }
            if entry.address.is_empty() {
                return Err(ConfigError::new(
                    format!("fleet.servers[{index}].address"),
                    "must not be empty",
                ));
            }
            if entry.capacity == 0 {
                return Err(ConfigError::new(
                    format!("fleet.servers[{index}].capacity"),
                    "must be at least 1",
                ));
            }
        }
        Ok(())
    }

    /// Checks `[fleet]`'s registration settings.
    fn validate_registration(&self) -> Result<(), ConfigError> {
        let fleet = &self.fleet;
        if !(1_000..=600_000).contains(&fleet.heartbeat_timeout_ms) {
            return Err(ConfigError::new(
                "fleet.heartbeat_timeout_ms",
                "must be 1000 to 600000",
            ));
        }
        if !(1..=100_000).contains(&fleet.max_registered) {
            return Err(ConfigError::new(
                "fleet.max_registered",
                "must be 1 to 100000",
            ));
        }
        for (queue, labels) in &fleet.queue_labels {
            let field = format!("fleet.queue_labels.{queue}");
            if self.matcher.queue_index(queue).is_none() {
                return Err(ConfigError::new(field, "is not a configured queue"));
            }
            check_labels(labels).map_err(|why| ConfigError::new(field, why))?;
        }
        Ok(())
    }

    /// Whether game servers may register themselves (a registration secret is set).
    pub fn registration_open(&self) -> bool {
        self.server.fleet_registration_secret.is_some()
    }

    /// `serve`'s fixed fleet: the configured one; with none, the development fleet, unless
    /// game servers register themselves.
    pub fn serve_fleet(&self) -> FleetSection {
        if self.fleet.servers.is_empty() && self.registration_open() {
            self.fleet.clone()
        } else {
            self.effective_fleet()
        }
    }

    /// The fixed fleet to allocate from: the configured one, or the development fleet (a
    /// partition leader's, which takes no registrations).
    pub fn effective_fleet(&self) -> FleetSection {
        if self.fleet.servers.is_empty() {
            FleetSection::development(&self.matcher.regions)
        } else {
            self.fleet.clone()
        }
    }
}

/// The secrets in force.
#[derive(Clone)]
pub struct Secrets {
    /// Signs access tokens.
    pub jwt: Vec<u8>,
    /// Signs session tokens.
    pub session: Vec<u8>,
    /// Game servers present it.
    pub game_server_key: String,
    /// Where the generated ones are kept, if any are.
    pub file: Option<PathBuf>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// `secrets.toml` in the data directory.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretsFile {
    jwt_secret: String,
    session_secret: String,
    game_server_key: String,
}

/// A fresh random secret, URL-safe base64 of 32 bytes from the OS.
pub fn random_secret() -> Result<String, String> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| format!("the OS gave no randomness: {error}"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl Secrets {
    /// The secrets from `[server]`, the rest from `DATA_DIR/secrets.toml` (created if missing).
    pub fn load(server: &ServerSection, data_dir: &Path) -> Result<Self, String> {
        let all_given = server.jwt_secret.is_some()
            && server.session_secret.is_some()
            && server.game_server_key.is_some();
        let (stored, file) = if all_given {
            (None, None)
        } else {
            let path = data_dir.join("secrets.toml");
            (Some(read_or_create_secrets(&path)?), Some(path))
        };
        let pick = |given: &Option<String>, from_file: Option<&String>| {
            given.clone().or_else(|| from_file.cloned())
        };
        let jwt = pick(&server.jwt_secret, stored.as_ref().map(|s| &s.jwt_secret));
        let session = pick(
            &server.session_secret,
            stored.as_ref().map(|s| &s.session_secret),
        );
        let key = pick(
            &server.game_server_key,
            stored.as_ref().map(|s| &s.game_server_key),
        );
        match (jwt, session, key) {
            (Some(jwt), Some(session), Some(game_server_key)) => Ok(Self {
                jwt: jwt.into_bytes(),
                session: session.into_bytes(),
                game_server_key,
                file,
            }),
            _ => Err("secrets are missing".into()),
        }
    }
}

fn read_or_create_secrets(path: &Path) -> Result<SecretsFile, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let file: SecretsFile = toml::from_str(&text)
                .map_err(|error| format!("{} does not load: {error}", path.display()))?;
            for (name, value) in [
                ("jwt_secret", &file.jwt_secret),
                ("session_secret", &file.session_secret),
                ("game_server_key", &file.game_server_key),
            ] {
                if value.len() < 32 {
                    return Err(format!(
                        "{}: {name} must be at least 32 bytes",
                        path.display()
                    ));
                }
            }
            Ok(file)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let file = SecretsFile {
                jwt_secret: random_secret()?,
                session_secret: random_secret()?,
                game_server_key: random_secret()?,
            };
            let text = format!(
                "# Generated by the first `matchwright serve`; keep it private. The game-server key\n\
                 # is what game servers send as `Authorization: Bearer ...`; the session secret is\n\
                 # what they verify players' session tokens (HS256 JWT) with.\n{}",
                toml::to_string(&file).map_err(|error| error.to_string())?
            );
            write_private(path, &text)
                .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
            Ok(file)
        }
        Err(error) => Err(format!("cannot read {}: {error}", path.display())),
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_defaults() {
        assert_eq!(Settings::from_toml_str("").unwrap(), Settings::default());
    }

    #[test]
    fn the_shipped_matcher_config_loads_as_a_server_config() {
        let text = include_str!("../../config/matchwright.toml");
        assert_eq!(Settings::from_toml_str(text).unwrap(), Settings::default());
    }

    #[test]
    fn the_load_config_loads_with_ip_limits_off_and_player_limits_on() {
        let settings = Settings::from_toml_str(include_str!("../../config/load.toml")).unwrap();
        assert_eq!(settings.rate_limits.write.per_ip_per_minute, 0);
        assert_eq!(settings.rate_limits.write.per_player_per_minute, 30);
        assert_eq!(settings.rate_limits.read.per_player_per_minute, 100);
        assert!(settings.matcher.queue_index("load-duel").is_some());
        assert_eq!(settings.fleet.servers.len(), 4);
    }

    #[test]
    fn the_quic_bench_config_loads_with_every_limit_off() {
        let text = include_str!("../../config/quic-bench.toml");
        let settings = Settings::from_toml_str(text).unwrap();
        assert!(!settings.rate_limits.enabled);
        assert_eq!(settings.quic.requests_per_second_per_connection, 0);
        assert_eq!(settings.quic.max_in_flight_per_connection, 256);
    }

    #[test]
    fn cors_origins_must_be_origins() {
        for good in ["https://game.example", "http://127.0.0.1:8080", "*"] {
            let text = format!("[server]\ncors_origins = [\"{good}\"]\n");
            assert!(Settings::from_toml_str(&text).is_ok(), "{good}");
        }
        for bad in [
            "https://game.example/",
            "https://game.example/path",
            "https://",
            "game.example",
            "ftp://game.example",
            "https://Game.example",
            "https://game.example?x=1",
        ] {
            let text = format!("[server]\ncors_origins = [\"{bad}\"]\n");
            let error = Settings::from_toml_str(&text).unwrap_err();
            assert_eq!(error.field, "server.cors_origins", "{bad}");
        }
    }

    #[test]
    fn quic_settings_are_checked() {
        let half = Settings::from_toml_str("[quic]\ncert = \"cert.pem\"\n").unwrap_err();
        assert_eq!(half.field, "quic.key");
        let keep_alive =
            Settings::from_toml_str("[quic]\nidle_timeout_s = 5\nkeep_alive_s = 5\n").unwrap_err();
        assert_eq!(keep_alive.field, "quic.keep_alive_s");
        let frame = Settings::from_toml_str("[quic]\nmax_frame_bytes = 10\n").unwrap_err();
        assert_eq!(frame.field, "quic.max_frame_bytes");
    }

    #[test]
    fn the_partition_map_is_checked_against_the_queues() {
        let map = "[[cluster.partitions]]\nname = \"duels\"\nqueues = [\"duel-1v1\"]\n\
                   [[cluster.partitions]]\nname = \"rest\"\nqueues = [\"ranked-5v5\", \"trios-ffa\"]\n";
        let settings = Settings::from_toml_str(map).unwrap();
        assert_eq!(settings.cluster.partition_of("trios-ffa"), Some("rest"));
        let unknown = Settings::from_toml_str(&map.replace("trios-ffa", "trios")).unwrap_err();
        assert_eq!(unknown.field, "cluster.partitions[1].queues[1]");
        let missing = Settings::from_toml_str(&map.replace(", \"trios-ffa\"", "")).unwrap_err();
        assert!(
            missing.message.contains("`trios-ffa` is in no partition"),
            "{missing}"
        );
        let typo = Settings::from_toml_str("[cluster]\npartition = []\n").unwrap_err();
        assert_eq!(typo.field, "cluster");
    }

    #[test]
    fn telemetry_settings_are_checked() {
        let on = Settings::from_toml_str(
            "[telemetry]\notlp_endpoint = \"http://127.0.0.1:4318\"\nbatch_delay_ms = 100\n",
        )
        .unwrap();
        assert_eq!(
            on.telemetry.otlp_endpoint.as_deref(),
            Some("http://127.0.0.1:4318")
        );
        assert_eq!(on.telemetry.service_name, "matchwright");
        for bad in [
            "otlp_endpoint = \"https://collector:4318\"",
            "otlp_endpoint = \"127.0.0.1:4318\"",
            "otlp_endpoint = \"http://collector:4318/?a=b\"",
            "otlp_endpoint = \"not a url\"",
        ] {
            let error = Settings::from_toml_str(&format!("[telemetry]\n{bad}\n")).unwrap_err();
            assert_eq!(error.field, "telemetry.otlp_endpoint", "{bad}: {error}");
        }
        let delay = Settings::from_toml_str("[telemetry]\nbatch_delay_ms = 0\n").unwrap_err();
        assert_eq!(delay.field, "telemetry.batch_delay_ms");
        let name = Settings::from_toml_str("[telemetry]\nservice_name = \"\"\n").unwrap_err();
        assert_eq!(name.field, "telemetry.service_name");
    }

    #[test]
    fn an_unknown_table_is_named_with_every_known_one() {
        let error = Settings::from_toml_str("[servr]\ntick_interval_ms = 5\n").unwrap_err();
        assert_eq!(error.field, "servr");
        for known in [
            "`server`",
            "`fleet`",
            "`rate_limits`",
            "`quic`",
            "`telemetry`",
            "`lobby`",
            "`queues`",
            "`sessions`",
        ] {
            assert!(error.message.contains(known), "{known} missing: {error}");
        }
        // A syntax error names its line, not a field called `toml` or ``.
        let shown = Settings::from_toml_str("[server\n")
            .unwrap_err()
            .to_string();
        assert!(
            shown.starts_with("config: ") && shown.contains("line 1"),
            "{shown}"
        );
    }

    #[test]
    fn errors_name_the_field() {
        let error = Settings::from_toml_str("[server]\ntick_interval_ms = 0\n").unwrap_err();
        assert_eq!(error.field, "server.tick_interval_ms");
        let error = Settings::from_toml_str("[server]\ntick_intervl_ms = 5\n").unwrap_err();
        assert_eq!(error.field, "server");
        assert!(error.message.contains("tick_intervl_ms"), "{error}");
        let error = Settings::from_toml_str(
            "[[fleet.servers]]\nregion = \"mars\"\naddress = \"a:1\"\ncapacity = 1\n",
        )
        .unwrap_err();
        assert_eq!(error.field, "fleet.servers[0].region");
        let error = Settings::from_toml_str("regions = []\n").unwrap_err();
        assert!(error.field.starts_with("regions"), "{error}");
        let error = Settings::from_toml_str("[server]\njwt_secret = \"short\"\n").unwrap_err();
        assert_eq!(error.field, "server.jwt_secret");
    }

    #[test]
    fn registration_settings_are_checked_and_close_the_development_fleet() {
        let error =
            Settings::from_toml_str("[fleet.queue_labels]\nnope = { map = \"x\" }\n").unwrap_err();
        assert_eq!(error.field, "fleet.queue_labels.nope");
        let error = Settings::from_toml_str("[fleet.queue_labels]\nduel-1v1 = { map = \"\" }\n")
            .unwrap_err();
        assert_eq!(error.field, "fleet.queue_labels.duel-1v1");
        let error = Settings::from_toml_str("[fleet]\nheartbeat_timeout_ms = 10\n").unwrap_err();
        assert_eq!(error.field, "fleet.heartbeat_timeout_ms");
        let error = Settings::from_toml_str("[server]\nfleet_registration_secret = \"short\"\n")
            .unwrap_err();
        assert_eq!(error.field, "server.fleet_registration_secret");
        let closed = Settings::from_toml_str("").unwrap();
        assert!(!closed.registration_open());
        assert!(
            !closed.serve_fleet().servers.is_empty(),
            "the development fleet"
        );
        let secret = "s".repeat(32);
        let open = Settings::from_toml_str(&format!(
            "[server]\nfleet_registration_secret = \"{secret}\"\n"
        ))
        .unwrap();
        assert!(open.registration_open());
        assert!(
            open.serve_fleet().servers.is_empty(),
            "registered servers only"
        );
        assert!(
            !open.effective_fleet().servers.is_empty(),
            "partitions take none"
        );
    }

    #[test]
    fn secrets_are_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = Secrets::load(&ServerSection::default(), dir.path()).unwrap();
        let again = Secrets::load(&ServerSection::default(), dir.path()).unwrap();
        assert_eq!(first.jwt, again.jwt);
        assert_eq!(first.game_server_key, again.game_server_key);
        assert_ne!(first.jwt, first.session);
        let given = ServerSection {
            game_server_key: Some("k".repeat(40)),
            ..ServerSection::default()
        };
        let mixed = Secrets::load(&given, dir.path()).unwrap();
        assert_eq!(mixed.game_server_key, "k".repeat(40));
        assert_eq!(mixed.jwt, first.jwt);
    }

    #[test]
    fn webhooks_need_a_secret_good_urls_names_and_event_types() {
        let secret = format!("[server]\nwebhook_secret = \"{}\"\n", "w".repeat(32));
        let endpoint = |fields: &str| format!("{secret}[webhooks]\nendpoints = [{{ {fields} }}]\n");
        let good = endpoint(r#"name = "backend", url = "https://example.com/hooks""#);
        let settings = Settings::from_toml_str(&good).unwrap();
        assert!(settings.webhooks.endpoints[0].takes("match_formed"));
        let without = good.replace(&secret, "");
        let error = Settings::from_toml_str(&without).unwrap_err();
        assert_eq!(error.field, "server.webhook_secret");
        for (fields, field) in [
            (
                r#"name = "Backend", url = "http://a""#,
                "webhooks.endpoints[0].name",
            ),
            (
                r#"name = "b", url = "ftp://a/x""#,
                "webhooks.endpoints[0].url",
            ),
            (
                r#"name = "b", url = "not a url""#,
                "webhooks.endpoints[0].url",
            ),
            (
                r#"name = "b", url = "http://a", events = ["match_found"]"#,
                "webhooks.endpoints[0].events",
            ),
        ] {
            let error = Settings::from_toml_str(&endpoint(fields)).unwrap_err();
            assert_eq!(error.field, field, "{fields}: {}", error.message);
        }
        let picky = endpoint(r#"name = "b", url = "http://a", events = ["session_ended"]"#);
        let settings = Settings::from_toml_str(&picky).unwrap();
        assert!(settings.webhooks.endpoints[0].takes("session_ended"));
        assert!(!settings.webhooks.endpoints[0].takes("match_formed"));
        let twice = format!(
            "{secret}[webhooks]\nendpoints = [{{ name = \"b\", url = \"http://a\" }}, \
             {{ name = \"b\", url = \"http://c\" }}]\n"
        );
        let error = Settings::from_toml_str(&twice).unwrap_err();
        assert_eq!(error.field, "webhooks.endpoints[1].name");
        let slow = format!("{good}max_backoff_ms = 100\nfirst_backoff_ms = 200\n");
        let error = Settings::from_toml_str(&slow).unwrap_err();
        assert_eq!(error.field, "webhooks.first_backoff_ms");
        let short = "[server]\nwebhook_secret = \"short\"\n";
        let error = Settings::from_toml_str(short).unwrap_err();
        assert_eq!(error.field, "server.webhook_secret");
    }
}
