//! State changes shared by several systems, on `&mut World`: taking a ticket out, putting one
//! back in its queue, freeing a match's players, closing a backfill request. Each keeps the
//! directory, the pools, the deadlines and the components in step, and emits its event.

use bevy_ecs::prelude::*;

use crate::components::{BackfillRequest, Match, Player, Ticket, TicketState};
use crate::config::QueueConfig;
use crate::event::{BackfillCloseReason, Event, RemovalReason};
use crate::ids::{MatchId, PlayerId};
use crate::pool::{self, PoolEntry, PoolKey};
use crate::resources::{
    BackfillDeadlines, Clock, Directory, MaybeIdlePlayers, Outbox, Pools, Settings,
};

/// Now, in matcher time.
pub(crate) fn now_ms(world: &World) -> u64 {
    world.resource::<Clock>().now_ms
}

/// The pool key and entry of a ticket about to (re-)enter its queue, due at once (its slot
/// is the pool's to set, from the rules data given with it).
pub(crate) fn pool_entry(
    queue: &QueueConfig,
    entity: Entity,
    ticket: &Ticket,
    now_ms: u64,
) -> (PoolKey, PoolEntry) {
    pool_entry_from_parts(queue, entity, ticket, ticket.size(), now_ms)
}

/// As [`pool_entry`], with the ticket's size given (a ticket whose players are not filled in
/// yet).
pub(crate) fn pool_entry_from_parts(
    queue: &QueueConfig,
    entity: Entity,
    ticket: &Ticket,
    size: u8,
    now_ms: u64,
) -> (PoolKey, PoolEntry) {
    let waited_ms = now_ms.saturating_sub(ticket.enqueued_at_ms);
    let pings = &ticket.pings;
    let limit = pool::ping_limit(queue, waited_ms, pings.best_ms, pings.own_max_ms);
    let entry = PoolEntry {
        entity,
        enqueued_at_ms: ticket.enqueued_at_ms,
        wake_at_ms: pool::DUE,
        sigma_bonus: pool::sigma_bonus(queue, ticket.sigma),
        regions: pool::regions_within(&pings.pings_ms, limit),
        players: size,
        avoids: ticket
            .rules
            .as_ref()
            .is_some_and(|rules| !rules.avoid.is_empty()),
        group: crate::rules::group_of_ticket(queue, ticket.rules.as_deref()),
        hint: crate::rules::hint_of(queue, ticket.rules.as_deref()),
        slot: pool::NO_SLOT,
    };
    (PoolKey::new(ticket.rating, ticket.id), entry)
}

/// Takes a ticket out for good (queued or proposed): out of its pool, its players freed, the
/// entity despawned, `TicketRemoved` emitted.
pub(crate) fn remove_ticket(world: &mut World, entity: Entity, reason: RemovalReason) {
    let now = now_ms(world);
    let Some(ticket) = world.get::<Ticket>(entity).cloned() else {
        return;
    };
    if ticket.state == TicketState::Queued {
        let key = PoolKey::new(ticket.rating, ticket.id);
        let removed = world.resource_mut::<Pools>().0[usize::from(ticket.queue)].remove(&key);
        assert!(
            removed.is_some(),
            "queued {} missing from its pool",
            ticket.id
        );
    }
    for player in &ticket.players {
        if let Some(mut found) = world.get_mut::<Player>(*player)
            && found.ticket == Some(entity)
        {
            found.ticket = None;
        }
    }
    world
        .resource_mut::<MaybeIdlePlayers>()
        .0
        .extend(ticket.players.iter().copied());
    world.resource_mut::<Directory>().tickets.remove(&ticket.id);
    world.despawn(entity);
    world.resource_mut::<Outbox>().push(Event::TicketRemoved {
        ticket: ticket.id,
        reason,
        waited_ms: now.saturating_sub(ticket.enqueued_at_ms),
    });
}

/// Puts a proposed ticket back in its queue with its original enqueue time, due at once; or,
/// if it has waited its queue's maximum meanwhile, takes it out as expired.
pub(crate) fn requeue_ticket(world: &mut World, entity: Entity, match_id: MatchId) {
    let now = now_ms(world);
    let Some(ticket) = world.get::<Ticket>(entity).cloned() else {
        return;
    };
    let queue = usize::from(ticket.queue);
    let max_wait_ms = world.resource::<Settings>().queue(queue).max_wait_ms;
    if ticket.enqueued_at_ms.saturating_add(max_wait_ms) <= now {
        remove_ticket(world, entity, RemovalReason::Expired);
        return;
    }
    let (key, entry) = pool_entry(
        world.resource::<Settings>().queue(queue),
        entity,
        &ticket,
        now,
    );
    world.resource_mut::<Pools>().0[queue].insert_due(key, entry, ticket.rules.clone());
    if let Some(mut found) = world.get_mut::<Ticket>(entity) {
        found.state = TicketState::Queued;
    }
    world.resource_mut::<Outbox>().push(Event::TicketRequeued {
        ticket: ticket.id,
        match_id,
    });
}

/// Despawns the tickets of a match whose game server is up: they are done with, silently (the
/// match's events tell their story).
pub(crate) fn retire_tickets(world: &mut World, tickets: &[Entity]) {
    for ticket in tickets {
        let Some((id, players)) = world
            .get::<Ticket>(*ticket)
            .map(|found| (found.id, found.players.clone()))
        else {
            continue;
        };
        debug_assert!(
            matches!(
                world.get::<Ticket>(*ticket).map(|t| t.state),
                Some(TicketState::Proposed(_))
            ),
            "{id} retired while queued"
        );
        for player in players {
            if let Some(mut found) = world.get_mut::<Player>(player)
                && found.ticket == Some(*ticket)
            {
                found.ticket = None;
            }
        }
        world.resource_mut::<Directory>().tickets.remove(&id);
        world.despawn(*ticket);
    }
}

/// Takes a player out of its match (the roster is the caller's business).
pub(crate) fn free_player_from_match(world: &mut World, player: Entity, match_entity: Entity) {
    if let Some(mut found) = world.get_mut::<Player>(player)
        && found.in_match == Some(match_entity)
    {
        found.in_match = None;
        found.team = 0;
    }
    world.resource_mut::<MaybeIdlePlayers>().0.push(player);
}

/// Closes a match's backfill request, if it has one.
pub(crate) fn close_backfill(world: &mut World, match_entity: Entity, reason: BackfillCloseReason) {
    let Some(request) = world.get::<BackfillRequest>(match_entity).cloned() else {
        return;
    };
    let Some(found) = world.get::<Match>(match_entity).copied() else {
        return;
    };
    world.resource_mut::<Pools>().0[usize::from(found.queue)]
        .remove_backfill(request.requested_at_ms, found.id);
    world
        .resource_mut::<BackfillDeadlines>()
        .0
        .cancel(request.deadline_ms, found.id);
    world.entity_mut(match_entity).remove::<BackfillRequest>();
    world.resource_mut::<Outbox>().push(Event::BackfillClosed {
        match_id: found.id,
        reason,
    });
}

/// The ids of a ticket's players.
pub(crate) fn ticket_player_ids(world: &World, ticket: Entity) -> Vec<PlayerId> {
    world
        .get::<Ticket>(ticket)
        .map(|ticket| {
            ticket
                .players
                .iter()
                .filter_map(|player| world.get::<Player>(*player).map(|p| p.id))
                .collect()
        })
        .unwrap_or_default()
}
