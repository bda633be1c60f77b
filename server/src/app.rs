//! Wiring: opening the store, starting the tick loop, the router (built from the handlers'
//! OpenAPI annotations, so the document and the routes cannot drift), the HTTP middleware
//! (a tracing span and a latency histogram per route), and serving until told to stop.

use std::collections::HashSet;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use matchwright_storage::shared::SharedRecord;
use matchwright_storage::{Store, StoreHandle, StoreOptions};
use metrics_exporter_prometheus::{Matcher as MetricName, PrometheusBuilder, PrometheusHandle};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use matchwright_transport::wire::{Event, WireError};

use crate::error::ApiError;
use crate::fleet::StaticFleet;
use crate::hashing::HashingPool;
use crate::hub::Hub;
use crate::lobby::Lobby;
use crate::ratelimit::RateLimiter;
use crate::records::Records;
use crate::registry::{Fleet, Registry};
use crate::settings::{Secrets, Settings};
use crate::tick::{Health, Running, Shared, TickHandle, TickLoop};
use crate::view::View;
use crate::{admin, api, boards, fleet_routes, party};

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState(Arc<AppInner>);

/// The contents of [`AppState`].
#[derive(Debug)]
pub struct AppInner {
    /// The configuration.
    pub settings: Arc<Settings>,
    /// The secrets in force.
    pub secrets: Secrets,
    /// Accounts, tokens, ratings, history: this server's store, or a cluster's shared record.
    pub records: Records,
    /// The tick loop's door.
    pub ticks: TickHandle,
    /// The view, the hub and readiness.
    pub shared: Shared,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Where new players' ids come from.
    pub player_ids: PlayerIdSource,
    /// The next party id to hand out.
    pub next_party: AtomicU64,
    /// Request rate limits.
    pub rate_limiter: Arc<RateLimiter>,
    /// Password hashing, bounded.
    pub hashing: HashingPool,
    /// `/openapi.json`, set once the router is built.
    pub openapi_json: OnceLock<String>,
    /// Game servers that registered themselves (`serve` with a fleet registration secret).
    pub fleet: Option<Arc<Registry>>,
    /// The webhook sender (`serve` with `[webhooks]` endpoints), set once it runs.
    pub webhooks: OnceLock<Arc<crate::webhooks::Webhooks>>,
    /// The matcher's config in force: the settings' at start, swapped by a reload
    /// (`POST /v1/admin/config/reload`). Handlers read it through [`AppState::matcher`].
    pub matcher: RwLock<Arc<matchwright_ecs::Config>>,
    /// Where a reload reads the config from (`serve`; a gateway has none).
    pub config_source: OnceLock<ConfigSource>,
}

/// Where `serve` read its config: the file and the environment, read again by a reload.
#[derive(Debug)]
pub struct ConfigSource {
    /// The config file, if one was given.
    pub path: Option<PathBuf>,
    /// The `MATCHWRIGHT_*` variables at start.
    pub environment: crate::environment::Environment,
    /// One reload at a time, so the config in force is the core's.
    pub reloading: tokio::sync::Mutex<()>,
}

