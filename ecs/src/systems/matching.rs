//! Forming matches: the hot path of a tick.
//!
//! Per queue, due tickets are tried as anchors, oldest first. For an anchor:
//! 1. gather: walk the rating index outward from the anchor's rating, nearest first, keeping
//!    tickets that share a region with it and that it and they both accept (each inside the
//!    other's skill window); stop at the anchor's window or `max_candidates_per_anchor`;
//! 2. select: for each region the anchor accepts (best ping first), take gathered tickets
//!    nearest first while every pair stays inside each other's windows and the parties can
//!    still be packed into teams, until the match has exactly enough players;
//! 3. split the parties into teams (exact or heuristic, see `teams`), score the match's quality
//!    and compare it with the floor in force (at the longest wait among its tickets);
//! 4. commit: the tickets leave the pool, the match entity is spawned (awaiting acceptance or
//!    starting at the end of the tick).
//!
//! An anchor that finds nothing is parked until its windows will have widened (see
//! `ReviewConfig`), a region opens to it, or it expires. Everything here reads the pool and a
//! few components of the chosen tickets; nothing scans the queue.

use bevy_ecs::prelude::*;
use bevy_ecs::system::SystemParam;
use rand_core::Rng;
use smallvec::SmallVec;

use crate::components::{
    Match, MatchPhase, MatchRecord, MatchRoster, Player, PlayerRating, PlayerStatus, Ticket,
    TicketPings, TicketPlayers, TicketState,
};
use crate::config::QueueConfig;
use crate::curve::Direction;
use crate::event::{Event, Limit, MatchSummary, MatchedPlayer, MatchedTicket};
use crate::ids::PlayerId;
use crate::pool::{self, PoolEntry, PoolKey, QueuePool};
use crate::rating::{self, Rating};
use crate::resources::{
    Clock, Directory, MatchDeadlines, MatchIds, MatchesToStart, Outbox, Pools, SeededRng, Settings,
    TickCounters,
};
use crate::teams::{self, PartySlot};

/// A queued ticket as the walk sees it: its pool entry and its numbers at this tick.
#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    /// Its pool key.
    pub key: PoolKey,
    /// Its pool entry.
    pub entry: PoolEntry,
    /// Its combined rating.
    pub rating: f64,
    /// Its skill window now.
    pub window: f64,
}

impl Candidate {
    /// The candidate for a pool entry at `now_ms`.
    pub fn new(key: PoolKey, entry: PoolEntry, queue: &QueueConfig, now_ms: u64) -> Self {
        Self {
            key,
            entry,
            rating: key.rating(),
            window: entry.window(queue, now_ms),
        }
    }

    /// Whether each of the two is inside the other's skill window.
    pub fn mutually_within(&self, other: &Self) -> bool {
        let distance = (self.rating - other.rating).abs();
        distance <= self.window && distance <= other.window
    }
}

