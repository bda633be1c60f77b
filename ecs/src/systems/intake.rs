//! Applying the tick's commands, in submission order. Each command is validated against the
//! state left by the commands before it; a command that fails validation changes nothing and
//! is answered by `Event::Rejected` with the reason.
//!
//! Commands that end something bigger than themselves (a declined proposal, a session's result)
//! only mark it here (`MatchPhase::Closing`) and leave the work to the resolve phase, so that
//! later commands in the same tick see the match as ending and are refused.

use bevy_ecs::prelude::*;
use smallvec::SmallVec;

use crate::command::{Command, EnqueueTicket, NO_PING};
use crate::components::{
    BackfillRequest, Match, MatchPhase, MatchRoster, Party, Player, Ticket, TicketPings,
    TicketState,
};
use crate::event::{AbandonReason, BackfillCloseReason, Event, RejectReason, RemovalReason};
use crate::ids::{CommandSeq, MatchId, PartyId, PlayerId, TicketId};
use crate::rating::{self, Rating};
use crate::resources::{
    BackfillDeadlines, Directory, Inbox, MatchDeadlines, MatchesToStart, MaybeIdlePlayers, Outbox,
    Pools, ProposalCancel, ProposalsToCancel, RegionBackoff, SessionClose, SessionOutcome,
    SessionsToClose, Settings, TickCounters,
};
use crate::systems::world_ops::{self, now_ms};

/// Applies every command submitted since the last tick.
pub fn apply_commands(world: &mut World) {
    let mut commands = core::mem::take(&mut world.resource_mut::<Inbox>().commands);
    world.resource_mut::<TickCounters>().commands = commands.len() as u64;
    for (seq, command) in commands.drain(..) {
        if let Err(reason) = apply_command(world, seq, command) {
            world
                .resource_mut::<Outbox>()
                .push(Event::Rejected { seq, reason });
        }
    }
    // Hand the emptied buffer back, so its capacity serves the next tick.
    world.resource_mut::<Inbox>().commands = commands;
}

fn apply_command(world: &mut World, seq: CommandSeq, command: Command) -> Result<(), RejectReason> {
    match command {
        Command::Enqueue(request) => enqueue(world, seq, request),
        Command::Cancel { ticket } => cancel(world, ticket),
        Command::CreateParty { party, leader } => create_party(world, party, leader),
        Command::JoinParty { party, player } => join_party(world, party, player),
        Command::LeaveParty { party, player } => leave_party(world, party, player),
        Command::DisbandParty { party } => disband_party(world, party),
        Command::AcceptMatch { match_id, player } => accept_match(world, match_id, player),
        Command::DeclineMatch { match_id, player } => decline_match(world, match_id, player),
        Command::SessionReady { match_id, server } => session_ready(world, match_id, server),
        Command::AllocationFailed { match_id } => allocation_failed(world, match_id),
        Command::Heartbeat { match_id } => heartbeat(world, match_id),
        Command::ReportResult {
            match_id,
            placements,
        } => report_result(world, match_id, placements),
        Command::EndSession { match_id } => end_session(world, match_id),
        Command::LeaveSession { match_id, player } => leave_session(world, match_id, player),
        Command::RequestBackfill {
            match_id,
            open_slots,
        } => request_backfill(world, match_id, open_slots),
        Command::CancelBackfill { match_id } => cancel_backfill(world, match_id),
    }
}

// ---------------------------------------------------------------------------------------------
// Tickets

/// What `enqueue` will do, worked out before anything changes.
struct EnqueuePlan {
    queue: u16,
    rating: f64,
    sigma: f64,
    pings: TicketPings,
    members: SmallVec<[PlannedMember; 2]>,
}

/// A member of a ticket about to be queued.
struct PlannedMember {
    id: PlayerId,
    rating: Rating,
    /// The rating with the party offset (see `Player::matched_mu`).
    matched_mu: f64,
    /// The player's entity, if the matcher knows the player already (a party member).
    existing: Option<Entity>,
}