impl Deref for AppState {
    type Target = AppInner;

    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// Where registered players' ids come from.
#[derive(Debug)]
pub enum PlayerIdSource {
    /// `serve`: counted up from one past the store's last account.
    Local(AtomicU64),
    /// A gateway: blocks reserved in the cluster's KV, so that no two gateways hand out one
    /// id.
    Cluster(crate::gateway::IdBlocks),
}

impl PlayerIdSource {
    /// The next id (503 when a gateway cannot reserve a block).
    pub async fn next(&self) -> Result<matchwright_ecs::PlayerId, ApiError> {
        match self {
            Self::Local(next) => Ok(matchwright_ecs::PlayerId(
                next.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            )),
            Self::Cluster(blocks) => blocks.next().await,
        }
    }
}

impl AppState {
    /// The matcher's config in force.
    pub fn matcher(&self) -> Arc<matchwright_ecs::Config> {
        Arc::clone(
            &self
                .matcher
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// The live view, for reading.
    pub fn view(&self) -> std::sync::RwLockReadGuard<'_, View> {
        self.shared
            .view
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A player's access token from /v1/auth/login or /v1/auth/register",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "game_server_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The game-server key of the server's config"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "operator_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "One of the operator keys of the server's config (`[server] operator_keys` or `read_only_operator_keys`)",
                    ))
                    .build(),
            ),
        );
        for (name, description) in [
            (
                "fleet_registration_secret",
                "The fleet registration secret (`[server] fleet_registration_secret`)",
            ),
            (
                "server_credential",
                "A registered game server's own credential, from POST /v1/fleet/servers",
            ),
        ] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(description))
                        .build(),
                ),
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Matchwright",
        description = "The Matchwright matchmaking server: accounts, parties, queues, matches, sessions, leaderboards and live events. Requests are rate limited per player and per IP (429 with Retry-After). Every error is a WireError, JSON {\"status\": STATUS, \"error\": CODE, \"message\": TEXT, \"field\": FIELD or null}. The bodies are the wire protocol's types, the same QUIC clients send and receive (bincode frames there); the live events on /v1/events are Event variants, each sent as its fields plus \"type\": \"<variant in snake_case>\"."
    ),
    modifiers(&SecuritySchemes),
    components(schemas(WireError, Event))
)]
struct ApiDoc;

/// The router and its OpenAPI document, built from the same annotations.
pub fn router(state: AppState) -> Router {
    let router = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(api::register))
        .routes(routes!(api::login))
        .routes(routes!(api::refresh))
        .routes(routes!(api::logout))
        .routes(routes!(api::get_profile, api::patch_profile))
        .routes(routes!(api::get_avoid_list, api::put_avoid_list))
        .routes(routes!(api::enqueue, api::get_queue, api::leave_queue))
        .routes(routes!(api::explain_queue))
        .routes(routes!(api::list_queues))
        .routes(routes!(api::accept_match))
        .routes(routes!(api::decline_match))
        .routes(routes!(api::get_session))
        .routes(routes!(party::create_party, party::my_party))
        .routes(routes!(party::get_party))
        .routes(routes!(party::invite))
        .routes(routes!(party::join))
        .routes(routes!(party::leave))
        .routes(routes!(party::kick))
        .routes(routes!(party::ready))
        .routes(routes!(party::chat))
        .routes(routes!(boards::leaderboard))
        .routes(routes!(boards::history))
        .routes(routes!(api::heartbeat))
        .routes(routes!(api::report_result))
        .routes(routes!(api::request_backfill))
        .routes(routes!(api::leave_session))
        .routes(routes!(api::end_session))
        .routes(routes!(admin::queues))
        .routes(routes!(admin::tickets))
        .routes(routes!(admin::ticket))
        .routes(routes!(admin::explain_ticket))
        .routes(routes!(admin::cancel_ticket))
        .routes(routes!(admin::matches))
        .routes(routes!(admin::match_of))
        .routes(routes!(admin::cancel_match))
        .routes(routes!(admin::end_session))
        .routes(routes!(admin::player))
        .routes(routes!(admin::get_ban, admin::ban, admin::unban))
        .routes(routes!(admin::audit))
        .routes(routes!(admin::fleet))
        .routes(routes!(admin::webhooks))
        .routes(routes!(admin::set_rating, admin::reset_rating))
        .routes(routes!(admin::reload_config))
        .routes(routes!(admin::events))
        .routes(routes!(fleet_routes::register))
        .routes(routes!(fleet_routes::heartbeat))
        .routes(routes!(fleet_routes::drain))
        .routes(routes!(fleet_routes::deregister))
        .routes(routes!(api::events))
        .routes(routes!(api::healthz))
        .routes(routes!(api::readyz))
        .routes(routes!(api::openapi));
    // `/metrics` is on the public port unless it has an address of its own.
    let (router, openapi) = if state.settings.server.metrics_listen.is_some() {
        router
    } else {
        router.routes(routes!(api::metrics))
    }
    .split_for_parts();
    // The console's page and assets are not API routes: not in the OpenAPI document.
    let router = router.merge(crate::console::routes());
    let mut openapi = openapi;
    add_stack_responses(&mut openapi);
    let json = openapi
        .to_pretty_json()
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    let _ = state.openapi_json.set(json);
    let server = &state.settings.server;
    let body_limit = server.body_limit_bytes;
    let request_timeout = Duration::from_millis(server.request_timeout_ms);
    let cors = cors_layer(&server.cors_origins);
    let gate = crate::ratelimit::Gate {
        limiter: Arc::clone(&state.rate_limiter),
        jwt_secret: state.secrets.jwt.as_slice().into(),
        operator_keys: (server.operator_keys.iter())
            .chain(&server.read_only_operator_keys)
            .cloned()
            .collect(),
    };
    let request_id = HeaderName::from_static(REQUEST_ID);
    // Each `layer` wraps the ones before it: the last is the outermost.
    let router = router
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            gate,
            crate::ratelimit::limit_requests,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(RequestBodyTimeoutLayer::new(Duration::from_millis(
            server.header_timeout_ms,
        )))
        // An answer not ready in time is a 503 (not a 408, which browsers resend on their own:
        // the request may have taken effect).
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            request_timeout,
        ))
        .layer(middleware::from_fn(observe_request))
        .layer(middleware::from_fn(json_errors))
        .layer(CompressionLayer::new())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_failure(DefaultOnFailure::new().level(tracing::Level::WARN)),
        );
    let router = match cors {
        Some(cors) => router
            .layer(cors)
            .layer(middleware::from_fn(preflight_answer)),
        None => router,
    };
    router
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Adds to every operation the answers the HTTP stack gives whatever the route: 429 and 503
/// on every `/v1` route (rate limits; busy, not ready or not answered in time), and on every
/// route with a body 400 (malformed JSON), 408 (the body did not arrive in time), 413 (too
/// large), 415 (not JSON) and 422 (a field not valid). A route's own description of a status
/// is kept.
fn add_stack_responses(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{Content, Ref, RefOr, Response};
    let error = || Content::new(Some(Ref::from_schema_name("WireError")));
    for (path, item) in &mut openapi.paths.paths {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            let mut stack: Vec<(&str, &str)> = Vec::new();
            if path.starts_with("/v1/") {
                stack.push(("429", "Over a rate limit; `Retry-After` says when to retry"));
                stack.push((
                    "503",
                    "Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help",
                ));
            }
            if operation.request_body.is_some() {
                stack.extend([
                    ("400", "The body is not well-formed JSON"),
                    (
                        "408",
                        "The body did not arrive within `server.header_timeout_ms`",
                    ),
                    ("413", "The body is larger than `server.body_limit_bytes`"),
                    ("415", "The body is not `Content-Type: application/json`"),
                    ("422", "A field is not valid (named in `field`)"),
                ]);
            }
            for (status, description) in stack {
                operation
                    .responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| {
                        RefOr::T(
                            Response::builder()
                                .description(description)
                                .content("application/json", error())
                                .build(),
                        )
                    });
            }
        }
    }
}

