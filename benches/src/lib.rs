//! # matchwright-benches
//!
//! The steady-state workload the criterion benches and the `tick-gate` binary both drive, and
//! a counting allocator for memory figures.
//!
//! Steady state: a queue of N tickets fed by the synthetic population of `matchwright-sim`.
//! Each tick's arrivals replace the previous tick's departures (tickets matched, expired or
//! cancelled), so the queue stays at N. How many depart per tick follows from how long a ticket
//! waits on average: by Little's law (N = arrival rate x mean wait), a queue of N whose tickets
//! wait `mean_wait_ms` turns over `tick_ms / mean_wait_ms` of itself per tick. The default mean
//! wait is the seeds' target time to match, 30 s: at 100 ms ticks, 1/300 of the queue (333
//! tickets of 100,000) per tick. With N this large every newcomer finds partners at once, so
//! the departures are held to that rate by each queue's `max_matches_per_tick` (set from the
//! queue's share and its mean tickets per match), and the oldest tickets go first.
//!
//! Matched sessions report a result after `session_ticks` ticks (ratings are updated in the
//! tick) and their parties are disbanded, so the world does not grow.
//!
//! Which queues are filled, and with what, is the [`Workload`]: the default config's three
//! queues, or all tickets in one queue (`ranked-5v5` plain or with rules and roles, or a
//! 100-player battle royale); see `workload`.

pub mod alloc;
pub mod reference;
pub mod workload;

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use matchwright_ecs::{Command, Config, Event, MatchId, Matcher, PartyId};
use matchwright_sim::{Population, PopulationConfig};

pub use workload::{RuleChecks, RulesShape, Workload};

/// The steady state's knobs.
#[derive(Clone, Debug, PartialEq)]
pub struct SteadyConfig {
    /// Tickets held in the queues.
    pub tickets: usize,
    /// How long a ticket waits on average; sets the share of the queue replaced per tick.
    pub mean_wait_ms: u64,
    /// Virtual time per tick.
    pub tick_ms: u64,
    /// How long a session lasts, in ticks, before its result.
    pub session_ticks: u64,
    /// Seed of the matcher and the population.
    pub seed: u64,
    /// The queues filled.
    pub workload: Workload,
    /// A bounded player base that comes back (`Population::with_player_base`); `None`: every
    /// arrival is a new player.
    pub player_base: Option<u64>,
}

impl Default for SteadyConfig {
    fn default() -> Self {
        Self {
            tickets: 100_000,
            mean_wait_ms: 30_000,
            tick_ms: 100,
            session_ticks: 50,
            seed: 1,
            workload: Workload::Mixed,
            player_base: None,
        }
    }
}

impl SteadyConfig {
    /// The share of the queue replaced per tick: `tick_ms / mean_wait_ms`.
    pub fn churn(&self) -> f64 {
        self.tick_ms as f64 / self.mean_wait_ms.max(1) as f64
    }
}

/// The matcher configuration for a steady state: the workload's queues (the default ones for
/// the mixed workload) and the default regions, with per-tick match limits set to replace
/// `churn()` of the queue per tick, and command limits raised to take the whole queue in one
/// burst.
pub fn matcher_config(steady: &SteadyConfig, population: &PopulationConfig) -> Config {
    let mut config = steady.workload.base_config();
    let tickets = steady.tickets as f64;
    config.limits.max_commands_per_tick = u32::try_from(steady.tickets.saturating_mul(4))
        .unwrap_or(u32::MAX)
        .max(200_000);
    config.limits.max_undrained_events = config.limits.max_commands_per_tick;
    config.limits.max_timer_wakes_per_tick = config.limits.max_commands_per_tick;
    let total_share: f64 = population.queue_shares.iter().map(|(_, s)| s).sum();
    let shaped = Population::new(0, population.clone(), &config).ok();
    for (index, (name, share)) in population.queue_shares.iter().enumerate() {
        let Some(queue) = config.queues.iter_mut().find(|q| &q.name == name) else {
            continue;
        };
        let mean_party = shaped.as_ref().map_or(1.0, |p| p.mean_party_size(index));
        let tickets_per_match = queue.players_per_match() as f64 / mean_party;
        let churn_tickets = tickets * steady.churn() * share / total_share;
        let per_tick = (churn_tickets / tickets_per_match).ceil().max(1.0);
        queue.max_matches_per_tick = per_tick as u32;
        queue.max_anchor_attempts_per_tick = (per_tick as u32).saturating_mul(8).max(1_000);
        queue.max_tickets = u32::try_from(steady.tickets.saturating_mul(2)).unwrap_or(u32::MAX);
    }
    config
}

