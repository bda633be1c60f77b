//! The baselines: the matching rules of the systems we replace, as the seeds describe them,
//! driven by the same simulated world as our core so the comparison is like for like.
//!
//! - `fifo` (the realtime-engine seed): one queue per game mode, no skill, no regions; the
//!   first tickets in the queue that fill the teams form a match, in the order they came.
//!   The match is hosted where its worst ping is lowest.
//! - `pool4` (the GameBackend seed): a queue per region (a ticket's best region); candidate
//!   pools of one match's worth of players, taken in arrival order (four, a 2v2, in the seed),
//!   split into teams by the seed's cost (rating difference between teams plus beta times
//!   the uncertainty), the best split kept.
//! - `greedy-widening` (the platform seed): buckets by region and mode; each ticket, oldest
//!   first, searches for partners within an MMR range that widens from 100 to 500 over 40 s,
//!   nearest rating first; teams are formed greedily (strongest ticket to the weakest team).
//!
//! What none of them had, they do not get: no quality floors, no latency windows, no
//! acceptance, no expiry (players' patience still applies). Sessions and ratings work as in
//! the core (the same `rating::rate`), so ratings evolve the same way for every matcher, and
//! quality is measured by the same formula (`rating::match_quality`).
//!
//! Match rules (issue 19), which none of the seeds had: every baseline keeps the simple ones,
//! stricter than the core, and skips the queues with the others.
//!
//! - Avoid lists (`block_lists` other than `off`): a ticket is never put in a match with a
//!   ticket one of whose players its members avoid, or who avoid one of its players (under
//!   `opposing_teams` too: the baselines never split teams by it).
//! - `equal` rules across the match: tickets are matched only with tickets of the same
//!   values, as if the rule always bound (no `optional_after_ms`); a party whose members
//!   differ never matches.
//! - A queue with any other rule (`equal` per team, `overlap`, `distance`,
//!   `party_skill_spread`), a role composition or flexible sizes is skipped: its tickets
//!   queue and wait until their players give up, and `Engine::skipped_queues` says why (the
//!   report lists it under `skipped_queues`).

use std::collections::HashMap;
use std::sync::Arc;

use matchwright_ecs::config::{AttributeSpec, BlockScope, Rule, RuleScope};
use matchwright_ecs::event::{MatchedPlayer, MatchedTicket, RatingUpdate, RemovalReason};
use matchwright_ecs::rating::{match_quality, party_rating, rate};
use matchwright_ecs::{
    AttributeValue, Command, CommandSeq, Config, EnqueueTicket, Event, MatchId, MatchSummary,
    NO_PING, PlayerId, QueueConfig, Rating, RejectReason, TurnedAway,
};

use crate::engine::Engine;

/// The seed's widening: 100 MMR, growing to 500 over 40 s.
const WIDEN_FROM_MMR: f64 = 100.0;
const WIDEN_TO_MMR: f64 = 500.0;
const WIDEN_OVER_MS: f64 = 40_000.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Fifo,
    Pool4,
    GreedyWidening,
}

#[derive(Clone, Debug)]
struct Waiting {
    ticket: EnqueueTicket,
    since_ms: u64,
    rating: f64,
    /// The region where the ticket's worst member ping is lowest.
    best_region: usize,
    /// Its values of the queue's `equal` rules (`None`: its members differ).
    key: Vec<Option<String>>,
    /// Its players, sorted.
    players: Vec<PlayerId>,
    /// Everyone its members avoid, sorted (empty where avoid lists are off).
    avoid: Vec<PlayerId>,
}

impl Waiting {
    /// Whether this ticket and `other` must not be in one match.
    fn blocks(&self, other: &Self) -> bool {
        let names = |list: &[PlayerId], players: &[PlayerId]| {
            !list.is_empty() && players.iter().any(|p| list.binary_search(p).is_ok())
        };
        names(&self.avoid, &other.players) || names(&other.avoid, &self.players)
    }
}