/// The request id header: taken from the client when it sends one, else generated; echoed in
/// the response and recorded in the request's span (so in every log line of the request).
pub const REQUEST_ID: &str = "x-request-id";

/// CORS for the configured origins; `None` (no CORS headers at all) when there are none.
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    use axum::http::{Method, header};
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|origin| origin.parse().ok()))
    };
    let request_id = HeaderName::from_static(REQUEST_ID);
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PATCH,
                Method::PUT,
                Method::DELETE,
            ])
            .allow_headers([header::AUTHORIZATION, CONTENT_TYPE, request_id.clone()])
            .expose_headers([request_id, header::RETRY_AFTER])
            .max_age(Duration::from_secs(600)),
    )
}

/// A CORS preflight from an allowed origin is answered 204 No Content (tower-http answers
/// 200); from any other origin 403 with no CORS header at all.
async fn preflight_answer(request: Request, next: Next) -> Response {
    let preflight = request.method() == axum::http::Method::OPTIONS;
    let response = next.run(request).await;
    if !preflight || response.status() != StatusCode::OK {
        return response;
    }
    if response
        .headers()
        .contains_key(axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN)
    {
        let (mut parts, body) = response.into_parts();
        parts.status = StatusCode::NO_CONTENT;
        return Response::from_parts(parts, body);
    }
    ApiError::forbidden(
        "origin_not_allowed",
        "this origin may not call the API from a browser (server.cors_origins)",
    )
    .into_response()
}

