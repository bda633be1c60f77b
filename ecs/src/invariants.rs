//! The matcher's invariants, checked at the end of every tick in debug builds (and by the
//! tests, from the events and the commands they submitted, with [`check_match_summary`]):
//!
//! - every queued ticket is in its pool exactly once, and either due or waiting to wake; its
//!   pool slot holds its own rules data (the same allocation), and no slot is held twice;
//! - the directory, tickets, players and matches agree on who is where: a player is in at most
//!   one ticket and one match, and in both only while that ticket's match awaits acceptance
//!   or allocates (it holds its tickets until its game server is up);
//! - every match formed has exact team sizes, whole parties, every ticket inside every other
//!   ticket's skill window, a quality at or above the floor in force, and every ticket within
//!   its own latency limit as in force at formation. The latency is judged from what the
//!   ticket submitted (its members' pings, its own cap), never from the ping the match
//!   reports: a matcher that reported a smaller ping, or let a ticket past its own cap, fails.
//!   In the world, what was submitted is the ticket as the intake built it from its enqueue
//!   command (its enqueue time is checked against the match's too); the tests pass the
//!   commands themselves ([`SubmittedPings::of`]).

use bevy_ecs::prelude::*;
use bevy_platform::collections::HashSet;

use crate::command::{EnqueueTicket, NO_PING};
use crate::components::{Match, MatchPhase, MatchRecord, MatchRoster, Player, Ticket, TicketState};
use crate::config::{Config, QueueConfig};
use crate::event::{MatchSummary, MatchedTicket};
use crate::ids::TicketId;
use crate::pool::{self, DUE, PoolKey};
use crate::rating::{self, Rating};
use crate::resources::{Clock, Directory, Pools, Settings};

/// A ticket's pings as it submitted them: what [`check_match_summary`] judges a match's
/// latency by, rather than by the ping the match reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmittedPings {
    /// Per region, in the config's order, the worst of the members' pings ([`NO_PING`] where
    /// one of them cannot play): a ticket plays where all its members can.
    pub worst_ms: Vec<u16>,
    /// The ticket's own cap (`EnqueueTicket::max_ping_ms`), if it gave one.
    pub max_ping_ms: Option<u16>,
}

impl SubmittedPings {
    /// What an enqueue command says.
    pub fn of(ticket: &EnqueueTicket) -> Self {
        let regions = ticket.members.first().map_or(0, |m| m.pings_ms.len());
        let worst_ms = (0..regions)
            .map(|region| ticket.worst_ping_ms(region))
            .collect();
        Self {
            worst_ms,
            max_ping_ms: ticket.max_ping_ms,
        }
    }

    /// Its best ping: its best region is always acceptable.
    fn best_ms(&self) -> u16 {
        self.worst_ms.iter().copied().min().unwrap_or(NO_PING)
    }

    /// Its own cap: the one it gave, or no more than the highest real ping.
    fn own_max_ms(&self) -> u16 {
        self.max_ping_ms.unwrap_or(NO_PING - 1).min(NO_PING - 1)
    }
}

/// Checks one matched ticket's latency against what it submitted: its ping in the match's
/// region is its members' worst, and within the queue's latency window at its wait, widened to
/// its best region, capped by its own maximum.
fn check_latency(
    queue: &QueueConfig,
    region: usize,
    ticket: &MatchedTicket,
    submitted: &SubmittedPings,
) -> Result<(), String> {
    let id = ticket.ticket;
    let ping = submitted
        .worst_ms
        .get(region)
        .copied()
        .ok_or_else(|| format!("{id} submitted no ping for region {region}"))?;
    if ping == NO_PING {
        return Err(format!(
            "{id} matched in region {region}, where it cannot play"
        ));
    }
    if ticket.ping_ms != ping {
        return Err(format!(
            "{id} reported ping {} in the match's region, its members' worst is {ping}",
            ticket.ping_ms
        ));
    }
    let (best, own_max) = (submitted.best_ms(), submitted.own_max_ms());
    let limit = queue
        .latency_window
        .value_at(ticket.waited_ms)
        .max(f64::from(best))
        .min(f64::from(own_max));
    if f64::from(ping) > limit {
        return Err(format!(
            "{id} ping {ping} above its limit {limit} after {} ms (best {best}, own max {own_max})",
            ticket.waited_ms
        ));
    }
    if ticket.ping_limit_ms != limit {
        return Err(format!(
            "{id} reported ping limit {} is not the limit in force {limit}",
            ticket.ping_limit_ms
        ));
    }
    Ok(())
}

