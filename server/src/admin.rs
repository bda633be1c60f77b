//! The admin routes (`/v1/admin/...`, HTTP only), for operators authenticated by an operator
//! key (`guard::Operator`): reads open to every operator key, actions to admin keys only (a
//! read-only key is 403 `read_only_operator`, and the attempt is audited). The work is
//! `service::admin`'s; explain is `service::queue`'s, as for players.

// utoipa's expansion of `params(SomeQuery)` qualifies paths the lint calls unnecessary.
#![allow(unused_qualifications)]

use axum::Json;
use axum::extract::State;
use matchwright_ecs::TicketId;
use matchwright_transport::wire::{
    AdminDone, AdminMatch, AdminMatches, AdminPlayer, AdminQueues, AdminTicket, AdminTicketQuery,
    AdminTickets, AuditPage, AuditQuery, Ban, BanRequest, Explanation, FleetServers,
    SetRatingRequest, WebhookStatus, WireError,
};

use crate::app::AppState;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::guard::Operator;
use crate::service::{admin, queue};

/// Every queue: how many tickets and players wait, how long they have waited, and the windows
/// in force at the median wait.
#[utoipa::path(get, path = "/v1/admin/queues", tag = "admin",
    security(("operator_key" = [])),
    responses(
        (status = 200, description = "The queues", body = AdminQueues),
        (status = 401, description = "No operator key, or not a valid one", body = WireError),
        (status = 403, description = "A player's access token, or no operator key configured (`not_operator`)", body = WireError)))]
pub async fn queues(State(state): State<AppState>, _operator: Operator) -> Json<AdminQueues> {
    Json(admin::queues(&state))
}

/// Live tickets (queued, or in a proposed match), the longest waiting first.
#[utoipa::path(get, path = "/v1/admin/tickets", tag = "admin",
    security(("operator_key" = [])),
    params(AdminTicketQuery),
    responses(
        (status = 200, description = "The tickets", body = AdminTickets),
        (status = 401, description = "No operator key, or not a valid one", body = WireError),
        (status = 403, description = "Not an operator (`not_operator`)", body = WireError),
        (status = 422, description = "Unknown queue or bad limit", body = WireError)))]
pub async fn tickets(
    State(state): State<AppState>,
    _operator: Operator,
    ApiQuery(query): ApiQuery<AdminTicketQuery>,
) -> Result<Json<AdminTickets>, ApiError> {
    admin::tickets(&state, &query).map(Json)
}

/// One live ticket.
#[utoipa::path(get, path = "/v1/admin/tickets/{id}", tag = "admin",
    security(("operator_key" = [])),
    params(("id" = u64, Path, description = "The ticket")),
    responses(
        (status = 200, description = "The ticket", body = AdminTicket),
        (status = 401, description = "No operator key, or not a valid one", body = WireError),
        (status = 403, description = "Not an operator (`not_operator`)", body = WireError),
        (status = 404, description = "No live ticket has this id (`unknown_ticket`)", body = WireError)))]
pub async fn ticket(
    State(state): State<AppState>,
    _operator: Operator,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<AdminTicket>, ApiError> {
    admin::ticket(&state, id).map(Json)
}

/// Why any live ticket has not matched yet (as `GET /v1/queue/explain`).
#[utoipa::path(get, path = "/v1/admin/tickets/{id}/explain", tag = "admin",
    security(("operator_key" = [])),
    params(("id" = u64, Path, description = "The ticket (a solo player's ticket id is the player's id, a party's its leader's)")),
    responses(
        (status = 200, description = "The explanation", body = Explanation),
        (status = 401, description = "No operator key, or not a valid one", body = WireError),
        (status = 403, description = "A player's access token, or no operator key configured (`not_operator`)", body = WireError),
        (status = 404, description = "No live ticket has this id (`unknown_ticket`)", body = WireError)))]
pub async fn explain_ticket(
    State(state): State<AppState>,
    _operator: Operator,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<Explanation>, ApiError> {
    queue::explain_ticket(&state, TicketId(id))
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found("unknown_ticket", format!("no live ticket is ticket {id}"))
        })
}

/// Takes a live ticket out of its queue (a proposed match it is in is declined). Audited.
#[utoipa::path(post, path = "/v1/admin/tickets/{id}/cancel", tag = "admin",
    security(("operator_key" = [])),
    params(("id" = u64, Path, description = "The ticket")),
    responses(
        (status = 200, description = "Cancelled", body = AdminDone),
        (status = 401, description = "No operator key, or not a valid one", body = WireError),
        (status = 403, description = "Not an operator, or a read-only key (`read_only_operator`)", body = WireError),
        (status = 404, description = "No live ticket has this id (`unknown_ticket`, `not_queued`)", body = WireError)))]
