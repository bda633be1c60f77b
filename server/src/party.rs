//! The party routes under `/v1/party`: create, invite, join, leave, kick, ready, chat, and
//! reading a party. Membership changes go through the matcher (`CreateParty`, `JoinParty`,
//! `LeaveParty`) and return once their tick committed; the tick loop then pushes
//! `party_updated` to every member. Invites, ready checks and chat are the lobby's
//! (`lobby::Lobby`) and are pushed at once.
//!
//! Who may do what: only the leader invites and kicks (and queues the party: `POST
//! /v1/queue`); only an invited player joins; members ready up, chat and leave. A party is
//! visible to its members and to the players it invited.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;
use matchwright_ecs::{Command, PartyId, PlayerId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::{account_of, check_pings};
use crate::app::AppState;
use crate::auth::AuthPlayer;
use crate::error::{ApiError, ApiJson, ApiPath, ErrorBody};
use crate::hub::LiveEvent;
use crate::lobby::{ChatLine, LobbyRefusal, PartyBody};
use crate::tick::unix_ms;

/// `POST /v1/party/{id}/invite` and `/kick`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlayerRequest {
    /// The player invited or kicked.
    pub player_id: u64,
}

/// `POST /v1/party/{id}/ready`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadyRequest {
    /// Ready (default) or not.
    #[serde(default = "yes")]
    pub ready: bool,
    /// Your round-trip time to each region you can play in (as for `POST /v1/queue`). When
    /// the leader queues the party, each member's own pings are used; a member who gave none
    /// is given the leader's.
    #[serde(default)]
    pub pings: BTreeMap<String, u16>,
}

fn yes() -> bool {
    true
}

/// `POST /v1/party/{id}/chat`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    /// The line (1 to `lobby.max_chat_chars` characters, no control characters).
    pub text: String,
}

/// What a party call did.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PartyAck {
    /// `invited`, `left`, `kicked`, `chat_sent`.
    pub status: String,
    /// The party.
    pub party_id: u64,
}

/// The party, as the caller may see it: members and invitees only.
fn visible_party(
    state: &AppState,
    player: PlayerId,
    party: PartyId,
) -> Result<PartyBody, ApiError> {
    let now_ms = unix_ms();
    let body = {
        let view = state.view();
        state.shared.lobby.body(&view, party, now_ms)
    };
    let body = body
        .ok_or_else(|| ApiError::not_found("unknown_party", format!("no party is {}", party.0)))?;
    let member = body.members.iter().any(|m| m.player_id == player.0);
    if !member && !body.invited.contains(&player.0) {
        return Err(ApiError::forbidden(
            "not_your_party",
            format!(
                "you are neither a member of party {} nor invited to it",
                party.0
            ),
        ));
    }
    Ok(body)
}

/// Checks that `player` is a member of `party` (and, with `leader`, its leader).
fn member_of(
    state: &AppState,
    player: PlayerId,
    party: PartyId,
    leader: bool,
) -> Result<Vec<PlayerId>, ApiError> {
    let view = state.view();
    let Some(found) = view.party(party) else {
        return Err(ApiError::not_found(
            "unknown_party",
            format!("no party is {}", party.0),
        ));
    };
    if !found.members.contains(&player) {
        return Err(ApiError::forbidden(
            "not_your_party",
            format!("you are not a member of party {}", party.0),
        ));
    }
    if leader && found.leader != player {
        return Err(ApiError::forbidden(
            "not_party_leader",
            format!("only the leader of party {} may do that", party.0),
        ));
    }
    Ok(found.members.clone())
}

/// Sends `change` with the party as it is now to its members (and to `extra`).
pub fn push_party(
    state: &AppState,
    party: PartyId,
    change: &str,
    player: PlayerId,
    extra: &[PlayerId],
) {
    let body = {
        let view = state.view();
        state.shared.lobby.body(&view, party, unix_ms())
    };
    let Some(body) = body else { return };
    let recipients: Vec<PlayerId> = body
        .members
        .iter()
        .map(|m| PlayerId(m.player_id))
        .chain(extra.iter().copied())
        .collect();
    let event = LiveEvent::PartyUpdated {
        change: change.into(),
        player_id: player.0,
        party: body,
    };
    for recipient in recipients {
        state.shared.hub.send(recipient, &event);
    }
}

/// Creates a party led by the caller.
#[utoipa::path(post, path = "/v1/party", tag = "parties", security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; the caller leads it", body = PartyBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 409, description = "Already in a party, or queued", body = ErrorBody)))]
pub async fn create_party(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
) -> Result<(StatusCode, axum::Json<PartyBody>), ApiError> {
    if let Some(existing) = state.view().party_of(player) {
        return Err(ApiError::conflict(
            "party",
            format!("you are in party {} already; leave it first", existing.0),
        ));
    }
    let party = PartyId(state.next_party.fetch_add(1, Ordering::Relaxed));
    state
        .ticks
        .submit(Command::CreateParty {
            party,
            leader: player,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(visible_party(&state, player, party)?),
    ))
}

