//! The simulated world around a matcher: players who log in, queue, answer proposals, give
//! up, play and come back; game servers that come up, heartbeat and report results drawn
//! from true skill; all in virtual time, one tick after another as fast as the CPU allows.
//!
//! The world owns everything outside the matcher and talks to it only through commands and
//! events (`Engine`). Its randomness comes from the scenario's seed, in separate streams:
//! the population (who exists, with what skill, party, region and pings) and the login times
//! do not depend on the matcher, so every matcher meets the same population arriving at the
//! same moments (who logs in depends on who is offline, which the matcher influences);
//! behaviour and results draw from their own streams.
//!
//! What players carry for match rules (attributes, role preferences and per-role ratings,
//! avoid lists; `profile`) is drawn once at the start from a stream of its own, after the
//! population. Every proposed and formed match is held to the core's invariant
//! (`check_match_summary`, Matchwright's matcher only) and to the simulator's own check of
//! its queue's rules (`rules_check`, every matcher); a broken one ends the run with an error.
//! Each tick's turned-away counts (`TickReport::turned_away`) are summed into the report.
//!
//! Between two ticks the world applies its scheduled actions (a time-ordered heap, ties
//! broken by scheduling order) as commands; the tick runs; its events are hashed, measured and
//! answered by scheduling more actions.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

use matchwright_ecs::config::BlockScope;
use matchwright_ecs::event::{AbandonReason, RemovalReason};
use matchwright_ecs::{
    Command, CommandSeq, EnqueueTicket, Event, EventChain, MatchId, MatchSummary, PartyId,
    PlayerId, Rating, RoleChoice, SubmittedPings, TickRecord, TicketId, TicketMember,
    check_match_summary, codec,
};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

use crate::engine::Engine;
use crate::metrics::{self, Dist, Report, Slice};
use crate::population::{PlayerModel, normal, uniform, weighted};
use crate::profile::{self, Profile, Registered};
use crate::rules_check::{self, MemberView, TicketView};
use crate::scenario::Scenario;

/// Where a run reports progress: called every simulated minute with (ticks done, ticks in
/// all, virtual ms now).
pub type ProgressFn<'a> = dyn FnMut(u64, u64, u64) + 'a;

/// Called with each tick's commands (in submission order), its time and its events, for
/// recording a trace.
pub type TickObserver<'a> = dyn FnMut(&TickRecord, &[Event]) -> Result<(), String> + 'a;

/// One sample of the timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Virtual time, in seconds.
    pub at_s: f64,
    /// Players queued, per queue of the matcher config.
    pub queued: Vec<u64>,
    /// Players online.
    pub online: u64,
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// The report (`report.json`).
    pub report: Report,
    /// Queue depths over time.
    pub timeline: Vec<Sample>,
    /// The queue names, in the timeline's order.
    pub queue_names: Vec<String>,
    /// Time to match per matched player, in ms.
    pub ttm_ms: Dist,
    /// Quality per match.
    pub quality: Dist,
}

#[derive(Clone, Debug)]
struct Player {
    skill: f64,
    pings: Vec<u16>,
    /// Per rating key (`World::rating_keys`): a game mode, or a mode and role.
    ratings: Vec<Rating>,
    /// Rated games per rating key.
    games: Vec<u32>,
}

/// What a scenario queue's tickets carry for its rules.
#[derive(Clone, Debug, Default)]
struct QueueRules {
    /// The attributes the queue declares that the population draws: (name, index in
    /// `[[population.attributes]]`).
    attributes: Vec<(String, usize)>,
    /// In a role queue: its slot in each `Profile::roles`.
    role_slot: Option<usize>,
    /// The role queue's roles, in composition order.
    role_names: Vec<String>,
    /// In a queue rated per role: the rating key of each role, in composition order.
    role_keys: Vec<usize>,
    /// True skill lost in a role other than the first choice.
    off_role_mmr: f64,
    /// Whether tickets carry avoid lists.
    sends_avoid: bool,
}