pub async fn cancel_ticket(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<AdminDone>, ApiError> {
    admin::cancel_ticket(&state, &operator, id).await.map(Json)
}

/// The live matches (awaiting acceptance, allocating or active), the newest first.
#[utoipa::path(get, path = "/v1/admin/matches", tag = "admin",
    security(("operator_key" = [])),
    responses(
        (status = 200, description = "The matches", body = AdminMatches),
        (status = 401, description = "No operator key, or not a valid one", body = WireError),
        (status = 403, description = "Not an operator (`not_operator`)", body = WireError)))]
pub async fn matches(State(state): State<AppState>, _operator: Operator) -> Json<AdminMatches> {
    Json(admin::matches(&state))
}

/// Cancels a match that has not started (awaiting acceptance, or waiting for its game
/// server): every ticket goes back to its queue keeping its waiting time; its players get
/// `match_cancelled` with reason `cancelled`. Audited.
#[utoipa::path(post, path = "/v1/admin/matches/{id}/cancel", tag = "admin",
    security(("operator_key" = [])),
    params(("id" = u64, Path, description = "The match")),
    responses(
        (status = 200, description = "Cancelled", body = AdminDone),
        (status = 401, description = "No operator key, or not a valid one", body = WireError),
        (status = 403, description = "Not an operator, or a read-only key (`read_only_operator`)", body = WireError),
        (status = 404, description = "No live match (`unknown_match`)", body = WireError),
        (status = 409, description = "It is being played (`session_active`: end its session), or it is starting (`wrong_match_phase`)", body = WireError)))]
pub async fn cancel_match(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<AdminDone>, ApiError> {
    admin::cancel_match(&state, &operator, id).await.map(Json)
}

/// One live match, with its players' teams and roles.
#[utoipa::path(get, path = "/v1/admin/matches/{id}", tag = "admin",
    security(("operator_key" = [])),
    params(("id" = u64, Path, description = "The match")),
    responses(
        (status = 200, description = "The match", body = AdminMatch),
        (status = 401, description = "No operator key, or not a valid one", body = WireError),
        (status = 403, description = "Not an operator (`not_operator`)", body = WireError),
        (status = 404, description = "No live match has this id (`unknown_match`)", body = WireError)))]
pub async fn match_of(
    State(state): State<AppState>,
    _operator: Operator,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<AdminMatch>, ApiError> {
    admin::match_of(&state, id).map(Json)
}

/// Ends a session (allocating or active) as its game server would: no result, nobody is
/// rated. Audited.
#[utoipa::path(post, path = "/v1/admin/sessions/{id}/end", tag = "admin", operation_id = "admin_end_session",
    security(("operator_key" = [])),
    params(("id" = u64, Path, description = "The session (its match id)")),
    responses(
        (status = 200, description = "Ended", body = AdminDone),
        (status = 401, description = "No operator key, or not a valid one", body = WireError),
        (status = 403, description = "Not an operator, or a read-only key (`read_only_operator`)", body = WireError),
        (status = 404, description = "No live session (`unknown_session`)", body = WireError),
        (status = 409, description = "The match awaits acceptance (`not_started`)", body = WireError)))]
pub async fn end_session(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<AdminDone>, ApiError> {
    admin::end_session(&state, &operator, id).await.map(Json)
}

/// A player: their profile and ratings, where they are (idle, queued, in a proposed match,
/// in a match) and their ban.
#[utoipa::path(get, path = "/v1/admin/players/{id}", tag = "admin", operation_id = "admin_player",
    security(("operator_key" = [])),
    params(("id" = u64, Path, description = "The player")),
    responses(
        (status = 200, description = "The player", body = AdminPlayer),
        (status = 401, description = "No operator key, or not a valid one", body = WireError),
        (status = 403, description = "Not an operator (`not_operator`)", body = WireError),
        (status = 404, description = "No player has this id (`unknown_player`)", body = WireError)))]
pub async fn player(
    State(state): State<AppState>,
    _operator: Operator,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<AdminPlayer>, ApiError> {
    admin::player(&state, id).await.map(Json)
}

/// A player's ban.
#[utoipa::path(get, path = "/v1/admin/players/{id}/ban", tag = "admin",
    security(("operator_key" = [])),
    params(("id" = u64, Path, description = "The player")),
    responses(
        (status = 200, description = "The ban", body = Ban),
        (status = 401, description = "No operator key, or not a valid one", body = WireError),
        (status = 403, description = "Not an operator (`not_operator`)", body = WireError),
        (status = 404, description = "Not banned (`not_banned`)", body = WireError)))]