/// The caller's party.
#[utoipa::path(get, path = "/v1/party", tag = "parties", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's party", body = PartyBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "Not in a party", body = ErrorBody)))]
pub async fn my_party(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
) -> Result<axum::Json<PartyBody>, ApiError> {
    let party = state
        .view()
        .party_of(player)
        .ok_or_else(|| ApiError::not_found("no_party", "you are not in a party"))?;
    Ok(axum::Json(visible_party(&state, player, party)?))
}

/// A party: its leader, members (ready or not), invitees and recent chat.
#[utoipa::path(get, path = "/v1/party/{id}", tag = "parties", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The party")),
    responses(
        (status = 200, description = "The party", body = PartyBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Neither a member nor invited", body = ErrorBody),
        (status = 404, description = "No such party", body = ErrorBody)))]
pub async fn get_party(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiPath(id): ApiPath<u64>,
) -> Result<axum::Json<PartyBody>, ApiError> {
    Ok(axum::Json(visible_party(&state, player, PartyId(id))?))
}

/// Invites a player (leader only). The invitee is told (`party_invite`) and may join until
/// the invite expires (`lobby.invite_ttl_s`).
#[utoipa::path(post, path = "/v1/party/{id}/invite", tag = "parties", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The party")),
    request_body = PlayerRequest,
    responses(
        (status = 200, description = "Invited", body = PartyAck),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Not the party's leader", body = ErrorBody),
        (status = 404, description = "No such party or player", body = ErrorBody),
        (status = 409, description = "Already a member, or too many pending invites", body = ErrorBody)))]
pub async fn invite(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiPath(id): ApiPath<u64>,
    ApiJson(request): ApiJson<PlayerRequest>,
) -> Result<axum::Json<PartyAck>, ApiError> {
    let party = PartyId(id);
    let members = member_of(&state, player, party, true)?;
    let invitee = PlayerId(request.player_id);
    if members.contains(&invitee) {
        return Err(ApiError::conflict(
            "already_member",
            format!("player {} is in the party already", invitee.0),
        )
        .field("player_id"));
    }
    if state.store.account(invitee)?.is_none() {
        return Err(
            ApiError::not_found("unknown_player", format!("no player is {}", invitee.0))
                .field("player_id"),
        );
    }
    let leader = account_of(&state, player)?;
    let expires_at_ms = state
        .shared
        .lobby
        .invite(party, invitee, unix_ms())
        .map_err(|LobbyRefusal::TooManyInvites { limit }| {
            ApiError::conflict(
                "too_many_invites",
                format!("the party has {limit} pending invites; wait for some to expire"),
            )
        })?;
    state.shared.hub.send(
        invitee,
        &LiveEvent::PartyInvite {
            party_id: party.0,
            from_player_id: player.0,
            from_display_name: leader.display_name,
            expires_at_ms,
        },
    );
    push_party(&state, party, "invited", invitee, &[]);
    Ok(axum::Json(PartyAck {
        status: "invited".into(),
        party_id: party.0,
    }))
}

/// Joins a party the caller was invited to.
#[utoipa::path(post, path = "/v1/party/{id}/join", tag = "parties", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The party")),
    responses(
        (status = 200, description = "Joined", body = PartyBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Not invited (or the invite expired)", body = ErrorBody),
        (status = 404, description = "No such party", body = ErrorBody),
        (status = 409, description = "In another party, queued, or the party is full or queued", body = ErrorBody)))]
pub async fn join(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiPath(id): ApiPath<u64>,
) -> Result<axum::Json<PartyBody>, ApiError> {
    let party = PartyId(id);
    if state.view().party(party).is_none() {
        return Err(ApiError::not_found(
            "unknown_party",
            format!("no party is {id}"),
        ));
    }
    if !state.shared.lobby.is_invited(party, player, unix_ms()) {
        return Err(ApiError::forbidden(
            "not_invited",
            format!("you hold no live invite to party {id}"),
        ));
    }
    state
        .ticks
        .submit(Command::JoinParty { party, player })
        .await?;
    state.shared.lobby.take_invite(party, player);
    Ok(axum::Json(visible_party(&state, player, party)?))
}

/// Leaves the caller's party. A queued party leaves the queue; a leader who leaves hands
/// the lead to the member with the lowest id; the last member leaving ends the party.
#[utoipa::path(post, path = "/v1/party/{id}/leave", tag = "parties", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The party")),
    responses(
        (status = 200, description = "Left", body = PartyAck),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Not a member", body = ErrorBody),
        (status = 404, description = "No such party", body = ErrorBody),
        (status = 409, description = "The party is in a match that is being formed", body = ErrorBody)))]