/// What the world queued a ticket with, for the checks of the matches it is in.
#[derive(Clone, Debug)]
struct TicketFacts {
    group: u32,
    scenario_queue: usize,
    submitted: SubmittedPings,
    /// The members' ratings (mu) as queued.
    mus: Vec<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GroupState {
    Offline,
    /// Online, between games; a `Queue` action is scheduled.
    Resting,
    Queued {
        ticket: TicketId,
    },
    Playing,
}

#[derive(Clone, Debug)]
struct Group {
    members: Vec<u32>,
    home: usize,
    max_ping_ms: Option<u16>,
    state: GroupState,
    party: Option<PartyId>,
    /// The scenario queue of its current or last ticket.
    queue: usize,
    seen: bool,
}

#[derive(Clone, Debug)]
struct Session {
    queue: usize,
    /// Its region's index.
    region: usize,
    /// The players' true skill in the match (in a role queue, in the role played), by team.
    skills: Vec<Vec<f64>>,
    /// Its tickets and the groups that queued them (they go back to the queue if no game
    /// server is found).
    tickets: Vec<(TicketId, u32)>,
    /// Whether it holds one of its region's game servers.
    has_server: bool,
    over: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Queue(u32),
    /// A player online at the start comes back from a game in progress.
    Return(u32),
    GiveUp(u32, TicketId),
    Answer(MatchId, PlayerId, bool),
    ServerUp(MatchId),
    Heartbeat(MatchId),
    GameOver(MatchId),
}

/// The streams of randomness, each seeded from the scenario seed.
struct Streams {
    arrivals: ChaCha8Rng,
    behaviour: ChaCha8Rng,
    outcomes: ChaCha8Rng,
}

fn stream(seed: u64, salt: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn ms(seconds: f64) -> u64 {
    (seconds * 1_000.0).max(0.0) as u64
}

/// The simulation of one scenario with one engine.
pub struct World<'a> {
    scenario: &'a Scenario,
    engine: Box<dyn Engine>,
    players: Vec<Player>,
    groups: Vec<Group>,
    offline: Vec<u32>,
    /// Position of each group in `offline` (u32::MAX when online).
    offline_at: Vec<u32>,
    /// Per group size: the scenario queues that take it, and their weights.
    queue_choices: Vec<(Vec<usize>, Vec<f64>)>,
    /// Per scenario queue: its index in the matcher config, and its game mode's rating key.
    queue_config: Vec<(usize, usize)>,
    /// The ratings a player has: per game mode (role `None`), then per mode and role for
    /// queues rated per role.
    rating_keys: Vec<(String, Option<String>)>,
    /// For each rating key of a role: the scenario queue (`queue_rules`) and role it came
    /// from, for the player's true skill in it.
    role_key_source: Vec<(usize, usize, u8)>,
    streams: Streams,
    heap: BinaryHeap<Reverse<(u64, u64, Action)>>,
    scheduled: u64,
    next_login_ms: u64,
    mean_group_size: f64,
    ticket_group: HashMap<TicketId, u32>,
    enqueue_seqs: HashMap<CommandSeq, u32>,
    sessions: HashMap<MatchId, Session>,
    /// Per scenario queue: what its tickets carry for its rules.
    queue_rules: Vec<QueueRules>,
    /// Per player: attributes, role preferences, avoid list.
    profiles: Vec<Profile>,
    /// The tickets queued and not yet done with.
    facts: HashMap<TicketId, TicketFacts>,
    /// Whether matches are also held to the core's own invariant (`check_match_summary`):
    /// for Matchwright's matcher, not the baselines, which keep no windows.
    check_core: bool,
    /// Game servers playing, per region (against `servers.capacity`).
    servers_busy: Vec<u32>,
    /// Game servers per region (`u32::MAX`: as many as needed).
    servers_capacity: Vec<u32>,
    next_ticket: u64,
    next_party: u64,
    online: u64,
    // Measurements.
    total: Slice,
    per_region: Vec<Slice>,
    per_queue: Vec<Slice>,
    team_gap: Dist,
    favourite: Dist,
    report: Report,
    /// The run's event chain (the journal's and the traces' `EventChain`).
    chain: EventChain,
    timeline: Vec<Sample>,
    online_sum: f64,
    tick_commands: Vec<Command>,
    recording: bool,
}

impl<'a> World<'a> {
    /// Builds the population of `scenario` (seeded) around `engine`.
    pub fn new(scenario: &'a Scenario, engine: Box<dyn Engine>, seed: u64) -> Self {
        let config = &scenario.matcher;
        let mut rating_keys: Vec<(String, Option<String>)> = Vec::new();
        let queue_config: Vec<(usize, usize)> = scenario
            .queues
            .iter()
            .map(|spec| {
                let index = config.queue_index(&spec.name).unwrap_or(0);
                let key = (config.queues[index].mode_name().to_string(), None);
                let mode_index = rating_keys
                    .iter()
                    .position(|k| *k == key)
                    .unwrap_or_else(|| {
                        rating_keys.push(key);
                        rating_keys.len() - 1
                    });
                (index, mode_index)
            })
            .collect();
        let modes = rating_keys.len();
        let mut role_key_source = Vec::new();
        let mut role_queues = Vec::new();
        let queue_rules: Vec<QueueRules> = scenario
            .queues
            .iter()
            .enumerate()
            .map(|(index, spec)| {
                let queue = &config.queues[queue_config[index].0];
                let drawn = &scenario.population.attributes;
                let mut rules = QueueRules {
                    attributes: queue
                        .attributes
                        .iter()
                        .filter_map(|declared| {
                            drawn
                                .iter()
                                .position(|d| d.name() == declared.name())
                                .map(|at| (declared.name().to_string(), at))
                        })
                        .collect(),
                    sends_avoid: queue.block_lists != BlockScope::Off
                        && scenario.population.avoid.share > 0.0,
                    ..QueueRules::default()
                };
                if let (Some(roles), Some(preferences)) = (&queue.roles, &spec.roles) {
                    rules.role_slot = Some(role_queues.len());
                    role_queues.push((roles, preferences));
                    rules.role_names = roles.composition.iter().map(|s| s.role.clone()).collect();
                    rules.off_role_mmr = preferences.off_role_mmr;
                    if roles.rating_per_role {
                        for (role, slot) in roles.composition.iter().enumerate() {
                            let key = (queue.mode_name().to_string(), Some(slot.role.clone()));
                            let at =
                                rating_keys
                                    .iter()
                                    .position(|k| *k == key)
                                    .unwrap_or_else(|| {
                                        rating_keys.push(key);
                                        role_key_source.push((index, role as u8));
                                        rating_keys.len() - 1
                                    });
                            rules.role_keys.push(at);
                        }
                    }
                }
                rules
            })
            .collect();
        let role_key_source: Vec<(usize, usize, u8)> = role_key_source
            .into_iter()
            .enumerate()
            .map(|(at, (queue, role))| (modes + at, queue, role))
            .collect();
        let max_size = scenario
            .population
            .party_sizes
            .iter()
            .map(|(size, _)| usize::from(*size))
            .max()
            .unwrap_or(1);
        let queue_choices = (0..=max_size)
            .map(|size| {
                let mut queues = Vec::new();
                let mut weights = Vec::new();
                for (index, spec) in scenario.queues.iter().enumerate() {
                    let queue = &config.queues[queue_config[index].0];
                    if usize::from(queue.max_party_size) >= size && spec.share > 0.0 {
                        queues.push(index);
                        weights.push(spec.share);
                    }
                }
                (queues, weights)
            })
            .collect();

        let (mut players, groups, new_players) = populate(scenario, modes, seed);
        // What players carry for match rules, from a stream of its own (a scenario without
        // rules sections draws nothing from it).
        let draws = profile::Draws {
            attributes: &scenario.population.attributes,
            avoid: &scenario.population.avoid,
            role_queues,
        };
        let mut registered = vec![
            Registered {
                skill: 0.0,
                home: 0,
                group: 0,
            };
            players.len()
        ];
        for (index, group) in groups.iter().enumerate() {
            for member in &group.members {
                registered[*member as usize] = Registered {
                    skill: players[*member as usize].skill,
                    home: group.home,
                    group: index as u32,
                };
            }
        }
        let members: Vec<Vec<u32>> = groups.iter().map(|g| g.members.clone()).collect();
        let mut profile_rng = stream(seed, 5);
        let profiles = draws.draw(&mut profile_rng, &registered, &members);
        if !role_key_source.is_empty() {
            let population = &scenario.population;
            for (index, player) in players.iter_mut().enumerate() {
                for (_, queue, role) in &role_key_source {
                    let skill =
                        role_skill(&queue_rules[*queue], &profiles[index], player.skill, *role);
                    player.ratings.push(profile::role_rating(
                        &mut profile_rng,
                        new_players[index],
                        config.rating.initial,
                        skill,
                        population.rating_error_sd,
                        population.rating_sigma,
                    ));
                    player.games.push(0);
                }
            }
        }
        let total_weight: f64 = scenario.population.party_sizes.iter().map(|(_, w)| w).sum();
        let mean_group_size = scenario
            .population
            .party_sizes
            .iter()
            .map(|(size, weight)| f64::from(*size) * weight)
            .sum::<f64>()
            / total_weight.max(f64::MIN_POSITIVE);
        let offline: Vec<u32> = (0..groups.len() as u32).collect();
        let offline_at = offline.clone();
        let regions = config.regions.len();
        let check_core = engine.name() == "matchwright";
        let skipped_queues = engine.skipped_queues().into_iter().collect();
        let report = Report {
            scenario: scenario.name.clone(),
            matcher: engine.name().to_string(),
            seed,
            duration_s: scenario.duration_s,
            tick_ms: scenario.tick_ms,
            matches: 0,
            players: 0,
            players_matched: 0,
            tickets: 0,
            ttm_s: metrics::ttm_summary(&metrics::ttm_dist()),
            quality: metrics::LowTail {
                mean: 0.0,
                p10: 0.0,
            },
            team_gap: metrics::HighTail {
                mean: 0.0,
                p99: 0.0,
            },
            favourite_win_prob: metrics::HighTail {
                mean: 0.0,
                p99: 0.0,
            },
            ping_ms: metrics::HighTail {
                mean: 0.0,
                p99: 0.0,
            },
            abandon_rate: 0.0,
            abandons: Default::default(),
            rating_skill_corr: 0.0,
            games_rated: 0,
            sessions_abandoned: Default::default(),
            rejected: Default::default(),
            limits_reached: Default::default(),
            turned_away: Default::default(),
            skipped_queues,
            roles_played: Default::default(),
            logins_refused: 0,
            online_mean: 0.0,
            online_max: 0,
            per_region: Default::default(),
            per_queue: Default::default(),
            ticks: 0,
            commands: 0,
            events: 0,
            event_chain: String::new(),
            wall_s: 0.0,
        };
        Self {
            scenario,
            engine,
            players,
            groups,
            offline,
            offline_at,
            queue_choices,
            queue_config,
            rating_keys,
            role_key_source,
            queue_rules,
            profiles,
            facts: HashMap::new(),
            check_core,
            streams: Streams {
                arrivals: stream(seed, 2),
                behaviour: stream(seed, 3),
                outcomes: stream(seed, 4),
            },
            heap: BinaryHeap::new(),
            scheduled: 0,
            next_login_ms: 0,
            mean_group_size,
            ticket_group: HashMap::new(),
            enqueue_seqs: HashMap::new(),
            sessions: HashMap::new(),
            servers_busy: vec![0; regions],
            servers_capacity: config
                .regions
                .iter()
                .map(|region| {
                    scenario
                        .servers
                        .capacity
                        .get(region)
                        .copied()
                        .unwrap_or(u32::MAX)
                })
                .collect(),
            next_ticket: 1,
            next_party: 1,
            online: 0,
            total: Slice::default(),
            per_region: vec![Slice::default(); regions],
            per_queue: vec![Slice::default(); scenario.queues.len()],
            team_gap: Dist::new(100_000.0, 10.0),
            favourite: metrics::unit_dist(),
            report,
            chain: EventChain::default(),
            timeline: Vec::new(),
            online_sum: 0.0,
            tick_commands: Vec::new(),
            recording: false,
        }
    }