fn enqueue(world: &mut World, seq: CommandSeq, request: EnqueueTicket) -> Result<(), RejectReason> {
    let plan = plan_enqueue(world, &request)?;
    let now = now_ms(world);
    let enqueued_at_ms = request.waiting_since_ms.map_or(now, |since| since.min(now));
    let ticket = Ticket {
        id: request.ticket,
        queue: plan.queue,
        party: request.party,
        enqueued_at_ms,
        state: TicketState::Queued,
        rating: plan.rating,
        sigma: plan.sigma,
        pings: plan.pings,
        players: SmallVec::new(),
    };
    let (key, mut entry) = {
        let settings = world.resource::<Settings>();
        let size = plan.members.len() as u8;
        let queue = settings.queue(usize::from(plan.queue));
        world_ops::pool_entry_from_parts(queue, Entity::PLACEHOLDER, &ticket, size, now)
    };
    // Spawned whole (its players are filled in below): no archetype move.
    let entity = world.spawn(ticket).id();
    entry.entity = entity;
    let mut players = SmallVec::<[Entity; 2]>::new();
    let mut player_ids = Vec::with_capacity(plan.members.len());
    for PlannedMember {
        id,
        rating,
        matched_mu,
        existing,
    } in plan.members
    {
        let player = match existing {
            Some(player) => {
                if let Some(mut found) = world.get_mut::<Player>(player) {
                    found.rating = rating;
                    found.matched_mu = matched_mu;
                    found.ticket = Some(entity);
                }
                player
            }
            None => {
                let player = world
                    .spawn(Player {
                        rating,
                        matched_mu,
                        ticket: Some(entity),
                        ..Player::new(id)
                    })
                    .id();
                world.resource_mut::<Directory>().players.insert(id, player);
                player
            }
        };
        players.push(player);
        player_ids.push(id);
    }
    world
        .get_mut::<Ticket>(entity)
        .expect("the ticket was just spawned")
        .players = players;
    world
        .resource_mut::<Directory>()
        .tickets
        .insert(request.ticket, entity);
    world.resource_mut::<Pools>().0[usize::from(plan.queue)].insert_due(key, entry);
    world.resource_mut::<Outbox>().push(Event::TicketQueued {
        seq,
        ticket: request.ticket,
        queue: request.queue,
        party: request.party,
        players: player_ids,
        at_ms: enqueued_at_ms,
    });
    Ok(())
}

