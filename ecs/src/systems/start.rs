//! Starting sessions: matches accepted by everyone (or formed in a queue without acceptance)
//! become sessions waiting for their game server. Their tickets are done with.

use bevy_ecs::prelude::*;

use crate::components::{Match, MatchPhase, MatchRecord, PlayerStatus, Ticket, TicketPlayers};
use crate::event::Event;
use crate::resources::{Directory, MatchDeadlines, MatchesToStart, Outbox, Settings};
use crate::systems::world_ops::now_ms;

/// Starts the matches confirmed this tick, in the order they were confirmed.
pub fn start_matches(world: &mut World) {
    let starting = core::mem::take(&mut world.resource_mut::<MatchesToStart>().0);
    let now = now_ms(world);
    let timeout = world
        .resource::<Settings>()
        .0
        .sessions
        .allocation_timeout_ms;
    for match_entity in starting {
        let Some(MatchPhase::Confirming { tickets }) =
            world.get::<MatchPhase>(match_entity).cloned()
        else {
            continue;
        };
        for ticket in tickets {
            let players = world
                .get::<TicketPlayers>(ticket)
                .map(|players| players.0.clone())
                .unwrap_or_default();
            for player in players {
                if let Some(mut status) = world.get_mut::<PlayerStatus>(player) {
                    status.ticket = None;
                }
            }
            if let Some(id) = world.get::<Ticket>(ticket).map(|t| t.id) {
                world.resource_mut::<Directory>().tickets.remove(&id);
            }
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
        let summary = world
            .get::<MatchRecord>(match_entity)
            .expect("a match has its record")
            .0
            .clone();
        world
            .resource_mut::<Outbox>()
            .push(Event::MatchFormed { summary });
    }
}
