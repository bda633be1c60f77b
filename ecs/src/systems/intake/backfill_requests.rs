//! Backfill requests: `RequestBackfill` and `CancelBackfill`. An active session asks for
//! players per team; the request replaces any earlier one, waits in its queue's backfill list
//! (filled by `systems::backfill` before new matches form) and expires at its deadline.

use bevy_ecs::prelude::*;

use super::lookup::match_entity;
use super::sessions::active_session;
use crate::components::{BackfillRequest, Match, MatchRoster};
use crate::event::{BackfillCloseReason, RejectReason};
use crate::ids::MatchId;
use crate::resources::{BackfillDeadlines, Pools, Settings};
use crate::systems::world_ops::{self, now_ms};

pub(super) fn request_backfill(
    world: &mut World,
    match_id: MatchId,
    open_slots: Vec<u8>,
) -> Result<(), RejectReason> {
    let (entity, _) = active_session(world, match_id)?;
    let found = *world
        .get::<Match>(entity)
        .expect("a match entity has Match");
    let (team_size, max_wait_ms) = {
        let queue = world.resource::<Settings>().queue(usize::from(found.queue));
        if !queue.rules.is_empty() || queue.roles.is_some() {
            return Err(RejectReason::InvalidBackfill {
                match_id,
                why: format!(
                    "queue `{}` has match rules or roles, which backfill does not apply yet; start a new match instead",
                    queue.name
                ),
            });
        }
        (queue.team_size, queue.backfill_max_wait_ms)
    };
    check_open_slots(world, entity, match_id, &open_slots, team_size)?;
    world_ops::close_backfill(world, entity, BackfillCloseReason::Cancelled);
    let now = now_ms(world);
    let deadline_ms = now.saturating_add(max_wait_ms);
    world.entity_mut(entity).insert(BackfillRequest {
        open_slots,
        requested_at_ms: now,
        deadline_ms,
    });
    world.resource_mut::<Pools>().0[usize::from(found.queue)].add_backfill(now, match_id);
    world
        .resource_mut::<BackfillDeadlines>()
        .0
        .schedule(deadline_ms, match_id);
    Ok(())
}

/// One count per team, none past the team size with the players it has, and at least one
/// slot open.
fn check_open_slots(
    world: &World,
    entity: Entity,
    match_id: MatchId,
    open_slots: &[u8],
    team_size: u8,
) -> Result<(), RejectReason> {
    let invalid = |why: String| RejectReason::InvalidBackfill { match_id, why };
    let roster = world
        .get::<MatchRoster>(entity)
        .expect("a session has a roster");
    if open_slots.len() != roster.teams.len() {
        return Err(invalid(format!(
            "{} slot counts given for {} teams",
            open_slots.len(),
            roster.teams.len()
        )));
    }
    for (team, (open, members)) in open_slots.iter().zip(&roster.teams).enumerate() {
        if members.len() + usize::from(*open) > usize::from(team_size) {
            return Err(invalid(format!(
                "team {team} has {} players; {open} more would pass the team size of {team_size}",
                members.len()
            )));
        }
    }
    if open_slots.iter().all(|open| *open == 0) {
        return Err(invalid("no slot is open".into()));
    }
    Ok(())
}

pub(super) fn cancel_backfill(world: &mut World, match_id: MatchId) -> Result<(), RejectReason> {
    let entity = match_entity(world, match_id)?;
    if world.get::<BackfillRequest>(entity).is_none() {
        return Err(RejectReason::NoBackfillRequest { match_id });
    }
    world_ops::close_backfill(world, entity, BackfillCloseReason::Cancelled);
    Ok(())
}