/// Why a baseline cannot match in `queue`, if it cannot.
fn cannot_keep(queue: &QueueConfig) -> Option<String> {
    if queue.roles.is_some() {
        return Some("a role queue (the seeds' systems had no roles)".into());
    }
    if queue.flexible.is_some() {
        return Some("flexible team counts and sizes (the seeds' systems had none)".into());
    }
    queue
        .rules
        .iter()
        .find(|rule| {
            !matches!(
                rule,
                Rule::Equal {
                    scope: RuleScope::Match,
                    ..
                }
            )
        })
        .map(|rule| {
            format!(
                "rule `{}` ({}{}), which the seeds' systems had no equivalent of",
                rule.name(),
                rule.kind_name(),
                if matches!(rule, Rule::Equal { .. }) {
                    " per team"
                } else {
                    ""
                }
            )
        })
}

/// A ticket's values of the queue's `equal` rules: the members' common value (their own, the
/// ticket's, or the queue's default), `None` when they differ.
fn equal_key(queue: &QueueConfig, ticket: &EnqueueTicket) -> Vec<Option<String>> {
    queue
        .rules
        .iter()
        .filter_map(|rule| match rule {
            Rule::Equal { attribute, .. } => Some(attribute),
            _ => None,
        })
        .map(|attribute| {
            let default = queue.attribute(attribute).and_then(|spec| match spec {
                AttributeSpec::Text { default, .. } => default.clone(),
                _ => None,
            });
            let mut values = ticket.members.iter().map(|member| {
                match member
                    .attributes
                    .get(attribute.as_str())
                    .or_else(|| ticket.attributes.get(attribute.as_str()))
                {
                    Some(AttributeValue::Text(text)) => Some(text.clone()),
                    _ => default.clone(),
                }
            });
            let first = values.next().flatten();
            values
                .all(|value| value == first)
                .then_some(first)
                .flatten()
        })
        .collect()
}

#[derive(Clone, Debug)]
struct Live {
    mode: Arc<str>,
    teams: Vec<Vec<(PlayerId, Rating)>>,
    /// Its queue and tickets until its game server is up (back to the queue if none is).
    held: Option<(usize, Vec<Waiting>)>,
}

/// A baseline matcher.
pub struct Baseline {
    kind: Kind,
    name: String,
    config: Config,
    next_seq: u64,
    next_match: u64,
    now_ms: u64,
    inbox: Vec<(CommandSeq, Command)>,
    events: Vec<Event>,
    /// Per config queue, in arrival order.
    queues: Vec<Vec<Waiting>>,
    /// Per config queue: why this baseline never matches in it, if it does not.
    skipped: Vec<Option<String>>,
    sessions: HashMap<MatchId, Live>,
}

impl Baseline {
    /// The baseline called `name` (`fifo`, `pool4` or `greedy-widening`).
    pub fn new(name: &str, config: Config) -> Result<Self, String> {
        let kind = match name {
            "fifo" => Kind::Fifo,
            "pool4" => Kind::Pool4,
            "greedy-widening" => Kind::GreedyWidening,
            other => return Err(format!("unknown baseline `{other}`")),
        };
        config.validate().map_err(|error| error.to_string())?;
        Ok(Self {
            kind,
            name: name.to_string(),
            queues: vec![Vec::new(); config.queues.len()],
            skipped: config.queues.iter().map(cannot_keep).collect(),
            config,
            next_seq: 0,
            next_match: 1,
            now_ms: 0,
            inbox: Vec::new(),
            events: Vec::new(),
            sessions: HashMap::new(),
        })
    }

    fn reject(&mut self, seq: CommandSeq, reason: RejectReason) {
        self.events.push(Event::Rejected { seq, reason });
    }

