//! State changes shared by several systems, on `&mut World`: taking a ticket out, putting one
//! back in its queue, freeing a match's players, closing a backfill request. Each keeps the
//! directory, the pools, the deadlines and the components in step, and emits its event.

use bevy_ecs::prelude::*;

use crate::components::{
    BackfillRequest, Match, MatchPhase, Player, PlayerStatus, Ticket, TicketPings, TicketPlayers,
    TicketSkill, TicketState,
};
use crate::config::QueueConfig;
use crate::event::{BackfillCloseReason, Event, RemovalReason};
use crate::ids::MatchId;
use crate::pool::{self, PoolEntry, PoolKey};
use crate::resources::{
    BackfillDeadlines, Clock, Directory, MaybeIdlePlayers, Outbox, Pools, Settings,
};

/// Now, in matcher time.
pub fn now_ms(world: &World) -> u64 {
    world.resource::<Clock>().now_ms
}

/// The pool key and entry of a ticket about to (re-)enter its queue, due at once.
pub fn pool_entry(
    queue: &QueueConfig,
    entity: Entity,
    ticket: &Ticket,
    skill: &TicketSkill,
    pings: &TicketPings,
    players: u8,
    now_ms: u64,
) -> (PoolKey, PoolEntry) {
    let waited_ms = now_ms.saturating_sub(ticket.enqueued_at_ms);
    let limit = pool::ping_limit(queue, waited_ms, pings.best_ms, pings.own_max_ms);
    let entry = PoolEntry {
        entity,
        enqueued_at_ms: ticket.enqueued_at_ms,
        wake_at_ms: pool::DUE,
        sigma_bonus: pool::sigma_bonus(queue, skill.sigma),
        regions: pool::regions_within(&pings.pings_ms, limit),
        players,
    };
    (PoolKey::new(skill.rating, ticket.id), entry)
}

/// Takes a ticket out for good (queued or proposed): out of its pool, its players freed, the
/// entity despawned, `TicketRemoved` emitted.
pub fn remove_ticket(world: &mut World, entity: Entity, reason: RemovalReason) {
    let now = now_ms(world);
    let (Some(ticket), Some(state), Some(skill)) = (
        world.get::<Ticket>(entity).copied(),
        world.get::<TicketState>(entity).copied(),
        world.get::<TicketSkill>(entity).copied(),
    ) else {
        return;
    };
    if state == TicketState::Queued {
        let key = PoolKey::new(skill.rating, ticket.id);
        let removed = world.resource_mut::<Pools>().0[usize::from(ticket.queue)].remove(&key);
        assert!(
            removed.is_some(),
            "queued {} missing from its pool",
            ticket.id
        );
    }
    let players = world
        .get::<TicketPlayers>(entity)
        .map(|players| players.0.clone())
        .unwrap_or_default();
    for player in &players {
        if let Some(mut status) = world.get_mut::<PlayerStatus>(*player)
            && status.ticket == Some(entity)
        {
            status.ticket = None;
        }
    }
    world.resource_mut::<MaybeIdlePlayers>().0.extend(players);
    world.resource_mut::<Directory>().tickets.remove(&ticket.id);
    world.despawn(entity);
    world.resource_mut::<Outbox>().push(Event::TicketRemoved {
        ticket: ticket.id,
        reason,
        waited_ms: now.saturating_sub(ticket.enqueued_at_ms),
    });
}

/// Puts a proposed ticket back in its queue with its original enqueue time, due at once.
pub fn requeue_ticket(world: &mut World, entity: Entity, match_id: MatchId) {
    let now = now_ms(world);
    let (Some(ticket), Some(skill), Some(pings), Some(players)) = (
        world.get::<Ticket>(entity).copied(),
        world.get::<TicketSkill>(entity).copied(),
        world.get::<TicketPings>(entity).cloned(),
        world.get::<TicketPlayers>(entity).map(|p| p.0.len() as u8),
    ) else {
        return;
    };
    let (key, entry) = {
        let settings = world.resource::<Settings>();
        let queue = &settings.0.queues[usize::from(ticket.queue)];
        pool_entry(queue, entity, &ticket, &skill, &pings, players, now)
    };
    world.resource_mut::<Pools>().0[usize::from(ticket.queue)].insert_due(key, entry);
    if let Some(mut state) = world.get_mut::<TicketState>(entity) {
        *state = TicketState::Queued;
    }
    world.resource_mut::<Outbox>().push(Event::TicketRequeued {
        ticket: ticket.id,
        match_id,
    });
}

/// Takes a player out of its match (the roster is the caller's business).
pub fn free_player_from_match(world: &mut World, player: Entity, match_entity: Entity) {
    if let Some(mut status) = world.get_mut::<PlayerStatus>(player)
        && status.in_match == Some(match_entity)
    {
        status.in_match = None;
        status.team = 0;
    }
    world.resource_mut::<MaybeIdlePlayers>().0.push(player);
}

/// Closes a match's backfill request, if it has one.
pub fn close_backfill(world: &mut World, match_entity: Entity, reason: BackfillCloseReason) {
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
pub fn ticket_player_ids(world: &World, ticket: Entity) -> Vec<crate::ids::PlayerId> {
    world
        .get::<TicketPlayers>(ticket)
        .map(|players| {
            players
                .0
                .iter()
                .filter_map(|player| world.get::<Player>(*player).map(|p| p.id))
                .collect()
        })
        .unwrap_or_default()
}

/// A match's phase, if the match exists.
pub fn match_phase(world: &World, match_entity: Entity) -> Option<&MatchPhase> {
    world.get::<MatchPhase>(match_entity)
}
