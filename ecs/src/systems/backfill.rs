//! Backfill: running sessions that asked for players get them before any new match forms.
//!
//! A request is served like an anchor whose rating is the session's mean (matched) rating and
//! whose window widens from the time of the request along the queue's skill curve. A ticket
//! joins if it plays in the session's region, the request's window and the ticket's own window
//! both hold, it fits an open slot (the team with room and the lowest total rating), and the
//! session's quality with it stays above the floor at the ticket's wait. Partial fills are
//! kept; the request stays open for the rest.

use bevy_ecs::prelude::*;

use crate::components::{BackfillRequest, Match, MatchAvoids, MatchRoster, Player, Ticket};
use crate::event::{BackfillCloseReason, BackfilledTicket, Event, MatchedPlayer, MatchedTicket};
use crate::ids::TicketId;
use crate::pool::{self, PoolKey};
use crate::rating::{self, Rating};
use crate::resources::{Directory, Outbox, Pools, Settings, TickCounters};
use crate::systems::matching::{Candidate, walk_outward};
use crate::systems::world_ops::{self, now_ms};

/// Serves every open backfill request, oldest first per queue.
pub(crate) fn fill_backfill_requests(world: &mut World) {
    let queue_count = world.resource::<Pools>().0.len();
    for queue_index in 0..queue_count {
        let requests = world.resource::<Pools>().0[queue_index].backfill_requests();
        for (_, match_id) in requests {
            let entity = world
                .resource::<Directory>()
                .matches
                .get(&match_id)
                .copied();
            if let Some(entity) = entity {
                fill_request(world, queue_index, entity);
            }
        }
    }
}

/// A player's rating as matched (party offset included).
fn matched_rating(world: &World, player: Entity) -> Rating {
    world
        .get::<Player>(player)
        .map_or(Rating::new(0.0, 1.0), Player::matched_rating)
}

fn fill_request(world: &mut World, queue_index: usize, match_entity: Entity) {
    let now = now_ms(world);
    let (Some(request), Some(found), Some(mut roster)) = (
        world.get::<BackfillRequest>(match_entity).cloned(),
        world.get::<Match>(match_entity).copied(),
        world.get::<MatchRoster>(match_entity).cloned(),
    ) else {
        return;
    };
    let mut team_ratings: Vec<Vec<Rating>> = roster
        .teams
        .iter()
        .map(|team| team.iter().map(|p| matched_rating(world, *p)).collect())
        .collect();
    let members: Vec<f64> = team_ratings.iter().flatten().map(|r| r.mu).collect();
    if members.is_empty() {
        return;
    }
    let mean = members.iter().sum::<f64>() / members.len() as f64;
    let gathered: Vec<Candidate> = {
        let settings = world.resource::<Settings>();
        let queue = settings.queue(queue_index);
        let window = queue
            .skill_window
            .value_at(now.saturating_sub(request.requested_at_ms));
        let region_bit = 1_u32 << found.region;
        let centre = PoolKey::new(mean, TicketId(u64::MAX));
        walk_outward(
            &world.resource::<Pools>().0[queue_index],
            centre,
            mean,
            window,
        )
        .take(usize::from(queue.max_candidates_per_anchor))
        .filter(|(_, entry)| entry.regions & region_bit != 0)
        .map(|(key, entry)| Candidate::new(*key, *entry, queue, now))
        .filter(|candidate| (candidate.rating - mean).abs() <= candidate.window)
        .collect()
    };
    let mut open = request.open_slots.clone();
    let mut filled = Vec::new();
    let mut quality = 0.0;
    for candidate in gathered {
        if open.iter().all(|slots| *slots == 0) {
            break;
        }
        let Some(joined) = try_join(
            world,
            queue_index,
            match_entity,
            &found,
            &candidate,
            &open,
            &team_ratings,
            now,
        ) else {
            continue;
        };
        let team = usize::from(joined.team);
        open[team] -= candidate.entry.players;
        quality = joined.quality;
        team_ratings = joined.team_ratings;
        let ticket_entity = candidate.entry.entity;
        let players = world
            .get::<Ticket>(ticket_entity)
            .map(|ticket| ticket.players.clone())
            .unwrap_or_default();
        world.resource_mut::<Pools>().0[queue_index].remove(&candidate.key);
        world
            .resource_mut::<Directory>()
            .tickets
            .remove(&candidate.key.ticket);
        for player in &players {
            if let Some(mut found) = world.get_mut::<Player>(*player) {
                found.ticket = None;
                found.in_match = Some(match_entity);
                found.team = joined.team;
            }
            roster.teams[team].push(*player);
        }
        world.despawn(ticket_entity);
        filled.push(BackfilledTicket {
            ticket: joined.record,
            team: joined.team,
        });
    }
    if filled.is_empty() {
        return;
    }
    world.resource_mut::<TickCounters>().backfilled += filled.len() as u64;
    world.entity_mut(match_entity).insert(roster);
    if let Some(mut stored) = world.get_mut::<BackfillRequest>(match_entity) {
        stored.open_slots.clone_from(&open);
    }
    world.resource_mut::<Outbox>().push(Event::BackfillFilled {
        match_id: found.id,
        tickets: filled,
        open_slots: open.clone(),
        quality,
    });
    if open.iter().all(|slots| *slots == 0) {
        world_ops::close_backfill(world, match_entity, BackfillCloseReason::Filled);
    }
}