    fn schedule(&mut self, at_ms: u64, action: Action) {
        self.scheduled += 1;
        self.heap.push(Reverse((at_ms, self.scheduled, action)));
    }

    fn submit(&mut self, command: Command) -> Result<CommandSeq, String> {
        self.report.commands += 1;
        if self.recording {
            self.tick_commands.push(command.clone());
        }
        self.engine.submit(command)
    }

    /// Runs the whole period. `progress` is told how far the run is every simulated minute;
    /// `observer`, when given, sees every tick's commands and events.
    pub fn run(
        mut self,
        progress: &mut ProgressFn<'_>,
        mut observer: Option<&mut TickObserver<'_>>,
    ) -> Result<RunOutput, String> {
        let started = Instant::now();
        self.recording = observer.is_some();
        let scenario = self.scenario;
        let tick_ms = scenario.tick_ms;
        let ticks = scenario.duration_ms().div_ceil(tick_ms);
        let sample_every_ms = ms(scenario.sample_every_s).max(1);
        let progress_every = (60_000 / tick_ms).max(1);
        self.start_initial_players()?;
        self.next_login_ms = self.draw_next_login(0);
        let mut events = Vec::new();
        let mut next_sample_ms = 0;
        for tick in 1..=ticks {
            let now_ms = tick * tick_ms;
            while self.next_login_ms <= now_ms {
                let at = self.next_login_ms;
                self.login(at)?;
                self.next_login_ms = self.draw_next_login(at);
            }
            while let Some(Reverse((at, _, _))) = self.heap.peek() {
                if *at > now_ms {
                    break;
                }
                let Some(Reverse((at, _, action))) = self.heap.pop() else {
                    break;
                };
                self.act(action, at)?;
            }
            for turned in self.engine.tick(now_ms)? {
                *self
                    .report
                    .turned_away
                    .entry(turned.queue.to_string())
                    .or_default()
                    .entry(turned.check.to_string())
                    .or_default() += turned.anchors;
            }
            self.report.ticks += 1;
            self.engine.drain_into(&mut events);
            let event_hash = codec::hash_events(&events);
            self.chain.push(&event_hash);
            self.report.events += events.len() as u64;
            if let Some(observer) = observer.as_deref_mut() {
                let record = TickRecord {
                    tick,
                    now_ms,
                    commands: std::mem::take(&mut self.tick_commands),
                    event_hash,
                    event_count: events.len() as u64,
                };
                observer(&record, &events)?;
                self.tick_commands = record.commands;
                self.tick_commands.clear();
            }
            self.enqueue_seqs_pending(&events);
            for event in events.drain(..) {
                self.handle(event, now_ms)?;
            }
            self.enqueue_seqs.clear();
            if now_ms >= next_sample_ms {
                self.sample(now_ms);
                next_sample_ms = now_ms + sample_every_ms;
            }
            if tick % progress_every == 0 || tick == ticks {
                progress(tick, ticks, now_ms);
            }
        }
        Ok(self.finish(started.elapsed().as_secs_f64()))
    }

