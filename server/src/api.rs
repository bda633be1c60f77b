//! The HTTP API under `/v1`: one handler per route (the party routes are in `party`, the
//! leaderboards in `boards`). Each handler is documented with `#[utoipa::path]`, and the
//! router is built from those very annotations (`app::router`), so `/openapi.json` lists
//! exactly the routes that exist.
//!
//! A handler only extracts (token, path, query, JSON body), calls its `service` function and
//! wraps the answer (status, JSON). The bodies are the wire's types
//! (`matchwright_transport::wire`), the same the QUIC requests carry; so is the error body.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use matchwright_transport::wire::{
    AvoidList, AvoidListUpdate, BackfillRequest, Done, EnqueueRequest, Event, Explanation, Health,
    LeaveRequest, LoginRequest, Profile, ProfilePatch, QueueList, QueueStatus, RefreshRequest,
    RegisterRequest, ResultRequest, Session, SessionAck, Tokens, WireError,
};

use crate::app::AppState;
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::guard::{AuthPlayer, GameServer};
use crate::listener::ConnectionSlot;
use crate::service::{accounts, matches, profile, queue, sessions};
use crate::websocket::{SocketTimeouts, pump_events};

// ---------------------------------------------------------------------------------------------
// Auth

/// Creates an account and logs it in.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Created and logged in", body = Tokens),
        (status = 409, description = "The username is taken", body = WireError),
        (status = 422, description = "A field is not valid", body = WireError)))]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<Tokens>), ApiError> {
    let tokens = accounts::register(&state, request).await?;
    Ok((StatusCode::CREATED, Json(tokens)))
}

/// Logs in with a username and password.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = Tokens),
        (status = 401, description = "Wrong username or password", body = WireError)))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Json<Tokens>, ApiError> {
    Ok(Json(accounts::login(&state, request).await?))
}

/// Exchanges a refresh token for new tokens. The old one is spent; presenting a spent one
/// again revokes every token of its login.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = Tokens),
        (status = 401, description = "Unknown, expired, or reused (the family is now revoked)", body = WireError)))]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<Json<Tokens>, ApiError> {
    Ok(Json(accounts::refresh(&state, request).await?))
}

/// Logs out: revokes every token of the refresh token's login.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 204, description = "Logged out (also when the token was already gone)"),
        (status = 401, description = "Not a refresh token of ours", body = WireError)))]
pub async fn logout(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    accounts::logout(&state, request).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Profile

/// The caller's profile and ratings.
#[utoipa::path(get, path = "/v1/profile/me", tag = "profile", security(("bearer" = [])),
    responses(
        (status = 200, description = "The profile", body = Profile),
        (status = 401, description = "No valid access token", body = WireError)))]
pub async fn get_profile(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
) -> Result<Json<Profile>, ApiError> {
    Ok(Json(profile::profile(&state, player).await?))
}

/// Changes the caller's display name or region preferences.
#[utoipa::path(patch, path = "/v1/profile/me", tag = "profile", security(("bearer" = [])),
    request_body = ProfilePatch,
    responses(
        (status = 200, description = "The updated profile", body = Profile),
        (status = 401, description = "No valid access token", body = WireError),
        (status = 422, description = "A field is not valid", body = WireError)))]
pub async fn patch_profile(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiJson(patch): ApiJson<ProfilePatch>,
) -> Result<Json<Profile>, ApiError> {
    Ok(Json(profile::update_profile(&state, player, patch).await?))
}

/// The players the caller will not be matched with.
#[utoipa::path(get, path = "/v1/profile/avoid", tag = "profile", security(("bearer" = [])),
    responses(
        (status = 200, description = "The avoid list and its limit", body = AvoidList),
        (status = 401, description = "No valid access token", body = WireError)))]
pub async fn get_avoid_list(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
) -> Result<Json<AvoidList>, ApiError> {
    Ok(Json(profile::avoid_list(&state, player).await?))
}

/// Replaces the caller's avoid list (an empty list clears it). The players on it are never
/// in the caller's matches (or, in queues with `block_lists = "opposing_teams"`, never
/// opponents), both ways, from the caller's next enqueue on.
#[utoipa::path(put, path = "/v1/profile/avoid", tag = "profile", security(("bearer" = [])),
    request_body = AvoidListUpdate,
    responses(
        (status = 200, description = "The avoid list as stored", body = AvoidList),
        (status = 401, description = "No valid access token", body = WireError),
        (status = 422, description = "More players than `limits.max_avoid_list`, the caller, or a player who does not exist (`field`: `players`)", body = WireError)))]