pub async fn leave(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiPath(id): ApiPath<u64>,
) -> Result<axum::Json<PartyAck>, ApiError> {
    let party = PartyId(id);
    member_of(&state, player, party, false)?;
    state
        .ticks
        .submit(Command::LeaveParty { party, player })
        .await?;
    Ok(axum::Json(PartyAck {
        status: "left".into(),
        party_id: id,
    }))
}

/// Removes a member (leader only). A queued party leaves the queue.
#[utoipa::path(post, path = "/v1/party/{id}/kick", tag = "parties", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The party")),
    request_body = PlayerRequest,
    responses(
        (status = 200, description = "Kicked", body = PartyAck),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Not the party's leader", body = ErrorBody),
        (status = 404, description = "No such party, or the player is not a member", body = ErrorBody),
        (status = 422, description = "Kicking yourself (leave instead)", body = ErrorBody)))]
pub async fn kick(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiPath(id): ApiPath<u64>,
    ApiJson(request): ApiJson<PlayerRequest>,
) -> Result<axum::Json<PartyAck>, ApiError> {
    let party = PartyId(id);
    let members = member_of(&state, player, party, true)?;
    let target = PlayerId(request.player_id);
    if target == player {
        return Err(ApiError::invalid(
            "player_id",
            "you cannot kick yourself; leave the party instead",
        ));
    }
    if !members.contains(&target) {
        return Err(ApiError::not_found(
            "not_a_member",
            format!("player {} is not in party {id}", target.0),
        )
        .field("player_id"));
    }
    state.shared.lobby.mark_kicked(party, target);
    let left = state
        .ticks
        .submit(Command::LeaveParty {
            party,
            player: target,
        })
        .await;
    if let Err(error) = left {
        state.shared.lobby.take_kicked(party, target);
        return Err(error);
    }
    Ok(axum::Json(PartyAck {
        status: "kicked".into(),
        party_id: id,
    }))
}

/// Sets the caller ready (with their pings) or not ready. The leader can queue the party
/// once every other member is ready; the check clears when the party queues or its members
/// change.
#[utoipa::path(post, path = "/v1/party/{id}/ready", tag = "parties", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The party")),
    request_body = ReadyRequest,
    responses(
        (status = 200, description = "The party with the caller's new state", body = PartyBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Not a member", body = ErrorBody),
        (status = 404, description = "No such party", body = ErrorBody),
        (status = 422, description = "A ping is not valid", body = ErrorBody)))]
pub async fn ready(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiPath(id): ApiPath<u64>,
    ApiJson(request): ApiJson<ReadyRequest>,
) -> Result<axum::Json<PartyBody>, ApiError> {
    let party = PartyId(id);
    member_of(&state, player, party, false)?;
    if !request.pings.is_empty() {
        let account = account_of(&state, player)?;
        check_pings(&state, &account, &request.pings)?;
    }
    state
        .shared
        .lobby
        .set_ready(party, player, request.ready, request.pings);
    push_party(
        &state,
        party,
        if request.ready { "ready" } else { "not_ready" },
        player,
        &[],
    );
    Ok(axum::Json(visible_party(&state, player, party)?))
}

/// Says something to the party: every member receives `party_chat`.
#[utoipa::path(post, path = "/v1/party/{id}/chat", tag = "parties", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The party")),
    request_body = ChatRequest,
    responses(
        (status = 200, description = "Sent", body = PartyAck),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Not a member", body = ErrorBody),
        (status = 404, description = "No such party", body = ErrorBody),
        (status = 422, description = "Empty, too long, or with control characters", body = ErrorBody)))]
pub async fn chat(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiPath(id): ApiPath<u64>,
    ApiJson(request): ApiJson<ChatRequest>,
) -> Result<axum::Json<PartyAck>, ApiError> {
    let party = PartyId(id);
    let members = member_of(&state, player, party, false)?;
    let max = state.settings.lobby.max_chat_chars;
    let length = request.text.chars().count();
    if length == 0 || length > max || request.text.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "text",
            format!("a chat line is 1 to {max} characters, without control characters"),
        ));
    }
    let account = account_of(&state, player)?;
    let line = ChatLine {
        player_id: player.0,
        display_name: account.display_name,
        text: request.text,
        at_ms: unix_ms(),
    };
    state.shared.lobby.chat(party, line.clone());
    let event = LiveEvent::PartyChat { party_id: id, line };
    for member in members {
        state.shared.hub.send(member, &event);
    }
    Ok(axum::Json(PartyAck {
        status: "chat_sent".into(),
        party_id: id,
    }))
}
