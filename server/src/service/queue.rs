//! Queues: what runs, joining (solo or as a party's leader, with attributes, roles and the
//! members' avoid lists), where the caller is, why a ticket has not matched yet, leaving.

use std::collections::BTreeMap;

use matchwright_ecs::config::AttributeSpec;
use matchwright_ecs::{
    AttributeValue, Command, EnqueueTicket, MatchId, NO_PING, PartyId, PlayerId, QueueConfig,
    Rating, RejectReason, RoleChoice, TicketId, TicketMember,
};
use matchwright_storage::rating_key;
use matchwright_transport::wire::{
    self, Done, EnqueueRequest, ExplainCheck, Explanation, MemberChoices, QueueAttribute,
    QueueInfo, QueueList, QueueRole, QueueStatus, Relaxation, Windows,
};

use super::{account_of, check_pings};
use crate::app::AppState;
use crate::clock::unix_ms;
use crate::error::{ApiError, rejected};
use crate::view::{MatchStage, PlayerStatus};

/// The queues, regions and season this server runs.
pub async fn queues(state: &AppState) -> QueueList {
    let config = state.matcher();
    QueueList {
        regions: config.regions.clone(),
        season: state.records.season().to_string(),
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
                attributes: queue.attributes.iter().map(queue_attribute).collect(),
                roles: queue.roles.as_ref().map_or_else(Vec::new, |roles| {
                    roles
                        .composition
                        .iter()
                        .map(|slot| QueueRole {
                            role: slot.role.clone(),
                            count: slot.count,
                        })
                        .collect()
                }),
            })
            .collect(),
    }
}