/// The request's span: method (bounded), route (as matched, never the raw path) and id; when
/// traces are exported (`telemetry`), also the tick that applied the request's command.
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "http",
        method = method_label(request.method()),
        route,
        request_id,
        tick = tracing::field::Empty
    )
}

/// A method as a bounded label: the standard ones by name, anything else `other`.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Errors the stack itself produces (a timeout's 408, a body limit's 413, hyper's or a
/// layer's empty answers) get the same JSON body as the handlers' errors.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let code = match status {
        StatusCode::REQUEST_TIMEOUT => "body_timeout",
        StatusCode::SERVICE_UNAVAILABLE => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "headers_too_large",
        _ => "http_error",
    };
    let message = match status {
        StatusCode::REQUEST_TIMEOUT => "the request's body did not arrive in time".to_string(),
        StatusCode::SERVICE_UNAVAILABLE => {
            "the server could not answer in time; the request may have taken effect".to_string()
        }
        _ => status.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let (mut parts, _) = response.into_parts();
    let body =
        serde_json::to_vec(&WireError::new(status.as_u16(), code, message)).unwrap_or_default();
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.remove(axum::http::header::CONTENT_ENCODING);
    parts.headers.insert(
        CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        parts.headers.insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        );
    }
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// The operations router for `server.metrics_listen`: metrics, liveness and readiness.
pub fn operations_router(state: AppState) -> Router {
    use axum::routing::get;
    Router::new()
        .route("/metrics", get(api::metrics))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .fallback(not_found)
        .with_state(state)
}

/// Every (method, path) the OpenAPI document lists, for tests.
pub fn documented_routes(openapi_json: &str) -> HashSet<(String, String)> {
    let Ok(document) = serde_json::from_str::<serde_json::Value>(openapi_json) else {
        return HashSet::new();
    };
    let mut routes = HashSet::new();
    if let Some(paths) = document.get("paths").and_then(|p| p.as_object()) {
        for (path, item) in paths {
            if let Some(item) = item.as_object() {
                for method in item.keys() {
                    routes.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
    }
    routes
}

async fn not_found() -> ApiError {
    ApiError::not_found("no_route", "no such route; see /openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method; see /openapi.json",
    )
}

/// A latency sample per request, labelled by route (as matched, not the raw path, so ids do
/// not explode the label set), a bounded method and the status. Runs inside the request's
/// span (`request_span`), so its log line carries the request id.
async fn observe_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |path| path.as_str().to_string());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    metrics::histogram!(
        "matchwright_http_request_duration_seconds",
        "method" => method,
        "route" => route,
        "status" => status.to_string()
    )
    .record(elapsed.as_secs_f64());
    tracing::debug!(status, ms = elapsed.as_secs_f64() * 1e3, "request");
    response
}

/// The Prometheus recorder, installed once per process (tests start several servers).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let seconds = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0, 60.0, 120.0, 300.0,
            ];
            let quality = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(MetricName::Suffix("_seconds".into()), &seconds)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        MetricName::Full("matchwright_match_quality".into()),
                        &quality,
                    )
                });
            let builder = match builder {
                Ok(builder) => builder,
                Err(error) => {
                    tracing::warn!(%error, "metric buckets not set");
                    PrometheusBuilder::new()
                }
            };
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was installed already; /metrics may be empty");
            }
            crate::instruments::describe_all();
            handle
        })
        .clone()
}

/// How to start a server.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The configuration.
    pub settings: Settings,
    /// Where the data lives (created if missing).
    pub data_dir: PathBuf,
    /// The Postgres mirror, if any.
    pub postgres: Option<String>,
    /// `--record`: write the tick loop's input stream as trace segments.
    pub record: Option<matchwright_replay::record::RecordOptions>,
    /// Where the settings came from, for `POST /v1/admin/config/reload` (none: reloads are
    /// refused).
    pub source: Option<(Option<PathBuf>, crate::environment::Environment)>,
}