pub async fn put_avoid_list(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiJson(update): ApiJson<AvoidListUpdate>,
) -> Result<Json<AvoidList>, ApiError> {
    Ok(Json(profile::set_avoid_list(&state, player, update).await?))
}

// ---------------------------------------------------------------------------------------------
// Queue and matches

/// Joins a queue: solo, or, when the caller leads a party whose other members are all ready,
/// the whole party as one ticket (it lands on one team).
#[utoipa::path(post, path = "/v1/queue", tag = "queue", security(("bearer" = [])),
    request_body = EnqueueRequest,
    responses(
        (status = 201, description = "Queued (the status as of the tick that queued it)", body = QueueStatus),
        (status = 401, description = "No valid access token", body = WireError),
        (status = 403, description = "In a party the caller does not lead", body = WireError),
        (status = 409, description = "Already queued or in a match, or party members not ready", body = WireError),
        (status = 422, description = "Unknown queue or region, no region reachable, or an attribute (`attributes.NAME`, `members.ID.attributes.NAME`), role (`roles`, `members.ID.roles`) or avoid list (`avoid`) the queue does not take; nothing is queued", body = WireError),
        (status = 503, description = "The server is busy or the queue is full", body = WireError)))]
pub async fn enqueue(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiJson(request): ApiJson<EnqueueRequest>,
) -> Result<(StatusCode, Json<QueueStatus>), ApiError> {
    let status = queue::enqueue(&state, player, request).await?;
    Ok((StatusCode::CREATED, Json(status)))
}

/// The queues, regions and season this server runs.
#[utoipa::path(get, path = "/v1/queues", tag = "queue",
    responses((status = 200, description = "The queues", body = QueueList)))]
pub async fn list_queues(State(state): State<AppState>) -> Json<QueueList> {
    Json(queue::queues(&state).await)
}

/// Where the caller is: queued (with waiting time and the windows in force), awaiting
/// acceptance, in a match, or idle.
#[utoipa::path(get, path = "/v1/queue", tag = "queue", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's status", body = QueueStatus),
        (status = 401, description = "No valid access token", body = WireError)))]
pub async fn get_queue(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
) -> Json<QueueStatus> {
    Json(queue::status(&state, player).await)
}

/// Why the caller's queued ticket has not matched yet: each check (skill window, latency,
/// avoid lists, the queue's rules) with how many tickets of the queue pass it, which block,
/// and when each bound relaxes. As of the last tick.
#[utoipa::path(get, path = "/v1/queue/explain", tag = "queue", security(("bearer" = [])),
    responses(
        (status = 200, description = "The explanation", body = Explanation),
        (status = 401, description = "No valid access token", body = WireError),
        (status = 404, description = "Not queued (`not_queued`)", body = WireError)))]
pub async fn explain_queue(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
) -> Result<Json<Explanation>, ApiError> {
    Ok(Json(queue::explain(&state, player).await?))
}

/// Leaves the queue (declining a proposed match, if one awaits acceptance).
#[utoipa::path(delete, path = "/v1/queue", tag = "queue", security(("bearer" = [])),
    responses(
        (status = 200, description = "Left the queue", body = Done),
        (status = 401, description = "No valid access token", body = WireError),
        (status = 404, description = "Not queued", body = WireError),
        (status = 409, description = "In a match already", body = WireError)))]
pub async fn leave_queue(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
) -> Result<Json<Done>, ApiError> {
    Ok(Json(queue::cancel(&state, player).await?))
}

/// Accepts a proposed match.
#[utoipa::path(post, path = "/v1/match/{id}/accept", tag = "queue", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The match")),
    responses(
        (status = 200, description = "Accepted", body = Done),
        (status = 401, description = "No valid access token", body = WireError),
        (status = 403, description = "Not a player of the match", body = WireError),
        (status = 404, description = "No such live match", body = WireError),
        (status = 409, description = "The match is not awaiting acceptance", body = WireError)))]
pub async fn accept_match(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<Done>, ApiError> {
    Ok(Json(matches::accept(&state, player, id).await?))
}

/// Declines a proposed match: the caller leaves the queue; everyone else goes back with
/// their waiting time.
#[utoipa::path(post, path = "/v1/match/{id}/decline", tag = "queue", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The match")),
    responses(
        (status = 200, description = "Declined", body = Done),
        (status = 401, description = "No valid access token", body = WireError),
        (status = 403, description = "Not a player of the match", body = WireError),
        (status = 404, description = "No such live match", body = WireError),
        (status = 409, description = "The match is not awaiting acceptance", body = WireError)))]
