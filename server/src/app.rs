//! Wiring: opening the store, starting the tick loop, the router (built from the handlers'
//! OpenAPI annotations, so the document and the routes cannot drift), the HTTP middleware
//! (a tracing span and a latency histogram per route), and serving until told to stop.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use matchwright_storage::{Store, StoreHandle, StoreOptions};
use metrics_exporter_prometheus::{Matcher as MetricName, PrometheusBuilder, PrometheusHandle};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use matchwright_transport::wire::{Event, WireError};

use crate::error::ApiError;
use crate::fleet::StaticFleet;
use crate::hub::Hub;
use crate::lobby::Lobby;
use crate::ratelimit::RateLimiter;
use crate::settings::{Secrets, Settings};
use crate::tick::{Health, Running, Shared, TickHandle, TickLoop};
use crate::view::View;
use crate::{api, boards, party};

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
    /// Reads and account writes.
    pub store: StoreHandle,
    /// The tick loop's door.
    pub ticks: TickHandle,
    /// The view, the hub and readiness.
    pub shared: Shared,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// The next player id to hand out.
    pub next_player: AtomicU64,
    /// The next party id to hand out.
    pub next_party: AtomicU64,
    /// Request rate limits.
    pub rate_limiter: Arc<RateLimiter>,
    /// `/openapi.json`, set once the router is built.
    pub openapi_json: OnceLock<String>,
}

impl Deref for AppState {
    type Target = AppInner;

    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl AppState {
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
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(api::register))
        .routes(routes!(api::login))
        .routes(routes!(api::refresh))
        .routes(routes!(api::logout))
        .routes(routes!(api::get_profile, api::patch_profile))
        .routes(routes!(api::enqueue, api::get_queue, api::leave_queue))
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
        .routes(routes!(api::events))
        .routes(routes!(api::healthz))
        .routes(routes!(api::readyz))
        .routes(routes!(api::metrics))
        .routes(routes!(api::openapi))
        .split_for_parts();
    let json = openapi
        .to_pretty_json()
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    let _ = state.openapi_json.set(json);
    let body_limit = state.settings.server.body_limit_bytes;
    router
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            crate::ratelimit::Gate {
                limiter: Arc::clone(&state.rate_limiter),
                jwt_secret: state.secrets.jwt.as_slice().into(),
            },
            crate::ratelimit::limit_requests,
        ))
        .layer(middleware::from_fn(observe_request))
        .layer(DefaultBodyLimit::max(body_limit))
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
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method; see /openapi.json",
    )
}

/// A span and a latency sample per request, labelled by route (not by raw path, so ids do
/// not explode the label set).
async fn observe_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |path| path.as_str().to_string());
    let method = request.method().to_string();
    let span = tracing::info_span!("http", %method, %route);
    let started = Instant::now();
    let response = {
        let _entered = span.enter();
        next.run(request)
    }
    .await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    metrics::histogram!(
        "matchwright_http_request_duration_seconds",
        "method" => method.clone(),
        "route" => route.clone(),
        "status" => status.to_string()
    )
    .record(elapsed.as_secs_f64());
    tracing::debug!(parent: &span, status, ms = elapsed.as_secs_f64() * 1e3, "request");
    response.into_response()
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
    pub record: Option<crate::record::RecordOptions>,
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
}

/// Opens the store in `data_dir` (recovering the matcher), starts the tick loop and builds
/// the router. Call from inside a tokio runtime.
pub fn start(options: ServeOptions) -> Result<Started, String> {
    let ServeOptions {
        settings,
        data_dir,
        postgres,
        record,
    } = options;
    std::fs::create_dir_all(&data_dir).map_err(|error| {
        format!(
            "cannot create the data directory {}: {error}",
            data_dir.display()
        )
    })?;
    let secrets = Secrets::load(&settings.server, &data_dir)?;
    let store_options = StoreOptions {
        season: settings.server.season.clone(),
        mirror: postgres.is_some(),
        ..StoreOptions::default()
    };
    let opened = Store::open(
        data_dir.join("matchwright.redb"),
        settings.matcher.clone(),
        settings.server.seed,
        store_options,
    )
    .map_err(|error| error.to_string())?;
    let recovery = opened.recovery.clone();
    let store_handle = opened.store.handle();
    let next_player = store_handle
        .last_player_id()
        .map_err(|error| error.to_string())?
        .map_or(1, |last| last.0 + 1);
    let metrics = metrics_handle();
    let settings = Arc::new(settings);
    let shared = Shared {
        view: Arc::new(RwLock::new(View::default())),
        hub: Arc::new(Hub::new(
            settings.server.socket_buffer,
            settings.server.max_sockets_per_player,
        )),
        health: Arc::new(Health::default()),
        lobby: Arc::new(Lobby::new(settings.lobby.clone())),
    };
    if settings.fleet.servers.is_empty() {
        tracing::warn!(
            "no [fleet] configured: sessions are allocated on the development fleet (127.0.0.1:7777 in every region)"
        );
    }
    let fleet = StaticFleet::new(&settings.effective_fleet());
    let outbox = opened.store.outbox_reader();
    let recorder = record
        .map(|options| crate::record::Recorder::start(options, settings.server.seed))
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
    crate::ratelimit::spawn_sweeper(Arc::clone(&rate_limiter));
    let state = AppState(Arc::new(AppInner {
        settings,
        secrets,
        store: store_handle,
        ticks,
        shared,
        metrics,
        next_player: AtomicU64::new(next_player),
        next_party: AtomicU64::new(next_party),
        rate_limiter,
        openapi_json: OnceLock::new(),
    }));
    let router = router(state.clone());
    Ok(Started {
        state,
        router,
        tick_loop: running,
        recovery,
        secrets_file,
    })
}

/// Feeds the Postgres mirror from the outbox until stopped; retries while Postgres is away.
fn spawn_mirror(
    url: String,
    outbox: matchwright_storage::OutboxReader,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let options = matchwright_storage::mirror::MirrorOptions::new(url);
        let mut delay = std::time::Duration::from_millis(500);
        let mirror = loop {
            match matchwright_storage::mirror::Mirror::connect(&options).await {
                Ok(mirror) => break mirror,
                Err(error) => {
                    tracing::warn!(%error, "the Postgres mirror is not reachable; retrying (nothing is lost: rows wait in the outbox)");
                    if *stop.borrow() {
                        return;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(30));
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
        router, tick_loop, ..
    } = started;
    let Running { thread, stop } = tick_loop;
    let mut stopped = stop.subscribe();
    let (failed_tx, failed_rx) = tokio::sync::oneshot::channel::<()>();
    // Watch the tick thread: if it ends on its own (a failed commit), stop serving.
    let watcher = std::thread::spawn(move || {
        let outcome = thread.join();
        let _ = failed_tx.send(());
        outcome
    });
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        tokio::select! {
            () = shutdown => {}
            _ = failed_rx => {}
            _ = stopped.changed() => {}
        }
    });
    let served = server.await;
    let _ = stop.send(true);
    let outcome = tokio::task::spawn_blocking(move || watcher.join())
        .await
        .map_err(|error| error.to_string())?;
    served.map_err(|error| format!("the HTTP server failed: {error}"))?;
    match outcome {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(error))) => Err(error),
        _ => Err("the tick loop panicked".into()),
    }
}
