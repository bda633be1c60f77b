//! Queues: what runs, joining (solo or as a party's leader), where the caller is, leaving.

use matchwright_ecs::TicketMember;
use matchwright_ecs::{
    Command, EnqueueTicket, MatchId, NO_PING, PartyId, PlayerId, Rating, TicketId,
};
use matchwright_transport::wire::{
    Done, EnqueueRequest, QueueInfo, QueueList, QueueStatus, Windows,
};

use super::{account_of, check_pings};
use crate::app::AppState;
use crate::clock::unix_ms;
use crate::error::ApiError;
use crate::view::{MatchStage, PlayerStatus};

/// The queues, regions and season this server runs.
pub async fn queues(state: &AppState) -> QueueList {
    let config = &state.settings.matcher;
    QueueList {
        regions: config.regions.clone(),
        season: state.store.season().to_string(),
        queues: config
            .queues
            .iter()
            .map(|queue| QueueInfo {
                name: queue.name.clone(),
                mode: queue.mode_name().to_string(),
                teams: queue.teams,
                team_size: queue.team_size,
                max_party_size: queue.max_party_size,
                acceptance: queue.acceptance.is_some(),
            })
            .collect(),
    }
}

/// Where the caller is: queued (with waiting time and the windows in force), awaiting
/// acceptance, in a match, or idle.
pub async fn status(state: &AppState, player: PlayerId) -> QueueStatus {
    let view = state.view();
    let mut status = QueueStatus::idle();
    let now_ms = unix_ms();
    let ticket = match view.status(player) {
        None => return status,
        Some(PlayerStatus::Queued(ticket)) => {
            status.status = "queued".into();
            Some(ticket)
        }
        Some(PlayerStatus::Proposed(ticket, match_id)) => {
            status.status = "awaiting_acceptance".into();
            status.match_id = Some(match_id.0);
            Some(ticket)
        }
        Some(PlayerStatus::InMatch(match_id)) => {
            status.status = "in_match".into();
            status.match_id = Some(match_id.0);
            None
        }
    };
    if let Some(ticket) = ticket.and_then(|t| view.ticket(t).map(|found| (t, found))) {
        let (id, found) = ticket;
        let waited = now_ms.saturating_sub(found.since_ms);
        status.ticket_id = Some(id.0);
        status.queue = Some(found.queue.clone());
        status.waiting_since_ms = Some(found.since_ms);
        status.waiting_ms = Some(waited);
        if let Some(queue) = state
            .settings
            .matcher
            .queue_index(&found.queue)
            .map(|index| &state.settings.matcher.queues[index])
        {
            status.windows = Some(Windows {
                skill_mmr: queue.skill_window.value_at(waited),
                ping_ms: queue.latency_window.value_at(waited),
                quality_floor: queue.quality_floor.value_at(waited),
            });
        }
    }
    if let Some(found) = status.match_id.and_then(|id| view.match_view(MatchId(id))) {
        status.match_state = Some(found.stage.name().into());
        if let MatchStage::AwaitingAcceptance { deadline_ms, .. } = found.stage {
            status.accept_by_ms = Some(deadline_ms);
        }
    }
    status
}

/// Joins a queue: solo, or, when the caller leads a party whose other members are all ready,
/// the whole party as one ticket (it lands on one team). Answers the status as of the tick
/// that queued it.
pub async fn enqueue(
    state: &AppState,
    player: PlayerId,
    request: EnqueueRequest,
) -> Result<QueueStatus, ApiError> {
    let config = &state.settings.matcher;
    let Some(queue_index) = config.queue_index(&request.queue) else {
        let names: Vec<&str> = config.queues.iter().map(|q| q.name.as_str()).collect();
        return Err(ApiError::invalid(
            "queue",
            format!(
                "no queue is called `{}`; the queues are {names:?}",
                request.queue
            ),
        ));
    };
    let account = account_of(state, player)?;
    let pings = check_pings(state, &account, &request.pings)?;
    let mode = config.queues[queue_index].mode_name();
    let rating_of = |player: PlayerId| -> Result<Rating, ApiError> {
        Ok(state
            .store
            .rating(player, mode)?
            .map_or(config.rating.initial, |record| record.rating))
    };
    let party = state.view().party_of(player);
    let ticket = match party {
        None => {
            let mut ticket = EnqueueTicket::solo(
                TicketId(player.0),
                request.queue.clone(),
                player,
                rating_of(player)?,
                pings,
            );
            ticket.max_ping_ms = request.max_ping_ms;
            ticket
        }
        Some(party) => party_ticket(state, player, party, &request, pings, &rating_of)?,
    };
    let party_id = ticket.party;
    state.ticks.submit(Command::Enqueue(ticket)).await?;
    if let Some(party) = party_id {
        // The ready check is spent: the next queue needs a new one.
        state.shared.lobby.clear_ready(party);
        super::parties::push_party(state, party, "queued", player, &[]);
    }
    Ok(status(state, player).await)
}