/// An attribute as `GET /v1/queues` lists it: required when the queue has no default.
fn queue_attribute(spec: &AttributeSpec) -> QueueAttribute {
    let required = match spec {
        AttributeSpec::Text { default, .. } => default.is_none(),
        AttributeSpec::Number { default, .. } => default.is_none(),
        AttributeSpec::List { default, .. } => default.is_none(),
    };
    QueueAttribute {
        name: spec.name().to_string(),
        kind: spec.kind_name().to_string(),
        required,
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
        let config = state.matcher();
        if let Some(queue) = config
            .queue_index(&found.queue)
            .map(|index| &config.queues[index])
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
/// the whole party as one ticket (it lands on one team). The caller gives its attributes and
/// roles; a leader gives the other members' in `members`. Every member's stored avoid list
/// goes with the ticket. In a queue rated per role, each member is matched with its rating in
/// each role it accepts (kept under `MODE:ROLE`). Answers the status as of the tick that
/// queued it.
pub async fn enqueue(
    state: &AppState,
    player: PlayerId,
    request: EnqueueRequest,
) -> Result<QueueStatus, ApiError> {
    let config = state.matcher();
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
    let queue = &config.queues[queue_index];
    let party = state.view().party_of(player);
    if party.is_none()
        && let Some(id) = request.members.keys().next()
    {
        return Err(ApiError::invalid(
            &format!("members.{id}"),
            "only a party's leader gives other members' roles and attributes; you are not in a party",
        ));
    }
    check_roles(queue, "roles", &request.roles)?;
    for (id, choices) in &request.members {
        check_roles(queue, &format!("members.{id}.roles"), &choices.roles)?;
    }
    let account = account_of(state, player).await?;
    let pings = check_pings(state, &account, &request.pings)?;
    let mut ticket = match party {
        None => EnqueueTicket {
            ticket: TicketId(player.0),
            queue: request.queue.clone(),
            party: None,
            members: vec![
                member_of(
                    state,
                    queue,
                    player,
                    pings,
                    &request.roles,
                    request.attributes.clone(),
                )
                .await?,
            ],
            max_ping_ms: request.max_ping_ms,
            waiting_since_ms: None,
            attributes: BTreeMap::new(),
        },
        Some(party) => party_ticket(state, queue, player, party, &request, pings).await?,
    };
    attach_avoid_lists(state, &mut ticket.members).await?;
    let party_id = ticket.party;
    state
        .ticks
        .submit_with(Command::Enqueue(ticket), |reason| {
            enqueue_rejected(player, reason)
        })
        .await?;
    if let Some(party) = party_id {
        // The ready check is spent: the next queue needs a new one.
        state.shared.lobby.clear_ready(party);
        super::parties::push_party(state, party, "queued", player, &[]);
    }
    Ok(status(state, player).await)
}

/// An enqueue's rejection, naming the request field at fault: another member's attributes
/// and roles are under `members.ID`; the rest as for any command.
fn enqueue_rejected(caller: PlayerId, reason: &RejectReason) -> ApiError {
    match reason {
        RejectReason::BadAttribute {
            player: Some(member),
            attribute,
            ..
        } if *member != caller => ApiError::invalid(
            &format!("members.{}.attributes.{attribute}", member.0),
            reason.to_string(),
        ),
        RejectReason::BadRoles { player: member, .. } if *member != caller => {
            ApiError::invalid(&format!("members.{}.roles", member.0), reason.to_string())
        }
        _ => rejected(reason),
    }
}

/// The roles a request gives, checked before any rating is looked up: known roles of a role
/// queue, each once (the matcher checks the rest: a role queue needs at least one, and a
/// party must fit one team).
fn check_roles(queue: &QueueConfig, field: &str, roles: &[String]) -> Result<(), ApiError> {
    if roles.is_empty() {
        return Ok(());
    }
    let Some(config) = &queue.roles else {
        return Err(ApiError::invalid(
            field,
            format!("queue `{}` has no roles; give none", queue.name),
        ));
    };
    let composition = || {
        config
            .composition
            .iter()
            .map(|slot| format!("{} {}", slot.count, slot.role))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (index, role) in roles.iter().enumerate() {
        if config.role_index(role).is_none() {
            return Err(ApiError::invalid(
                field,
                format!(
                    "queue `{}` has no role `{role}` (it has: {})",
                    queue.name,
                    composition()
                ),
            ));
        }
        if roles[..index].contains(role) {
            return Err(ApiError::invalid(
                field,
                format!("role `{role}` is given twice"),
            ));
        }
    }
    Ok(())
}

/// A rating from the store: `player`'s under `key`, or the initial rating.
async fn rating_under(state: &AppState, player: PlayerId, key: &str) -> Result<Rating, ApiError> {
    Ok(state
        .records
        .rating(player, key)
        .await?
        .map_or(state.matcher().rating.initial, |record| record.rating))
}

/// One member of a ticket: its rating in the queue's mode, its roles (each with its rating in
/// that role when the queue rates per role), its attributes and pings. Its avoid list comes
/// after ([`attach_avoid_lists`]).
async fn member_of(
    state: &AppState,
    queue: &QueueConfig,
    player: PlayerId,
    pings: Vec<u16>,
    roles: &[String],
    attributes: BTreeMap<String, wire::AttributeValue>,
) -> Result<TicketMember, ApiError> {
    let mode = queue.mode_name();
    let rating = rating_under(state, player, mode).await?;
    let mut member = TicketMember::new(player, rating, pings);
    let per_role = queue
        .roles
        .as_ref()
        .is_some_and(|roles| roles.rating_per_role);
    member.roles = Vec::with_capacity(roles.len());
    for role in roles {
        let rating = if per_role {
            Some(rating_under(state, player, &rating_key(mode, Some(role))).await?)
        } else {
            None
        };
        member.roles.push(RoleChoice {
            role: role.clone(),
            rating,
        });
    }
    member.attributes = core_attributes(attributes);
    Ok(member)
}

/// Wire attribute values as the matcher's.
fn core_attributes(
    attributes: BTreeMap<String, wire::AttributeValue>,
) -> BTreeMap<String, AttributeValue> {
    attributes
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                wire::AttributeValue::Text(text) => AttributeValue::Text(text),
                wire::AttributeValue::Number(number) => AttributeValue::Number(number),
                wire::AttributeValue::List(items) => AttributeValue::List(items),
            };
            (name, value)
        })
        .collect()
}

/// Gives each member its stored avoid list (one read for all of them).
async fn attach_avoid_lists(
    state: &AppState,
    members: &mut [TicketMember],
) -> Result<(), ApiError> {
    let players: Vec<PlayerId> = members.iter().map(|member| member.player).collect();
    let lists = state.records.avoid_lists(&players).await?;
    for (member, list) in members.iter_mut().zip(lists) {
        member.avoid = list;
    }
    Ok(())
}