/// A started server: the router to serve, and its background parts.
#[derive(Debug)]
pub struct Started {
    /// The state handlers share.
    pub state: AppState,
    /// The router.
    pub router: Router,
    /// The tick loop.
    pub tick_loop: Running,
    /// What recovery did.
    pub recovery: matchwright_storage::RecoveryReport,
    /// Where generated secrets are kept, if they are.
    pub secrets_file: Option<PathBuf>,
    /// The operations listener (`server.metrics_listen`), bound.
    pub operations: Option<tokio::net::TcpListener>,
}

/// Opens the store in `data_dir` (recovering the matcher), starts the tick loop and builds
/// the router. Call from inside a tokio runtime.
pub fn start(options: ServeOptions) -> Result<Started, String> {
    let ServeOptions {
        settings,
        data_dir,
        postgres,
        record,
        source,
    } = options;
    let (secrets, opened) = open_data(&settings, &data_dir, postgres.is_some())?;
    // Each endpoint's place in the webhook outbox, before any tick can queue a row.
    let cursors = crate::webhooks::configure(&settings.webhooks, &opened.store.handle())?;
    // The tick loop commits every interval: handlers' writes join its transactions.
    opened.store.enable_group_commit();
    let recovery = opened.recovery.clone();
    let store_handle = opened.store.handle();
    let metrics = metrics_handle();
    let settings = Arc::new(settings);
    let shared = new_shared(&settings);
    if settings.fleet.servers.is_empty() && !settings.registration_open() {
        tracing::warn!(
            "no [fleet] configured: sessions are allocated on the development fleet (127.0.0.1:7777 in every region)"
        );
    }
    let registry = settings.registration_open().then(|| {
        let (regions, fixed) = (&settings.matcher.regions, settings.serve_fleet());
        Arc::new(Registry::new(&settings.fleet, regions, &fixed))
    });
    let fleet = Fleet {
        fixed: StaticFleet::new(&settings.serve_fleet()),
        registry: registry.clone(),
    };
    let outbox = opened.store.outbox_reader();
    let recorder = record
        .map(|options| matchwright_replay::record::Recorder::start(options, settings.server.seed))
        .transpose()?;
    let (tick_loop, ticks) = TickLoop::new(
        opened.matcher,
        opened.store,
        Box::new(fleet),
        Arc::clone(&settings),
        secrets.clone(),
        shared.clone(),
        Some(metrics.clone()),
        recorder,
    )?;
    let running = tick_loop.spawn()?;
    if let Some(url) = postgres {
        spawn_mirror(url, outbox, running.stop.subscribe());
    }
    let secrets_file = secrets.file.clone();
    let webhook_store = store_handle.clone();
    let records = Records::Local(store_handle);
    let state = assemble(settings, secrets, records, ticks, shared, None, registry)?;
    let webhooks = crate::webhooks::Webhooks::start(
        &state.settings.webhooks,
        state.settings.server.webhook_secret.as_deref(),
        webhook_store,
        &cursors,
        &running.stop.subscribe(),
    )?;
    if let Some(webhooks) = webhooks {
        let _ = state.webhooks.set(webhooks);
    }
    if let Some((path, environment)) = source {
        let _ = state.config_source.set(ConfigSource {
            path,
            environment,
            reloading: tokio::sync::Mutex::new(()),
        });
    }
    let router = router(state.clone());
    let operations = state
        .settings
        .server
        .metrics_listen
        .map(bind_now)
        .transpose()?;
    Ok(Started {
        state,
        router,
        tick_loop: running,
        recovery,
        secrets_file,
        operations,
    })
}

/// Creates `data_dir`, loads the secrets, raises the open-file limit for the connections
/// allowed, and opens the store in it (recovering the matcher); with `mirror`, the store
/// keeps rows for the Postgres mirror.
fn open_data(
    settings: &Settings,
    data_dir: &std::path::Path,
    mirror: bool,
) -> Result<(Secrets, matchwright_storage::Opened), String> {
    std::fs::create_dir_all(data_dir).map_err(|error| {
        format!(
            "cannot create the data directory {}: {error}",
            data_dir.display()
        )
    })?;
    let secrets = Secrets::load(&settings.server, data_dir)?;
    if let Some(warning) = crate::listener::raise_open_file_limit(settings.server.max_connections) {
        tracing::warn!("{warning}");
    }
    let store_options = StoreOptions {
        season: settings.server.season.clone(),
        mirror,
        // Ticks queue events for the webhook sender; a gateway's store commits no tick.
        webhooks: !settings.webhooks.endpoints.is_empty(),
        ..StoreOptions::default()
    };
    let opened = Store::open(
        data_dir.join("matchwright.redb"),
        settings.matcher.clone(),
        settings.server.seed,
        store_options,
    )
    .map_err(|error| error.to_string())?;
    Ok((secrets, opened))
}

