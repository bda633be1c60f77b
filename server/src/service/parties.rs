//! Parties: create, read, invite, join, leave, kick, ready, chat. Membership changes go
//! through the matcher (`CreateParty`, `JoinParty`, `LeaveParty`) and return once their tick
//! committed; the tick loop then pushes `party_updated` to every member. Invites, ready checks
//! and chat are the lobby's (`lobby::Lobby`) and are pushed at once.
//!
//! Who may do what: only the leader invites and kicks (and queues the party); only an invited
//! player joins; members ready up, chat and leave. A party is visible to its members and to
//! the players it invited.

use std::sync::atomic::Ordering;

use matchwright_ecs::{Command, PartyId, PlayerId};
use matchwright_transport::wire::{
    ChatLine, ChatRequest, Event, Party, PartyAck, PlayerRequest, ReadyRequest,
};

use super::account_of;
use super::check_pings;
use crate::app::AppState;
use crate::clock::unix_ms;
use crate::error::ApiError;
use crate::lobby::LobbyRefusal;

/// The party, as the caller may see it: members and invitees only.
fn visible_party(state: &AppState, player: PlayerId, party: PartyId) -> Result<Party, ApiError> {
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
    let event = Event::PartyUpdated {
        change: change.into(),
        player_id: player.0,
        party: body,
    };
    for recipient in recipients {
        state.shared.hub.send(recipient, &event);
    }
}

/// Creates a party led by the caller.
pub async fn create(state: &AppState, player: PlayerId) -> Result<Party, ApiError> {
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
    visible_party(state, player, party)
}

/// The caller's party.
pub async fn mine(state: &AppState, player: PlayerId) -> Result<Party, ApiError> {
    let party = state
        .view()
        .party_of(player)
        .ok_or_else(|| ApiError::not_found("no_party", "you are not in a party"))?;
    visible_party(state, player, party)
}

/// A party: its leader, members (ready or not), invitees and recent chat.
pub async fn get(state: &AppState, player: PlayerId, id: u64) -> Result<Party, ApiError> {
    visible_party(state, player, PartyId(id))
}

/// Invites a player (leader only). The invitee is told (`party_invite`) and may join until
/// the invite expires (`lobby.invite_ttl_s`).
pub async fn invite(
    state: &AppState,
    player: PlayerId,
    id: u64,
    request: PlayerRequest,
) -> Result<PartyAck, ApiError> {
    let party = PartyId(id);
    let members = member_of(state, player, party, true)?;
    let invitee = PlayerId(request.player_id);
    if members.contains(&invitee) {
        return Err(ApiError::conflict(
            "already_member",
            format!("player {} is in the party already", invitee.0),
        )
        .field("player_id"));
    }
    if state.records.account(invitee).await?.is_none() {
        return Err(
            ApiError::not_found("unknown_player", format!("no player is {}", invitee.0))
                .field("player_id"),
        );
    }
    let leader = account_of(state, player).await?;
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
        &Event::PartyInvite {
            party_id: party.0,
            from_player_id: player.0,
            from_display_name: leader.display_name,
            expires_at_ms,
        },
    );
    push_party(state, party, "invited", invitee, &[]);
    Ok(ack("invited", party.0))
}

/// Joins a party the caller was invited to.
pub async fn join(state: &AppState, player: PlayerId, id: u64) -> Result<Party, ApiError> {
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
    visible_party(state, player, party)
}

/// Leaves the caller's party. A queued party leaves the queue; a leader who leaves hands the
/// lead to the member with the lowest id; the last member leaving ends the party.
pub async fn leave(state: &AppState, player: PlayerId, id: u64) -> Result<PartyAck, ApiError> {
    let party = PartyId(id);
    member_of(state, player, party, false)?;
    state
        .ticks
        .submit(Command::LeaveParty { party, player })
        .await?;
    Ok(ack("left", id))
}

/// Removes a member (leader only). A queued party leaves the queue.
pub async fn kick(
    state: &AppState,
    player: PlayerId,
    id: u64,
    request: PlayerRequest,
) -> Result<PartyAck, ApiError> {
    let party = PartyId(id);
    let members = member_of(state, player, party, true)?;
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
    Ok(ack("kicked", id))
}

/// Sets the caller ready (with their pings) or not ready. The leader can queue the party
/// once every other member is ready; the check clears when the party queues or its members
/// change.
pub async fn ready(
    state: &AppState,
    player: PlayerId,
    id: u64,
    request: ReadyRequest,
) -> Result<Party, ApiError> {
    let party = PartyId(id);
    member_of(state, player, party, false)?;
    if !request.pings.is_empty() {
        let account = account_of(state, player).await?;
        check_pings(state, &account, &request.pings)?;
    }
    state
        .shared
        .lobby
        .set_ready(party, player, request.ready, request.pings);
    push_party(
        state,
        party,
        if request.ready { "ready" } else { "not_ready" },
        player,
        &[],
    );
    visible_party(state, player, party)
}

/// Says something to the party: every member receives `party_chat`.
pub async fn chat(
    state: &AppState,
    player: PlayerId,
    id: u64,
    request: ChatRequest,
) -> Result<PartyAck, ApiError> {
    let party = PartyId(id);
    let members = member_of(state, player, party, false)?;
    let max = state.settings.lobby.max_chat_chars;
    let length = request.text.chars().count();
    if length == 0 || length > max || request.text.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "text",
            format!("a chat line is 1 to {max} characters, without control characters"),
        ));
    }
    let account = account_of(state, player).await?;
    let line = ChatLine {
        player_id: player.0,
        display_name: account.display_name,
        text: request.text,
        at_ms: unix_ms(),
    };
    state.shared.lobby.chat(party, line.clone());
    let event = Event::PartyChat { party_id: id, line };
    for member in members {
        state.shared.hub.send(member, &event);
    }
    Ok(ack("chat_sent", id))
}

fn ack(status: &str, party_id: u64) -> PartyAck {
    PartyAck {
        status: status.into(),
        party_id,
    }
}
