//! Acceptance: `AcceptMatch` and `DeclineMatch` on a proposed match. When the last player
//! accepts, the match is confirmed and starts in the start phase; a decline (or a ticket taken
//! away, see `tickets`) marks the proposal to fall through in the resolve phase
//! (`cancel_proposal`), where the decliners leave and the others go back to their queues.

use bevy_ecs::prelude::*;

use super::lookup::{match_entity, member_of_match, wrong_phase};
use crate::components::{Match, MatchPhase, MatchRoster};
use crate::event::{Event, RejectReason, RemovalReason};
use crate::ids::{MatchId, PlayerId};
use crate::resources::{MatchDeadlines, MatchesToStart, Outbox, ProposalCancel, ProposalsToCancel};

pub(super) fn accept_match(
    world: &mut World,
    match_id: MatchId,
    player: PlayerId,
) -> Result<(), RejectReason> {
    let entity = match_entity(world, match_id)?;
    member_of_match(world, entity, match_id, player)?;
    let players_in_match = world
        .get::<MatchRoster>(entity)
        .map_or(0, |roster| roster.teams.iter().map(Vec::len).sum::<usize>());
    let Some(MatchPhase::AwaitingAcceptance {
        deadline_ms,
        accepted,
        tickets,
    }) = world.get::<MatchPhase>(entity).cloned()
    else {
        return Err(wrong_phase(world, entity, match_id));
    };
    let Err(position) = accepted.binary_search(&player) else {
        return Ok(()); // Accepting twice changes nothing.
    };
    let mut accepted = accepted;
    accepted.insert(position, player);
    world
        .resource_mut::<Outbox>()
        .push(Event::MatchAccepted { match_id, player });
    if accepted.len() == players_in_match {
        world
            .resource_mut::<MatchDeadlines>()
            .0
            .cancel(deadline_ms, match_id);
        *world
            .get_mut::<MatchPhase>(entity)
            .expect("the match was just read") = MatchPhase::Confirming { tickets };
        world.resource_mut::<MatchesToStart>().0.push(entity);
    } else if let Some(mut phase) = world.get_mut::<MatchPhase>(entity) {
        *phase = MatchPhase::AwaitingAcceptance {
            deadline_ms,
            accepted,
            tickets,
        };
    }
    Ok(())
}

pub(super) fn decline_match(
    world: &mut World,
    match_id: MatchId,
    player: PlayerId,
) -> Result<(), RejectReason> {
    let entity = match_entity(world, match_id)?;
    member_of_match(world, entity, match_id, player)?;
    cancel_proposal(world, entity, vec![player], None)
}

/// An operator's cancel of a proposed match: it falls through as `Cancelled`, and every
/// ticket goes back to its queue but those whose players declined or left in the same tick.
/// A proposal already falling through this tick is marked too; a closing session is refused.
pub(super) fn cancel_proposed(world: &mut World, match_entity: Entity) -> Result<(), RejectReason> {
    cancel_proposal(world, match_entity, Vec::new(), None)?;
    let mut pending = world.resource_mut::<ProposalsToCancel>();
    if let Some(entry) = pending
        .0
        .iter_mut()
        .find(|entry| entry.match_entity == match_entity)
    {
        entry.by_operator = true;
    }
    Ok(())
}

/// Marks a proposed match as falling through (resolved in the resolve phase). If it is already
/// falling through this tick, the new decliners join the earlier ones. Refused for a match that
/// is starting (everyone accepted) or ending (a session, not a proposal).
pub(super) fn cancel_proposal(
    world: &mut World,
    match_entity: Entity,
    declined: Vec<PlayerId>,
    cancelled: Option<(Entity, RemovalReason)>,
) -> Result<(), RejectReason> {
    let match_id = world
        .get::<Match>(match_entity)
        .expect("a match entity has Match")
        .id;
    match world.get::<MatchPhase>(match_entity).cloned() {
        Some(MatchPhase::AwaitingAcceptance {
            deadline_ms,
            accepted,
            tickets,
        }) => {
            world
                .resource_mut::<MatchDeadlines>()
                .0
                .cancel(deadline_ms, match_id);
            if let Some(mut phase) = world.get_mut::<MatchPhase>(match_entity) {
                *phase = MatchPhase::Closing;
            }
            world
                .resource_mut::<ProposalsToCancel>()
                .0
                .push(ProposalCancel {
                    by_operator: false,
                    match_entity,
                    tickets,
                    accepted,
                    declined,
                    cancelled: cancelled.into_iter().collect(),
                    timed_out: false,
                });
            Ok(())
        }
        _ => join_cancellation(world, match_entity, match_id, declined, cancelled),
    }
}

/// Adds decliners (and a cancelled ticket) to a proposal already falling through this tick;
/// refused when the match is not one.
fn join_cancellation(
    world: &mut World,
    match_entity: Entity,
    match_id: MatchId,
    declined: Vec<PlayerId>,
    cancelled: Option<(Entity, RemovalReason)>,
) -> Result<(), RejectReason> {
    let mut pending = world.resource_mut::<ProposalsToCancel>();
    match pending
        .0
        .iter_mut()
        .find(|entry| entry.match_entity == match_entity)
    {
        Some(entry) => {
            entry.declined.extend(declined);
            entry.cancelled.extend(cancelled);
            Ok(())
        }
        None => Err(wrong_phase(world, match_entity, match_id)),
    }
}