/// The ticket of the caller's party: only its leader queues it, and only once every other
/// member is ready. Each member plays with their own rating and the pings they readied with
/// (the leader's when they gave none, kept to their own preferred regions), and the roles and
/// attributes the leader gives for them in `members` (the leader's `attributes` are the
/// ticket's, which every member has unless given its own).
async fn party_ticket(
    state: &AppState,
    queue: &QueueConfig,
    leader: PlayerId,
    party: PartyId,
    request: &EnqueueRequest,
    leader_pings: Vec<u16>,
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
    for id in request.members.keys() {
        if *id == leader.0 {
            return Err(ApiError::invalid(
                &format!("members.{id}"),
                "give your own roles and attributes in `roles` and `attributes`",
            ));
        }
        if !members.contains(&PlayerId(*id)) {
            return Err(ApiError::invalid(
                &format!("members.{id}"),
                format!(
                    "player {id} is not a member of your party (its members are {:?})",
                    members.iter().map(|m| m.0).collect::<Vec<_>>()
                ),
            ));
        }
    }
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
    let no_choices = MemberChoices::default();
    let mut ticket_members = Vec::with_capacity(members.len());
    for member in &members {
        let pings = if *member == leader {
            leader_pings.clone()
        } else {
            let account = account_of(state, *member).await?;
            let own = ready.get(member).filter(|pings| !pings.is_empty());
            match own {
                Some(own) => check_pings(state, &account, own)?,
                None => {
                    let mut pings = leader_pings.clone();
                    for (index, region) in state.matcher().regions.iter().enumerate() {
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
        let (roles, attributes) = if *member == leader {
            (&request.roles, BTreeMap::new())
        } else {
            let choices = request.members.get(&member.0).unwrap_or(&no_choices);
            (&choices.roles, choices.attributes.clone())
        };
        let one = member_of(state, queue, *member, pings, roles, attributes).await?;
        ticket_members.push(one);
    }
    Ok(EnqueueTicket {
        ticket: TicketId(leader.0),
        queue: request.queue.clone(),
        party: Some(party),
        members: ticket_members,
        max_ping_ms: request.max_ping_ms,
        waiting_since_ms: None,
        attributes: core_attributes(request.attributes.clone()),
    })
}

/// Why the caller's queued ticket has not matched yet (404 `not_queued` when it has none).
pub async fn explain(state: &AppState, player: PlayerId) -> Result<Explanation, ApiError> {
    let status = state.view().status(player);
    let ticket = match status {
        Some(PlayerStatus::Queued(ticket) | PlayerStatus::Proposed(ticket, _)) => ticket,
        Some(PlayerStatus::InMatch(match_id)) => {
            return Err(ApiError::not_found(
                "not_queued",
                format!("you are in {match_id}, not queued"),
            ));
        }
        None => return Err(ApiError::not_found("not_queued", "you are not queued")),
    };
    explain_ticket(state, ticket)
        .await?
        .ok_or_else(|| ApiError::not_found("not_queued", "you are not queued"))
}

/// Why a live ticket has not matched yet (for operators); `None` when no live ticket has
/// this id. Computed by the tick thread from the matcher as of its last tick.
pub async fn explain_ticket(
    state: &AppState,
    ticket: TicketId,
) -> Result<Option<Explanation>, ApiError> {
    let Some(found) = state.ticks.explain(ticket).await? else {
        return Ok(None);
    };
    let players = state
        .view()
        .ticket(ticket)
        .map(|view| view.players.iter().map(|p| p.0).collect())
        .unwrap_or_default();
    Ok(Some(Explanation {
        ticket_id: found.ticket.0,
        players,
        queue: found.queue,
        proposed: found.proposed,
        waited_ms: found.waited_ms,
        next_try_at_ms: found.next_try_at_ms,
        queued_tickets: found.queued_tickets,
        scanned: found.scanned,
        players_needed: found.players_needed,
        compatible_players: found.compatible_players,
        checks: found
            .checks
            .into_iter()
            .map(|check| ExplainCheck {
                name: check.name,
                kind: check.kind,
                binding: check.binding,
                passing: check.passing,
                blocking: check.blocking,
                value: check.value,
                relaxes: check.relaxes.map(|relax| Relaxation {
                    at_ms: relax.at_ms,
                    value: relax.value,
                }),
                optional_at_ms: check.optional_at_ms,
            })
            .collect(),
    }))
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
