//! Rechecks of matches and backfills from what was submitted, not from what the matcher reports:
//! a ticket's ping in the match's region is its members' worst from their enqueue command, and
//! must be within the latency window at its wait (never below its best region, never above its
//! own cap); a backfilled ticket is inside the request's window and its own around the
//! session's mean rating, and the session's quality with it, recomputed from the players'
//! ratings, stays at or above the floor at its wait. A matcher that reported a wrong ping, a
//! window it did not apply or a quality it did not compute fails here.

use std::collections::BTreeMap;

use matchwright_ecs::event::{BackfilledTicket, MatchedTicket};
use matchwright_ecs::{
    Command, CommandSeq, Config, Event, MatchId, MatchSummary, NO_PING, PlayerId, QueueConfig,
    Rating, SubmittedPings as EnqueuedPings, TicketId, rating,
};

/// A ticket's pings as its enqueue command gave them.
#[derive(Clone, Debug)]
struct SubmittedPings {
    /// Per region, the worst of the members' (`NO_PING` where one cannot play).
    worst_ms: Vec<u16>,
    /// The lowest of `worst_ms`.
    best_ms: u16,
    /// The lowest `max_ping_ms` given, or `NO_PING - 1`.
    own_max_ms: u16,
}

/// A session's players with their matched ratings, by team, and its region.
#[derive(Clone, Debug)]
struct Roster {
    region: usize,
    teams: Vec<Vec<(PlayerId, Rating)>>,
}

/// What the rechecks know; fed the submitted commands (`submitted`) and every tick's events.
#[derive(Debug, Default)]
pub struct Recheck {
    /// Whether commands are fed at all (tests that only record events skip the rechecks).
    enabled: bool,
    pending: Vec<(CommandSeq, Command)>,
    pings: BTreeMap<TicketId, SubmittedPings>,
    /// The same, in the form `check_match_summary` takes.
    enqueued: BTreeMap<TicketId, EnqueuedPings>,
    requested_at: BTreeMap<MatchId, u64>,
    rosters: BTreeMap<MatchId, Roster>,
    /// Tickets and backfills rechecked (a test can assert the rechecks ran).
    pub checked_tickets: u64,
    pub checked_backfills: u64,
}

/// The players of a matched ticket with their matched ratings (party offset included).
fn matched_ratings(ticket: &MatchedTicket) -> Vec<(PlayerId, Rating)> {
    let count = ticket.players.len().max(1) as f64;
    let mean = ticket.players.iter().map(|p| p.rating.mu).sum::<f64>() / count;
    ticket
        .players
        .iter()
        .map(|p| {
            let matched = Rating {
                mu: p.rating.mu + (ticket.rating - mean),
                ..p.rating
            };
            (p.player, matched)
        })
        .collect()
}

impl Recheck {
    /// A command submitted with sequence number `seq`, applied at the next tick.
    pub fn submitted(&mut self, seq: CommandSeq, command: &Command) {
        self.enabled = true;
        if matches!(
            command,
            Command::Enqueue(_) | Command::RequestBackfill { .. }
        ) {
            self.pending.push((seq, command.clone()));
        }
    }

    /// Takes in the commands the tick at `now_ms` applied (those not rejected in `events`).
    pub fn tick_applied(&mut self, now_ms: u64, events: &[Event]) {
        let rejected: Vec<CommandSeq> = events
            .iter()
            .filter_map(|event| match event {
                Event::Rejected { seq, .. } => Some(*seq),
                _ => None,
            })
            .collect();
        for (seq, command) in std::mem::take(&mut self.pending) {
            if rejected.contains(&seq) {
                continue;
            }
            match command {
                Command::Enqueue(request) => {
                    self.enqueued
                        .insert(request.ticket, EnqueuedPings::of(&request));
                    let regions = request.members.first().map_or(0, |m| m.pings_ms.len());
                    let worst_ms: Vec<u16> = (0..regions)
                        .map(|region| {
                            request
                                .members
                                .iter()
                                .map(|m| m.pings_ms[region])
                                .max()
                                .unwrap_or(NO_PING)
                        })
                        .collect();
                    let best_ms = worst_ms.iter().copied().min().unwrap_or(NO_PING);
                    let own_max_ms = request.max_ping_ms.unwrap_or(NO_PING - 1).min(NO_PING - 1);
                    let pings = SubmittedPings {
                        worst_ms,
                        best_ms,
                        own_max_ms,
                    };
                    self.pings.insert(request.ticket, pings);
                }
                Command::RequestBackfill { match_id, .. } => {
                    self.requested_at.insert(match_id, now_ms);
                }
                _ => {}
            }
        }
    }