    /// Rejections of enqueues are answered before other events (the seq map is per tick).
    fn enqueue_seqs_pending(&mut self, events: &[Event]) {
        for event in events {
            if let Event::Rejected { seq, reason } = event {
                let kind = variant_name(&format!("{reason:?}"));
                *self.report.rejected.entry(kind).or_default() += 1;
                if let Some(group) = self.enqueue_seqs.remove(seq) {
                    // The ticket never entered a queue: the group goes back to resting.
                    if let GroupState::Queued { ticket } = self.groups[group as usize].state {
                        self.ticket_group.remove(&ticket);
                        self.facts.remove(&ticket);
                    }
                    self.groups[group as usize].state = GroupState::Resting;
                    let wait = ms(uniform(
                        &mut self.streams.behaviour,
                        self.scenario.arrivals.break_s,
                    ));
                    self.schedule(
                        self.engine_now_hint() + wait.max(1_000),
                        Action::Queue(group),
                    );
                }
            }
        }
    }

    fn engine_now_hint(&self) -> u64 {
        self.report.ticks * self.scenario.tick_ms
    }

    fn sample(&mut self, now_ms: u64) {
        let queued = self.engine.queued_players();
        self.online_sum += self.online as f64;
        self.report.online_max = self.report.online_max.max(self.online);
        self.timeline.push(Sample {
            at_s: now_ms as f64 / 1_000.0,
            queued,
            online: self.online,
        });
    }

    fn start_initial_players(&mut self) -> Result<(), String> {
        let scenario = self.scenario;
        let target = u64::from(scenario.arrivals.initial_online);
        let shares: f64 = scenario.queues.iter().map(|queue| queue.share).sum();
        let mean_game_s = scenario
            .queues
            .iter()
            .map(|queue| queue.share * (queue.game_length_s.0 + queue.game_length_s.1) / 2.0)
            .sum::<f64>()
            / shares.max(f64::MIN_POSITIVE);
        while self.online < target && !self.offline.is_empty() {
            let pick = self.streams.arrivals.random_range(0..self.offline.len());
            let group = self.offline[pick];
            self.go_online(group)?;
            let at = ms(uniform(&mut self.streams.arrivals, (0.0, mean_game_s)));
            self.schedule(at, Action::Return(group));
        }
        Ok(())
    }

    /// Groups logging in per ms at `at_ms`: the hour's rate plus the spikes in force.
    fn rate_per_ms(&self, at_ms: u64) -> f64 {
        let arrivals = &self.scenario.arrivals;
        let rates = &arrivals.logins_per_hour;
        let hour = self.hour_at(at_ms);
        let hourly = if rates.len() == 1 {
            rates[0]
        } else {
            rates[hour]
        };
        let spiking: f64 = (arrivals.spikes.iter())
            .filter(|spike| {
                let (start, end) = spike.window_ms();
                (start..end).contains(&at_ms)
            })
            .map(|spike| spike.logins_per_hour)
            .sum();
        (hourly + spiking) / self.mean_group_size.max(1.0) / 3_600_000.0
    }

    /// The first moment after `at_ms` where a spike starts or ends (`u64::MAX` for none).
    fn next_spike_edge(&self, at_ms: u64) -> u64 {
        (self.scenario.arrivals.spikes.iter())
            .flat_map(|spike| {
                let (start, end) = spike.window_ms();
                [start, end]
            })
            .filter(|edge| *edge > at_ms)
            .min()
            .unwrap_or(u64::MAX)
    }

    fn hour_at(&self, at_ms: u64) -> usize {
        let hours = self.scenario.start_hour + at_ms as f64 / 3_600_000.0;
        (hours.floor() as usize) % 24
    }

    /// The next login after `from_ms`: exponential gaps at the rate in force; crossing into
    /// another hour, or a spike's start or end, redraws from there (exact, since the process
    /// has no memory).
    fn draw_next_login(&mut self, from_ms: u64) -> u64 {
        let end = self.scenario.duration_ms() + self.scenario.tick_ms;
        let mut at = from_ms;
        loop {
            if at > end {
                return u64::MAX;
            }
            let hours = self.scenario.start_hour + at as f64 / 3_600_000.0;
            let next_hour_ms = ((hours.floor() + 1.0 - self.scenario.start_hour) * 3_600_000.0)
                .ceil()
                .max(at as f64 + 1.0) as u64;
            let next_change_ms = next_hour_ms.min(self.next_spike_edge(at));
            let rate = self.rate_per_ms(at);
            if rate <= 0.0 {
                at = next_change_ms;
                continue;
            }
            let u: f64 = self.streams.arrivals.random_range(f64::MIN_POSITIVE..1.0);
            let gap = -u.ln() / rate;
            let candidate = at as f64 + gap;
            if candidate >= next_change_ms as f64 {
                at = next_change_ms;
                continue;
            }
            return (candidate.ceil() as u64).max(from_ms + 1);
        }
    }

    fn login(&mut self, at_ms: u64) -> Result<(), String> {
        if self.offline.is_empty() {
            self.report.logins_refused += 1;
            return Ok(());
        }
        let pick = self.streams.arrivals.random_range(0..self.offline.len());
        let group = self.offline[pick];
        self.go_online(group)?;
        self.schedule(at_ms, Action::Queue(group));
        Ok(())
    }