    fn apply(&mut self, seq: CommandSeq, command: Command) {
        match command {
            Command::Enqueue(ticket) => self.enqueue(seq, ticket),
            Command::Cancel { ticket } => {
                let found = self.queues.iter().enumerate().find_map(|(queue, waiting)| {
                    waiting
                        .iter()
                        .position(|w| w.ticket.ticket == ticket)
                        .map(|at| (queue, at))
                });
                match found {
                    Some((queue, at)) => {
                        let waiting = self.queues[queue].remove(at);
                        self.events.push(Event::TicketRemoved {
                            ticket,
                            reason: RemovalReason::Cancelled,
                            waited_ms: self.now_ms.saturating_sub(waiting.since_ms),
                        });
                    }
                    None => self.reject(seq, RejectReason::UnknownTicket { ticket }),
                }
            }
            Command::SessionReady { match_id, server } => match self.sessions.get_mut(&match_id) {
                Some(live) => {
                    live.held = None;
                    self.events.push(Event::SessionActive { match_id, server });
                }
                None => self.reject(seq, RejectReason::UnknownMatch { match_id }),
            },
            Command::AllocationFailed { match_id } => self.allocation_failed(seq, match_id),
            Command::ReportResult {
                match_id,
                placements,
            } => {
                let Some(live) = self.sessions.remove(&match_id) else {
                    return self.reject(seq, RejectReason::UnknownMatch { match_id });
                };
                if placements.len() != live.teams.len() {
                    self.sessions.insert(match_id, live.clone());
                    return self.reject(
                        seq,
                        RejectReason::InvalidPlacements {
                            teams: live.teams.len(),
                            got: placements.len(),
                        },
                    );
                }
                let before: Vec<Vec<Rating>> = live
                    .teams
                    .iter()
                    .map(|team| team.iter().map(|(_, rating)| *rating).collect())
                    .collect();
                let after = rate(&before, &placements, &self.config.rating);
                let mut updates: Vec<RatingUpdate> = live
                    .teams
                    .iter()
                    .zip(&after)
                    .flat_map(|(team, new)| {
                        team.iter()
                            .zip(new)
                            .map(|((player, before), after)| RatingUpdate {
                                role: None,
                                player: *player,
                                before: *before,
                                after: *after,
                            })
                    })
                    .collect();
                updates.sort_by_key(|update| update.player);
                self.events.push(Event::SessionEnded {
                    match_id,
                    placements: Some(placements),
                });
                self.events.push(Event::RatingsUpdated {
                    match_id,
                    mode: live.mode.to_string(),
                    updates,
                });
            }
            Command::EndSession { match_id } => {
                if self.sessions.remove(&match_id).is_some() {
                    self.events.push(Event::SessionEnded {
                        match_id,
                        placements: None,
                    });
                } else {
                    self.reject(seq, RejectReason::UnknownMatch { match_id });
                }
            }
            // Parties need no bookkeeping here (a party queues as one ticket), and heartbeats
            // keep nothing alive: the seeds' systems had no session timeouts.
            Command::CreateParty { .. }
            | Command::JoinParty { .. }
            | Command::LeaveParty { .. }
            | Command::DisbandParty { .. }
            | Command::Heartbeat { .. } => {}
            // No acceptance, backfill or operators' cancels in the seeds' systems.
            Command::AcceptMatch { match_id, .. }
            | Command::DeclineMatch { match_id, .. }
            | Command::LeaveSession { match_id, .. }
            | Command::RequestBackfill { match_id, .. }
            | Command::CancelBackfill { match_id }
            | Command::CancelMatch { match_id } => {
                self.reject(seq, RejectReason::UnknownMatch { match_id });
            }
            // A baseline keeps the config it was built with.
            Command::ReloadConfig { .. } => self.reject(
                seq,
                RejectReason::ConfigDoesNotFit {
                    reason: "a baseline matcher does not reload its config".into(),
                },
            ),
        }
    }

    /// No game server: the match is abandoned and its tickets go back to the front of their
    /// queue with their waiting time, as in the core (without the core's regional backoff:
    /// the seeds had none).
    fn allocation_failed(&mut self, seq: CommandSeq, match_id: MatchId) {
        let held = match self.sessions.get_mut(&match_id) {
            Some(live) => live.held.take(),
            None => return self.reject(seq, RejectReason::UnknownMatch { match_id }),
        };
        let Some((queue, tickets)) = held else {
            return self.reject(
                seq,
                RejectReason::WrongMatchPhase {
                    match_id,
                    phase: matchwright_ecs::event::MatchPhaseName::Active,
                },
            );
        };
        self.sessions.remove(&match_id);
        self.events.push(Event::SessionAbandoned {
            match_id,
            reason: matchwright_ecs::event::AbandonReason::AllocationFailed,
        });
        for waiting in &tickets {
            self.events.push(Event::TicketRequeued {
                ticket: waiting.ticket.ticket,
                match_id,
            });
        }
        let rest = std::mem::take(&mut self.queues[queue]);
        let mut merged = tickets;
        merged.extend(rest);
        merged.sort_by_key(|waiting| waiting.since_ms);
        self.queues[queue] = merged;
    }