/// The view, the hub, readiness and the lobby, empty.
fn new_shared(settings: &Settings) -> Shared {
    Shared {
        view: Arc::new(RwLock::new(View::default())),
        hub: Arc::new(Hub::new(
            settings.server.socket_buffer,
            settings.server.max_sockets_per_player,
        )),
        health: Arc::new(Health::default()),
        lobby: Arc::new(Lobby::new(settings.lobby.clone())),
        operators: Arc::default(),
    }
}

/// The handlers' state around a tick handle: ids, rate limits, password hashing.
fn assemble(
    settings: Arc<Settings>,
    secrets: Secrets,
    records: Records,
    ticks: TickHandle,
    shared: Shared,
    ids: Option<crate::gateway::IdBlocks>,
    fleet: Option<Arc<Registry>>,
) -> Result<AppState, String> {
    let player_ids = match (ids, &records) {
        (Some(blocks), _) => PlayerIdSource::Cluster(blocks),
        (None, Records::Local(store)) => PlayerIdSource::Local(AtomicU64::new(
            store
                .last_player_id()
                .map_err(|error| error.to_string())?
                .map_or(1, |last| last.0 + 1),
        )),
        (None, Records::Shared(_)) => {
            return Err("a shared record needs the cluster's player ids".into());
        }
    };
    // Party ids: above any party alive, and above any id an earlier run could have handed out
    // (it started from its own start time and hands out far fewer than one per millisecond).
    let next_party = shared
        .view
        .read()
        .map_err(|_| "the view is poisoned".to_string())?
        .max_party_id()
        .map_or(0, |party| party.0 + 1)
        .max(crate::clock::unix_ms());
    let rate_limiter = Arc::new(RateLimiter::new(&settings.rate_limits));
    let hashing = HashingPool::new(
        settings.server.hash_concurrency(),
        settings.server.password_hash_queue,
    );
    crate::ratelimit::spawn_sweeper(Arc::clone(&rate_limiter));
    let settings_matcher = settings.matcher.clone();
    Ok(AppState(Arc::new(AppInner {
        settings,
        secrets,
        records,
        ticks,
        shared,
        metrics: metrics_handle(),
        player_ids,
        next_party: AtomicU64::new(next_party),
        rate_limiter,
        hashing,
        openapi_json: OnceLock::new(),
        matcher: RwLock::new(Arc::new(settings_matcher)),
        fleet,
        webhooks: OnceLock::new(),
        config_source: OnceLock::new(),
    })))
}

/// Starts a gateway (`matchwright gateway`): the API of `serve` with no matcher of its own,
/// in front of the partitions `client` reaches (`gateway`). Its store (in `data_dir`) holds
/// the accounts of the players who register through it; the live view is built from the
/// partitions' snapshots and events before this returns. Call from inside a tokio runtime.
pub async fn start_gateway(
    settings: Settings,
    data_dir: PathBuf,
    client: async_nats::Client,
    options: crate::gateway::GatewayOptions,
) -> Result<Started, String> {
    // No tick loop commits here: the store writes accounts on its own (no group commit).
    let (secrets, opened) = open_data(&settings, &data_dir, false)?;
    if !settings.webhooks.endpoints.is_empty() {
        tracing::warn!("[webhooks] is for `serve`: a gateway sends no webhooks");
    }
    let store_handle = opened.store.handle();
    let recovery = opened.recovery.clone();
    let settings = Arc::new(settings);
    let shared = new_shared(&settings);
    let ids = crate::gateway::IdBlocks::open(&client).await?;
    let (gateway, ticks) = crate::gateway::Gateway::connect(
        client,
        &options,
        Arc::clone(&settings),
        secrets.clone(),
        shared.clone(),
    )
    .await?;
    let records = open_records(options.record.as_deref(), &settings, store_handle).await?;
    let shared_record = match &records {
        Records::Shared(record) => Some(Arc::clone(record)),
        Records::Local(_) => None,
    };
    let running = run_gateway(&gateway, ticks, opened.store, shared_record)?;
    let state = assemble(
        Arc::clone(&settings),
        secrets.clone(),
        records,
        TickHandle::cluster(gateway),
        shared,
        Some(ids),
        None,
    )?;
    let router = router(state.clone());
    let operations = settings.server.metrics_listen.map(bind_now).transpose()?;
    Ok(Started {
        state,
        router,
        tick_loop: running,
        recovery,
        secrets_file: secrets.file.clone(),
        operations,
    })
}