/// Walks outward from the anchor's rating, nearest first, collecting tickets that share a
/// region with the anchor and are mutually within windows with it. At most `limit` are kept
/// and `4 * limit` looked at.
pub fn gather(
    pool: &QueuePool,
    anchor: &Candidate,
    queue: &QueueConfig,
    now_ms: u64,
    limit: usize,
    out: &mut Vec<Candidate>,
) {
    out.clear();
    let scan_limit = limit.saturating_mul(4);
    let mut below = pool.below(anchor.key);
    let mut above = pool.above(anchor.key);
    let mut next_below = below.next();
    let mut next_above = above.next();
    let mut scanned = 0;
    while out.len() < limit && scanned < scan_limit {
        let take_below = match (next_below, next_above) {
            (Some((low, _)), Some((high, _))) => {
                anchor.rating - low.rating() <= high.rating() - anchor.rating
            }
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let (key, entry) = if take_below {
            let item = next_below.expect("checked above");
            next_below = below.next();
            item
        } else {
            let item = next_above.expect("checked above");
            next_above = above.next();
            item
        };
        let candidate = Candidate::new(*key, *entry, queue, now_ms);
        if (candidate.rating - anchor.rating).abs() > anchor.window {
            // Everything further on this side is further still.
            if take_below {
                next_below = None;
            } else {
                next_above = None;
            }
            continue;
        }
        scanned += 1;
        if entry.regions & anchor.entry.regions != 0 && candidate.mutually_within(anchor) {
            out.push(candidate);
        }
    }
}

/// Whether parties of these sizes fit into the queue's teams (not necessarily full).
fn can_pack(sizes: &[u8], queue: &QueueConfig) -> bool {
    if sizes.iter().all(|size| *size == 1) {
        return sizes.len() <= queue.players_per_match();
    }
    teams::pack(sizes, usize::from(queue.teams), queue.team_size).is_some()
}

/// Chooses, nearest first, tickets for a match in one region. `chosen` starts with the anchor.
pub fn select(
    anchor: &Candidate,
    gathered: &[Candidate],
    region_bit: u32,
    queue: &QueueConfig,
    chosen: &mut Vec<Candidate>,
) -> bool {
    chosen.clear();
    chosen.push(*anchor);
    let need = queue.players_per_match();
    let mut total = usize::from(anchor.entry.players);
    let mut sizes: SmallVec<[u8; 16]> = SmallVec::new();
    sizes.push(anchor.entry.players);
    for candidate in gathered {
        let size = usize::from(candidate.entry.players);
        if candidate.entry.regions & region_bit == 0
            || total + size > need
            || !chosen.iter().all(|other| other.mutually_within(candidate))
        {
            continue;
        }
        sizes.push(candidate.entry.players);
        if !can_pack(&sizes, queue) {
            sizes.pop();
            continue;
        }
        chosen.push(*candidate);
        total += size;
        if total == need {
            return true;
        }
    }
    false
}

/// A ticket of a match about to be committed.
struct PlannedTicket {
    candidate: Candidate,
    ticket: Ticket,
    players: SmallVec<[(Entity, PlayerId, Rating, f64); 2]>,
    ping_ms: u16,
    ping_limit_ms: f64,
    team: u8,
}

/// A match about to be committed.
struct MatchPlan {
    region: u8,
    tickets: Vec<PlannedTicket>,
    quality: f64,
    quality_floor: f64,
}

/// The system's view of the world.
#[derive(SystemParam)]
pub struct Matching<'w, 's> {
    clock: Res<'w, Clock>,
    settings: Res<'w, Settings>,
    pools: ResMut<'w, Pools>,
    directory: ResMut<'w, Directory>,
    ids: ResMut<'w, MatchIds>,
    rng: ResMut<'w, SeededRng>,
    outbox: ResMut<'w, Outbox>,
    deadlines: ResMut<'w, MatchDeadlines>,
    to_start: ResMut<'w, MatchesToStart>,
    counters: ResMut<'w, TickCounters>,
    tickets: Query<
        'w,
        's,
        (
            &'static Ticket,
            &'static TicketPlayers,
            &'static TicketPings,
        ),
    >,
    ticket_states: Query<'w, 's, &'static mut TicketState>,
    players: Query<
        'w,
        's,
        (
            &'static Player,
            &'static PlayerRating,
            &'static mut PlayerStatus,
        ),
    >,
    commands: Commands<'w, 's>,
}

/// Forms matches in every queue, oldest due tickets first, within the per-tick limits.
pub fn form_matches(mut matching: Matching<'_, '_>) {
    let queue_count = matching.pools.0.len();
    let mut gathered = Vec::new();
    let mut chosen = Vec::new();
    for queue_index in 0..queue_count {
        matching.form_in_queue(queue_index, &mut gathered, &mut chosen);
    }
}

impl Matching<'_, '_> {
    fn form_in_queue(
        &mut self,
        queue_index: usize,
        gathered: &mut Vec<Candidate>,
        chosen: &mut Vec<Candidate>,
    ) {
        let now = self.clock.now_ms;
        let max_matches = self.settings.0.limits.max_matches as usize;
        let (max_formed, max_attempts) = {
            let queue = &self.settings.0.queues[queue_index];
            (
                queue.max_matches_per_tick as u64,
                queue.max_anchor_attempts_per_tick as u64,
            )
        };
        let mut formed = 0_u64;
        let mut attempts = 0_u64;
        while let Some(due) = self.pools.0[queue_index].oldest_due() {
            let limit = if formed >= max_formed {
                Some(Limit::MatchesPerTick)
            } else if attempts >= max_attempts {
                Some(Limit::AnchorAttemptsPerTick)
            } else if self.directory.matches.len() >= max_matches {
                Some(Limit::Matches)
            } else {
                None
            };
            if let Some(limit) = limit {
                self.report_limit(queue_index, limit);
                break;
            }
            attempts += 1;
            match self.try_anchor(queue_index, due.key, now, gathered, chosen) {
                Ok(plan) => {
                    self.commit(queue_index, plan, now);
                    formed += 1;
                }
                Err(regions) => self.park(queue_index, due.key, regions, now),
            }
        }
        self.counters.attempts += attempts;
        self.counters.matches += formed;
    }

    fn report_limit(&mut self, queue_index: usize, limit: Limit) {
        let pool = &self.pools.0[queue_index];
        self.outbox.push(Event::LimitReached {
            queue: Some(self.settings.0.queues[queue_index].name.clone()),
            limit,
            deferred: pool.due_len() as u64,
        });
        self.counters.limits.push((Some(queue_index as u16), limit));
    }

    /// Tries to build a match around the anchor. On failure, returns the regions the anchor
    /// accepts now (for parking).
    fn try_anchor(
        &mut self,
        queue_index: usize,
        anchor_key: PoolKey,
        now: u64,
        gathered: &mut Vec<Candidate>,
        chosen: &mut Vec<Candidate>,
    ) -> Result<MatchPlan, u32> {
        let queue = &self.settings.0.queues[queue_index];
        let pool = &self.pools.0[queue_index];
        let mut entry = *pool.get(&anchor_key).expect("due tickets are queued");
        let (_, _, pings) = self
            .tickets
            .get(entry.entity)
            .expect("a queued ticket has its components");
        let limit = pool::ping_limit(queue, entry.waited_ms(now), pings.best_ms, pings.own_max_ms);
        entry.regions = pool::regions_within(&pings.pings_ms, limit);
        let anchor = Candidate::new(anchor_key, entry, queue, now);
        let mut regions: SmallVec<[(u16, u8); 8]> = (0..pings.pings_ms.len())
            .filter(|region| entry.regions & (1 << region) != 0)
            .map(|region| (pings.pings_ms[region], region as u8))
            .collect();
        regions.sort_unstable();
        gather(
            pool,
            &anchor,
            queue,
            now,
            usize::from(queue.max_candidates_per_anchor),
            gathered,
        );
        for (_, region) in regions {
            if select(&anchor, gathered, 1 << region, queue, chosen)
                && let Some(plan) = self.plan(queue_index, region, chosen, now)
            {
                return Ok(plan);
            }
        }
        Err(entry.regions)
    }

    /// Checks latency against the windows in force now, splits teams and scores the match.
    fn plan(
        &self,
        queue_index: usize,
        region: u8,
        chosen: &[Candidate],
        now: u64,
    ) -> Option<MatchPlan> {
        let queue = &self.settings.0.queues[queue_index];
        let mut tickets = Vec::with_capacity(chosen.len());
        for candidate in chosen {
            let (ticket, ticket_players, pings) = self.tickets.get(candidate.entry.entity).ok()?;
            let ping_ms = pings.pings_ms[usize::from(region)];
            let ping_limit_ms = pool::ping_limit(
                queue,
                candidate.entry.waited_ms(now),
                pings.best_ms,
                pings.own_max_ms,
            );
            if f64::from(ping_ms) > ping_limit_ms {
                return None;
            }
            let mut players = SmallVec::new();
            for player in &ticket_players.0 {
                let (id, rating, status) = self.players.get(*player).ok()?;
                players.push((*player, id.id, rating.0, status.matched_mu));
            }
            tickets.push(PlannedTicket {
                candidate: *candidate,
                ticket: *ticket,
                players,
                ping_ms,
                ping_limit_ms,
                team: 0,
            });
        }
        let slots: Vec<PartySlot> = tickets
            .iter()
            .map(|planned| PartySlot {
                size: planned.candidate.entry.players,
                weight: planned.candidate.rating * f64::from(planned.candidate.entry.players),
            })
            .collect();
        let team_count = usize::from(queue.teams);
        let assignment = teams::split(
            &slots,
            team_count,
            queue.team_size,
            queue.exact_split_max_tickets,
        )?;
        for (planned, team) in tickets.iter_mut().zip(&assignment) {
            planned.team = *team;
        }
        let mut team_ratings = vec![Vec::new(); team_count];
        for planned in &tickets {
            for (_, _, rating, matched_mu) in &planned.players {
                team_ratings[usize::from(planned.team)].push(Rating {
                    mu: *matched_mu,
                    ..*rating
                });
            }
        }
        let quality = rating::match_quality(&team_ratings, self.settings.0.rating.beta);
        let longest_wait = chosen
            .iter()
            .map(|candidate| candidate.entry.waited_ms(now))
            .max()
            .unwrap_or(0);
        let quality_floor = queue.quality_floor.value_at(longest_wait);
        (quality >= quality_floor).then_some(MatchPlan {
            region,
            tickets,
            quality,
            quality_floor,
        })
    }

    fn commit(&mut self, queue_index: usize, mut plan: MatchPlan, now: u64) {
        let match_id = self.ids.take();
        let match_entity = self.commands.spawn_empty().id();
        let team_count = usize::from(self.settings.0.queues[queue_index].teams);
        // Which team gets which side is drawn from the seeded generator, so the anchor's team
        // is not always the first.
        let mut sides: Vec<u8> = (0..team_count as u8).collect();
        for index in (1..team_count).rev() {
            let other = (self.rng.0.next_u64() % (index as u64 + 1)) as usize;
            sides.swap(index, other);
        }
        for planned in &mut plan.tickets {
            planned.team = sides[usize::from(planned.team)];
        }
        plan.tickets
            .sort_by_key(|planned| (planned.team, planned.ticket.id));
        let pool = &mut self.pools.0[queue_index];
        let mut summary_teams = vec![Vec::new(); team_count];
        let mut roster = vec![Vec::new(); team_count];
        let mut ticket_entities = Vec::with_capacity(plan.tickets.len());
        for planned in &plan.tickets {
            let removed = pool.remove(&planned.candidate.key);
            assert!(
                removed.is_some(),
                "matched {} missing from pool",
                planned.ticket.id
            );
            let team = usize::from(planned.team);
            for (entity, _, _, _) in &planned.players {
                let (_, _, mut status) = self
                    .players
                    .get_mut(*entity)
                    .expect("a ticket's players exist");
                debug_assert!(status.in_match.is_none(), "a player in two matches");
                status.in_match = Some(match_entity);
                status.team = planned.team;
                roster[team].push(*entity);
            }
            ticket_entities.push(planned.candidate.entry.entity);
            summary_teams[team].push(MatchedTicket {
                ticket: planned.ticket.id,
                party: planned.ticket.party,
                players: planned
                    .players
                    .iter()
                    .map(|(_, player, rating, _)| MatchedPlayer {
                        player: *player,
                        rating: *rating,
                    })
                    .collect(),
                rating: planned.candidate.rating,
                window_mmr: planned.candidate.window,
                ping_ms: planned.ping_ms,
                ping_limit_ms: planned.ping_limit_ms,
                enqueued_at_ms: planned.ticket.enqueued_at_ms,
                waited_ms: planned.candidate.entry.waited_ms(now),
            });
        }
        let queue = &self.settings.0.queues[queue_index];
        let summary = MatchSummary {
            match_id,
            queue: queue.name.clone(),
            mode: queue.mode_name().to_owned(),
            region: self.settings.0.regions[usize::from(plan.region)].clone(),
            formed_at_ms: now,
            quality: plan.quality,
            quality_floor: plan.quality_floor,
            teams: summary_teams,
        };
        let phase = match &queue.acceptance {
            Some(acceptance) => {
                let deadline_ms = now.saturating_add(acceptance.timeout_ms);
                for ticket in &ticket_entities {
                    if let Ok(mut state) = self.ticket_states.get_mut(*ticket) {
                        *state = TicketState::Proposed(match_entity);
                    }
                }
                self.deadlines.0.schedule(deadline_ms, match_id);
                self.outbox.push(Event::MatchProposed {
                    summary: summary.clone(),
                    deadline_ms,
                });
                MatchPhase::AwaitingAcceptance {
                    deadline_ms,
                    accepted: Vec::new(),
                    tickets: ticket_entities,
                }
            }
            None => {
                self.to_start.0.push(match_entity);
                MatchPhase::Confirming {
                    tickets: ticket_entities,
                }
            }
        };
        self.commands.entity(match_entity).insert((
            Match {
                id: match_id,
                queue: queue_index as u16,
                region: plan.region,
            },
            phase,
            MatchRoster { teams: roster },
            MatchRecord(summary),
        ));
        self.directory.matches.insert(match_id, match_entity);
    }

    /// Parks an anchor that found no match until it is worth trying again.
    fn park(&mut self, queue_index: usize, key: PoolKey, regions: u32, now: u64) {
        let queue = &self.settings.0.queues[queue_index];
        let pool = &mut self.pools.0[queue_index];
        let entry = *pool.get(&key).expect("the anchor is queued");
        let pings = self
            .tickets
            .get(entry.entity)
            .map(|(_, _, pings)| pings)
            .expect("a queued ticket has pings");
        let wake_at_ms = next_review_ms(queue, &entry, pings, regions, now);
        pool.park(&key, wake_at_ms, regions);
    }
}

/// When a ticket that found no match at `now_ms` should be tried again: once its skill window
/// has widened by a review step or its quality floor relaxed by one (within the review
/// interval bounds), when the next region opens to it, or when it expires, whichever is first.
pub fn next_review_ms(
    queue: &QueueConfig,
    entry: &PoolEntry,
    pings: &TicketPings,
    regions: u32,
    now_ms: u64,
) -> u64 {
    let waited = entry.waited_ms(now_ms);
    let review = &queue.review;
    let window_step = queue.skill_window.waited_ms_to_reach(
        queue.skill_window.value_at(waited) + review.window_step_mmr,
        Direction::NonDecreasing,
    );
    let floor_step = queue.quality_floor.waited_ms_to_reach(
        queue.quality_floor.value_at(waited) - review.quality_step,
        Direction::NonIncreasing,
    );
    let interval = [window_step, floor_step]
        .into_iter()
        .flatten()
        .map(|at| at.saturating_sub(waited))
        .min()
        .unwrap_or(review.max_interval_ms)
        .clamp(review.min_interval_ms, review.max_interval_ms);
    let mut wake = now_ms.saturating_add(interval);
    if let Some(opens) =
        pool::next_region_opening_ms(queue, &pings.pings_ms, regions, pings.own_max_ms)
    {
        wake = wake.min(entry.enqueued_at_ms.saturating_add(opens));
    }
    wake = wake.min(entry.enqueued_at_ms.saturating_add(queue.max_wait_ms));
    wake.max(now_ms + 1)
}