/// The ticket of the caller's party: only its leader queues it, and only once every other
/// member is ready. Each member plays with their own rating and the pings they readied with
/// (the leader's when they gave none, kept to their own preferred regions).
fn party_ticket(
    state: &AppState,
    leader: PlayerId,
    party: PartyId,
    request: &EnqueueRequest,
    leader_pings: Vec<u16>,
    rating_of: &dyn Fn(PlayerId) -> Result<Rating, ApiError>,
) -> Result<EnqueueTicket, ApiError> {
    let members = {
        let view = state.view();
        let found = view.party(party).ok_or_else(|| {
            ApiError::conflict("party", format!("party {} no longer exists", party.0))
        })?;
        if found.leader != leader {
            return Err(ApiError::forbidden(
                "not_party_leader",
                format!(
                    "you are in party {}; only its leader (player {}) queues it",
                    party.0, found.leader.0
                ),
            ));
        }
        found.members.clone()
    };
    let ready = state.shared.lobby.ready(party);
    let waiting: Vec<u64> = members
        .iter()
        .filter(|member| **member != leader && !ready.contains_key(member))
        .map(|member| member.0)
        .collect();
    if !waiting.is_empty() {
        return Err(ApiError::conflict(
            "party_not_ready",
            format!(
                "these members are not ready: {waiting:?} (POST /v1/party/{}/ready)",
                party.0
            ),
        ));
    }
    let mut ticket_members = Vec::with_capacity(members.len());
    for member in &members {
        let pings = if *member == leader {
            leader_pings.clone()
        } else {
            let account = account_of(state, *member)?;
            let own = ready.get(member).filter(|pings| !pings.is_empty());
            match own {
                Some(own) => check_pings(state, &account, own)?,
                None => {
                    let mut pings = leader_pings.clone();
                    for (index, region) in state.settings.matcher.regions.iter().enumerate() {
                        if !account.regions.is_empty() && !account.regions.contains(region) {
                            pings[index] = NO_PING;
                        }
                    }
                    if pings.iter().all(|ping| *ping == NO_PING) {
                        return Err(ApiError::conflict(
                            "party_no_region",
                            format!(
                                "player {} plays only in {:?}, where you gave no ping; they can ready up with their own pings",
                                member.0, account.regions
                            ),
                        ));
                    }
                    pings
                }
            }
        };
        ticket_members.push(TicketMember {
            player: *member,
            rating: rating_of(*member)?,
            pings_ms: pings,
            attributes: Default::default(),
            roles: Vec::new(),
            avoid: Vec::new(),
        });
    }
    Ok(EnqueueTicket {
        ticket: TicketId(leader.0),
        queue: request.queue.clone(),
        party: Some(party),
        members: ticket_members,
        max_ping_ms: request.max_ping_ms,
        waiting_since_ms: None,
        attributes: Default::default(),
    })
}

/// Leaves the queue (declining a proposed match, if one awaits acceptance).
pub async fn cancel(state: &AppState, player: PlayerId) -> Result<Done, ApiError> {
    let status = state.view().status(player);
    let ticket = match status {
        Some(PlayerStatus::Queued(ticket) | PlayerStatus::Proposed(ticket, _)) => ticket,
        Some(PlayerStatus::InMatch(match_id)) => {
            return Err(ApiError::conflict(
                "in_match",
                format!("you are in {match_id}; a match in progress cannot be left from the queue"),
            ));
        }
        None => return Err(ApiError::not_found("not_queued", "you are not queued")),
    };
    state.ticks.submit(Command::Cancel { ticket }).await?;
    Ok(Done {
        status: "cancelled".into(),
        match_id: None,
    })
}
