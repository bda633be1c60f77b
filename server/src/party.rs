//! The party routes under `/v1/party`: create, invite, join, leave, kick, ready, chat, and
//! reading a party. The work is `service::parties`'s (QUIC's party requests call the same
//! functions); who may do what is described there.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use matchwright_transport::wire::{
    ChatRequest, Party, PartyAck, PlayerRequest, ReadyRequest, WireError,
};

use crate::app::AppState;
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::guard::AuthPlayer;
use crate::service::parties;

/// Creates a party led by the caller.
#[utoipa::path(post, path = "/v1/party", tag = "parties", security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; the caller leads it", body = Party),
        (status = 401, description = "No valid access token", body = WireError),
        (status = 409, description = "Already in a party, or queued", body = WireError)))]
pub async fn create_party(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
) -> Result<(StatusCode, Json<Party>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(parties::create(&state, player).await?),
    ))
}

/// The caller's party.
#[utoipa::path(get, path = "/v1/party", tag = "parties", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's party", body = Party),
        (status = 401, description = "No valid access token", body = WireError),
        (status = 404, description = "Not in a party", body = WireError)))]
pub async fn my_party(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
) -> Result<Json<Party>, ApiError> {
    Ok(Json(parties::mine(&state, player).await?))
}

/// A party: its leader, members (ready or not), invitees and recent chat.
#[utoipa::path(get, path = "/v1/party/{id}", tag = "parties", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The party")),
    responses(
        (status = 200, description = "The party", body = Party),
        (status = 401, description = "No valid access token", body = WireError),
        (status = 403, description = "Neither a member nor invited", body = WireError),
        (status = 404, description = "No such party", body = WireError)))]
pub async fn get_party(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<Party>, ApiError> {
    Ok(Json(parties::get(&state, player, id).await?))
}

/// Invites a player (leader only). The invitee is told (`party_invite`) and may join until
/// the invite expires (`lobby.invite_ttl_s`).
#[utoipa::path(post, path = "/v1/party/{id}/invite", tag = "parties", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The party")),
    request_body = PlayerRequest,
    responses(
        (status = 200, description = "Invited", body = PartyAck),
        (status = 401, description = "No valid access token", body = WireError),
        (status = 403, description = "Not the party's leader", body = WireError),
        (status = 404, description = "No such party or player", body = WireError),
        (status = 409, description = "Already a member, or too many pending invites", body = WireError)))]
pub async fn invite(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiPath(id): ApiPath<u64>,
    ApiJson(request): ApiJson<PlayerRequest>,
) -> Result<Json<PartyAck>, ApiError> {
    Ok(Json(parties::invite(&state, player, id, request).await?))
}

/// Joins a party the caller was invited to.
#[utoipa::path(post, path = "/v1/party/{id}/join", tag = "parties", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The party")),
    responses(
        (status = 200, description = "Joined", body = Party),
        (status = 401, description = "No valid access token", body = WireError),
        (status = 403, description = "Not invited (or the invite expired)", body = WireError),
        (status = 404, description = "No such party", body = WireError),
        (status = 409, description = "In another party, queued, or the party is full or queued", body = WireError)))]
pub async fn join(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<Party>, ApiError> {
    Ok(Json(parties::join(&state, player, id).await?))
}

/// Leaves the caller's party. A queued party leaves the queue; a leader who leaves hands
/// the lead to the member with the lowest id; the last member leaving ends the party.
#[utoipa::path(post, path = "/v1/party/{id}/leave", tag = "parties", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The party")),
    responses(
        (status = 200, description = "Left", body = PartyAck),
        (status = 401, description = "No valid access token", body = WireError),
        (status = 403, description = "Not a member", body = WireError),
        (status = 404, description = "No such party", body = WireError),
        (status = 409, description = "The party is in a match that is being formed", body = WireError)))]
pub async fn leave(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<PartyAck>, ApiError> {
    Ok(Json(parties::leave(&state, player, id).await?))
}

/// Removes a member (leader only). A queued party leaves the queue.
#[utoipa::path(post, path = "/v1/party/{id}/kick", tag = "parties", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The party")),
    request_body = PlayerRequest,
    responses(
        (status = 200, description = "Kicked", body = PartyAck),
        (status = 401, description = "No valid access token", body = WireError),
        (status = 403, description = "Not the party's leader", body = WireError),
        (status = 404, description = "No such party, or the player is not a member", body = WireError),
        (status = 422, description = "Kicking yourself (leave instead)", body = WireError)))]
pub async fn kick(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiPath(id): ApiPath<u64>,
    ApiJson(request): ApiJson<PlayerRequest>,
) -> Result<Json<PartyAck>, ApiError> {
    Ok(Json(parties::kick(&state, player, id, request).await?))
}

/// Sets the caller ready (with their pings) or not ready. The leader can queue the party
/// once every other member is ready; the check clears when the party queues or its members
/// change.
#[utoipa::path(post, path = "/v1/party/{id}/ready", tag = "parties", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The party")),
    request_body = ReadyRequest,
    responses(
        (status = 200, description = "The party with the caller's new state", body = Party),
        (status = 401, description = "No valid access token", body = WireError),
        (status = 403, description = "Not a member", body = WireError),
        (status = 404, description = "No such party", body = WireError),
        (status = 422, description = "A ping is not valid", body = WireError)))]
pub async fn ready(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiPath(id): ApiPath<u64>,
    ApiJson(request): ApiJson<ReadyRequest>,
) -> Result<Json<Party>, ApiError> {
    Ok(Json(parties::ready(&state, player, id, request).await?))
}

/// Says something to the party: every member receives `party_chat`.
#[utoipa::path(post, path = "/v1/party/{id}/chat", tag = "parties", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The party")),
    request_body = ChatRequest,
    responses(
        (status = 200, description = "Sent", body = PartyAck),
        (status = 401, description = "No valid access token", body = WireError),
        (status = 403, description = "Not a member", body = WireError),
        (status = 404, description = "No such party", body = WireError),
        (status = 422, description = "Empty, too long, or with control characters", body = WireError)))]
pub async fn chat(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiPath(id): ApiPath<u64>,
    ApiJson(request): ApiJson<ChatRequest>,
) -> Result<Json<PartyAck>, ApiError> {
    Ok(Json(parties::chat(&state, player, id, request).await?))
}