    fn enqueue(&mut self, seq: CommandSeq, ticket: EnqueueTicket) {
        let Some(queue) = self.config.queue_index(&ticket.queue) else {
            let queue = ticket.queue.clone();
            return self.reject(seq, RejectReason::UnknownQueue { queue });
        };
        if ticket.members.is_empty() {
            return self.reject(seq, RejectReason::EmptyTicket);
        }
        let max = self.config.queues[queue].max_party_size;
        if ticket.members.len() > usize::from(max) {
            let size = ticket.members.len();
            return self.reject(seq, RejectReason::PartyTooLarge { size, max });
        }
        let regions = self.config.regions.len();
        let best_region = (0..regions)
            .min_by_key(|region| ticket.worst_ping_ms(*region))
            .unwrap_or(0);
        let ratings: Vec<Rating> = ticket.members.iter().map(|m| m.rating).collect();
        let config = &self.config.queues[queue];
        let rating = party_rating(config.party_rating, &ratings);
        let key = equal_key(config, &ticket);
        let mut players: Vec<PlayerId> = ticket.members.iter().map(|m| m.player).collect();
        players.sort_unstable();
        let mut avoid: Vec<PlayerId> = if config.block_lists == BlockScope::Off {
            Vec::new()
        } else {
            ticket
                .members
                .iter()
                .flat_map(|m| m.avoid.iter().copied())
                .collect()
        };
        avoid.sort_unstable();
        avoid.dedup();
        self.events.push(Event::TicketQueued {
            seq,
            ticket: ticket.ticket,
            queue: ticket.queue.clone(),
            party: ticket.party,
            players: ticket.members.iter().map(|m| m.player).collect(),
            at_ms: self.now_ms,
        });
        self.queues[queue].push(Waiting {
            ticket,
            since_ms: self.now_ms,
            rating,
            best_region,
            key,
            players,
            avoid,
        });
    }

    /// Forms what it can in queue `queue`, by this baseline's rule: within each group of
    /// tickets with the same `equal` values (all of them, in a queue without such rules).
    fn match_queue(&mut self, queue: usize) {
        if self.skipped[queue].is_some() {
            return;
        }
        let config = self.config.queues[queue].clone();
        let waiting = std::mem::take(&mut self.queues[queue]);
        let mut used = vec![false; waiting.len()];
        let mut formed: Vec<(Vec<Vec<usize>>, usize, f64)> = Vec::new();
        let mut groups: std::collections::BTreeMap<&[Option<String>], Vec<usize>> =
            std::collections::BTreeMap::new();
        for (index, entry) in waiting.iter().enumerate() {
            // A party whose members differ on an `equal` attribute never matches.
            if entry.key.iter().all(Option::is_some) {
                groups.entry(&entry.key).or_default().push(index);
            }
        }
        for group in groups.values() {
            self.match_group(&config, &waiting, group, &mut used, &mut formed);
        }
        for (split, region, window) in formed {
            self.form(queue, &waiting, &split, region, window);
        }
        self.queues[queue] = waiting
            .into_iter()
            .zip(used)
            .filter_map(|(waiting, used)| (!used).then_some(waiting))
            .collect();
    }

