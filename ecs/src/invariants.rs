//! The matcher's invariants, checked at the end of every tick in debug builds (and by the
//! tests, from the events alone, with [`check_match_summary`]):
//!
//! - every queued ticket is in its pool exactly once, and either due or waiting to wake;
//! - the directory, tickets, players and matches agree on who is where: a player is in at most
//!   one ticket and one match, and in both only while that ticket's match awaits acceptance
//!   or allocates (it holds its tickets until its game server is up);
//! - every match formed has exact team sizes, whole parties, every ticket inside every other
//!   ticket's skill window and its own latency limit as in force at formation, and a quality
//!   at or above the floor in force.

use bevy_ecs::prelude::*;
use bevy_platform::collections::HashSet;

use crate::components::{Match, MatchPhase, MatchRecord, MatchRoster, Player, Ticket, TicketState};
use crate::config::Config;
use crate::event::MatchSummary;
use crate::pool::{self, DUE, PoolKey};
use crate::rating::{self, Rating};
use crate::resources::{Clock, Directory, Pools, Settings};

/// Checks a formed match against the rules in force when it formed. Needs nothing but the
/// config and the event. `Err` says what is broken.
pub fn check_match_summary(summary: &MatchSummary, config: &Config) -> Result<(), String> {
    let queue = config
        .queues
        .iter()
        .find(|queue| *queue.name == *summary.queue)
        .ok_or_else(|| format!("{}: unknown queue {}", summary.match_id, summary.queue))?;
    if config.region_index(&summary.region).is_none() {
        return Err(format!(
            "{}: unknown region {}",
            summary.match_id, summary.region
        ));
    }
    let fail = |what: String| Err(format!("{}: {what}", summary.match_id));
    if summary.teams.len() != usize::from(queue.teams) {
        return fail(format!(
            "{} teams, queue has {}",
            summary.teams.len(),
            queue.teams
        ));
    }
    let mut players = HashSet::new();
    let mut parties = HashSet::new();
    for (team, tickets) in summary.teams.iter().enumerate() {
        let size: usize = tickets.iter().map(|ticket| ticket.players.len()).sum();
        if size != usize::from(queue.team_size) {
            return fail(format!(
                "team {team} has {size} players, not {}",
                queue.team_size
            ));
        }
        for ticket in tickets {
            if let Some(party) = ticket.party
                && !parties.insert(party)
            {
                return fail(format!("{party} split or listed twice"));
            }
            for player in &ticket.players {
                if !players.insert(player.player) {
                    return fail(format!("{} is in the match twice", player.player));
                }
            }
        }
    }
    let tickets: Vec<_> = summary.tickets().collect();
    for ticket in &tickets {
        let ratings: Vec<Rating> = ticket.players.iter().map(|p| p.rating).collect();
        let combined = rating::party_rating(queue.party_rating, &ratings);
        if combined != ticket.rating {
            return fail(format!(
                "{} rating {} is not {combined}",
                ticket.ticket, ticket.rating
            ));
        }
        if summary.formed_at_ms.saturating_sub(ticket.enqueued_at_ms) != ticket.waited_ms {
            return fail(format!("{} waited_ms is off", ticket.ticket));
        }
        let window = pool::skill_window(
            queue,
            ticket.waited_ms,
            pool::sigma_bonus(queue, rating::party_sigma(&ratings)),
        );
        if window != ticket.window_mmr {
            return fail(format!(
                "{} window {} is not the window in force {window}",
                ticket.ticket, ticket.window_mmr
            ));
        }
        if f64::from(ticket.ping_ms) > ticket.ping_limit_ms {
            return fail(format!(
                "{} ping {} above its limit {}",
                ticket.ticket, ticket.ping_ms, ticket.ping_limit_ms
            ));
        }
        if ticket.ping_limit_ms
            > queue
                .latency_window
                .value_at(ticket.waited_ms)
                .max(f64::from(ticket.ping_ms))
        {
            return fail(format!(
                "{} ping limit {} above the latency window in force",
                ticket.ticket, ticket.ping_limit_ms
            ));
        }
    }
    for (index, one) in tickets.iter().enumerate() {
        for other in &tickets[index + 1..] {
            let distance = (one.rating - other.rating).abs();
            if distance > one.window_mmr || distance > other.window_mmr {
                return fail(format!(
                    "{} ({}, window {}) and {} ({}, window {}) are outside each other's windows",
                    one.ticket,
                    one.rating,
                    one.window_mmr,
                    other.ticket,
                    other.rating,
                    other.window_mmr
                ));
            }
        }
    }
    let longest_wait = tickets.iter().map(|t| t.waited_ms).max().unwrap_or(0);
    let floor = queue.quality_floor.value_at(longest_wait);
    if floor != summary.quality_floor {
        return fail(format!(
            "floor {} is not the floor in force {floor}",
            summary.quality_floor
        ));
    }
    let team_ratings: Vec<Vec<Rating>> = summary
        .teams
        .iter()
        .map(|team| {
            team.iter()
                .flat_map(|ticket| {
                    let count = ticket.players.len() as f64;
                    let mean = ticket.players.iter().map(|p| p.rating.mu).sum::<f64>() / count;
                    ticket.players.iter().map(move |p| Rating {
                        mu: p.rating.mu + (ticket.rating - mean),
                        ..p.rating
                    })
                })
                .collect()
        })
        .collect();
    let quality = rating::match_quality(&team_ratings, config.rating.beta);
    if (quality - summary.quality).abs() > 1e-9 {
        return fail(format!(
            "quality {} recomputes as {quality}",
            summary.quality
        ));
    }
    if summary.quality < summary.quality_floor {
        return fail(format!(
            "quality {} below the floor {}",
            summary.quality, summary.quality_floor
        ));
    }
    Ok(())
}