fn plan_enqueue(world: &World, request: &EnqueueTicket) -> Result<EnqueuePlan, RejectReason> {
    let config = &world.resource::<Settings>().config;
    let queue_index =
        config
            .queue_index(&request.queue)
            .ok_or_else(|| RejectReason::UnknownQueue {
                queue: request.queue.clone(),
            })?;
    let queue = &config.queues[queue_index];
    let directory = world.resource::<Directory>();
    if request.members.is_empty() {
        return Err(RejectReason::EmptyTicket);
    }
    if request.members.len() > usize::from(queue.max_party_size) {
        return Err(RejectReason::PartyTooLarge {
            size: request.members.len(),
            max: queue.max_party_size,
        });
    }
    let mut ids: SmallVec<[PlayerId; 8]> = request.members.iter().map(|m| m.player).collect();
    ids.sort_unstable();
    if let Some(pair) = ids.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(RejectReason::DuplicatePlayer { player: pair[0] });
    }
    for member in &request.members {
        if !member.rating.is_valid() {
            return Err(RejectReason::InvalidRating {
                player: member.player,
            });
        }
        if member.pings_ms.len() != config.regions.len() {
            return Err(RejectReason::PingsDoNotMatchRegions {
                player: member.player,
                expected: config.regions.len(),
                got: member.pings_ms.len(),
            });
        }
    }
    if directory.tickets.contains_key(&request.ticket) {
        return Err(RejectReason::DuplicateTicket {
            ticket: request.ticket,
        });
    }
    let pool = &world.resource::<Pools>().0[queue_index];
    if pool.len() >= queue.max_tickets as usize {
        return Err(RejectReason::QueueFull {
            queue: request.queue.clone(),
            limit: queue.max_tickets,
        });
    }
    let mut members: SmallVec<[PlannedMember; 2]> = SmallVec::with_capacity(request.members.len());
    for member in &request.members {
        let existing = directory.players.get(&member.player).copied();
        if let Some(entity) = existing {
            check_player_is_free(world, entity, member.player)?;
            let in_party = world
                .get::<Player>(entity)
                .and_then(|player| player.party)
                .and_then(|party| world.get::<Party>(party))
                .map(|party| party.id);
            if let Some(party) = in_party
                && request.party != Some(party)
            {
                return Err(RejectReason::PlayerInParty {
                    player: member.player,
                    party,
                });
            }
        }
        members.push(PlannedMember {
            id: member.player,
            rating: member.rating,
            matched_mu: member.rating.mu,
            existing,
        });
    }
    match request.party {
        None if request.members.len() > 1 => return Err(RejectReason::PartyRequired),
        None => {}
        Some(party) => {
            let entity = directory
                .parties
                .get(&party)
                .copied()
                .ok_or(RejectReason::UnknownParty { party })?;
            let mut party_ids: SmallVec<[PlayerId; 8]> =
                party_member_ids(world, entity).into_iter().collect();
            party_ids.sort_unstable();
            if party_ids != ids {
                return Err(RejectReason::PartyMembersMismatch { party });
            }
        }
    }
    let ratings: SmallVec<[Rating; 8]> = request.members.iter().map(|m| m.rating).collect();
    let combined = rating::party_rating(queue.party_rating, &ratings);
    let mean = ratings.iter().map(|r| r.mu).sum::<f64>() / ratings.len() as f64;
    for member in &mut members {
        member.matched_mu = member.rating.mu + (combined - mean);
    }
    let pings = combine_pings(request);
    if pings.best_ms == NO_PING || pings.best_ms > pings.own_max_ms {
        return Err(RejectReason::NoReachableRegion);
    }
    Ok(EnqueuePlan {
        queue: queue_index as u16,
        rating: combined,
        sigma: rating::party_sigma(&ratings),
        pings,
        members,
    })
}

/// A ticket plays where all its members can: per region, the worst member's ping.
fn combine_pings(request: &EnqueueTicket) -> TicketPings {
    let regions = request.members[0].pings_ms.len();
    let pings_ms: SmallVec<[u16; 8]> = (0..regions)
        .map(|region| {
            request
                .members
                .iter()
                .map(|member| member.pings_ms[region])
                .max()
                .unwrap_or(NO_PING)
        })
        .collect();
    let best_ms = pings_ms.iter().copied().min().unwrap_or(NO_PING);
    TicketPings {
        pings_ms,
        best_ms,
        own_max_ms: request.max_ping_ms.unwrap_or(NO_PING - 1).min(NO_PING - 1),
    }
}

/// Refuses a player already in a ticket or a match.
fn check_player_is_free(
    world: &World,
    entity: Entity,
    player: PlayerId,
) -> Result<(), RejectReason> {
    let Some(status) = world.get::<Player>(entity) else {
        return Ok(());
    };
    if let Some(ticket) = status.ticket.and_then(|t| world.get::<Ticket>(t)) {
        return Err(RejectReason::PlayerAlreadyQueued {
            player,
            ticket: ticket.id,
        });
    }
    if let Some(found) = status.in_match.and_then(|m| world.get::<Match>(m)) {
        return Err(RejectReason::PlayerInMatch {
            player,
            match_id: found.id,
        });
    }
    Ok(())
}

fn cancel(world: &mut World, ticket: TicketId) -> Result<(), RejectReason> {
    let entity = world
        .resource::<Directory>()
        .tickets
        .get(&ticket)
        .copied()
        .ok_or(RejectReason::UnknownTicket { ticket })?;
    take_ticket_away(world, entity, RemovalReason::Cancelled)
}