    /// Forms matches among the tickets `group` (indices into `waiting`, in arrival order).
    fn match_group(
        &self,
        config: &QueueConfig,
        waiting: &[Waiting],
        group: &[usize],
        used: &mut [bool],
        formed: &mut Vec<(Vec<Vec<usize>>, usize, f64)>,
    ) {
        let teams = usize::from(config.teams);
        let team_size = usize::from(config.team_size);
        match self.kind {
            Kind::Fifo => loop {
                let open: Vec<usize> = group.iter().copied().filter(|i| !used[*i]).collect();
                let Some(split) = fill_in_order(waiting, &open, teams, team_size) else {
                    break;
                };
                let members: Vec<usize> = split.iter().flatten().copied().collect();
                let region = (0..self.config.regions.len())
                    .min_by_key(|region| {
                        members
                            .iter()
                            .map(|i| waiting[*i].ticket.worst_ping_ms(*region))
                            .max()
                            .unwrap_or(NO_PING)
                    })
                    .unwrap_or(0);
                for index in &members {
                    used[*index] = true;
                }
                formed.push((split, region, 0.0));
            },
            Kind::Pool4 => {
                for region in 0..self.config.regions.len() {
                    let mut bucket: Vec<usize> = group
                        .iter()
                        .copied()
                        .filter(|i| waiting[*i].best_region == region)
                        .collect();
                    while let Some(pool) = first_pool(waiting, &bucket, teams * team_size) {
                        match best_split(waiting, &pool, teams, team_size) {
                            Some(split) => {
                                bucket.retain(|i| !pool.contains(i));
                                for index in &pool {
                                    used[*index] = true;
                                }
                                formed.push((split, region, 0.0));
                            }
                            None => {
                                // The parties in the pool cannot be packed into teams: the
                                // newest waits for another pool.
                                let newest = pool[pool.len() - 1];
                                bucket.retain(|i| *i != newest);
                            }
                        }
                    }
                }
            }
            Kind::GreedyWidening => {
                for region in 0..self.config.regions.len() {
                    let mut by_rating: Vec<usize> = group
                        .iter()
                        .copied()
                        .filter(|i| waiting[*i].best_region == region)
                        .collect();
                    by_rating.sort_by(|a, b| waiting[*a].rating.total_cmp(&waiting[*b].rating));
                    let mut by_age = by_rating.clone();
                    by_age.sort_by_key(|i| (waiting[*i].since_ms, *i));
                    for anchor in by_age {
                        if used[anchor] {
                            continue;
                        }
                        let waited = self.now_ms.saturating_sub(waiting[anchor].since_ms) as f64;
                        let window = WIDEN_FROM_MMR
                            + (WIDEN_TO_MMR - WIDEN_FROM_MMR) * (waited / WIDEN_OVER_MS).min(1.0);
                        let Some(pool) = nearest_within(
                            waiting,
                            &by_rating,
                            used,
                            anchor,
                            window,
                            teams * team_size,
                        ) else {
                            continue;
                        };
                        let Some(split) = greedy_teams(waiting, &pool, teams, team_size) else {
                            continue;
                        };
                        for index in &pool {
                            used[*index] = true;
                        }
                        formed.push((split, region, window));
                    }
                }
            }
        }
    }

    fn form(
        &mut self,
        queue: usize,
        waiting: &[Waiting],
        split: &[Vec<usize>],
        region: usize,
        window: f64,
    ) {
        let config = &self.config.queues[queue];
        let match_id = MatchId(self.next_match);
        self.next_match += 1;
        let teams: Vec<Vec<MatchedTicket>> = split
            .iter()
            .map(|team| {
                team.iter()
                    .map(|index| {
                        let w = &waiting[*index];
                        MatchedTicket {
                            ticket: w.ticket.ticket,
                            party: w.ticket.party,
                            players: w
                                .ticket
                                .members
                                .iter()
                                .map(|m| MatchedPlayer {
                                    role: None,
                                    player: m.player,
                                    rating: m.rating,
                                })
                                .collect(),
                            rating: w.rating,
                            window_mmr: window,
                            ping_ms: w.ticket.worst_ping_ms(region),
                            ping_limit_ms: 0.0,
                            enqueued_at_ms: w.since_ms,
                            waited_ms: self.now_ms.saturating_sub(w.since_ms),
                        }
                    })
                    .collect()
            })
            .collect();
        let ratings: Vec<Vec<Rating>> = teams
            .iter()
            .map(|team| {
                team.iter()
                    .flat_map(|t| t.players.iter().map(|p| p.rating))
                    .collect()
            })
            .collect();
        let summary = MatchSummary {
            match_id,
            queue: Arc::from(config.name.as_str()),
            mode: Arc::from(config.mode_name()),
            region: Arc::from(self.config.regions[region].as_str()),
            formed_at_ms: self.now_ms,
            quality: match_quality(&ratings, self.config.rating.beta),
            quality_floor: 0.0,
            teams,
        };
        self.sessions.insert(
            match_id,
            Live {
                mode: summary.mode.clone(),
                teams: summary
                    .teams
                    .iter()
                    .map(|team| {
                        team.iter()
                            .flat_map(|t| t.players.iter().map(|p| (p.player, p.rating)))
                            .collect()
                    })
                    .collect(),
                held: Some((
                    queue,
                    split
                        .iter()
                        .flatten()
                        .map(|index| waiting[*index].clone())
                        .collect(),
                )),
            },
        );
        self.events.push(Event::MatchFormed {
            summary: Arc::new(summary),
        });
    }
}

