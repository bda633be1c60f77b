//! Sessions: what the game server reports (`SessionReady`, `AllocationFailed`, `Heartbeat`,
//! `ReportResult`, `EndSession`) and players leaving (`LeaveSession`). A report that ends the
//! session only marks it (`close_session`); the resolve phase closes it at the end of the
//! intake, so that later commands in the tick see it as ending.

use bevy_ecs::prelude::*;

use super::lookup::{match_entity, member_of_match, wrong_phase};
use crate::components::{Match, MatchPhase, MatchRoster};
use crate::event::{AbandonReason, Event, RejectReason};
use crate::ids::{MatchId, PlayerId};
use crate::resources::{
    MatchDeadlines, Outbox, RegionBackoff, SessionClose, SessionOutcome, SessionsToClose, Settings,
};
use crate::systems::world_ops::{self, now_ms};

/// The session and its phase, if it is allocating or active.
fn running_session(world: &World, match_id: MatchId) -> Result<(Entity, MatchPhase), RejectReason> {
    let entity = match_entity(world, match_id)?;
    match world.get::<MatchPhase>(entity) {
        Some(phase @ (MatchPhase::Allocating { .. } | MatchPhase::Active { .. })) => {
            Ok((entity, phase.clone()))
        }
        _ => Err(wrong_phase(world, entity, match_id)),
    }
}

/// The session, if it is active: what only a game server that is up can say (a player left,
/// players wanted) needs one.
pub(super) fn active_session(
    world: &World,
    match_id: MatchId,
) -> Result<(Entity, MatchPhase), RejectReason> {
    let (entity, phase) = running_session(world, match_id)?;
    match phase {
        MatchPhase::Active { .. } => Ok((entity, phase)),
        _ => Err(wrong_phase(world, entity, match_id)),
    }
}

pub(super) fn session_ready(
    world: &mut World,
    match_id: MatchId,
    server: String,
) -> Result<(), RejectReason> {
    let (entity, phase) = running_session(world, match_id)?;
    let MatchPhase::Allocating {
        deadline_ms,
        tickets,
    } = phase
    else {
        return Ok(()); // Already active: ready twice changes nothing.
    };
    world_ops::retire_tickets(world, &tickets);
    keep_alive(world, entity, match_id, deadline_ms);
    world
        .resource_mut::<Outbox>()
        .push(Event::SessionActive { match_id, server });
    Ok(())
}

pub(super) fn allocation_failed(world: &mut World, match_id: MatchId) -> Result<(), RejectReason> {
    let (entity, phase) = running_session(world, match_id)?;
    if !matches!(phase, MatchPhase::Allocating { .. }) {
        return Err(wrong_phase(world, entity, match_id));
    }
    let (region, backoff_ms) = (
        world
            .get::<Match>(entity)
            .expect("a match has Match")
            .region,
        world
            .resource::<Settings>()
            .config
            .sessions
            .allocation_backoff_ms,
    );
    let until_ms = now_ms(world).saturating_add(backoff_ms);
    world
        .resource_mut::<RegionBackoff>()
        .close(region, until_ms);
    close_session(
        world,
        entity,
        match_id,
        &phase,
        SessionOutcome::Abandoned(AbandonReason::AllocationFailed),
    );
    Ok(())
}

/// `Command::CancelMatch`: a proposal falls through, a session waiting for its game server
/// is abandoned; an active session is refused (end it instead).
pub(super) fn cancel_match(world: &mut World, match_id: MatchId) -> Result<(), RejectReason> {
    let entity = match_entity(world, match_id)?;
    match world.get::<MatchPhase>(entity).cloned() {
        // A proposal, or one already falling through this tick (a decline came first).
        Some(MatchPhase::AwaitingAcceptance { .. } | MatchPhase::Closing) => {
            super::acceptance::cancel_proposed(world, entity)
        }
        Some(phase @ MatchPhase::Allocating { .. }) => {
            close_session(
                world,
                entity,
                match_id,
                &phase,
                SessionOutcome::Abandoned(AbandonReason::Cancelled),
            );
            Ok(())
        }
        _ => Err(wrong_phase(world, entity, match_id)),
    }
}

