//! Starting sessions: matches accepted by everyone (or formed in a queue without acceptance)
//! become sessions waiting for their game server. Their tickets stay with the session until the
//! server is up: if the fleet has none, they go back to their queues keeping their waiting time
//! (see `resolve::close_sessions`); once it is up they are done with (`world_ops::retire_tickets`).

use bevy_ecs::prelude::*;

use crate::components::{Match, MatchPhase, MatchRecord};
use crate::event::Event;
use crate::resources::{MatchDeadlines, MatchesToStart, Outbox, Settings};
use crate::systems::world_ops::now_ms;

/// Starts the matches confirmed this tick, in the order they were confirmed.
pub(crate) fn start_matches(world: &mut World) {
    let mut starting = core::mem::take(&mut world.resource_mut::<MatchesToStart>().0);
    let now = now_ms(world);
    let timeout = world
        .resource::<Settings>()
        .config
        .sessions
        .allocation_timeout_ms;
    for match_entity in starting.drain(..) {
        let Some(MatchPhase::Confirming { tickets }) =
            world.get::<MatchPhase>(match_entity).cloned()
        else {
            continue;
        };
        let deadline_ms = now.saturating_add(timeout);
        let match_id = world
            .get::<Match>(match_entity)
            .expect("a match entity has Match")
            .id;
        world
            .resource_mut::<MatchDeadlines>()
            .0
            .schedule(deadline_ms, match_id);
        *world
            .get_mut::<MatchPhase>(match_entity)
            .expect("read above") = MatchPhase::Allocating {
            deadline_ms,
            tickets,
        };
        let summary = std::sync::Arc::clone(
            &world
                .get::<MatchRecord>(match_entity)
                .expect("a match has its record")
                .0,
        );
        world
            .resource_mut::<Outbox>()
            .push(Event::MatchFormed { summary });
    }
    world.resource_mut::<MatchesToStart>().0 = starting;
}