    fn go_online(&mut self, group: u32) -> Result<(), String> {
        let position = self.offline_at[group as usize] as usize;
        let last = *self.offline.last().unwrap_or(&group);
        self.offline.swap_remove(position);
        if last != group {
            self.offline_at[last as usize] = position as u32;
        }
        self.offline_at[group as usize] = u32::MAX;
        let members = self.groups[group as usize].members.clone();
        self.online += members.len() as u64;
        if !self.groups[group as usize].seen {
            self.groups[group as usize].seen = true;
            self.report.players += members.len() as u64;
        }
        self.groups[group as usize].state = GroupState::Resting;
        if members.len() > 1 {
            let party = PartyId(self.next_party);
            self.next_party += 1;
            self.groups[group as usize].party = Some(party);
            self.submit(Command::CreateParty {
                party,
                leader: player_id(members[0]),
            })?;
            for member in &members[1..] {
                self.submit(Command::JoinParty {
                    party,
                    player: player_id(*member),
                })?;
            }
        }
        Ok(())
    }

    fn go_offline(&mut self, group: u32) -> Result<(), String> {
        let entry = &mut self.groups[group as usize];
        entry.state = GroupState::Offline;
        self.online -= entry.members.len() as u64;
        if let Some(party) = entry.party.take() {
            self.submit(Command::DisbandParty { party })?;
        }
        self.offline_at[group as usize] = self.offline.len() as u32;
        self.offline.push(group);
        Ok(())
    }

    /// After a game or a departure from the queue: another game after a break, or log off.
    fn next_step(&mut self, group: u32, now_ms: u64, log_off_chance: f64) -> Result<(), String> {
        if self
            .streams
            .behaviour
            .random_bool(log_off_chance.clamp(0.0, 1.0))
        {
            return self.go_offline(group);
        }
        self.groups[group as usize].state = GroupState::Resting;
        let pause = ms(uniform(
            &mut self.streams.behaviour,
            self.scenario.arrivals.break_s,
        ));
        self.schedule(now_ms + pause, Action::Queue(group));
        Ok(())
    }

    fn act(&mut self, action: Action, at_ms: u64) -> Result<(), String> {
        match action {
            Action::Queue(group) => self.queue(group, at_ms),
            Action::Return(group) => {
                // As if from a game in progress: log off as after any game, or queue now.
                let leave = 1.0 / self.scenario.arrivals.games_per_session;
                if self.streams.behaviour.random_bool(leave.clamp(0.0, 1.0)) {
                    self.go_offline(group)
                } else {
                    self.queue(group, at_ms)
                }
            }
            Action::GiveUp(group, ticket) => {
                if self.groups[group as usize].state == (GroupState::Queued { ticket }) {
                    self.submit(Command::Cancel { ticket })?;
                }
                Ok(())
            }
            Action::Answer(match_id, player, accept) => {
                let command = if accept {
                    Command::AcceptMatch { match_id, player }
                } else {
                    Command::DeclineMatch { match_id, player }
                };
                self.submit(command).map(|_| ())
            }
            Action::ServerUp(match_id) => self.allocate(match_id),
            Action::Heartbeat(match_id) => {
                if self
                    .sessions
                    .get(&match_id)
                    .is_some_and(|session| !session.over)
                {
                    self.submit(Command::Heartbeat { match_id })?;
                    let next = at_ms + ms(self.scenario.servers.heartbeat_s);
                    self.schedule(next, Action::Heartbeat(match_id));
                }
                Ok(())
            }
            Action::GameOver(match_id) => self.game_over(match_id),
        }
    }

    fn queue(&mut self, group: u32, now_ms: u64) -> Result<(), String> {
        if self.groups[group as usize].state != GroupState::Resting {
            return Ok(());
        }
        let size = self.groups[group as usize].members.len();
        let (queues, weights) = &self.queue_choices[size.min(self.queue_choices.len() - 1)];
        if queues.is_empty() {
            return self.go_offline(group);
        }
        let scenario_queue = queues[weighted(&mut self.streams.behaviour, weights)];
        let (config_queue, mode) = self.queue_config[scenario_queue];
        let ticket = TicketId(self.next_ticket);
        self.next_ticket += 1;
        let entry = &self.groups[group as usize];
        let rules = &self.queue_rules[scenario_queue];
        let members: Vec<TicketMember> = entry
            .members
            .iter()
            .map(|member| {
                let player = &self.players[*member as usize];
                let profile = &self.profiles[*member as usize];
                let roles = rules.role_slot.map_or_else(Vec::new, |slot| {
                    profile.roles[slot]
                        .iter()
                        .map(|role| RoleChoice {
                            role: rules.role_names[usize::from(*role)].clone(),
                            rating: rules
                                .role_keys
                                .get(usize::from(*role))
                                .map(|key| player.ratings[*key]),
                        })
                        .collect()
                });
                TicketMember {
                    player: player_id(*member),
                    rating: player.ratings[mode],
                    pings_ms: player.pings.clone(),
                    attributes: rules
                        .attributes
                        .iter()
                        .map(|(name, at)| (name.clone(), profile.attributes[*at].clone()))
                        .collect(),
                    roles,
                    avoid: if rules.sends_avoid {
                        profile.avoid.iter().map(|p| player_id(*p)).collect()
                    } else {
                        Vec::new()
                    },
                }
            })
            .collect();
        let enqueue = EnqueueTicket {
            ticket,
            queue: self.scenario.matcher.queues[config_queue].name.clone(),
            party: entry.party,
            members,
            max_ping_ms: entry.max_ping_ms,
            waiting_since_ms: None,
            attributes: Default::default(),
        };
        self.facts.insert(
            ticket,
            TicketFacts {
                group,
                scenario_queue,
                submitted: SubmittedPings::of(&enqueue),
                mus: enqueue.members.iter().map(|m| m.rating.mu).collect(),
            },
        );
        let seq = self.submit(Command::Enqueue(enqueue))?;
        self.enqueue_seqs.insert(seq, group);
        let entry = &mut self.groups[group as usize];
        entry.state = GroupState::Queued { ticket };
        entry.queue = scenario_queue;
        self.ticket_group.insert(ticket, group);
        let patience = &self.scenario.patience;
        let wait =
            normal(&mut self.streams.behaviour, patience.mean_s, patience.sd_s).max(patience.min_s);
        self.schedule(now_ms + ms(wait), Action::GiveUp(group, ticket));
        Ok(())
    }