/// Removes a ticket wherever it is: from its queue at once, or, if its match awaits acceptance,
/// by cancelling that match (its players count as declining). Refused if its match is already
/// starting (everyone accepted earlier in this tick).
fn take_ticket_away(
    world: &mut World,
    entity: Entity,
    reason: RemovalReason,
) -> Result<(), RejectReason> {
    match world.get::<Ticket>(entity).map(|ticket| ticket.state) {
        Some(TicketState::Queued) => {
            world_ops::remove_ticket(world, entity, reason);
            Ok(())
        }
        Some(TicketState::Proposed(match_entity)) => {
            let declined = world_ops::ticket_player_ids(world, entity);
            cancel_proposal(world, match_entity, declined, Some((entity, reason)))
        }
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Parties

fn party_member_ids(world: &World, party: Entity) -> Vec<PlayerId> {
    world
        .get::<Party>(party)
        .map(|party| {
            party
                .members
                .iter()
                .filter_map(|member| world.get::<Player>(*member).map(|player| player.id))
                .collect()
        })
        .unwrap_or_default()
}

fn party_entity(world: &World, party: PartyId) -> Result<Entity, RejectReason> {
    world
        .resource::<Directory>()
        .parties
        .get(&party)
        .copied()
        .ok_or(RejectReason::UnknownParty { party })
}

/// The player's entity, spawned idle if the matcher does not know the player yet.
fn player_entity(world: &mut World, player: PlayerId) -> Entity {
    if let Some(entity) = world.resource::<Directory>().players.get(&player) {
        return *entity;
    }
    let entity = world.spawn(Player::new(player)).id();
    world
        .resource_mut::<Directory>()
        .players
        .insert(player, entity);
    entity
}

fn current_party(world: &World, player: PlayerId) -> Option<PartyId> {
    let entity = world.resource::<Directory>().players.get(&player)?;
    let party = world.get::<Player>(*entity)?.party?;
    world.get::<Party>(party).map(|party| party.id)
}

/// Sets (or clears) a player's party.
fn set_party(world: &mut World, player: Entity, party: Option<Entity>) {
    if let Some(mut found) = world.get_mut::<Player>(player) {
        found.party = party;
    }
}

fn create_party(world: &mut World, party: PartyId, leader: PlayerId) -> Result<(), RejectReason> {
    let limit = world.resource::<Settings>().config.limits.max_parties;
    let directory = world.resource::<Directory>();
    if directory.parties.contains_key(&party) {
        return Err(RejectReason::PartyExists { party });
    }
    if directory.parties.len() >= limit as usize {
        return Err(RejectReason::TooManyParties { limit });
    }
    if let Some(existing) = current_party(world, leader) {
        return Err(RejectReason::PlayerInParty {
            player: leader,
            party: existing,
        });
    }
    check_not_queued(world, leader)?;
    let player = player_entity(world, leader);
    let mut members = SmallVec::new();
    members.push(player);
    let entity = world
        .spawn(Party {
            id: party,
            leader,
            members,
        })
        .id();
    set_party(world, player, Some(entity));
    world
        .resource_mut::<Directory>()
        .parties
        .insert(party, entity);
    world
        .resource_mut::<Outbox>()
        .push(Event::PartyCreated { party, leader });
    Ok(())
}

/// The party is queued (its members are in its ticket: queued, proposed, or held by a match
/// waiting for its game server). A party whose members are playing an active session may
/// still change: it is not queued.
fn party_is_busy(world: &World, party: Entity) -> bool {
    world.get::<Party>(party).is_some_and(|party| {
        party.members.iter().any(|member| {
            world
                .get::<Player>(*member)
                .is_some_and(|player| player.ticket.is_some())
        })
    })
}

/// Refuses a player who is queued: a party member never queues apart from the party.
fn check_not_queued(world: &World, player: PlayerId) -> Result<(), RejectReason> {
    let Some(entity) = world.resource::<Directory>().players.get(&player) else {
        return Ok(());
    };
    match world
        .get::<Player>(*entity)
        .and_then(|found| found.ticket)
        .and_then(|ticket| world.get::<Ticket>(ticket))
    {
        Some(ticket) => Err(RejectReason::PlayerAlreadyQueued {
            player,
            ticket: ticket.id,
        }),
        None => Ok(()),
    }
}

/// A queued party's ticket. All members of a queued party are in its one ticket (a party
/// member cannot queue apart from the party), so the first member's ticket tells.
fn party_ticket(world: &World, party: Entity, party_id: PartyId) -> Option<Entity> {
    let first = *world.get::<Party>(party)?.members.first()?;
    let ticket = world.get::<Player>(first)?.ticket?;
    (world.get::<Ticket>(ticket)?.party == Some(party_id)).then_some(ticket)
}

fn join_party(world: &mut World, party: PartyId, player: PlayerId) -> Result<(), RejectReason> {
    let entity = party_entity(world, party)?;
    if let Some(existing) = current_party(world, player) {
        return Err(RejectReason::PlayerInParty {
            player,
            party: existing,
        });
    }
    if party_is_busy(world, entity) {
        return Err(RejectReason::PartyBusy { party });
    }
    check_not_queued(world, player)?;
    let max = world.resource::<Settings>().config.limits.max_party_size;
    let size = world.get::<Party>(entity).map_or(0, |p| p.members.len());
    if size >= usize::from(max) {
        return Err(RejectReason::PartyFull { party, max });
    }
    let member = player_entity(world, player);
    set_party(world, member, Some(entity));
    if let Some(mut found) = world.get_mut::<Party>(entity) {
        found.members.push(member);
    }
    world
        .resource_mut::<Outbox>()
        .push(Event::PartyJoined { party, player });
    Ok(())
}

fn leave_party(world: &mut World, party: PartyId, player: PlayerId) -> Result<(), RejectReason> {
    let entity = party_entity(world, party)?;
    if current_party(world, player) != Some(party) {
        return Err(RejectReason::NotInParty { player, party });
    }
    if let Some(ticket) = party_ticket(world, entity, party) {
        take_ticket_away(world, ticket, RemovalReason::PartyChanged)
            .map_err(|_| RejectReason::PartyBusy { party })?;
    }
    let member = world.resource::<Directory>().players[&player];
    set_party(world, member, None);
    world.resource_mut::<MaybeIdlePlayers>().0.push(member);
    world
        .resource_mut::<Outbox>()
        .push(Event::PartyLeft { party, player });
    let remaining = {
        let mut found = world.get_mut::<Party>(entity).expect("checked above");
        found.members.retain(|m| *m != member);
        found.members.len()
    };
    if remaining == 0 {
        world.despawn(entity);
        world.resource_mut::<Directory>().parties.remove(&party);
        world
            .resource_mut::<Outbox>()
            .push(Event::PartyDisbanded { party });
    } else {
        let mut ids = party_member_ids(world, entity);
        ids.sort_unstable();
        if let Some(mut found) = world.get_mut::<Party>(entity)
            && found.leader == player
        {
            found.leader = ids[0];
        }
    }
    Ok(())
}

fn disband_party(world: &mut World, party: PartyId) -> Result<(), RejectReason> {
    let entity = party_entity(world, party)?;
    if let Some(ticket) = party_ticket(world, entity, party) {
        take_ticket_away(world, ticket, RemovalReason::PartyChanged)
            .map_err(|_| RejectReason::PartyBusy { party })?;
    }
    let members = world
        .get::<Party>(entity)
        .map(|found| found.members.clone())
        .unwrap_or_default();
    for member in &members {
        set_party(world, *member, None);
    }
    world.despawn(entity);
    world.resource_mut::<MaybeIdlePlayers>().0.extend(members);
    world.resource_mut::<Directory>().parties.remove(&party);
    world
        .resource_mut::<Outbox>()
        .push(Event::PartyDisbanded { party });
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Acceptance

fn match_entity(world: &World, match_id: MatchId) -> Result<Entity, RejectReason> {
    world
        .resource::<Directory>()
        .matches
        .get(&match_id)
        .copied()
        .ok_or(RejectReason::UnknownMatch { match_id })
}

fn wrong_phase(world: &World, entity: Entity, match_id: MatchId) -> RejectReason {
    RejectReason::WrongMatchPhase {
        match_id,
        phase: world
            .get::<MatchPhase>(entity)
            .map_or(crate::event::MatchPhaseName::Ending, MatchPhase::name),
    }
}

/// The player's entity, if the player is in this match.
fn member_of_match(
    world: &World,
    match_entity: Entity,
    match_id: MatchId,
    player: PlayerId,
) -> Result<Entity, RejectReason> {
    world
        .resource::<Directory>()
        .players
        .get(&player)
        .copied()
        .filter(|entity| {
            world
                .get::<Player>(*entity)
                .is_some_and(|found| found.in_match == Some(match_entity))
        })
        .ok_or(RejectReason::NotInMatch { player, match_id })
}

fn accept_match(
    world: &mut World,
    match_id: MatchId,
    player: PlayerId,
) -> Result<(), RejectReason> {
    let entity = match_entity(world, match_id)?;
    member_of_match(world, entity, match_id, player)?;
    let players_in_match = world
        .get::<MatchRoster>(entity)
        .map_or(0, |roster| roster.teams.iter().map(Vec::len).sum::<usize>());
    let Some(MatchPhase::AwaitingAcceptance {
        deadline_ms,
        accepted,
        tickets,
    }) = world.get::<MatchPhase>(entity).cloned()
    else {
        return Err(wrong_phase(world, entity, match_id));
    };
    let Err(position) = accepted.binary_search(&player) else {
        return Ok(()); // Accepting twice changes nothing.
    };
    let mut accepted = accepted;
    accepted.insert(position, player);
    world
        .resource_mut::<Outbox>()
        .push(Event::MatchAccepted { match_id, player });
    if accepted.len() == players_in_match {
        world
            .resource_mut::<MatchDeadlines>()
            .0
            .cancel(deadline_ms, match_id);
        *world
            .get_mut::<MatchPhase>(entity)
            .expect("the match was just read") = MatchPhase::Confirming { tickets };
        world.resource_mut::<MatchesToStart>().0.push(entity);
    } else if let Some(mut phase) = world.get_mut::<MatchPhase>(entity) {
        *phase = MatchPhase::AwaitingAcceptance {
            deadline_ms,
            accepted,
            tickets,
        };
    }
    Ok(())
}

fn decline_match(
    world: &mut World,
    match_id: MatchId,
    player: PlayerId,
) -> Result<(), RejectReason> {
    let entity = match_entity(world, match_id)?;
    member_of_match(world, entity, match_id, player)?;
    cancel_proposal(world, entity, vec![player], None)
}

/// Marks a proposed match as falling through (resolved in the resolve phase). If it is already
/// falling through this tick, the new decliners join the earlier ones. Refused for a match that
/// is starting (everyone accepted) or ending (a session, not a proposal).
pub fn cancel_proposal(
    world: &mut World,
    match_entity: Entity,
    declined: Vec<PlayerId>,
    cancelled: Option<(Entity, RemovalReason)>,
) -> Result<(), RejectReason> {
    let match_id = world
        .get::<Match>(match_entity)
        .expect("a match entity has Match")
        .id;
    match world.get::<MatchPhase>(match_entity).cloned() {
        Some(MatchPhase::AwaitingAcceptance {
            deadline_ms,
            accepted,
            tickets,
        }) => {
            world
                .resource_mut::<MatchDeadlines>()
                .0
                .cancel(deadline_ms, match_id);
            if let Some(mut phase) = world.get_mut::<MatchPhase>(match_entity) {
                *phase = MatchPhase::Closing;
            }
            world
                .resource_mut::<ProposalsToCancel>()
                .0
                .push(ProposalCancel {
                    match_entity,
                    tickets,
                    accepted,
                    declined,
                    cancelled: cancelled.into_iter().collect(),
                    timed_out: false,
                });
            Ok(())
        }
        _ => {
            let mut pending = world.resource_mut::<ProposalsToCancel>();
            match pending
                .0
                .iter_mut()
                .find(|entry| entry.match_entity == match_entity)
            {
                Some(entry) => {
                    entry.declined.extend(declined);
                    entry.cancelled.extend(cancelled);
                    Ok(())
                }
                None => Err(wrong_phase(world, match_entity, match_id)),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sessions

/// The session's deadline, if it is allocating or active.
fn running_session(world: &World, match_id: MatchId) -> Result<(Entity, MatchPhase), RejectReason> {
    let entity = match_entity(world, match_id)?;
    match world.get::<MatchPhase>(entity) {
        Some(phase @ (MatchPhase::Allocating { .. } | MatchPhase::Active { .. })) => {
            Ok((entity, phase.clone()))
        }
        _ => Err(wrong_phase(world, entity, match_id)),
    }
}

/// The session, if it is active: what only a game server that is up can say (a player left,
/// players wanted) needs one.
fn active_session(world: &World, match_id: MatchId) -> Result<(Entity, MatchPhase), RejectReason> {
    let (entity, phase) = running_session(world, match_id)?;
    match phase {
        MatchPhase::Active { .. } => Ok((entity, phase)),
        _ => Err(wrong_phase(world, entity, match_id)),
    }
}

fn session_ready(world: &mut World, match_id: MatchId, server: String) -> Result<(), RejectReason> {
    let (entity, phase) = running_session(world, match_id)?;
    let MatchPhase::Allocating {
        deadline_ms,
        tickets,
    } = phase
    else {
        return Ok(()); // Already active: ready twice changes nothing.
    };
    world_ops::retire_tickets(world, &tickets);
    keep_alive(world, entity, match_id, deadline_ms);
    world
        .resource_mut::<Outbox>()
        .push(Event::SessionActive { match_id, server });
    Ok(())
}

fn allocation_failed(world: &mut World, match_id: MatchId) -> Result<(), RejectReason> {
    let (entity, phase) = running_session(world, match_id)?;
    if !matches!(phase, MatchPhase::Allocating { .. }) {
        return Err(wrong_phase(world, entity, match_id));
    }
    let (region, backoff_ms) = (
        world
            .get::<Match>(entity)
            .expect("a match has Match")
            .region,
        world
            .resource::<Settings>()
            .config
            .sessions
            .allocation_backoff_ms,
    );
    let until_ms = now_ms(world).saturating_add(backoff_ms);
    world
        .resource_mut::<RegionBackoff>()
        .close(region, until_ms);
    close_session(
        world,
        entity,
        match_id,
        &phase,
        SessionOutcome::Abandoned(AbandonReason::AllocationFailed),
    );
    Ok(())
}

fn heartbeat(world: &mut World, match_id: MatchId) -> Result<(), RejectReason> {
    let (entity, phase) = running_session(world, match_id)?;
    let MatchPhase::Active { deadline_ms } = phase else {
        return Err(wrong_phase(world, entity, match_id));
    };
    keep_alive(world, entity, match_id, deadline_ms);
    Ok(())
}

/// Makes the session active with a fresh heartbeat deadline, replacing the one at `old_ms`.
fn keep_alive(world: &mut World, entity: Entity, match_id: MatchId, old_ms: u64) {
    let timeout = world
        .resource::<Settings>()
        .config
        .sessions
        .heartbeat_timeout_ms;
    let deadline_ms = now_ms(world).saturating_add(timeout);
    world
        .resource_mut::<MatchDeadlines>()
        .0
        .reschedule(old_ms, deadline_ms, match_id);
    if let Some(mut phase) = world.get_mut::<MatchPhase>(entity) {
        *phase = MatchPhase::Active { deadline_ms };
    }
}

/// Marks a running session to close at the end of the tick.
fn close_session(
    world: &mut World,
    entity: Entity,
    match_id: MatchId,
    phase: &MatchPhase,
    outcome: SessionOutcome,
) {
    if let Some(deadline_ms) = phase.deadline_ms() {
        world
            .resource_mut::<MatchDeadlines>()
            .0
            .cancel(deadline_ms, match_id);
    }
    if let Some(mut phase) = world.get_mut::<MatchPhase>(entity) {
        *phase = MatchPhase::Closing;
    }
    let (held_tickets, frees_server) = match phase {
        MatchPhase::Allocating { tickets, .. } => (tickets.clone(), false),
        MatchPhase::Active { .. } => (Vec::new(), true),
        _ => (Vec::new(), false),
    };
    world
        .resource_mut::<SessionsToClose>()
        .0
        .push(SessionClose {
            match_entity: entity,
            outcome,
            held_tickets,
            frees_server,
        });
}

fn report_result(
    world: &mut World,
    match_id: MatchId,
    placements: Vec<u32>,
) -> Result<(), RejectReason> {
    let (entity, phase) = running_session(world, match_id)?;
    let teams = world
        .get::<MatchRoster>(entity)
        .map_or(0, |r| r.teams.len());
    if placements.len() != teams || placements.contains(&0) {
        return Err(RejectReason::InvalidPlacements {
            teams,
            got: placements.len(),
        });
    }
    close_session(
        world,
        entity,
        match_id,
        &phase,
        SessionOutcome::Result(placements),
    );
    Ok(())
}

fn end_session(world: &mut World, match_id: MatchId) -> Result<(), RejectReason> {
    let (entity, phase) = running_session(world, match_id)?;
    close_session(world, entity, match_id, &phase, SessionOutcome::Ended);
    Ok(())
}

fn leave_session(
    world: &mut World,
    match_id: MatchId,
    player: PlayerId,
) -> Result<(), RejectReason> {
    let (entity, phase) = active_session(world, match_id)?;
    let member = member_of_match(world, entity, match_id, player)?;
    world_ops::free_player_from_match(world, member, entity);
    let empty = {
        let mut roster = world
            .get_mut::<MatchRoster>(entity)
            .expect("a session has a roster");
        for team in &mut roster.teams {
            team.retain(|p| *p != member);
        }
        roster.teams.iter().all(Vec::is_empty)
    };
    world
        .resource_mut::<Outbox>()
        .push(Event::PlayerLeftSession { match_id, player });
    if empty {
        close_session(
            world,
            entity,
            match_id,
            &phase,
            SessionOutcome::Abandoned(AbandonReason::Empty),
        );
    }
    Ok(())
}

fn request_backfill(
    world: &mut World,
    match_id: MatchId,
    open_slots: Vec<u8>,
) -> Result<(), RejectReason> {
    let (entity, _) = active_session(world, match_id)?;
    let found = *world
        .get::<Match>(entity)
        .expect("a match entity has Match");
    let (team_size, max_wait_ms) = {
        let queue = world.resource::<Settings>().queue(usize::from(found.queue));
        (queue.team_size, queue.backfill_max_wait_ms)
    };
    let invalid = |why: String| RejectReason::InvalidBackfill { match_id, why };
    let roster = world
        .get::<MatchRoster>(entity)
        .expect("a session has a roster");
    if open_slots.len() != roster.teams.len() {
        return Err(invalid(format!(
            "{} slot counts given for {} teams",
            open_slots.len(),
            roster.teams.len()
        )));
    }
    for (team, (open, members)) in open_slots.iter().zip(&roster.teams).enumerate() {
        if members.len() + usize::from(*open) > usize::from(team_size) {
            return Err(invalid(format!(
                "team {team} has {} players; {open} more would pass the team size of {team_size}",
                members.len()
            )));
        }
    }
    if open_slots.iter().all(|open| *open == 0) {
        return Err(invalid("no slot is open".into()));
    }
    world_ops::close_backfill(world, entity, BackfillCloseReason::Cancelled);
    let now = now_ms(world);
    let deadline_ms = now.saturating_add(max_wait_ms);
    world.entity_mut(entity).insert(BackfillRequest {
        open_slots,
        requested_at_ms: now,
        deadline_ms,
    });
    world.resource_mut::<Pools>().0[usize::from(found.queue)].add_backfill(now, match_id);
    world
        .resource_mut::<BackfillDeadlines>()
        .0
        .schedule(deadline_ms, match_id);
    Ok(())
}

fn cancel_backfill(world: &mut World, match_id: MatchId) -> Result<(), RejectReason> {
    let entity = match_entity(world, match_id)?;
    if world.get::<BackfillRequest>(entity).is_none() {
        return Err(RejectReason::NoBackfillRequest { match_id });
    }
    world_ops::close_backfill(world, entity, BackfillCloseReason::Cancelled);
    Ok(())
}