impl Engine for Baseline {
    fn name(&self) -> &str {
        &self.name
    }

    fn submit(&mut self, command: Command) -> Result<CommandSeq, String> {
        self.next_seq += 1;
        let seq = CommandSeq(self.next_seq);
        self.inbox.push((seq, command));
        Ok(seq)
    }

    fn drain_into(&mut self, out: &mut Vec<Event>) {
        out.append(&mut self.events);
    }

    fn queued_players(&self) -> Vec<u64> {
        self.queues
            .iter()
            .map(|queue| queue.iter().map(|w| w.ticket.members.len() as u64).sum())
            .collect()
    }

    fn tick(&mut self, now_ms: u64) -> Result<Vec<TurnedAway>, String> {
        self.now_ms = self.now_ms.max(now_ms);
        for (seq, command) in std::mem::take(&mut self.inbox) {
            self.apply(seq, command);
        }
        for queue in 0..self.queues.len() {
            self.match_queue(queue);
        }
        Ok(Vec::new())
    }

    fn skipped_queues(&self) -> Vec<(String, String)> {
        self.config
            .queues
            .iter()
            .zip(&self.skipped)
            .filter_map(|(queue, why)| Some((queue.name.clone(), why.clone()?)))
            .collect()
    }
}

fn size(waiting: &[Waiting], index: usize) -> usize {
    waiting[index].ticket.members.len()
}

/// Whether `candidate` may join the tickets `chosen` (no avoid list keeps them apart).
fn compatible(waiting: &[Waiting], chosen: &[usize], candidate: usize) -> bool {
    chosen
        .iter()
        .all(|index| !waiting[*index].blocks(&waiting[candidate]))
}

/// FIFO: tickets in arrival order, each into the team with the most room that fits it, until
/// every team is full.
fn fill_in_order(
    waiting: &[Waiting],
    open: &[usize],
    teams: usize,
    team_size: usize,
) -> Option<Vec<Vec<usize>>> {
    let mut split = vec![Vec::new(); teams];
    let mut room = vec![team_size; teams];
    let mut left = teams * team_size;
    let mut chosen = Vec::new();
    for &index in open {
        if !compatible(waiting, &chosen, index) {
            continue;
        }
        let need = size(waiting, index);
        let Some(team) = (0..teams)
            .filter(|team| room[*team] >= need)
            .max_by_key(|team| (room[*team], usize::MAX - team))
        else {
            continue;
        };
        split[team].push(index);
        chosen.push(index);
        room[team] -= need;
        left -= need;
        if left == 0 {
            return Some(split);
        }
    }
    None
}

/// Pool4: the first tickets of the bucket, in arrival order, that make exactly `players`.
fn first_pool(waiting: &[Waiting], bucket: &[usize], players: usize) -> Option<Vec<usize>> {
    let mut pool = Vec::new();
    let mut total = 0;
    for &index in bucket {
        let need = size(waiting, index);
        if total + need <= players && compatible(waiting, &pool, index) {
            pool.push(index);
            total += need;
            if total == players {
                return Some(pool);
            }
        }
    }
    None
}

/// Pool4: every split of the pool into full teams; the one with the least cost. The seed's
/// cost is the rating difference between teams plus beta times the uncertainty; the
/// uncertainty term is the same for every split of one pool, so the difference decides.
fn best_split(
    waiting: &[Waiting],
    pool: &[usize],
    teams: usize,
    team_size: usize,
) -> Option<Vec<Vec<usize>>> {
    fn search(
        waiting: &[Waiting],
        pool: &[usize],
        at: usize,
        split: &mut Vec<Vec<usize>>,
        room: &mut Vec<usize>,
        best: &mut Option<(f64, Vec<Vec<usize>>)>,
    ) {
        if at == pool.len() {
            let means: Vec<f64> = split
                .iter()
                .map(|team| {
                    let (sum, count) = team.iter().fold((0.0, 0usize), |(sum, count), i| {
                        let members = &waiting[*i].ticket.members;
                        (
                            sum + members.iter().map(|m| m.rating.mu).sum::<f64>(),
                            count + members.len(),
                        )
                    });
                    sum / count.max(1) as f64
                })
                .collect();
            let gap = means.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                - means.iter().copied().fold(f64::INFINITY, f64::min);
            if best.as_ref().is_none_or(|(cost, _)| gap < *cost) {
                *best = Some((gap, split.clone()));
            }
            return;
        }
        let index = pool[at];
        let need = size(waiting, index);
        for team in 0..split.len() {
            // Teams are interchangeable: an empty team is only tried once.
            if split[team].is_empty() && split[..team].iter().any(Vec::is_empty) {
                continue;
            }
            if room[team] >= need {
                room[team] -= need;
                split[team].push(index);
                search(waiting, pool, at + 1, split, room, best);
                split[team].pop();
                room[team] += need;
            }
        }
    }
    let mut best = None;
    let mut split = vec![Vec::new(); teams];
    let mut room = vec![team_size; teams];
    search(waiting, pool, 0, &mut split, &mut room, &mut best);
    best.map(|(_, split)| split)
}