pub async fn decline_match(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<Done>, ApiError> {
    Ok(Json(matches::decline(&state, player, id).await?))
}

// ---------------------------------------------------------------------------------------------
// Sessions

/// The session of a match the caller plays in: the game server and a session token.
#[utoipa::path(get, path = "/v1/session/{match_id}", tag = "sessions", security(("bearer" = [])),
    params(("match_id" = u64, Path, description = "The match")),
    responses(
        (status = 200, description = "The session", body = Session),
        (status = 401, description = "No valid access token", body = WireError),
        (status = 403, description = "Not a player of the match", body = WireError),
        (status = 404, description = "No such match", body = WireError)))]
pub async fn get_session(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<Session>, ApiError> {
    Ok(Json(sessions::session(&state, player, id).await?))
}

// ---------------------------------------------------------------------------------------------
// Game servers (HTTP only)

/// The game server is alive (keeps the session from timing out).
#[utoipa::path(post, path = "/v1/server/session/{id}/heartbeat", tag = "game servers",
    security(("game_server_key" = [])),
    params(("id" = u64, Path, description = "The match")),
    responses(
        (status = 200, description = "Noted", body = SessionAck),
        (status = 401, description = "No valid server key or registered server credential", body = WireError),
        (status = 403, description = "A registered server acting on a session it does not host (`not_your_session`)", body = WireError),
        (status = 404, description = "No such running session", body = WireError),
        (status = 409, description = "The session is not active", body = WireError)))]
pub async fn heartbeat(
    State(state): State<AppState>,
    server: GameServer,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<SessionAck>, ApiError> {
    server.may_act_on(&state, id)?;
    Ok(Json(sessions::heartbeat(&state, id).await?))
}

/// The session's result: it ends and its players' ratings update.
#[utoipa::path(post, path = "/v1/server/session/{id}/result", tag = "game servers",
    security(("game_server_key" = [])),
    params(("id" = u64, Path, description = "The match")),
    request_body = ResultRequest,
    responses(
        (status = 200, description = "The session ended; ratings updated", body = SessionAck),
        (status = 401, description = "No valid server key or registered server credential", body = WireError),
        (status = 403, description = "A registered server acting on a session it does not host (`not_your_session`)", body = WireError),
        (status = 404, description = "No such running session", body = WireError),
        (status = 422, description = "The result does not fit the match", body = WireError)))]
pub async fn report_result(
    State(state): State<AppState>,
    server: GameServer,
    ApiPath(id): ApiPath<u64>,
    ApiJson(request): ApiJson<ResultRequest>,
) -> Result<Json<SessionAck>, ApiError> {
    server.may_act_on(&state, id)?;
    Ok(Json(sessions::report_result(&state, id, request).await?))
}

/// A player left the running game: the slot is free for backfill (`.../backfill`). When the
/// last player leaves, the session is abandoned (`empty`).
#[utoipa::path(post, path = "/v1/server/session/{id}/leave", tag = "game servers",
    security(("game_server_key" = [])),
    params(("id" = u64, Path, description = "The match")),
    request_body = LeaveRequest,
    responses(
        (status = 200, description = "The player is out of the session", body = SessionAck),
        (status = 401, description = "No valid server key or registered server credential", body = WireError),
        (status = 403, description = "A registered server acting on a session it does not host (`not_your_session`)", body = WireError),
        (status = 404, description = "No such running session", body = WireError),
        (status = 403, description = "The player is not in the session", body = WireError),
        (status = 409, description = "The session is ending", body = WireError)))]
pub async fn leave_session(
    State(state): State<AppState>,
    server: GameServer,
    ApiPath(id): ApiPath<u64>,
    ApiJson(request): ApiJson<LeaveRequest>,
) -> Result<Json<SessionAck>, ApiError> {
    server.may_act_on(&state, id)?;
    Ok(Json(sessions::leave(&state, id, request).await?))
}

/// The session ended without a result (ratings unchanged): a game cut short, a server shut
/// down.
#[utoipa::path(post, path = "/v1/server/session/{id}/end", tag = "game servers",
    security(("game_server_key" = [])),
    params(("id" = u64, Path, description = "The match")),
    responses(
        (status = 200, description = "The session ended", body = SessionAck),
        (status = 401, description = "No valid server key or registered server credential", body = WireError),
        (status = 403, description = "A registered server acting on a session it does not host (`not_your_session`)", body = WireError),
        (status = 404, description = "No such running session", body = WireError)))]
