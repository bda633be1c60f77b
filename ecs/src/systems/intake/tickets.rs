//! Tickets: `Enqueue` and `Cancel`. An enqueue is worked out in full (`plan_enqueue`: queue,
//! members, party, combined rating and pings) before anything changes, so a rejected one
//! leaves no trace; then the ticket and its new players are spawned and it enters its queue,
//! due at once. Taking a ticket away (`take_ticket_away`) also serves the parties' commands.

use bevy_ecs::prelude::*;
use smallvec::SmallVec;

use super::acceptance::cancel_proposal;
use super::lookup::party_member_ids;
use crate::command::{EnqueueTicket, NO_PING};
use crate::components::{Match, Party, Player, Ticket, TicketPings, TicketState};
use crate::config::{Config, QueueConfig};
use crate::event::{Event, RejectReason, RemovalReason};
use crate::ids::{CommandSeq, PlayerId, TicketId};
use crate::rating::{self, Rating};
use crate::resources::{Directory, Outbox, Pools, Settings};
use crate::systems::world_ops::{self, now_ms};

/// What `enqueue` will do, worked out before anything changes.
struct EnqueuePlan {
    queue: u16,
    rating: f64,
    sigma: f64,
    pings: TicketPings,
    members: SmallVec<[PlannedMember; 2]>,
    rules: Option<std::sync::Arc<crate::rules::TicketRules>>,
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

pub(super) fn enqueue(
    world: &mut World,
    seq: CommandSeq,
    request: EnqueueTicket,
) -> Result<(), RejectReason> {
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
        rules: plan.rules,
    };
    let rules = ticket.rules.clone();
    let (key, mut entry) = {
        let settings = world.resource::<Settings>();
        let size = plan.members.len() as u8;
        let queue = settings.queue(usize::from(plan.queue));
        world_ops::pool_entry_from_parts(queue, Entity::PLACEHOLDER, &ticket, size, now)
    };
    // Spawned whole (its players are filled in below): no archetype move.
    let entity = world.spawn(ticket).id();
    entry.entity = entity;
    let (players, player_ids) = spawn_members(world, entity, plan.members);
    world
        .get_mut::<Ticket>(entity)
        .expect("the ticket was just spawned")
        .players = players;
    world
        .resource_mut::<Directory>()
        .tickets
        .insert(request.ticket, entity);
    world.resource_mut::<Pools>().0[usize::from(plan.queue)].insert_due(key, entry, rules);
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

/// Puts the planned members in the ticket `entity`: party members the matcher knows are
/// updated, the others spawned. Returns their entities and ids, in the command's order.
fn spawn_members(
    world: &mut World,
    entity: Entity,
    members: SmallVec<[PlannedMember; 2]>,
) -> (SmallVec<[Entity; 2]>, Vec<PlayerId>) {
    let mut players = SmallVec::<[Entity; 2]>::new();
    let mut player_ids = Vec::with_capacity(members.len());
    for PlannedMember {
        id,
        rating,
        matched_mu,
        existing,
    } in members
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
    (players, player_ids)
}

/// Works out an enqueue, or the first reason to refuse it, in this order: the request itself,
/// its members' standing, its party, its reachable regions, its attributes, roles and avoid
/// lists.
fn plan_enqueue(world: &World, request: &EnqueueTicket) -> Result<EnqueuePlan, RejectReason> {
    let queue_index = check_request(world, request)?;
    let mut members = plan_members(world, request)?;
    check_party(world, request)?;
    let queue = &world.resource::<Settings>().config.queues[queue_index];
    let pings = combine_pings(request);
    if pings.best_ms == NO_PING || pings.best_ms > pings.own_max_ms {
        return Err(RejectReason::NoReachableRegion);
    }
    let limits = &world.resource::<Settings>().config.limits;
    let interner = world.resource::<Pools>().0[queue_index].interner();
    let rules =
        crate::rules::ticket_rules(limits, queue, request, interner)?.map(std::sync::Arc::new);
    // In a queue rated per role, a ticket waits on its members' first-choice ratings (team
    // balance later uses the role each plays).
    let per_role = queue
        .roles
        .as_ref()
        .is_some_and(|roles| roles.rating_per_role);
    let ratings: SmallVec<[Rating; 8]> = match &rules {
        Some(rules) if per_role => rules.roles.iter().map(|m| m.choices[0].1).collect(),
        _ => request.members.iter().map(|m| m.rating).collect(),
    };
    let combined = rating::party_rating(queue.party_rating, &ratings);
    let mean = ratings.iter().map(|r| r.mu).sum::<f64>() / ratings.len() as f64;
    for (member, rating) in members.iter_mut().zip(&ratings) {
        member.matched_mu = rating.mu + (combined - mean);
    }
    Ok(EnqueuePlan {
        rules,
        queue: queue_index as u16,
        rating: combined,
        sigma: rating::party_sigma(&ratings),
        pings,
        members,
    })
}

/// Checks the request against the config and the queue: a known queue, valid members, a new
/// ticket id, room in the queue. Returns the queue's index.
fn check_request(world: &World, request: &EnqueueTicket) -> Result<usize, RejectReason> {
    let config = &world.resource::<Settings>().config;
    let queue_index =
        config
            .queue_index(&request.queue)
            .ok_or_else(|| RejectReason::UnknownQueue {
                queue: request.queue.clone(),
            })?;
    let queue = &config.queues[queue_index];
    check_members(config, queue, request)?;
    if world
        .resource::<Directory>()
        .tickets
        .contains_key(&request.ticket)
    {
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
    Ok(queue_index)
}

/// Checks the members as given: some, not too many, each once, each with a valid rating and a
/// ping for every region.
fn check_members(
    config: &Config,
    queue: &QueueConfig,
    request: &EnqueueTicket,
) -> Result<(), RejectReason> {
    if request.members.is_empty() {
        return Err(RejectReason::EmptyTicket);
    }
    if request.members.len() > usize::from(queue.max_party_size) {
        return Err(RejectReason::PartyTooLarge {
            size: request.members.len(),
            max: queue.max_party_size,
        });
    }
    let ids = sorted_member_ids(request);
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
    Ok(())
}

fn sorted_member_ids(request: &EnqueueTicket) -> SmallVec<[PlayerId; 8]> {
    let mut ids: SmallVec<[PlayerId; 8]> = request.members.iter().map(|m| m.player).collect();
    ids.sort_unstable();
    ids
}

/// The members as they will be queued. A member the matcher knows must be free (in no ticket
/// and no match) and in no party but the ticket's.
fn plan_members(
    world: &World,
    request: &EnqueueTicket,
) -> Result<SmallVec<[PlannedMember; 2]>, RejectReason> {
    let directory = world.resource::<Directory>();
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
    Ok(members)
}

/// A ticket of several players needs a party, and a party's ticket has exactly its members.
fn check_party(world: &World, request: &EnqueueTicket) -> Result<(), RejectReason> {
    match request.party {
        None if request.members.len() > 1 => Err(RejectReason::PartyRequired),
        None => Ok(()),
        Some(party) => {
            let entity = world
                .resource::<Directory>()
                .parties
                .get(&party)
                .copied()
                .ok_or(RejectReason::UnknownParty { party })?;
            let mut party_ids: SmallVec<[PlayerId; 8]> =
                party_member_ids(world, entity).into_iter().collect();
            party_ids.sort_unstable();
            if party_ids != sorted_member_ids(request) {
                return Err(RejectReason::PartyMembersMismatch { party });
            }
            Ok(())
        }
    }
}

/// A ticket plays where all its members can: per region, the worst member's ping.
fn combine_pings(request: &EnqueueTicket) -> TicketPings {
    let regions = request.members[0].pings_ms.len();
    let pings_ms: SmallVec<[u16; 8]> = (0..regions)
        .map(|region| request.worst_ping_ms(region))
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

pub(super) fn cancel(world: &mut World, ticket: TicketId) -> Result<(), RejectReason> {
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
pub(super) fn take_ticket_away(
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
