//! Lookups several command families share: the match a command names, whether a player is in
//! it, the phase to name when a command comes at the wrong time, and a party's members. Each
//! failure is the `RejectReason` the command is answered with.

use bevy_ecs::prelude::*;

use crate::components::{MatchPhase, Party, Player};
use crate::event::{MatchPhaseName, RejectReason};
use crate::ids::{MatchId, PlayerId};
use crate::resources::Directory;

/// A party's members' ids, in the party's order.
pub(super) fn party_member_ids(world: &World, party: Entity) -> Vec<PlayerId> {
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

/// The match's entity, if the matcher knows the match.
pub(super) fn match_entity(world: &World, match_id: MatchId) -> Result<Entity, RejectReason> {
    world
        .resource::<Directory>()
        .matches
        .get(&match_id)
        .copied()
        .ok_or(RejectReason::UnknownMatch { match_id })
}

/// The refusal of a command that does not fit the match's phase, naming the phase.
pub(super) fn wrong_phase(world: &World, entity: Entity, match_id: MatchId) -> RejectReason {
    RejectReason::WrongMatchPhase {
        match_id,
        phase: world
            .get::<MatchPhase>(entity)
            .map_or(MatchPhaseName::Ending, MatchPhase::name),
    }
}

/// The player's entity, if the player is in this match.
pub(super) fn member_of_match(
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
