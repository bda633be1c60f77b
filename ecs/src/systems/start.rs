//! Starting sessions: matches accepted by everyone (or formed in a queue without acceptance)
//! become sessions waiting for their game server. Their tickets are done with.

use bevy_ecs::prelude::*;

use crate::components::{Match, MatchPhase, MatchRecord, Player, Ticket};
use crate::event::Event;
use crate::resources::{Directory, MatchDeadlines, MatchesToStart, Outbox, Settings};
use crate::systems::world_ops::now_ms;

/// Starts the matches confirmed this tick, in the order they were confirmed.
pub fn start_matches(world: &mut World) {
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
        for ticket in tickets {
            let Some((id, players)) = world
                .get::<Ticket>(ticket)
                .map(|found| (found.id, found.players.clone()))
            else {
                continue;
            };
            for player in players {
                if let Some(mut found) = world.get_mut::<Player>(player) {
                    found.ticket = None;
                }
            }
            world.resource_mut::<Directory>().tickets.remove(&id);
            world.despawn(ticket);
        }
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
            .expect("read above") = MatchPhase::Allocating { deadline_ms };
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