/// What one steady-state tick did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepReport {
    /// Wall time of `Matcher::tick` alone.
    pub tick: Duration,
    /// Tickets that arrived.
    pub arrivals: usize,
    /// Matches formed.
    pub matches: u64,
    /// Tickets that left the queue in those matches.
    pub matched_tickets: usize,
    /// Tickets that left the queue.
    pub departures: usize,
    /// Players in the matches formed.
    pub matched_players: usize,
    /// Teams in the matches formed.
    pub matched_teams: usize,
    /// Matches formed with fewer players than the queue's most (flexible queues).
    pub short_matches: u64,
    /// The matched tickets' waiting times, summed, in milliseconds.
    pub matched_wait_ms: u64,
    /// Tickets tried as anchors.
    pub attempts: u64,
}

/// A running session and when the workload ends it.
struct PendingSession {
    ends_at_tick: u64,
    match_id: MatchId,
    teams: usize,
    parties: Vec<PartyId>,
}

/// A matcher held at a steady queue size.
pub struct SteadyState {
    /// The matcher.
    pub matcher: Matcher,
    population: Population,
    shape: Option<RulesShape>,
    /// Players per match, per queue name (the most a match has).
    full_match: Vec<(String, usize)>,
    steady: SteadyConfig,
    now_ms: u64,
    ticks: u64,
    /// Sessions to end, in the order they end.
    sessions: VecDeque<PendingSession>,
    rejected: u64,
    turned_away: BTreeMap<String, u64>,
    /// The last tick's commands and events, for a caller that journals them (the storage
    /// bench commits them to a store).
    commands: Vec<Command>,
    events: Vec<Event>,
}

impl SteadyState {
    /// An empty matcher and its population.
    pub fn new(steady: SteadyConfig) -> Self {
        let population_config = steady.workload.population();
        let config = matcher_config(&steady, &population_config);
        let full_match = config
            .queues
            .iter()
            .map(|queue| (queue.name.clone(), queue.players_per_match()))
            .collect();
        let matcher =
            Matcher::new(config.clone(), steady.seed).expect("the steady config is valid");
        let mut population = Population::new(steady.seed, population_config, &config)
            .expect("the default population matches the default queues");
        if let Some(players) = steady.player_base {
            population = population.with_player_base(players);
        }
        Self {
            matcher,
            population,
            shape: steady.workload.shape(steady.seed),
            full_match,
            steady,
            now_ms: 0,
            ticks: 0,
            sessions: VecDeque::new(),
            rejected: 0,
            turned_away: BTreeMap::new(),
            commands: Vec::new(),
            events: Vec::new(),
        }
    }

    /// The virtual time of the last tick.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// The last tick's commands, in the order submitted.
    pub fn last_commands(&self) -> &[Command] {
        &self.commands
    }

    /// The last tick's events, in the order drained.
    pub fn last_events(&self) -> &[Event] {
        &self.events
    }

    /// The steady-state knobs.
    pub fn config(&self) -> &SteadyConfig {
        &self.steady
    }