pub async fn get_ban(
    State(state): State<AppState>,
    _operator: Operator,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<Ban>, ApiError> {
    admin::ban_of(&state, id).await.map(Json)
}

/// Bans a player: from their next request on, their tokens, logins and refreshes are refused
/// (403 `banned`), and their ticket leaves its queue. A session they play goes on. Audited.
#[utoipa::path(post, path = "/v1/admin/players/{id}/ban", tag = "admin",
    security(("operator_key" = [])),
    params(("id" = u64, Path, description = "The player")),
    request_body = BanRequest,
    responses(
        (status = 200, description = "Banned", body = AdminDone),
        (status = 401, description = "No operator key, or not a valid one", body = WireError),
        (status = 403, description = "Not an operator, or a read-only key (`read_only_operator`)", body = WireError),
        (status = 404, description = "No such player (`unknown_player`)", body = WireError),
        (status = 422, description = "No reason, or a reason over 500 characters", body = WireError)))]
pub async fn ban(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(id): ApiPath<u64>,
    ApiJson(request): ApiJson<BanRequest>,
) -> Result<Json<AdminDone>, ApiError> {
    admin::ban(&state, &operator, id, request).await.map(Json)
}

/// Lifts a player's ban. Audited.
#[utoipa::path(delete, path = "/v1/admin/players/{id}/ban", tag = "admin",
    security(("operator_key" = [])),
    params(("id" = u64, Path, description = "The player")),
    responses(
        (status = 200, description = "Unbanned", body = AdminDone),
        (status = 401, description = "No operator key, or not a valid one", body = WireError),
        (status = 403, description = "Not an operator, or a read-only key (`read_only_operator`)", body = WireError),
        (status = 404, description = "Not banned (`not_banned`)", body = WireError)))]
pub async fn unban(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<AdminDone>, ApiError> {
    admin::unban(&state, &operator, id).await.map(Json)
}

/// The audit log: operators' actions, the newest first, refused ones included.
#[utoipa::path(get, path = "/v1/admin/audit", tag = "admin",
    security(("operator_key" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of the audit log", body = AuditPage),
        (status = 401, description = "No operator key, or not a valid one", body = WireError),
        (status = 403, description = "Not an operator (`not_operator`)", body = WireError),
        (status = 422, description = "Bad limit", body = WireError)))]
pub async fn audit(
    State(state): State<AppState>,
    _operator: Operator,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    admin::audit(&state, &query).await.map(Json)
}

/// The game servers registered with this server (`serve` with a fleet registration secret),
/// by id.
#[utoipa::path(get, path = "/v1/admin/fleet", tag = "admin",
    security(("operator_key" = [])),
    responses(
        (status = 200, description = "The registered servers", body = FleetServers),
        (status = 401, description = "No operator key, or not a valid one", body = WireError),
        (status = 403, description = "Not an operator (`not_operator`)", body = WireError)))]
pub async fn fleet(State(state): State<AppState>, _operator: Operator) -> Json<FleetServers> {
    Json(FleetServers {
        registration_open: state.fleet.is_some(),
        servers: state.fleet.as_ref().map(|f| f.list()).unwrap_or_default(),
    })
}

/// Each webhook endpoint's delivery: events waiting, delivered, given up on (dead letters),
/// and the last failure.
#[utoipa::path(get, path = "/v1/admin/webhooks", tag = "admin",
    security(("operator_key" = [])),
    responses(
        (status = 200, description = "The endpoints (none when `[webhooks]` has none)", body = WebhookStatus),
        (status = 401, description = "No operator key, or not a valid one", body = WireError),
        (status = 403, description = "Not an operator (`not_operator`)", body = WireError),
        (status = 500, description = "The store could not be read (`internal`)", body = WireError)))]
pub async fn webhooks(
    State(state): State<AppState>,
    _operator: Operator,
) -> Result<Json<WebhookStatus>, ApiError> {
    let Some(webhooks) = state.webhooks.get() else {
        return Ok(Json(WebhookStatus {
            outbox_rows: 0,
            endpoints: Vec::new(),
        }));
    };
    webhooks.status().map(Json).map_err(ApiError::internal)
}

