//! Time passing: match deadlines (acceptance, allocation, heartbeat), backfill expiry, and
//! ticket wake-ups (expiry, a region opening, the next review). Only what is due is touched.

use bevy_ecs::prelude::*;

use crate::components::{MatchPhase, Ticket};
use crate::event::{AbandonReason, BackfillCloseReason, Event, Limit, RemovalReason};
use crate::pool;
use crate::resources::{
    BackfillDeadlines, Directory, MatchDeadlines, Outbox, Pools, ProposalCancel, ProposalsToCancel,
    SessionClose, SessionOutcome, SessionsToClose, Settings, TickCounters,
};
use crate::systems::world_ops::{self, now_ms};

/// Acceptance deadlines cancel proposals; allocation and heartbeat deadlines abandon sessions.
pub(crate) fn fire_match_deadlines(world: &mut World) {
    let now = now_ms(world);
    let fired = world.resource_mut::<MatchDeadlines>().0.pop_due(now);
    for (at_ms, match_id) in fired {
        let Some(entity) = world
            .resource::<Directory>()
            .matches
            .get(&match_id)
            .copied()
        else {
            continue;
        };
        let Some(phase) = world.get::<MatchPhase>(entity).cloned() else {
            continue;
        };
        debug_assert_eq!(
            phase.deadline_ms(),
            Some(at_ms),
            "{match_id} deadline out of step"
        );
        let abandon = |reason, held_tickets, frees_server| SessionClose {
            match_entity: entity,
            outcome: SessionOutcome::Abandoned(reason),
            held_tickets,
            frees_server,
        };
        match phase {
            MatchPhase::AwaitingAcceptance {
                accepted, tickets, ..
            } => world
                .resource_mut::<ProposalsToCancel>()
                .0
                .push(ProposalCancel {
                    by_operator: false,
                    match_entity: entity,
                    tickets,
                    accepted,
                    declined: Vec::new(),
                    cancelled: Vec::new(),
                    timed_out: true,
                }),
            MatchPhase::Allocating { tickets, .. } => world
                .resource_mut::<SessionsToClose>()
                .0
                .push(abandon(AbandonReason::AllocationTimedOut, tickets, false)),
            MatchPhase::Active { .. } => world.resource_mut::<SessionsToClose>().0.push(abandon(
                AbandonReason::HeartbeatTimedOut,
                Vec::new(),
                true,
            )),
            MatchPhase::Confirming { .. } | MatchPhase::Closing => continue,
        }
        if let Some(mut phase) = world.get_mut::<MatchPhase>(entity) {
            *phase = MatchPhase::Closing;
        }
    }
}

/// Backfill requests open too long are closed.
pub(crate) fn expire_backfill_requests(world: &mut World) {
    let now = now_ms(world);
    let fired = world.resource_mut::<BackfillDeadlines>().0.pop_due(now);
    for (_, match_id) in fired {
        if let Some(entity) = world
            .resource::<Directory>()
            .matches
            .get(&match_id)
            .copied()
        {
            world_ops::close_backfill(world, entity, BackfillCloseReason::Expired);
        }
    }
}

/// Tickets whose wake time came: expired ones leave; the others get their accepted regions
/// brought up to date and become due. Tickets at the front of the due set (the oldest) that
/// have waited the queue's maximum expire too. At most `limits.max_timer_wakes_per_tick` in
/// all; the queue served first rotates from tick to tick.
pub(crate) fn wake_tickets(world: &mut World) {
    let now = now_ms(world);
    let mut budget = world
        .resource::<Settings>()
        .config
        .limits
        .max_timer_wakes_per_tick as usize;
    let queue_count = world.resource::<Pools>().0.len();
    // The budget is shared; the queue served first rotates each tick so none is starved.
    let first = (world.resource::<crate::resources::Clock>().ticks % queue_count as u64) as usize;
    for offset in 0..queue_count {
        let queue_index = (first + offset) % queue_count;
        let max_wait_ms = world.resource::<Settings>().queue(queue_index).max_wait_ms;
        // The due set is oldest first: expired tickets are at its front.
        while budget > 0 {
            let pools = world.resource::<Pools>();
            let Some(front) = pools.0[queue_index].oldest_due() else {
                break;
            };
            if front.enqueued_at_ms.saturating_add(max_wait_ms) > now {
                break;
            }
            let entity = pools.0[queue_index]
                .get(&front.key)
                .expect("due tickets are queued")
                .entity;
            world_ops::remove_ticket(world, entity, RemovalReason::Expired);
            budget -= 1;
        }
        let woken = world.resource::<Pools>().0[queue_index].wakes_due(now, budget);
        budget -= woken.len();
        for key in woken {
            let entry = *world.resource::<Pools>().0[queue_index]
                .get(&key)
                .expect("waking tickets are queued");
            if entry.enqueued_at_ms.saturating_add(max_wait_ms) <= now {
                world_ops::remove_ticket(world, entry.entity, RemovalReason::Expired);
                continue;
            }
            let regions = {
                let pings = &world
                    .get::<Ticket>(entry.entity)
                    .expect("a queued ticket exists")
                    .pings;
                let queue = world.resource::<Settings>().queue(queue_index);
                let limit =
                    pool::ping_limit(queue, entry.waited_ms(now), pings.best_ms, pings.own_max_ms);
                pool::regions_within(&pings.pings_ms, limit)
            };
            world.resource_mut::<Pools>().0[queue_index].wake(&key, regions);
        }
        if budget == 0 {
            let deferred = world.resource::<Pools>().0[queue_index].count_wakes_due(now) as u64;
            if deferred > 0 {
                let name = world.resource::<Settings>().queue(queue_index).name.clone();
                world.resource_mut::<Outbox>().push(Event::LimitReached {
                    queue: Some(name),
                    limit: Limit::TimerWakesPerTick,
                    deferred,
                });
                world
                    .resource_mut::<TickCounters>()
                    .limits
                    .push((Some(queue_index as u16), Limit::TimerWakesPerTick));
            }
        }
    }
}