/// Greedy widening: the anchor and the unused tickets nearest its rating within `window`,
/// until `players` are found.
fn nearest_within(
    waiting: &[Waiting],
    by_rating: &[usize],
    used: &[bool],
    anchor: usize,
    window: f64,
    players: usize,
) -> Option<Vec<usize>> {
    let centre = waiting[anchor].rating;
    let at = by_rating.iter().position(|i| *i == anchor)?;
    let mut pool = vec![anchor];
    let mut total = size(waiting, anchor);
    let (mut low, mut high) = (at, at + 1);
    let rating = |index: usize| waiting[index].rating;
    while total < players {
        let below = (low > 0)
            .then(|| by_rating[low - 1])
            .filter(|b| centre - rating(*b) <= window);
        let above = by_rating
            .get(high)
            .copied()
            .filter(|a| rating(*a) - centre <= window);
        let next = match (below, above) {
            (Some(b), Some(a)) if centre - rating(b) <= rating(a) - centre => {
                low -= 1;
                b
            }
            (_, Some(a)) => {
                high += 1;
                a
            }
            (Some(b), None) => {
                low -= 1;
                b
            }
            (None, None) => return None,
        };
        if used[next] || !compatible(waiting, &pool, next) {
            continue;
        }
        let need = size(waiting, next);
        if total + need <= players {
            pool.push(next);
            total += need;
        }
    }
    Some(pool)
}

/// Greedy team formation: strongest ticket first (bigger parties first among equals), each
/// to the team with the lowest total rating that has room.
fn greedy_teams(
    waiting: &[Waiting],
    pool: &[usize],
    teams: usize,
    team_size: usize,
) -> Option<Vec<Vec<usize>>> {
    let mut order = pool.to_vec();
    order.sort_by(|a, b| {
        size(waiting, *b)
            .cmp(&size(waiting, *a))
            .then(waiting[*b].rating.total_cmp(&waiting[*a].rating))
    });
    let mut split = vec![Vec::new(); teams];
    let mut room = vec![team_size; teams];
    let mut totals = vec![0.0f64; teams];
    for index in order {
        let need = size(waiting, index);
        let team = (0..teams)
            .filter(|team| room[*team] >= need)
            .min_by(|a, b| totals[*a].total_cmp(&totals[*b]))?;
        split[team].push(index);
        room[team] -= need;
        totals[team] += waiting[index].rating * need as f64;
    }
    Some(split)
}

#[cfg(test)]
mod tests {
    use super::*;
    use matchwright_ecs::{PartyId, TicketId, TicketMember};

    fn ticket(id: u64, queue: &str, ratings: &[f64], home: usize) -> Command {
        let members = ratings
            .iter()
            .enumerate()
            .map(|(offset, mu)| TicketMember {
                player: PlayerId(id * 10 + offset as u64),
                rating: Rating::new(*mu, 80.0),
                pings_ms: (0..4).map(|r| if r == home { 20 } else { 150 }).collect(),
                attributes: Default::default(),
                roles: Vec::new(),
                avoid: Vec::new(),
            })
            .collect();
        Command::Enqueue(EnqueueTicket {
            ticket: TicketId(id),
            queue: queue.into(),
            party: (ratings.len() > 1).then_some(PartyId(id)),
            members,
            max_ping_ms: None,
            waiting_since_ms: None,
            attributes: Default::default(),
        })
    }