/// Connections a gateway opens to the shared record, at most (one more than this).
const RECORD_CONNECTIONS: usize = 16;

/// A gateway's record: the shared record in Postgres at `url`, or without one (development)
/// the gateway's own store. On the shared record every gateway must sign and check tokens
/// alike, so the secrets must be given, not generated per data directory.
async fn open_records(
    url: Option<&str>,
    settings: &Settings,
    store: StoreHandle,
) -> Result<Records, String> {
    let Some(url) = url else {
        tracing::warn!(
            "no --postgres: accounts live in this gateway's store (players log in where they registered) and the partitions' ratings are recorded nowhere; give every gateway the same --postgres in production"
        );
        return Ok(Records::Local(store));
    };
    shared_record_secrets(settings)?;
    let mut options = matchwright_storage::mirror::MirrorOptions::new(url);
    // The pool: requests, and a recorder per partition (which never waits on another's lock,
    // so holds a connection only while it writes).
    options.partitions = RECORD_CONNECTIONS;
    let record = SharedRecord::connect(&options, settings.server.season.clone())
        .await
        .map_err(|error| format!("the shared record (--postgres): {error}"))?;
    tracing::info!(
        target = record.target(),
        "accounts, ratings and history in Postgres"
    );
    Ok(Records::Shared(Arc::new(record)))
}

/// Refuses a gateway on the shared record whose secrets are not given: each gateway would
/// generate its own, and a token from one would be refused at the others.
pub fn shared_record_secrets(settings: &Settings) -> Result<(), String> {
    let server = &settings.server;
    let missing: Vec<&str> = [
        ("MATCHWRIGHT_JWT_SECRET", server.jwt_secret.is_none()),
        (
            "MATCHWRIGHT_SESSION_SECRET",
            server.session_secret.is_none(),
        ),
        (
            "MATCHWRIGHT_GAME_SERVER_KEY",
            server.game_server_key.is_none(),
        ),
    ]
    .into_iter()
    .filter_map(|(name, missing)| missing.then_some(name))
    .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "a gateway on the shared record (--postgres) needs the cluster's secrets, the same at every gateway; not given: {} (or their _FILE forms, or [server] in the config; see docs/configuration.md)",
        missing.join(", ")
    ))
}

/// A gateway's "tick loop": a follower per partition (from `ticks`, the tick each view is
/// at), the readiness watch and, with a shared record, a recorder per partition, stopped
/// together; the thread ends with the first follower that fails (or when all stop). It keeps
/// `store` open meanwhile.
fn run_gateway(
    gateway: &Arc<crate::gateway::Gateway>,
    ticks: Vec<u64>,
    store: Store,
    record: Option<Arc<SharedRecord>>,
) -> Result<Running, String> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut followers = tokio::task::JoinSet::new();
    for (index, tick) in ticks.into_iter().enumerate() {
        followers.spawn(Arc::clone(gateway).follow(index, tick, stopped.clone()));
    }
    if let Some(record) = &record {
        for (name, events) in gateway.partition_events() {
            let recording = Arc::clone(record);
            tokio::spawn(crate::recorder::record_partition(
                recording,
                events,
                name,
                stopped.clone(),
            ));
        }
    }
    tokio::spawn(Arc::clone(gateway).watch_health(stopped));
    let runtime = tokio::runtime::Handle::current();
    let thread = std::thread::Builder::new()
        .name("gateway".into())
        .spawn(move || {
            let _store = store;
            runtime.block_on(async move {
                while let Some(joined) = followers.join_next().await {
                    match joined {
                        Ok(Ok(())) => {}
                        Ok(Err(error)) => return Err(error),
                        Err(error) => {
                            return Err(format!("a partition's follower failed: {error}"));
                        }
                    }
                }
                Ok(())
            })
        })
        .map_err(|error| format!("cannot start the gateway's thread: {error}"))?;
    Ok(Running { thread, stop })
}