/// Sets a player's rating under a rating key (a queue's mode, or `MODE:ROLE` in a queue rated
/// per role) this season, keeping their games played. Refused while they are queued or in a
/// match. Audited.
#[utoipa::path(put, path = "/v1/admin/players/{id}/ratings/{key}", tag = "admin",
    security(("operator_key" = [])),
    params(("id" = u64, Path, description = "The player"),
           ("key" = String, Path, description = "The rating key, e.g. `duel` or `ranked:tank`")),
    request_body = SetRatingRequest,
    responses(
        (status = 200, description = "Set (`rating_set`)", body = AdminDone),
        (status = 401, description = "No operator key, or not a valid one", body = WireError),
        (status = 403, description = "Not an operator, or a read-only key (`read_only_operator`)", body = WireError),
        (status = 404, description = "No such player (`unknown_player`)", body = WireError),
        (status = 409, description = "Queued or in a match (`player_busy`)", body = WireError),
        (status = 422, description = "Not a rating key, or mu or sigma out of range", body = WireError)))]
pub async fn set_rating(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(target): ApiPath<(u64, String)>,
    ApiJson(request): ApiJson<SetRatingRequest>,
) -> Result<Json<AdminDone>, ApiError> {
    admin::set_rating(&state, &operator, target, Some(request))
        .await
        .map(Json)
}

/// Resets a player's rating under a rating key to the config's `[rating] initial`, with no
/// games played. Refused while they are queued or in a match. Audited.
#[utoipa::path(delete, path = "/v1/admin/players/{id}/ratings/{key}", tag = "admin",
    security(("operator_key" = [])),
    params(("id" = u64, Path, description = "The player"),
           ("key" = String, Path, description = "The rating key, e.g. `duel` or `ranked:tank`")),
    responses(
        (status = 200, description = "Reset (`rating_reset`)", body = AdminDone),
        (status = 401, description = "No operator key, or not a valid one", body = WireError),
        (status = 403, description = "Not an operator, or a read-only key (`read_only_operator`)", body = WireError),
        (status = 404, description = "No such player (`unknown_player`)", body = WireError),
        (status = 409, description = "Queued or in a match (`player_busy`)", body = WireError),
        (status = 422, description = "Not a rating key", body = WireError)))]
pub async fn reset_rating(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(target): ApiPath<(u64, String)>,
) -> Result<Json<AdminDone>, ApiError> {
    admin::set_rating(&state, &operator, target, None)
        .await
        .map(Json)
}

/// Reloads the matcher's config from the config file (and `MATCHWRIGHT_*` variables) the
/// server started with, without a restart: as a command through the core, journaled and
/// replayed; refused, changing nothing, when the live state does not fit it (a queue with
/// tickets removed, regions changed while anything is live...). Audited.
#[utoipa::path(post, path = "/v1/admin/config/reload", tag = "admin",
    security(("operator_key" = [])),
    responses(
        (status = 200, description = "`reloaded`, or `unchanged` when the matcher's config is the same", body = AdminDone),
        (status = 401, description = "No operator key, or not a valid one", body = WireError),
        (status = 403, description = "Not an operator, or a read-only key (`read_only_operator`)", body = WireError),
        (status = 409, description = "The live state does not fit the new config (`config_does_not_fit`, with why)", body = WireError),
        (status = 422, description = "The config file does not load (`invalid_config`, naming the file and the field)", body = WireError),
        (status = 501, description = "A gateway: restart the cluster's processes instead (`not_in_cluster`)", body = WireError)))]
pub async fn reload_config(
    State(state): State<AppState>,
    operator: Operator,
) -> Result<Json<AdminDone>, ApiError> {
    // Run to the end (lock, core, handlers' config, audit record) whatever happens to the
    // request: a client that gives up must not leave the core and the handlers apart.
    let reload = tokio::spawn(async move { admin::reload_config(&state, &operator).await });
    reload.await.map_err(ApiError::internal)?.map(Json)
}

/// Every match and session event as it happens (server-sent events, one `BackendEvent` JSON
/// per `data:` line, as webhooks carry them; `{"type":"lagged","missed":N}` when the stream
/// fell behind), for dashboards and the console. A gateway streams every partition's events.
#[utoipa::path(get, path = "/v1/admin/events", tag = "admin", operation_id = "admin_events",
    security(("operator_key" = [])),
    responses(
        (status = 200, description = "The stream (`text/event-stream`)", content_type = "text/event-stream", body = String),
        (status = 401, description = "No operator key, or not a valid one", body = WireError),
        (status = 403, description = "Not an operator (`not_operator`)", body = WireError),
        (status = 503, description = "32 streams are open already (`busy`)", body = WireError)))]
pub async fn events(
    State(state): State<AppState>,
    _operator: Operator,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse as _;
    Ok(state.shared.operators.subscribe()?.into_response())
}
