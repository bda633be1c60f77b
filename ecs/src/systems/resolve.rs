//! Resolving what the commands and deadlines marked: proposals that fell through (decliners
//! and non-responders leave, everyone else goes back with their waiting time) and sessions that
//! end (results update ratings; a session that got no game server sends its tickets back to
//! their queues with their waiting time).

use bevy_ecs::prelude::*;

use crate::components::{Match, MatchRoster, Player};
use crate::event::{
    AbandonReason, BackfillCloseReason, Event, MatchCancelReason, RatingUpdate, RemovalReason,
};
use crate::ids::PlayerId;
use crate::rating::{self, Rating};
use crate::resources::{
    Directory, Outbox, ProposalCancel, ProposalsToCancel, RegionBackoff, SessionClose,
    SessionOutcome, SessionsToClose, Settings,
};
use crate::systems::world_ops;

/// Cancels the proposals marked this tick.
pub(crate) fn cancel_proposals(world: &mut World) {
    let mut cancels = core::mem::take(&mut world.resource_mut::<ProposalsToCancel>().0);
    for cancel in cancels.drain(..) {
        cancel_one_proposal(world, cancel);
    }
    world.resource_mut::<ProposalsToCancel>().0 = cancels;
}

fn cancel_one_proposal(world: &mut World, cancel: ProposalCancel) {
    let Some(found) = world.get::<Match>(cancel.match_entity).copied() else {
        return;
    };
    // Every player of the match, for the timed-out list.
    let all_players: Vec<PlayerId> = cancel
        .tickets
        .iter()
        .flat_map(|ticket| world_ops::ticket_player_ids(world, *ticket))
        .collect();
    let mut declined = cancel.declined.clone();
    for (ticket, _) in &cancel.cancelled {
        declined.extend(world_ops::ticket_player_ids(world, *ticket));
    }
    declined.sort_unstable();
    declined.dedup();
    let mut timed_out: Vec<PlayerId> = if cancel.timed_out {
        all_players
            .iter()
            .copied()
            .filter(|player| {
                cancel.accepted.binary_search(player).is_err() && !declined.contains(player)
            })
            .collect()
    } else {
        Vec::new()
    };
    timed_out.sort_unstable();
    // An operator's cancel names the cancel, whoever also declined in its tick (they leave).
    let reason = if cancel.by_operator && !cancel.timed_out {
        MatchCancelReason::Cancelled
    } else if declined.is_empty() {
        MatchCancelReason::TimedOut {
            players: timed_out.clone(),
        }
    } else {
        MatchCancelReason::Declined {
            players: declined.clone(),
        }
    };
    world.resource_mut::<Outbox>().push(Event::MatchCancelled {
        match_id: found.id,
        reason,
    });
    let roster = world
        .get::<MatchRoster>(cancel.match_entity)
        .map(|roster| roster.teams.concat())
        .unwrap_or_default();
    for player in roster {
        world_ops::free_player_from_match(world, player, cancel.match_entity);
    }
    for ticket in &cancel.tickets {
        let players = world_ops::ticket_player_ids(world, *ticket);
        let removal = cancel
            .cancelled
            .iter()
            .find(|(entity, _)| entity == ticket)
            .map(|(_, reason)| *reason)
            .or_else(|| {
                players
                    .iter()
                    .any(|p| declined.contains(p))
                    .then_some(RemovalReason::Declined)
            })
            .or_else(|| {
                players
                    .iter()
                    .any(|p| timed_out.contains(p))
                    .then_some(RemovalReason::AcceptanceTimedOut)
            });
        match removal {
            Some(reason) => world_ops::remove_ticket(world, *ticket, reason),
            None => world_ops::requeue_ticket(world, *ticket, found.id),
        }
    }
    world.resource_mut::<Directory>().matches.remove(&found.id);
    world.despawn(cancel.match_entity);
}

/// Closes the sessions marked this tick.
pub(crate) fn close_sessions(world: &mut World) {
    let mut closes = core::mem::take(&mut world.resource_mut::<SessionsToClose>().0);
    for close in closes.drain(..) {
        close_one_session(world, close);
    }
    world.resource_mut::<SessionsToClose>().0 = closes;
}