/// Binds `address` now (inside a runtime, without awaiting).
fn bind_now(address: std::net::SocketAddr) -> Result<tokio::net::TcpListener, String> {
    let bound = std::net::TcpListener::bind(address)
        .and_then(|listener| {
            listener.set_nonblocking(true)?;
            tokio::net::TcpListener::from_std(listener)
        })
        .map_err(|error| format!("cannot listen on {address} (server.metrics_listen): {error}"))?;
    Ok(bound)
}

/// Feeds the Postgres mirror from the outbox until stopped; retries while Postgres is away.
fn spawn_mirror(
    url: String,
    outbox: matchwright_storage::OutboxReader,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let options = matchwright_storage::mirror::MirrorOptions::new(url);
        let mut delay = Duration::from_millis(500);
        let mirror = loop {
            match matchwright_storage::mirror::Mirror::connect(&options).await {
                Ok(mirror) => break mirror,
                Err(error) => {
                    tracing::warn!(%error, "the Postgres mirror is not reachable; retrying (nothing is lost: rows wait in the outbox)");
                    if *stop.borrow() {
                        return;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        };
        tracing::info!(target = mirror.target(), "mirroring to Postgres");
        let stats = matchwright_storage::mirror::drain(outbox, mirror, options, stop).await;
        tracing::info!(?stats, "the Postgres mirror stopped");
    });
}

/// Serves `router` on `listener` until `shutdown` resolves or the tick loop stops, then stops
/// the tick loop (it commits what it has) and returns its outcome.
pub async fn serve(
    started: Started,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let Started {
        router,
        tick_loop,
        state,
        operations,
        ..
    } = started;
    let limits = crate::listener::ConnectionLimits::of(&state.settings.server);
    let (operations_stop, operations_stopped) = tokio::sync::watch::channel(false);
    if let Some(listener) = operations {
        let router = operations_router(state.clone());
        let limits = crate::listener::ConnectionLimits {
            name: "operations",
            ..limits
        };
        let mut stopped = operations_stopped;
        tokio::spawn(crate::listener::serve(
            listener,
            router,
            limits,
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            },
        ));
    }
    let hub = Arc::clone(&state.shared.hub);
    let health = Arc::clone(&state.shared.health);
    let Running { thread, stop } = tick_loop;
    let mut stopped = stop.subscribe();
    let (failed_tx, failed_rx) = tokio::sync::oneshot::channel::<()>();
    // Watch the tick thread: if it ends on its own (a failed commit), stop serving.
    let watcher = std::thread::spawn(move || {
        let outcome = thread.join();
        let _ = failed_tx.send(());
        outcome
    });
    let (draining, mut drain_started) = tokio::sync::watch::channel(false);
    let stopping = async move {
        tokio::select! {
            () = shutdown => {}
            _ = failed_rx => {}
            _ = stopped.changed() => {}
        }
        // Load balancers stop sending new players; live-event sockets get their close frames
        // while the listener drains.
        health.set_stopping();
        hub.close_all();
        draining.send_replace(true);
    };
    // Upgraded sockets are not the listener's any more: wait for them too, within the grace.
    let sockets_closed = async {
        if drain_started.wait_for(|started| *started).await.is_ok() {
            let hub = &state.shared.hub;
            let all_closed = async {
                while hub.open_sockets() > 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            };
            let _ = tokio::time::timeout(limits.shutdown_grace, all_closed).await;
        }
    };
    tokio::join!(
        crate::listener::serve(listener, router, limits, stopping),
        sockets_closed
    );
    operations_stop.send_replace(true);
    let _ = stop.send(true);
    let outcome = tokio::task::spawn_blocking(move || watcher.join())
        .await
        .map_err(|error| error.to_string())?;
    match outcome {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(error))) => Err(error),
        _ => Err("the tick loop panicked".into()),
    }
}