    /// The fleet answers for a formed match: a server if its region has one free, else
    /// `AllocationFailed`.
    fn allocate(&mut self, match_id: MatchId) -> Result<(), String> {
        let Some(session) = self.sessions.get_mut(&match_id) else {
            return Ok(());
        };
        let region = session.region;
        if self.servers_busy[region] >= self.servers_capacity[region] {
            return self
                .submit(Command::AllocationFailed { match_id })
                .map(|_| ());
        }
        session.has_server = true;
        self.servers_busy[region] += 1;
        self.submit(Command::SessionReady {
            match_id,
            server: String::new(),
        })
        .map(|_| ())
    }

    fn game_over(&mut self, match_id: MatchId) -> Result<(), String> {
        let Some(session) = self.sessions.get_mut(&match_id) else {
            return Ok(());
        };
        session.over = true;
        let noise = self.scenario.outcome.performance_sd;
        let performances: Vec<f64> = session
            .skills
            .iter()
            .map(|team| {
                team.iter()
                    .map(|skill| normal(&mut self.streams.outcomes, *skill, noise))
                    .sum()
            })
            .collect();
        let placements = performances
            .iter()
            .map(|mine| 1 + performances.iter().filter(|other| *other > mine).count() as u32)
            .collect();
        self.submit(Command::ReportResult {
            match_id,
            placements,
        })
        .map(|_| ())
    }

    fn handle(&mut self, event: Event, now_ms: u64) -> Result<(), String> {
        match event {
            Event::TicketQueued { ticket, .. } => {
                self.report.tickets += 1;
                let _ = ticket;
            }
            Event::TicketRemoved { ticket, reason, .. } => {
                self.facts.remove(&ticket);
                let Some(group) = self.ticket_group.remove(&ticket) else {
                    return Ok(());
                };
                if self.groups[group as usize].state != (GroupState::Queued { ticket }) {
                    return Ok(());
                }
                let kind = match reason {
                    RemovalReason::Cancelled => "cancelled",
                    RemovalReason::Expired => "expired",
                    RemovalReason::Declined => "declined",
                    RemovalReason::AcceptanceTimedOut => "acceptance_timed_out",
                    RemovalReason::PartyChanged => "party_changed",
                };
                *self.report.abandons.entry(kind.into()).or_default() += 1;
                let entry = &self.groups[group as usize];
                self.total.abandoned += 1;
                self.per_queue[entry.queue].abandoned += 1;
                self.per_region[entry.home].abandoned += 1;
                let leave = 1.0 - self.scenario.patience.retry_share;
                self.next_step(group, now_ms, leave)?;
            }
            Event::MatchProposed { summary, .. } => {
                self.check_match(&summary, now_ms)?;
                let acceptance = self.scenario.acceptance;
                let players: Vec<PlayerId> = summary.players().collect();
                for player in players {
                    let delay = ms(uniform(&mut self.streams.behaviour, acceptance.delay_s));
                    let accept = !self.streams.behaviour.random_bool(acceptance.decline_share);
                    self.schedule(
                        now_ms + delay,
                        Action::Answer(summary.match_id, player, accept),
                    );
                }
            }
            Event::MatchFormed { summary } => {
                self.check_match(&summary, now_ms)?;
                self.match_formed(&summary, now_ms);
            }
            Event::SessionActive { match_id, .. } => {
                if let Some(session) = self.sessions.get(&match_id) {
                    let spec = &self.scenario.queues[session.queue];
                    let length = ms(uniform(&mut self.streams.behaviour, spec.game_length_s));
                    self.schedule(now_ms + length.max(1), Action::GameOver(match_id));
                    let beat = ms(self.scenario.servers.heartbeat_s);
                    self.schedule(now_ms + beat, Action::Heartbeat(match_id));
                }
            }
            Event::SessionEnded { match_id, .. } => self.session_over(match_id, now_ms)?,
            Event::SessionAbandoned { match_id, reason } => {
                let kind = match reason {
                    AbandonReason::AllocationTimedOut => "allocation_timed_out",
                    AbandonReason::HeartbeatTimedOut => "heartbeat_timed_out",
                    AbandonReason::AllocationFailed => "allocation_failed",
                    AbandonReason::Empty => "empty",
                    AbandonReason::Cancelled => "cancelled",
                };
                *self
                    .report
                    .sessions_abandoned
                    .entry(kind.into())
                    .or_default() += 1;
                match reason {
                    AbandonReason::AllocationFailed
                    | AbandonReason::AllocationTimedOut
                    | AbandonReason::Cancelled => {
                        self.back_to_queue(match_id);
                    }
                    _ => self.session_over(match_id, now_ms)?,
                }
            }
            Event::RatingsUpdated { mode, updates, .. } => {
                let mut rated = false;
                for update in updates {
                    let Some(key) = self.rating_keys.iter().position(|(m, role)| {
                        *m == mode && role.as_deref() == update.role.as_deref()
                    }) else {
                        continue;
                    };
                    rated = true;
                    if let Some(player) = self.players.get_mut(player_index(update.player)) {
                        player.ratings[key] = update.after;
                        player.games[key] += 1;
                    }
                }
                self.report.games_rated += u64::from(rated);
            }
            Event::LimitReached { limit, .. } => {
                *self
                    .report
                    .limits_reached
                    .entry(variant_name(&format!("{limit:?}")))
                    .or_default() += 1;
            }
            _ => {}
        }
        Ok(())
    }