pub(super) fn heartbeat(world: &mut World, match_id: MatchId) -> Result<(), RejectReason> {
    let (entity, phase) = running_session(world, match_id)?;
    let MatchPhase::Active { deadline_ms } = phase else {
        return Err(wrong_phase(world, entity, match_id));
    };
    keep_alive(world, entity, match_id, deadline_ms);
    Ok(())
}

/// Makes the session active with a fresh heartbeat deadline, replacing the one at `old_ms`.
fn keep_alive(world: &mut World, entity: Entity, match_id: MatchId, old_ms: u64) {
    let timeout = world
        .resource::<Settings>()
        .config
        .sessions
        .heartbeat_timeout_ms;
    let deadline_ms = now_ms(world).saturating_add(timeout);
    world
        .resource_mut::<MatchDeadlines>()
        .0
        .reschedule(old_ms, deadline_ms, match_id);
    if let Some(mut phase) = world.get_mut::<MatchPhase>(entity) {
        *phase = MatchPhase::Active { deadline_ms };
    }
}

/// Marks a running session to close at the end of the tick.
fn close_session(
    world: &mut World,
    entity: Entity,
    match_id: MatchId,
    phase: &MatchPhase,
    outcome: SessionOutcome,
) {
    if let Some(deadline_ms) = phase.deadline_ms() {
        world
            .resource_mut::<MatchDeadlines>()
            .0
            .cancel(deadline_ms, match_id);
    }
    if let Some(mut phase) = world.get_mut::<MatchPhase>(entity) {
        *phase = MatchPhase::Closing;
    }
    let (held_tickets, frees_server) = match phase {
        MatchPhase::Allocating { tickets, .. } => (tickets.clone(), false),
        MatchPhase::Active { .. } => (Vec::new(), true),
        _ => (Vec::new(), false),
    };
    world
        .resource_mut::<SessionsToClose>()
        .0
        .push(SessionClose {
            match_entity: entity,
            outcome,
            held_tickets,
            frees_server,
        });
}

pub(super) fn report_result(
    world: &mut World,
    match_id: MatchId,
    placements: Vec<u32>,
) -> Result<(), RejectReason> {
    let (entity, phase) = running_session(world, match_id)?;
    let teams = world
        .get::<MatchRoster>(entity)
        .map_or(0, |r| r.teams.len());
    if placements.len() != teams || placements.contains(&0) {
        return Err(RejectReason::InvalidPlacements {
            teams,
            got: placements.len(),
        });
    }
    close_session(
        world,
        entity,
        match_id,
        &phase,
        SessionOutcome::Result(placements),
    );
    Ok(())
}

pub(super) fn end_session(world: &mut World, match_id: MatchId) -> Result<(), RejectReason> {
    let (entity, phase) = running_session(world, match_id)?;
    close_session(world, entity, match_id, &phase, SessionOutcome::Ended);
    Ok(())
}

pub(super) fn leave_session(
    world: &mut World,
    match_id: MatchId,
    player: PlayerId,
) -> Result<(), RejectReason> {
    let (entity, phase) = active_session(world, match_id)?;
    let member = member_of_match(world, entity, match_id, player)?;
    world_ops::free_player_from_match(world, member, entity);
    let empty = {
        let mut roster = world
            .get_mut::<MatchRoster>(entity)
            .expect("a session has a roster");
        for team in &mut roster.teams {
            team.retain(|p| *p != member);
        }
        roster.teams.iter().all(Vec::is_empty)
    };
    world
        .resource_mut::<Outbox>()
        .push(Event::PlayerLeftSession { match_id, player });
    if empty {
        close_session(
            world,
            entity,
            match_id,
            &phase,
            SessionOutcome::Abandoned(AbandonReason::Empty),
        );
    }
    Ok(())
}