struct Joined {
    team: u8,
    quality: f64,
    team_ratings: Vec<Vec<Rating>>,
    record: MatchedTicket,
}

/// Avoid lists in backfill: a ticket with an avoid list joins only new matches (the
/// session's players are not checked against it), and no one a session player avoids joins.
fn may_join_avoiding(world: &World, match_entity: Entity, ticket: &Ticket) -> bool {
    if ticket
        .rules
        .as_ref()
        .is_some_and(|rules| !rules.avoid.is_empty())
    {
        return false;
    }
    let Some(avoided) = world.get::<MatchAvoids>(match_entity) else {
        return true;
    };
    !ticket.players.iter().any(|player| {
        world
            .get::<Player>(*player)
            .is_some_and(|found| avoided.0.binary_search(&found.id).is_ok())
    })
}

/// Whether a gathered ticket can join the session now, and how.
fn try_join(
    world: &World,
    queue_index: usize,
    found_entity: Entity,
    found: &Match,
    candidate: &Candidate,
    open: &[u8],
    team_ratings: &[Vec<Rating>],
    now: u64,
) -> Option<Joined> {
    let settings = world.resource::<Settings>();
    let config = &settings.config;
    let queue = settings.queue(queue_index);
    let size = candidate.entry.players;
    let team_sum = |team: usize| team_ratings[team].iter().map(|r| r.mu).sum::<f64>();
    let team = (0..open.len())
        .filter(|team| open[*team] >= size)
        .min_by(|a, b| team_sum(*a).total_cmp(&team_sum(*b)).then(a.cmp(b)))?;
    let entity = candidate.entry.entity;
    let ticket = world.get::<Ticket>(entity)?;
    if !may_join_avoiding(world, found_entity, ticket) {
        return None;
    }
    let pings = &ticket.pings;
    let waited = candidate.entry.waited_ms(now);
    let ping_ms = pings.pings_ms[usize::from(found.region)];
    let ping_limit_ms = pool::ping_limit(queue, waited, pings.best_ms, pings.own_max_ms);
    if f64::from(ping_ms) > ping_limit_ms {
        return None;
    }
    let players = &ticket.players;
    let mut new_ratings = team_ratings.to_vec();
    new_ratings[team].extend(players.iter().map(|p| matched_rating(world, *p)));
    let quality = rating::match_quality(&new_ratings, config.rating.beta);
    if quality < queue.quality_floor.value_at(waited) {
        return None;
    }
    let record = MatchedTicket {
        ticket: ticket.id,
        party: ticket.party,
        players: players
            .iter()
            .filter_map(|p| {
                let found = world.get::<Player>(*p)?;
                Some(MatchedPlayer {
                    role: None,
                    player: found.id,
                    rating: found.rating,
                })
            })
            .collect(),
        rating: candidate.rating,
        window_mmr: candidate.window,
        ping_ms,
        ping_limit_ms,
        enqueued_at_ms: ticket.enqueued_at_ms,
        waited_ms: waited,
    };
    Some(Joined {
        team: team as u8,
        quality,
        team_ratings: new_ratings,
        record,
    })
}