    fn match_formed(&mut self, summary: &MatchSummary, now_ms: u64) {
        let config = &self.scenario.matcher;
        let region = config.region_index(&summary.region).unwrap_or(0);
        let scenario_queue = self
            .scenario
            .queues
            .iter()
            .position(|queue| *queue.name == *summary.queue)
            .unwrap_or(0);
        let mut skills: Vec<Vec<f64>> = Vec::with_capacity(summary.teams.len());
        let mut tickets = Vec::new();
        let mut players_matched = 0;
        for team in &summary.teams {
            let mut team_skills = Vec::new();
            for ticket in team {
                let players = ticket.players.len() as u64;
                players_matched += players;
                for slice in [
                    &mut self.total,
                    &mut self.per_region[region],
                    &mut self.per_queue[scenario_queue],
                ] {
                    slice.ttm_ms.record_n(ticket.waited_ms as f64, players);
                    slice.ping_ms.record_n(f64::from(ticket.ping_ms), players);
                    slice.tickets_matched += 1;
                }
                for player in &ticket.players {
                    let index = player_index(player.player);
                    team_skills.push(self.skill_in(index, scenario_queue, player.role.as_deref()));
                    if let Some(role) = &player.role {
                        let first = self.first_role(index, scenario_queue) == Some(&**role);
                        let count = self
                            .report
                            .roles_played
                            .entry(summary.queue.to_string())
                            .or_default()
                            .entry(role.to_string())
                            .or_default();
                        count.players += 1;
                        count.first_choice += u64::from(first);
                    }
                }
                if let Some(group) = self.ticket_group.remove(&ticket.ticket) {
                    self.groups[group as usize].state = GroupState::Playing;
                    tickets.push((ticket.ticket, group));
                }
            }
            skills.push(team_skills);
        }
        for slice in [
            &mut self.total,
            &mut self.per_region[region],
            &mut self.per_queue[scenario_queue],
        ] {
            slice.matches += 1;
            slice.quality.record(summary.quality);
        }
        self.report.matches += 1;
        self.report.players_matched += players_matched;

        // Fairness by true skill.
        let mut strengths: Vec<(f64, f64, usize)> = skills
            .iter()
            .map(|team| {
                let sum: f64 = team.iter().sum();
                (sum, sum / team.len().max(1) as f64, team.len())
            })
            .collect();
        strengths.sort_by(|a, b| b.0.total_cmp(&a.0));
        let means = strengths.iter().map(|s| s.1);
        let gap =
            means.clone().fold(f64::NEG_INFINITY, f64::max) - means.fold(f64::INFINITY, f64::min);
        self.team_gap.record(gap);
        if let [first, second, ..] = strengths.as_slice() {
            let noise = self.scenario.outcome.performance_sd;
            let spread = ((first.2 + second.2) as f64).sqrt() * noise;
            self.favourite
                .record(metrics::normal_cdf((first.0 - second.0) / spread));
        }
        self.sessions.insert(
            summary.match_id,
            Session {
                queue: scenario_queue,
                region,
                skills,
                tickets,
                has_server: false,
                over: false,
            },
        );
        let delay = ms(uniform(
            &mut self.streams.behaviour,
            self.scenario.servers.allocation_s,
        ));
        self.schedule(now_ms + delay, Action::ServerUp(summary.match_id));
    }

    /// A match that got no game server: its groups wait in the queue again, with the same
    /// tickets (the matcher requeues them, keeping their waiting time; one that waited too
    /// long is removed, and its `TicketRemoved` follows).
    fn back_to_queue(&mut self, match_id: MatchId) {
        let Some(session) = self.sessions.remove(&match_id) else {
            return;
        };
        for (ticket, group) in session.tickets {
            if self.groups[group as usize].state == GroupState::Playing {
                self.groups[group as usize].state = GroupState::Queued { ticket };
                self.ticket_group.insert(ticket, group);
            }
        }
    }

    fn session_over(&mut self, match_id: MatchId, now_ms: u64) -> Result<(), String> {
        let Some(session) = self.sessions.remove(&match_id) else {
            return Ok(());
        };
        if session.has_server {
            self.servers_busy[session.region] -= 1;
        }
        let leave = 1.0 / self.scenario.arrivals.games_per_session;
        for (ticket, group) in session.tickets {
            self.facts.remove(&ticket);
            if self.groups[group as usize].state == GroupState::Playing {
                self.next_step(group, now_ms, leave)?;
            }
        }
        Ok(())
    }

    /// A player's true skill in a match of a scenario queue, playing `role` (in a role queue,
    /// a role other than the first choice costs `off_role_mmr`).
    fn skill_in(&self, player: usize, scenario_queue: usize, role: Option<&str>) -> f64 {
        let skill = self.players[player].skill;
        let rules = &self.queue_rules[scenario_queue];
        match (role, rules.role_slot) {
            (Some(role), Some(_)) => match rules.role_names.iter().position(|r| r == role) {
                Some(index) => role_skill(rules, &self.profiles[player], skill, index as u8),
                None => skill,
            },
            _ => skill,
        }
    }

    /// A player's first-choice role in a scenario queue, if it is a role queue.
    fn first_role(&self, player: usize, scenario_queue: usize) -> Option<&str> {
        let rules = &self.queue_rules[scenario_queue];
        let first = *self.profiles[player].roles.get(rules.role_slot?)?.first()?;
        rules.role_names.get(usize::from(first)).map(String::as_str)
    }

    /// A player's true skill for a rating key: their skill, or their skill in the key's role.
    fn key_skill(&self, player: usize, key: usize) -> f64 {
        let skill = self.players[player].skill;
        match self.role_key_source.iter().find(|(at, _, _)| *at == key) {
            Some((_, queue, role)) => role_skill(
                &self.queue_rules[*queue],
                &self.profiles[player],
                skill,
                *role,
            ),
            None => skill,
        }
    }

