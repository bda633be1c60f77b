//! # matchwright-server: the `matchwright` binary
//!
//! One process replaces the seeds' gateway, profile, matchmaker and session services. It is
//! the IO shell around the pure matcher core (see ARCHITECTURE.md):
//!
//! - [`tick`]: the one thread that owns the matcher and the redb store. Commands gathered
//!   during a tick interval are applied by one tick and committed in one transaction; only then
//!   are clients answered and events pushed (group commit).
//! - [`service`]: the API whatever the transport: one function per request, taking and
//!   answering the wire types of `matchwright_transport::wire` (the protocol's one set of
//!   request, response, error and event types).
//! - [`api`]: the HTTP API under `/v1` (axum), documented by utoipa; each handler extracts,
//!   calls its [`service`] function and wraps the answer. [`app`] builds the router from
//!   those annotations, so `/openapi.json` matches the routes exactly.
//! - [`admin`]: the admin routes for operators (`/v1/admin/...`), the work in
//!   `service::admin` (bans and the audit log in the store); [`console`]: the operators' web
//!   console, its pages embedded in the binary and served at `/console`.
//! - [`party`] and [`lobby`]: the party routes (membership through the matcher; invites,
//!   ready checks and chat in the lobby), pushed to members as live events.
//! - [`boards`]: the leaderboard (by conservative rating) and match-history routes.
//! - [`ratelimit`]: governor token buckets per player and per IP, per route class (429).
//! - [`quic`]: game clients over QUIC (`matchwright_transport`'s wire), answered by the same
//!   [`service`] functions as the HTTP routes and fed by the same hub; its table of
//!   counterparts maps every request to its route.
//! - [`hashing`]: argon2 hashing slots and their bounded queue (503 beyond).
//! - [`auth`]: argon2 passwords, JWT access tokens, rotating refresh tokens, session tokens;
//!   [`guard`]: the extractors that check them on the routes.
//! - [`clock`]: now, in Unix milliseconds.
//! - [`shared`]: what handlers share with whatever applies their commands (view, hub,
//!   readiness, lobby; a command's answer).
//! - [`gateway`]: `matchwright gateway`: the partitions of a cluster in place of the tick
//!   loop.
//! - [`live`]: what committed events mean for the view and the connected players (the tick
//!   loop and a gateway share it).
//! - [`view`]: where each player and match is, as of the last commit, for handlers to read;
//!   [`recent`]: each queue's matching minute by minute over the last ten minutes.
//! - [`hub`]: live events for each player's sockets, with a bounded buffer per socket;
//!   [`websocket`]: the event WebSocket's pump (write and idle timeouts, close frames).
//! - [`listener`]: the HTTP listener: connection caps (total, per IP), header timeout,
//!   graceful shutdown with a deadline.
//! - [`partition_ops`]: `/healthz`, `/readyz` and `/metrics` of a matcher partition process.
//! - [`fleet`]: game-server allocation behind the [`fleet::Allocator`] trait; [`registry`]:
//!   game servers that register themselves (`/v1/fleet/servers`) and the allocator over both.
//! - [`settings`]: the config file (`[server]`, `[fleet]` and the matcher's config) and secrets.
//! - [`environment`]: `MATCHWRIGHT_*` variables: an override for every setting, the secrets
//!   (or files holding them) and the Postgres URL; `matchwright config check`.
//! - [`instruments`]: every metric's name, kind and HELP; process metrics.
//! - [`telemetry`]: OpenTelemetry traces over OTLP/HTTP when configured (`[telemetry]`).
//! - [`error`]: every error as the wire's `WireError`, JSON `{"status", "error", "message",
//!   "field"}` over HTTP.
//!
//! Departure from ARCHITECTURE.md: the HTTP server lives here, not in `transport`. The
//! `transport` crate owns the wire protocol (whose types are also this API's JSON bodies,
//! with OpenAPI schemas behind its `schema` feature), the QUIC server and the client SDK
//! (whose HTTP backend speaks this API); moving the HTTP server later is a file move.

pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod backend_events;
pub mod boards;
pub mod clock;
pub mod console;
pub mod environment;
pub mod error;
pub mod fleet;
pub mod fleet_routes;
pub mod gateway;
pub mod guard;
pub mod hashing;
pub mod hub;
pub mod instruments;
pub mod listener;
pub mod live;
pub mod lobby;
pub mod operator_events;
pub mod partition_ops;
pub mod party;
pub mod quic;
pub mod ratelimit;
pub mod recent;
pub mod recorder;
pub mod records;
pub mod registry;
pub mod service;
pub mod settings;
pub mod shared;
pub mod telemetry;
pub mod tick;
pub mod view;
pub mod webhooks;
pub mod websocket;