fn close_one_session(world: &mut World, close: SessionClose) {
    let entity = close.match_entity;
    let Some(found) = world.get::<Match>(entity).copied() else {
        return;
    };
    let teams = world
        .get::<MatchRoster>(entity)
        .map(|roster| roster.teams.clone())
        .unwrap_or_default();
    world_ops::close_backfill(world, entity, BackfillCloseReason::SessionOver);
    let no_server_came = matches!(
        close.outcome,
        SessionOutcome::Abandoned(
            AbandonReason::AllocationFailed
                | AbandonReason::AllocationTimedOut
                | AbandonReason::Cancelled
        )
    );
    match close.outcome {
        SessionOutcome::Result(placements) => {
            update_ratings(world, found, &teams, &placements);
            world.resource_mut::<Outbox>().push(Event::SessionEnded {
                match_id: found.id,
                placements: Some(placements),
            });
        }
        SessionOutcome::Ended => world.resource_mut::<Outbox>().push(Event::SessionEnded {
            match_id: found.id,
            placements: None,
        }),
        SessionOutcome::Abandoned(reason) => {
            world
                .resource_mut::<Outbox>()
                .push(Event::SessionAbandoned {
                    match_id: found.id,
                    reason,
                });
        }
    }
    for player in teams.concat() {
        world_ops::free_player_from_match(world, player, entity);
    }
    if no_server_came {
        for ticket in &close.held_tickets {
            world_ops::requeue_ticket(world, *ticket, found.id);
        }
    } else {
        world_ops::retire_tickets(world, &close.held_tickets);
    }
    if close.frees_server {
        world.resource_mut::<RegionBackoff>().open(found.region);
    }
    world.resource_mut::<Directory>().matches.remove(&found.id);
    world.despawn(entity);
}

/// Rates the players still in the session (teams that emptied are left out) and emits
/// `RatingsUpdated`, by player id.
fn update_ratings(world: &mut World, found: Match, teams: &[Vec<Entity>], placements: &[u32]) {
    let (rating_config, mode) = {
        let settings = world.resource::<Settings>();
        (
            settings.config.rating.clone(),
            settings
                .queue(usize::from(found.queue))
                .mode_name()
                .to_owned(),
        )
    };
    let mut rated_teams: Vec<Vec<Entity>> = Vec::new();
    let mut rated_placements = Vec::new();
    for (team, place) in teams.iter().zip(placements) {
        if !team.is_empty() {
            rated_teams.push(team.clone());
            rated_placements.push(*place);
        }
    }
    if rated_teams.len() < 2 {
        return;
    }
    let before: Vec<Vec<Rating>> = rated_teams
        .iter()
        .map(|team| {
            team.iter()
                .map(|player| {
                    world
                        .get::<Player>(*player)
                        .map_or(Rating::new(0.0, 1.0), |p| p.rating)
                })
                .collect()
        })
        .collect();
    let after = rating::rate(&before, &rated_placements, &rating_config);
    let role_names: Vec<std::sync::Arc<str>> = {
        let settings = world.resource::<Settings>();
        let per_role = settings
            .queue(usize::from(found.queue))
            .roles
            .as_ref()
            .is_some_and(|roles| roles.rating_per_role);
        if per_role {
            settings.role_names[usize::from(found.queue)].clone()
        } else {
            Vec::new()
        }
    };
    let mut updates = Vec::new();
    for (team_index, team) in rated_teams.iter().enumerate() {
        for (slot, player) in team.iter().enumerate() {
            let new_rating = after[team_index][slot];
            if let Some(mut found) = world.get_mut::<Player>(*player) {
                found.rating = new_rating;
                let role = found
                    .role
                    .and_then(|role| role_names.get(usize::from(role)).cloned());
                updates.push(RatingUpdate {
                    player: found.id,
                    role,
                    before: before[team_index][slot],
                    after: new_rating,
                });
            }
        }
    }
    updates.sort_by_key(|update| update.player);
    world.resource_mut::<Outbox>().push(Event::RatingsUpdated {
        match_id: found.id,
        mode,
        updates,
    });
}
