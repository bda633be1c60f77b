//! End of tick: players who are in nothing any more (no ticket, match or party) are despawned.
//! Only the players that left something this tick are looked at.

use bevy_ecs::prelude::*;

use crate::components::{InParty, Player, PlayerStatus};
use crate::resources::{Directory, MaybeIdlePlayers};

/// Despawns players that became idle this tick.
pub fn despawn_idle_players(world: &mut World) {
    let candidates = core::mem::take(&mut world.resource_mut::<MaybeIdlePlayers>().0);
    for entity in candidates {
        let Some(status) = world.get::<PlayerStatus>(entity) else {
            continue; // Already despawned (listed twice).
        };
        if !status.is_idle() || world.get::<InParty>(entity).is_some() {
            continue;
        }
        if let Some(player) = world.get::<Player>(entity).copied() {
            world.resource_mut::<Directory>().players.remove(&player.id);
        }
        world.despawn(entity);
    }
}