    fn formed(engine: &mut Baseline) -> Vec<Arc<MatchSummary>> {
        let mut events = Vec::new();
        engine.drain_into(&mut events);
        events
            .into_iter()
            .filter_map(|event| match event {
                Event::MatchFormed { summary } => Some(summary),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn fifo_takes_the_first_comers_whatever_their_skill_or_region() {
        let mut fifo = Baseline::new("fifo", Config::default()).unwrap();
        fifo.submit(ticket(1, "duel-1v1", &[500.0], 0)).unwrap();
        fifo.submit(ticket(2, "duel-1v1", &[2500.0], 2)).unwrap();
        fifo.submit(ticket(3, "duel-1v1", &[1500.0], 0)).unwrap();
        fifo.tick(100).unwrap();
        let matches = formed(&mut fifo);
        assert_eq!(matches.len(), 1);
        let tickets: Vec<TicketId> = matches[0].tickets().map(|t| t.ticket).collect();
        assert_eq!(tickets, [TicketId(1), TicketId(2)]);
        assert_eq!(fifo.queued_players(), [1, 0, 0]);
    }

    #[test]
    fn pool4_splits_a_pool_by_rating_within_a_region() {
        let mut pool = Baseline::new("pool4", Config::default()).unwrap();
        for (id, mu) in [(1, 1000.0), (2, 1000.0), (3, 2000.0), (4, 2000.0)] {
            pool.submit(ticket(id, "trios-ffa", &[mu], 1)).unwrap();
        }
        // Not enough for a 3x3 yet.
        pool.tick(100).unwrap();
        assert!(formed(&mut pool).is_empty());
        for id in 5..=9 {
            pool.submit(ticket(id, "trios-ffa", &[1500.0], 1)).unwrap();
        }
        pool.tick(200).unwrap();
        let matches = formed(&mut pool);
        assert_eq!(matches.len(), 1);
        assert_eq!(&*matches[0].region, "us-east");
        let means: Vec<f64> = matches[0]
            .teams
            .iter()
            .map(|team| team.iter().map(|t| t.rating).sum::<f64>() / 3.0)
            .collect();
        let gap = means.iter().copied().fold(f64::MIN, f64::max)
            - means.iter().copied().fold(f64::MAX, f64::min);
        assert!(gap < 1.0, "{means:?}");
    }

    #[test]
    fn greedy_widening_waits_for_the_window_to_reach() {
        let mut greedy = Baseline::new("greedy-widening", Config::default()).unwrap();
        greedy.submit(ticket(1, "duel-1v1", &[1500.0], 0)).unwrap();
        greedy.submit(ticket(2, "duel-1v1", &[1800.0], 0)).unwrap();
        greedy.tick(0).unwrap();
        assert!(formed(&mut greedy).is_empty());
        // 300 MMR apart: the window reaches 300 after 20 s.
        greedy.tick(19_000).unwrap();
        assert!(formed(&mut greedy).is_empty());
        greedy.tick(20_100).unwrap();
        assert_eq!(formed(&mut greedy).len(), 1);
    }

    #[test]
    fn a_cancel_removes_and_unknown_things_are_rejected() {
        let mut fifo = Baseline::new("fifo", Config::default()).unwrap();
        fifo.submit(ticket(1, "duel-1v1", &[1500.0], 0)).unwrap();
        fifo.submit(Command::Cancel {
            ticket: TicketId(1),
        })
        .unwrap();
        fifo.submit(Command::Cancel {
            ticket: TicketId(9),
        })
        .unwrap();
        fifo.submit(ticket(2, "nope", &[1500.0], 0)).unwrap();
        fifo.tick(10).unwrap();
        let mut events = Vec::new();
        fifo.drain_into(&mut events);
        assert!(matches!(
            events[1],
            Event::TicketRemoved {
                reason: RemovalReason::Cancelled,
                ..
            }
        ));
        assert!(matches!(
            events[2],
            Event::Rejected {
                reason: RejectReason::UnknownTicket { .. },
                ..
            }
        ));
        assert!(matches!(
            events[3],
            Event::Rejected {
                reason: RejectReason::UnknownQueue { .. },
                ..
            }
        ));
        assert_eq!(fifo.queued_players(), [0, 0, 0]);
    }
}