/// Checks a formed match against the rules in force when it formed: the config, the event,
/// and each ticket's pings as it submitted them (`submitted`; a ticket it does not know is an
/// error). `Err` says what is broken.
pub fn check_match_summary(
    summary: &MatchSummary,
    config: &Config,
    submitted: impl Fn(TicketId) -> Option<SubmittedPings>,
) -> Result<(), String> {
    let queue = config
        .queues
        .iter()
        .find(|queue| *queue.name == *summary.queue)
        .ok_or_else(|| format!("{}: unknown queue {}", summary.match_id, summary.queue))?;
    let region = config
        .region_index(&summary.region)
        .ok_or_else(|| format!("{}: unknown region {}", summary.match_id, summary.region))?;
    let fail = |what: String| Err(format!("{}: {what}", summary.match_id));
    let (min_teams, min_size) = queue
        .flexible
        .as_ref()
        .map_or((queue.teams, queue.team_size), |flexible| {
            (flexible.min_teams, flexible.min_team_size)
        });
    if !(usize::from(min_teams)..=usize::from(queue.teams)).contains(&summary.teams.len()) {
        return fail(format!(
            "{} teams, queue has {min_teams} to {}",
            summary.teams.len(),
            queue.teams
        ));
    }
    let mut players = HashSet::new();
    let mut parties = HashSet::new();
    for (team, tickets) in summary.teams.iter().enumerate() {
        let size: usize = tickets.iter().map(|ticket| ticket.players.len()).sum();
        if !(usize::from(min_size)..=usize::from(queue.team_size)).contains(&size) {
            return fail(format!(
                "team {team} has {size} players, not {min_size} to {}",
                queue.team_size
            ));
        }
        if let Some(roles) = &queue.roles {
            for slot in &roles.composition {
                let playing = tickets
                    .iter()
                    .flat_map(|ticket| &ticket.players)
                    .filter(|player| player.role.as_deref() == Some(slot.role.as_str()))
                    .count();
                if playing != usize::from(slot.count) {
                    return fail(format!(
                        "team {team} has {playing} {}, its composition {}",
                        slot.role, slot.count
                    ));
                }
            }
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
    // In a queue rated per role, a ticket waits on its members' first-choice ratings, which
    // the match does not report (it reports the role played): its rating and window are
    // taken as reported, and still checked against each other's below.
    let per_role = queue
        .roles
        .as_ref()
        .is_some_and(|roles| roles.rating_per_role);
    for ticket in &tickets {
        let ratings: Vec<Rating> = ticket.players.iter().map(|p| p.rating).collect();
        let combined = rating::party_rating(queue.party_rating, &ratings);
        if !per_role && combined != ticket.rating {
            return fail(format!(
                "{} rating {} is not {combined}",
                ticket.ticket, ticket.rating
            ));
        }
        if summary.formed_at_ms.saturating_sub(ticket.enqueued_at_ms) != ticket.waited_ms {
            return fail(format!("{} waited_ms is off", ticket.ticket));
        }
        let window = queue.ticket_skill_window(ticket.waited_ms, &ratings);
        if !per_role && window != ticket.window_mmr {
            return fail(format!(
                "{} window {} is not the window in force {window}",
                ticket.ticket, ticket.window_mmr
            ));
        }
        let pings = submitted(ticket.ticket).ok_or_else(|| {
            format!(
                "{}: {} was never submitted",
                summary.match_id, ticket.ticket
            )
        })?;
        check_latency(queue, region, ticket, &pings)
            .map_err(|why| format!("{}: {why}", summary.match_id))?;
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
                    // Per role, players play on the rating of their role, without a party
                    // offset.
                    let offset = if per_role { 0.0 } else { ticket.rating - mean };
                    ticket.players.iter().map(move |p| Rating {
                        mu: p.rating.mu + offset,
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
pub(crate) fn check_world(world: &mut World) {
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
        if formed_now {
            let submitted = |id| submitted_pings(world, &record.0, id);
            if let Err(why) = check_match_summary(&record.0, &config, submitted) {
                panic!("invariant broken by {}: {why}", found.id);
            }
        }
    }
}

/// A matched ticket's pings as its ticket holds them (a match holds its tickets until its game
/// server is up), after checking that the ticket's enqueue time is the one the match reports.
fn submitted_pings(world: &World, summary: &MatchSummary, id: TicketId) -> Option<SubmittedPings> {
    let entity = world.resource::<Directory>().tickets.get(&id)?;
    let ticket = world.get::<Ticket>(*entity)?;
    let reported = summary.tickets().find(|matched| matched.ticket == id)?;
    assert_eq!(
        reported.enqueued_at_ms, ticket.enqueued_at_ms,
        "invariant broken by {}: {id} reports another enqueue time",
        summary.match_id
    );
    Some(SubmittedPings {
        worst_ms: ticket.pings.pings_ms.to_vec(),
        max_ping_ms: Some(ticket.pings.own_max_ms),
    })
}

fn check_pools(world: &mut World, config: &Config, now: u64) {
    let mut in_pools = 0;
    for (queue_index, pool) in world.resource::<Pools>().0.iter().enumerate() {
        let queue = &config.queues[queue_index];
        pool.check_slots();
        let (due, wakes) = pool.schedule_sizes();
        let grouped_in_index = pool.grouped_len();
        assert_eq!(
            due + wakes,
            pool.len(),
            "queue {}: due + waking != queued",
            queue.name
        );
        let mut players = 0;
        let mut grouped = 0;
        for (key, entry) in pool.iter() {
            let ticket = world
                .get::<Ticket>(entry.entity)
                .unwrap_or_else(|| panic!("pool entry {key:?} has no ticket"));
            assert_eq!(
                entry.group,
                crate::rules::group_of_ticket(queue, ticket.rules.as_deref()),
                "{key:?} is in the wrong group"
            );
            grouped += usize::from(entry.group != pool::NO_GROUP);
            if entry.group != pool::NO_GROUP {
                assert_eq!(
                    pool.group_copy(key, entry.group),
                    Some(entry),
                    "{key:?}: its group's copy of its entry is stale"
                );
            }
            assert_eq!(
                entry.hint,
                crate::rules::hint_of(queue, ticket.rules.as_deref()),
                "{key:?} has a stale rule hint"
            );
            let same_rules = match (pool.rules_arc(entry), &ticket.rules) {
                (Some(pooled), Some(own)) => std::sync::Arc::ptr_eq(pooled, own),
                (None, None) => entry.slot == pool::NO_SLOT,
                _ => false,
            };
            assert!(
                same_rules,
                "{key:?}: its pool slot does not hold its rules data"
            );
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
        assert_eq!(
            grouped, grouped_in_index,
            "queue {}: group index out of step",
            queue.name
        );
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