    /// Holds a proposed or formed match to the core's own invariant (Matchwright's matcher:
    /// windows, floors, latency from the pings the world submitted) and to the simulator's
    /// check of the queue's rules from what it generated for each ticket (every matcher).
    /// A broken one ends the run with an error.
    fn check_match(&self, summary: &MatchSummary, now_ms: u64) -> Result<(), String> {
        let config = &self.scenario.matcher;
        let broken = |why: String| {
            format!(
                "invariant broken at {:.1} s of scenario `{}` ({}): {why}",
                now_ms as f64 / 1_000.0,
                self.scenario.name,
                self.engine.name()
            )
        };
        let Some(queue) = config.queues.iter().find(|q| *q.name == *summary.queue) else {
            return Err(broken(format!(
                "{} is in unknown queue {}",
                summary.match_id, summary.queue
            )));
        };
        if self.check_core {
            check_match_summary(summary, config, |ticket| {
                self.facts.get(&ticket).map(|facts| facts.submitted.clone())
            })
            .map_err(&broken)?;
        }
        rules_check::check(queue, summary, |ticket| {
            let facts = self.facts.get(&ticket)?;
            let rules = &self.queue_rules[facts.scenario_queue];
            let members = self.groups[facts.group as usize]
                .members
                .iter()
                .zip(&facts.mus)
                .map(|(member, mu)| {
                    let profile = &self.profiles[*member as usize];
                    MemberView {
                        player: player_id(*member),
                        attributes: profile::resolved_attributes(
                            &queue.attributes,
                            &self.scenario.population.attributes,
                            profile,
                        ),
                        roles: rules.role_slot.map_or_else(Vec::new, |slot| {
                            profile.roles[slot]
                                .iter()
                                .map(|role| rules.role_names[usize::from(*role)].clone())
                                .collect()
                        }),
                        avoid: if rules.sends_avoid {
                            profile.avoid.iter().map(|p| player_id(*p)).collect()
                        } else {
                            Vec::new()
                        },
                        mu: *mu,
                    }
                })
                .collect();
            Some(TicketView { members })
        })
        .map_err(broken)
    }

    fn finish(mut self, wall_s: f64) -> RunOutput {
        let config = &self.scenario.matcher;
        let total = self.total.breakdown();
        let this = &self;
        let rating_skill_corr =
            metrics::correlation(this.players.iter().enumerate().flat_map(|(index, player)| {
                player
                    .ratings
                    .iter()
                    .zip(&player.games)
                    .enumerate()
                    .filter(|(_, (_, games))| **games > 0)
                    .map(move |(key, (rating, _))| (rating.mu, this.key_skill(index, key)))
            }));
        let report = &mut self.report;
        report.rating_skill_corr = rating_skill_corr;
        report.ttm_s = total.ttm_s;
        report.quality = total.quality;
        report.ping_ms = total.ping_ms;
        report.abandon_rate = total.abandon_rate;
        report.team_gap = metrics::HighTail {
            mean: metrics::round(self.team_gap.mean()),
            p99: self.team_gap.quantile(0.99),
        };
        report.favourite_win_prob = metrics::HighTail {
            mean: metrics::round(self.favourite.mean()),
            p99: self.favourite.quantile(0.99),
        };
        for (index, slice) in self.per_region.iter().enumerate() {
            report
                .per_region
                .insert(config.regions[index].clone(), slice.breakdown());
        }
        for (index, slice) in self.per_queue.iter().enumerate() {
            report
                .per_queue
                .insert(self.scenario.queues[index].name.clone(), slice.breakdown());
        }
        report.online_mean = if self.timeline.is_empty() {
            0.0
        } else {
            metrics::round(self.online_sum / self.timeline.len() as f64)
        };
        report.event_chain = self.chain.hex();
        report.wall_s = metrics::round(wall_s);
        RunOutput {
            report: self.report,
            timeline: self.timeline,
            queue_names: config
                .queues
                .iter()
                .map(|queue| queue.name.clone())
                .collect(),
            ttm_ms: self.total.ttm_ms,
            quality: self.total.quality,
        }
    }
}

fn player_id(index: u32) -> PlayerId {
    PlayerId(u64::from(index) + 1)
}

fn player_index(player: PlayerId) -> usize {
    player.0.saturating_sub(1) as usize
}

/// `Name { .. }` or `Name(..)` -> `name` in snake case.
fn variant_name(debug: &str) -> String {
    let name: String = debug.chars().take_while(|c| c.is_alphanumeric()).collect();
    let mut out = String::new();
    for (index, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if index > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A player's true skill in role `role` of a role queue: their skill, less `off_role_mmr` in
/// any role but their first choice.
fn role_skill(rules: &QueueRules, profile: &Profile, skill: f64, role: u8) -> f64 {
    let first = rules
        .role_slot
        .and_then(|slot| profile.roles.get(slot))
        .and_then(|roles| roles.first());
    if first == Some(&role) {
        skill
    } else {
        skill - rules.off_role_mmr
    }
}

/// The registered players and their groups, drawn from the scenario's player model
/// (`population::PlayerModel`) with the population stream of `seed`, and whether each player
/// is new.
fn populate(scenario: &Scenario, modes: usize, seed: u64) -> (Vec<Player>, Vec<Group>, Vec<bool>) {
    let model = PlayerModel::new(
        &scenario.population,
        &scenario.regions,
        scenario.matcher.rating.initial,
        modes,
    );
    let mut rng = stream(seed, 1);
    let total = scenario.population.players as usize;
    let mut players = Vec::with_capacity(total);
    let mut new_players = Vec::with_capacity(total);
    let mut groups = Vec::new();
    while players.len() < total {
        let size = model.party_size(&mut rng).min(total - players.len());
        let drawn = model.group(&mut rng, size);
        let mut members = Vec::with_capacity(size);
        for player in drawn.members {
            members.push(players.len() as u32);
            new_players.push(player.new_player);
            players.push(Player {
                skill: player.skill,
                pings: player.pings_ms,
                ratings: player.ratings,
                games: vec![0; modes],
            });
        }
        groups.push(Group {
            members,
            home: drawn.home,
            max_ping_ms: drawn.max_ping_ms,
            state: GroupState::Offline,
            party: None,
            queue: 0,
            seen: false,
        });
    }
    (players, groups, new_players)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_names_are_snake_case() {
        assert_eq!(
            variant_name("TooManyCommands { limit: 3 }"),
            "too_many_commands"
        );
        assert_eq!(variant_name("MatchesPerTick"), "matches_per_tick");
    }
}