    /// A ticket's pings as its applied enqueue command gave them.
    pub fn submitted_pings(&self, ticket: TicketId) -> Option<EnqueuedPings> {
        self.enqueued.get(&ticket).cloned()
    }

    fn check_ping(&mut self, queue: &QueueConfig, region: usize, ticket: &MatchedTicket) {
        if !self.enabled {
            return;
        }
        let pings = self
            .pings
            .get(&ticket.ticket)
            .unwrap_or_else(|| panic!("{} matched without an enqueue", ticket.ticket));
        let ping = pings.worst_ms[region];
        assert_ne!(
            ping, NO_PING,
            "{} matched where it cannot play",
            ticket.ticket
        );
        assert_eq!(
            ticket.ping_ms, ping,
            "{} reported ping {} in region {region}, its members' worst is {ping}",
            ticket.ticket, ticket.ping_ms
        );
        let limit = queue
            .latency_window
            .value_at(ticket.waited_ms)
            .max(f64::from(pings.best_ms))
            .min(f64::from(pings.own_max_ms));
        assert!(
            f64::from(ping) <= limit,
            "{} ping {ping} above the limit {limit} at {} ms of waiting (best {}, own cap {})",
            ticket.ticket,
            ticket.waited_ms,
            pings.best_ms,
            pings.own_max_ms
        );
        self.checked_tickets += 1;
    }

    /// A match seen for the first time (proposed or formed).
    pub fn new_match(&mut self, config: &Config, queue: &QueueConfig, summary: &MatchSummary) {
        let region = config
            .region_index(&summary.region)
            .expect("a configured region");
        for ticket in summary.tickets() {
            self.check_ping(queue, region, ticket);
        }
        let teams = summary
            .teams
            .iter()
            .map(|team| team.iter().flat_map(matched_ratings).collect())
            .collect();
        self.rosters
            .insert(summary.match_id, Roster { region, teams });
    }

    /// A player left a session.
    pub fn player_left(&mut self, match_id: MatchId, player: PlayerId) {
        if let Some(roster) = self.rosters.get_mut(&match_id) {
            for team in &mut roster.teams {
                team.retain(|(p, _)| *p != player);
            }
        }
    }

    /// A match is over (cancelled, ended or abandoned).
    pub fn match_over(&mut self, match_id: MatchId) {
        self.rosters.remove(&match_id);
        self.requested_at.remove(&match_id);
    }

    /// Tickets joined a session at `now_ms`, giving it `quality`.
    pub fn backfilled(
        &mut self,
        config: &Config,
        queue: &QueueConfig,
        now_ms: u64,
        match_id: MatchId,
        joined: &[BackfilledTicket],
        quality: f64,
    ) {
        let Some(mut roster) = self.rosters.remove(&match_id) else {
            panic!("backfill into {match_id}, which has no roster");
        };
        let members: Vec<f64> = roster.teams.iter().flatten().map(|(_, r)| r.mu).collect();
        let mean = members.iter().sum::<f64>() / members.len().max(1) as f64;
        let requested_at = self.requested_at.get(&match_id).copied();
        let mut recomputed = f64::NAN;
        for placed in joined {
            let ticket = &placed.ticket;
            self.check_ping(queue, roster.region, ticket);
            let ratings: Vec<Rating> = ticket.players.iter().map(|p| p.rating).collect();
            let own = queue.ticket_skill_window(ticket.waited_ms, &ratings);
            assert_eq!(
                own, ticket.window_mmr,
                "{} window is not its own",
                ticket.ticket
            );
            let distance = (ticket.rating - mean).abs();
            assert!(
                distance <= own,
                "{} outside its own window of the session",
                ticket.ticket
            );
            if self.enabled {
                let since = requested_at.expect("a backfill follows a request");
                let window = queue.skill_window.value_at(now_ms - since);
                assert!(
                    distance <= window,
                    "{} is {distance} from the session, the request's window is {window}",
                    ticket.ticket
                );
            }
            roster.teams[usize::from(placed.team)].extend(matched_ratings(ticket));
            let teams: Vec<Vec<Rating>> = roster
                .teams
                .iter()
                .map(|team| team.iter().map(|(_, r)| *r).collect())
                .collect();
            recomputed = rating::match_quality(&teams, config.rating.beta);
            let floor = queue.quality_floor.value_at(ticket.waited_ms);
            assert!(
                recomputed >= floor,
                "{} joined {match_id} at quality {recomputed}, below the floor {floor}",
                ticket.ticket
            );
            self.checked_backfills += 1;
        }
        assert!(
            (recomputed - quality).abs() < 1e-9,
            "{match_id} reported quality {quality} after backfill, recomputed {recomputed}"
        );
        self.rosters.insert(match_id, roster);
    }
}