pub async fn end_session(
    State(state): State<AppState>,
    server: GameServer,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<SessionAck>, ApiError> {
    server.may_act_on(&state, id)?;
    Ok(Json(sessions::end(&state, id).await?))
}

/// Asks for players to fill open slots of a running session (all zeros withdraws).
#[utoipa::path(post, path = "/v1/server/session/{id}/backfill", tag = "game servers",
    security(("game_server_key" = [])),
    params(("id" = u64, Path, description = "The match")),
    request_body = BackfillRequest,
    responses(
        (status = 202, description = "Requested (or withdrawn)", body = SessionAck),
        (status = 401, description = "No valid server key or registered server credential", body = WireError),
        (status = 403, description = "A registered server acting on a session it does not host (`not_your_session`)", body = WireError),
        (status = 404, description = "No such running session", body = WireError),
        (status = 409, description = "Nothing to withdraw", body = WireError),
        (status = 422, description = "The slots do not fit the teams", body = WireError)))]
pub async fn request_backfill(
    State(state): State<AppState>,
    server: GameServer,
    ApiPath(id): ApiPath<u64>,
    ApiJson(request): ApiJson<BackfillRequest>,
) -> Result<(StatusCode, Json<SessionAck>), ApiError> {
    server.may_act_on(&state, id)?;
    let ack = sessions::backfill(&state, id, request).await?;
    Ok((StatusCode::ACCEPTED, Json(ack)))
}

// ---------------------------------------------------------------------------------------------
// Live events

/// The largest message a client may send on the event WebSocket; a larger one ends it.
const MAX_CLIENT_MESSAGE_BYTES: usize = 4 * 1024;

/// Live events over WebSocket: one JSON text message per event, starting with `welcome`.
///
/// Each message is an `Event` variant's fields plus `"type": "<variant in snake_case>"`, e.g.
/// `{"type": "match_accepted", "match_id": 7, "player_id": 1}` (the `Event` schema lists the
/// variants and their fields; QUIC clients get the same events as frames). Authenticate with
/// `Authorization: Bearer` or, from browsers, the `access_token` query parameter. A client
/// that stops reading is disconnected (close code 1008); reconnect and read `GET /v1/queue`.
#[utoipa::path(get, path = "/v1/events", tag = "events", security(("bearer" = [])),
    params(("access_token" = Option<String>, Query, description = "The access token, when no Authorization header can be sent")),
    responses(
        (status = 101, description = "Switching to WebSocket; each message is an `Event` variant's fields plus `\"type\": \"<variant in snake_case>\"`", body = Event),
        (status = 401, description = "No valid access token", body = WireError),
        (status = 409, description = "Too many sockets for this player", body = WireError)))]
pub async fn events(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    slot: Option<Extension<ConnectionSlot>>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let subscription = state.shared.hub.subscribe(player).map_err(|refused| {
        ApiError::conflict(
            "too_many_sockets",
            format!(
                "you hold {} live-event sockets already; close one first",
                refused.limit
            ),
        )
    })?;
    let closing = state.shared.hub.closing();
    let server = &state.settings.server;
    let timeouts = SocketTimeouts {
        write: Duration::from_millis(server.websocket_write_timeout_ms),
        idle: Duration::from_millis(server.websocket_idle_timeout_ms),
    };
    let slot = slot.map(|Extension(slot)| slot);
    // Clients send nothing but pongs and close frames: small messages only.
    Ok(upgrade
        .max_message_size(MAX_CLIENT_MESSAGE_BYTES)
        .max_frame_size(MAX_CLIENT_MESSAGE_BYTES)
        .read_buffer_size(MAX_CLIENT_MESSAGE_BYTES)
        .write_buffer_size(0)
        .on_upgrade(move |socket| {
            pump_events(socket, player.0, subscription, closing, timeouts, slot)
        })
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// Operations

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        tick: state.shared.health.last_tick.load(Ordering::Relaxed),
    })
}

/// Readiness: the tick loop is ticking and the store takes writes.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Not ready, and why", body = WireError)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    if let Some(reason) = state
        .shared
        .health
        .not_ready(state.settings.server.tick_interval_ms)
    {
        return Err(ApiError::unavailable("not_ready", reason));
    }
    Ok(Json(Health {
        status: "ready".into(),
        tick: state.shared.health.last_tick.load(Ordering::Relaxed),
    }))
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Metrics", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    crate::instruments::sample_process();
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// This API's OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
pub async fn openapi(State(state): State<AppState>) -> Response {
    let json = state.openapi_json.get().cloned().unwrap_or_default();
    ([(CONTENT_TYPE, "application/json")], json).into_response()
}