/// Checks every invariant of the world; panics with what is broken. Debug builds run it at the
/// end of every tick.
pub fn check_world(world: &mut World) {
    let now = world.resource::<Clock>().now_ms;
    let config = world.resource::<Settings>().config.clone();
    check_pools(world, &config, now);
    check_membership(world);
    let mut matches = world.query::<(&Match, &MatchPhase, &MatchRecord)>();
    for (found, phase, record) in matches.iter(world) {
        let formed_now = record.0.formed_at_ms == now
            && matches!(
                phase,
                MatchPhase::Allocating { .. } | MatchPhase::AwaitingAcceptance { .. }
            );
        if formed_now && let Err(why) = check_match_summary(&record.0, &config) {
            panic!("invariant broken by {}: {why}", found.id);
        }
    }
}

fn check_pools(world: &mut World, config: &Config, now: u64) {
    let mut in_pools = 0;
    for (queue_index, pool) in world.resource::<Pools>().0.iter().enumerate() {
        let queue = &config.queues[queue_index];
        let (due, wakes) = pool.schedule_sizes();
        assert_eq!(
            due + wakes,
            pool.len(),
            "queue {}: due + waking != queued",
            queue.name
        );
        let mut players = 0;
        for (key, entry) in pool.iter() {
            let ticket = world
                .get::<Ticket>(entry.entity)
                .unwrap_or_else(|| panic!("pool entry {key:?} has no ticket"));
            assert_eq!(ticket.id, key.ticket);
            assert_eq!(usize::from(ticket.queue), queue_index);
            assert_eq!(ticket.enqueued_at_ms, entry.enqueued_at_ms);
            assert_eq!(ticket.state, TicketState::Queued);
            assert_eq!(PoolKey::new(ticket.rating, ticket.id), *key);
            if entry.wake_at_ms != DUE {
                assert!(
                    pool.has_wake(entry.wake_at_ms, key),
                    "{key:?} lost its wake timer"
                );
            }
            let pings = &ticket.pings;
            let limit =
                pool::ping_limit(queue, entry.waited_ms(now), pings.best_ms, pings.own_max_ms);
            let allowed = pool::regions_within(&pings.pings_ms, limit);
            assert_eq!(
                entry.regions & !allowed,
                0,
                "{key:?} accepts regions ahead of its window"
            );
            assert_eq!(entry.players, ticket.size());
            players += u64::from(ticket.size());
        }
        assert_eq!(players, pool.players());
        in_pools += pool.len();
    }
    let queued = world
        .query::<&Ticket>()
        .iter(world)
        .filter(|ticket| ticket.state == TicketState::Queued)
        .count();
    assert_eq!(queued, in_pools, "queued tickets outside the pools");
}