    /// Commands the matcher rejected so far (the workload is valid: this should stay 0).
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Per check (a rule's name, `block_list` or `roles`), the anchors that found no match
    /// after the check turned candidates away, summed over the ticks so far.
    pub fn turned_away(&self) -> &BTreeMap<String, u64> {
        &self.turned_away
    }

    /// Forgets the counts of [`SteadyState::turned_away`] (at the end of a warm-up).
    pub fn reset_turned_away(&mut self) {
        self.turned_away.clear();
    }

    /// Fills the queues to their size in one tick (a burst of arrivals); returns that tick.
    pub fn fill(&mut self) -> StepReport {
        self.step_with(self.steady.tickets)
    }

    /// One steady tick: as many arrivals as the queue is short of its size.
    pub fn step(&mut self) -> StepReport {
        self.step_towards(usize::MAX)
    }

    /// A tick with as many arrivals as the queue is short of its size, but at most `most`
    /// (to fill gradually).
    pub fn step_towards(&mut self, most: usize) -> StepReport {
        let short = self
            .steady
            .tickets
            .saturating_sub(self.matcher.queued_tickets());
        self.step_with(short.min(most))
    }

    fn step_with(&mut self, arrivals: usize) -> StepReport {
        self.ticks += 1;
        self.commands.clear();
        self.now_ms += self.steady.tick_ms;
        for _ in 0..arrivals {
            let mut commands = self.population.arrival().commands;
            if let Some(shape) = &mut self.shape {
                shape.dress(&mut commands);
            }
            for command in commands {
                self.submit(command);
            }
        }
        while self
            .sessions
            .front()
            .is_some_and(|session| session.ends_at_tick <= self.ticks)
        {
            let Some(session) = self.sessions.pop_front() else {
                break;
            };
            let match_id = session.match_id;
            // Ready, then a result: each session goes through its whole life.
            self.submit(Command::SessionReady {
                match_id,
                server: String::new(),
            });
            let mut placements: Vec<u32> = (1..=session.teams as u32).collect();
            placements.rotate_left((match_id.0 % session.teams as u64) as usize);
            self.submit(Command::ReportResult {
                match_id,
                placements,
            });
            for party in session.parties {
                self.submit(Command::DisbandParty { party });
            }
        }
        let queued_before = self.matcher.queued_tickets() + arrivals;
        let started = Instant::now();
        let report = self
            .matcher
            .tick(self.now_ms)
            .expect("events are drained every tick");
        let tick = started.elapsed();
        for turned in &report.turned_away {
            *self
                .turned_away
                .entry(turned.check.to_string())
                .or_insert(0) += turned.anchors;
        }
        self.events.clear();
        self.events.extend(self.matcher.drain_events());
        let (mut matched_tickets, mut matched_players, mut matched_teams) = (0, 0, 0);
        let (mut short_matches, mut matched_wait_ms) = (0, 0);
        for event in &self.events {
            match event {
                Event::MatchFormed { summary } => {
                    matched_tickets += summary.tickets().count();
                    let players = summary.players().count();
                    matched_players += players;
                    matched_teams += summary.teams.len();
                    matched_wait_ms += summary.tickets().map(|t| t.waited_ms).sum::<u64>();
                    let full = self
                        .full_match
                        .iter()
                        .find(|(name, _)| **name == *summary.queue)
                        .map_or(players, |(_, full)| *full);
                    short_matches += u64::from(players < full);
                    self.sessions.push_back(PendingSession {
                        ends_at_tick: self.ticks + self.steady.session_ticks,
                        match_id: summary.match_id,
                        teams: summary.teams.len(),
                        parties: summary.tickets().filter_map(|t| t.party).collect(),
                    });
                }
                Event::Rejected { .. } => self.rejected += 1,
                _ => {}
            }
        }
        StepReport {
            tick,
            arrivals,
            matches: report.matches,
            matched_tickets,
            departures: queued_before.saturating_sub(self.matcher.queued_tickets()),
            matched_players,
            matched_teams,
            short_matches,
            matched_wait_ms,
            attempts: report.attempts,
        }
    }

    fn submit(&mut self, command: Command) {
        self.commands.push(command.clone());
        self.matcher
            .submit(command)
            .expect("events are drained every tick");
    }
}
