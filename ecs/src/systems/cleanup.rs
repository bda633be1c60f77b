//! End of tick: players who are in nothing any more (no ticket, match or party) are despawned.
//! Only the players that left something this tick are looked at.

use bevy_ecs::prelude::*;

use crate::components::Player;
use crate::resources::{Directory, MaybeIdlePlayers};

/// Despawns players that became idle this tick.
pub(crate) fn despawn_idle_players(world: &mut World) {
    let mut candidates = core::mem::take(&mut world.resource_mut::<MaybeIdlePlayers>().0);
    for entity in candidates.drain(..) {
        let Some(player) = world.get::<Player>(entity) else {
            continue; // Already despawned (listed twice).
        };
        if !player.is_idle() {
            continue;
        }
        let id = player.id;
        world.resource_mut::<Directory>().players.remove(&id);
        world.despawn(entity);
    }
    world.resource_mut::<MaybeIdlePlayers>().0 = candidates;
}