fn check_membership(world: &mut World) {
    let directory_players = world.resource::<Directory>().players.len();
    let mut players = world.query::<(Entity, &Player)>();
    let mut count = 0;
    for (entity, player) in players.iter(world) {
        count += 1;
        assert_eq!(
            world.resource::<Directory>().players.get(&player.id),
            Some(&entity),
            "{} not in the directory",
            player.id
        );
        if let Some(party) = player.party {
            let found = world
                .get::<crate::components::Party>(party)
                .expect("the player's party exists");
            assert!(
                found.members.contains(&entity),
                "{} not in its party",
                player.id
            );
        }
        if let Some(ticket) = player.ticket {
            let found = world
                .get::<Ticket>(ticket)
                .expect("the player's ticket exists");
            assert!(
                found.players.contains(&entity),
                "{} not in its ticket",
                player.id
            );
        }
        if let Some(in_match) = player.in_match {
            let roster = world
                .get::<MatchRoster>(in_match)
                .expect("the player's match exists");
            assert!(
                roster.teams[usize::from(player.team)].contains(&entity),
                "{} not on its team",
                player.id
            );
            if let Some(ticket) = player.ticket {
                assert_eq!(
                    world.get::<Ticket>(ticket).map(|t| t.state),
                    Some(TicketState::Proposed(in_match)),
                    "{} in a ticket and a match that is not the ticket's",
                    player.id
                );
            }
        }
    }
    assert_eq!(count, directory_players, "players outside the directory");
    let mut parties = world.query::<(Entity, &crate::components::Party)>();
    let mut party_count = 0;
    for (entity, party) in parties.iter(world) {
        party_count += 1;
        assert_eq!(
            world.resource::<Directory>().parties.get(&party.id),
            Some(&entity)
        );
        assert!(!party.members.is_empty(), "{} has no members", party.id);
        for member in &party.members {
            let player = world
                .get::<Player>(*member)
                .expect("a party's member exists");
            assert_eq!(
                player.party,
                Some(entity),
                "{} and its members disagree",
                party.id
            );
        }
    }
    assert_eq!(party_count, world.resource::<Directory>().parties.len());
    let mut tickets = world.query::<(Entity, &Ticket)>();
    let mut ticket_count = 0;
    for (entity, ticket) in tickets.iter(world) {
        ticket_count += 1;
        assert_eq!(
            world.resource::<Directory>().tickets.get(&ticket.id),
            Some(&entity)
        );
        for member in &ticket.players {
            let player = world
                .get::<Player>(*member)
                .expect("a ticket's player exists");
            assert_eq!(
                player.ticket,
                Some(entity),
                "{} and its players disagree",
                ticket.id
            );
        }
    }
    assert_eq!(ticket_count, world.resource::<Directory>().tickets.len());
    let mut matches = world.query::<(Entity, &Match, &MatchRoster)>();
    let mut match_count = 0;
    for (entity, found, roster) in matches.iter(world) {
        match_count += 1;
        assert_eq!(
            world.resource::<Directory>().matches.get(&found.id),
            Some(&entity)
        );
        for (team, members) in roster.teams.iter().enumerate() {
            for member in members {
                let player = world
                    .get::<Player>(*member)
                    .expect("a match's player exists");
                assert_eq!(player.in_match, Some(entity));
                assert_eq!(usize::from(player.team), team);
            }
        }
    }
    assert_eq!(match_count, world.resource::<Directory>().matches.len());
}
