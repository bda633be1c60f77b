//! Forming matches: the hot path of a tick.
//!
//! Per queue, due tickets are tried as anchors, oldest first. For an anchor:
//! 1. walk the rating index outward from the anchor's rating, nearest first, up to the
//!    anchor's skill window and `max_candidates_per_anchor` tickets;
//! 2. offer each ticket that shares a region with the anchor, and that the anchor and it both
//!    accept (each inside the other's window), to one selection per region the anchor accepts:
//!    a selection takes it if it is inside every chosen ticket's window and they its, the
//!    parties can still be packed into teams, and it does not overfill the match;
//! 3. when a selection has exactly enough players, split its parties into teams (exact or
//!    heuristic, see `teams`), check every ping against the latency limit in force, score the
//!    match and compare the quality with the floor in force (at the longest wait among its
//!    tickets). If it passes, the walk ends; if not, that region is dropped for this anchor;
//! 4. commit: the tickets leave the pool, the match entity is spawned (awaiting acceptance or
//!    starting at the end of the tick).
//!
//! The walk stops as soon as one region's selection makes a match, so in a dense queue an
//! anchor looks at little more than the tickets it takes. An anchor that finds nothing is
//! parked until its windows will have widened (see `ReviewConfig`), a region opens to it (by
//! its latency window, or at the end of the region's allocation backoff), or it expires.
//! Nothing here scans the queue.

use std::sync::Arc;

use bevy_ecs::prelude::*;
use bevy_ecs::system::SystemParam;
use rand_core::Rng;
use smallvec::SmallVec;

use crate::components::{
    Match, MatchPhase, MatchRecord, MatchRoster, Player, Ticket, TicketPings, TicketState,
};
use crate::config::QueueConfig;
use crate::curve::Direction;
use crate::event::{Event, Limit, MatchSummary, MatchedPlayer, MatchedTicket};
use crate::ids::PlayerId;
use crate::pool::{self, PoolEntry, PoolKey, QueuePool};
use crate::rating::{self, Rating};
use crate::resources::{
    Clock, Directory, MatchDeadlines, MatchIds, MatchesToStart, Outbox, Pools, RegionBackoff,
    SeededRng, Settings, TickCounters,
};
use crate::teams::{self, PartySlot};

/// A queued ticket as the walk sees it: its pool entry and its numbers at this tick.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Candidate {
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
    pub(crate) fn new(key: PoolKey, entry: PoolEntry, queue: &QueueConfig, now_ms: u64) -> Self {
        Self {
            key,
            entry,
            rating: key.rating(),
            window: entry.window(queue, now_ms),
        }
    }

    /// Whether each of the two is inside the other's skill window.
    pub(crate) fn mutually_within(&self, other: &Self) -> bool {
        let distance = (self.rating - other.rating).abs();
        distance <= self.window && distance <= other.window
    }
}

/// Queued tickets in order of distance from a rating, nearest first, up to a largest
/// distance. Ties between the two sides go to the lower rating.
pub(crate) struct OutwardWalk<'a, Below, Above>
where
    Below: Iterator<Item = (&'a PoolKey, &'a PoolEntry)>,
    Above: Iterator<Item = (&'a PoolKey, &'a PoolEntry)>,
{
    centre: f64,
    reach: f64,
    below: Below,
    above: Above,
    next_below: Option<(&'a PoolKey, &'a PoolEntry)>,
    next_above: Option<(&'a PoolKey, &'a PoolEntry)>,
}

/// A walk outward from `from` (which is skipped if queued), up to `reach` away from `centre`.
pub(crate) fn walk_outward<'a>(
    pool: &'a QueuePool,
    from: PoolKey,
    centre: f64,
    reach: f64,
) -> OutwardWalk<
    'a,
    impl Iterator<Item = (&'a PoolKey, &'a PoolEntry)>,
    impl Iterator<Item = (&'a PoolKey, &'a PoolEntry)>,
> {
    let mut below = pool.below(from);
    let mut above = pool.above(from);
    OutwardWalk {
        centre,
        reach,
        next_below: below.next(),
        next_above: above.next(),
        below,
        above,
    }
}

impl<'a, Below, Above> Iterator for OutwardWalk<'a, Below, Above>
where
    Below: Iterator<Item = (&'a PoolKey, &'a PoolEntry)>,
    Above: Iterator<Item = (&'a PoolKey, &'a PoolEntry)>,
{
    type Item = (&'a PoolKey, &'a PoolEntry);

    fn next(&mut self) -> Option<Self::Item> {
        if let Some((key, _)) = self.next_below
            && self.centre - key.rating() > self.reach
        {
            self.next_below = None;
        }
        if let Some((key, _)) = self.next_above
            && key.rating() - self.centre > self.reach
        {
            self.next_above = None;
        }
        let take_below = match (self.next_below, self.next_above) {
            (Some((low, _)), Some((high, _))) => {
                self.centre - low.rating() <= high.rating() - self.centre
            }
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        if take_below {
            let item = self.next_below;
            self.next_below = self.below.next();
            item
        } else {
            let item = self.next_above;
            self.next_above = self.above.next();
            item
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

/// One region's selection, built while the walk goes on.
pub(crate) struct RegionPick {
    /// The region's index.
    pub region: u8,
    /// The chosen tickets, the anchor first.
    pub chosen: SmallVec<[Candidate; 12]>,
    sizes: SmallVec<[u8; 12]>,
    players: usize,
    /// A full selection for this region failed its split or quality: no more offers.
    pub closed: bool,
}

impl RegionPick {
    /// A selection holding only the anchor.
    pub(crate) fn new(anchor: &Candidate, region: u8) -> Self {
        let mut chosen = SmallVec::new();
        chosen.push(*anchor);
        let mut sizes = SmallVec::new();
        sizes.push(anchor.entry.players);
        Self {
            region,
            chosen,
            sizes,
            players: usize::from(anchor.entry.players),
            closed: false,
        }
    }

    /// Offers a ticket (already known to accept and be accepted by the anchor). Returns true
    /// when the selection has just become a full match.
    pub(crate) fn offer(&mut self, candidate: &Candidate, queue: &QueueConfig) -> bool {
        let size = usize::from(candidate.entry.players);
        if self.closed
            || candidate.entry.regions & (1 << self.region) == 0
            || self.players + size > queue.players_per_match()
            || !self
                .chosen
                .iter()
                .skip(1)
                .all(|other| other.mutually_within(candidate))
        {
            return false;
        }
        self.sizes.push(candidate.entry.players);
        if !can_pack(&self.sizes, queue) {
            self.sizes.pop();
            return false;
        }
        self.chosen.push(*candidate);
        self.players += size;
        self.players == queue.players_per_match()
    }
}

/// A ticket of a match about to be committed.
struct PlannedTicket {
    candidate: Candidate,
    entity: Entity,
    id: crate::ids::TicketId,
    party: Option<crate::ids::PartyId>,
    enqueued_at_ms: u64,
    players: SmallVec<[(Entity, PlayerId, Rating); 2]>,
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
pub(crate) struct Matching<'w, 's> {
    clock: Res<'w, Clock>,
    settings: Res<'w, Settings>,
    pools: ResMut<'w, Pools>,
    directory: ResMut<'w, Directory>,
    ids: ResMut<'w, MatchIds>,
    rng: ResMut<'w, SeededRng>,
    outbox: ResMut<'w, Outbox>,
    deadlines: ResMut<'w, MatchDeadlines>,
    to_start: ResMut<'w, MatchesToStart>,
    backoff: Res<'w, RegionBackoff>,
    counters: ResMut<'w, TickCounters>,
    tickets: Query<'w, 's, &'static mut Ticket>,
    players: Query<'w, 's, &'static mut Player>,
    commands: Commands<'w, 's>,
}

/// Forms matches in every queue, oldest due tickets first, within the per-tick limits.
pub(crate) fn form_matches(mut matching: Matching<'_, '_>) {
    for queue_index in 0..matching.pools.0.len() {
        matching.form_in_queue(queue_index);
    }
}

impl Matching<'_, '_> {
    fn form_in_queue(&mut self, queue_index: usize) {
        let now = self.clock.now_ms;
        let max_matches = self.settings.config.limits.max_matches as usize;
        let queue = self.settings.queue(queue_index);
        let max_formed = u64::from(queue.max_matches_per_tick);
        let max_attempts = u64::from(queue.max_anchor_attempts_per_tick);
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
            let entry = *self.pools.0[queue_index]
                .get(&due.key)
                .expect("due tickets are queued");
            if entry.waited_ms(now) >= self.settings.queue(queue_index).max_wait_ms {
                // Expired but not yet taken out (the timer budget ran out this tick): it leaves
                // at the next tick's timers, and is matched with nobody meanwhile.
                let regions = entry.regions;
                self.pools.0[queue_index].park(&due.key, now.saturating_add(1), regions);
                continue;
            }
            match self.try_anchor(queue_index, due.key, entry, now) {
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
        let deferred = self.pools.0[queue_index].due_len() as u64;
        self.outbox.push(Event::LimitReached {
            queue: Some(self.settings.queue(queue_index).name.clone()),
            limit,
            deferred,
        });
        self.counters.limits.push((Some(queue_index as u16), limit));
    }

    /// Tries to build a match around the anchor. On failure, returns the regions the anchor
    /// accepts now (for parking).
    fn try_anchor(
        &self,
        queue_index: usize,
        anchor_key: PoolKey,
        mut entry: PoolEntry,
        now: u64,
    ) -> Result<MatchPlan, u32> {
        let queue = self.settings.queue(queue_index);
        let pool = &self.pools.0[queue_index];
        let pings = &self
            .tickets
            .get(entry.entity)
            .expect("a queued ticket exists")
            .pings;
        let limit = pool::ping_limit(queue, entry.waited_ms(now), pings.best_ms, pings.own_max_ms);
        entry.regions = pool::regions_within(&pings.pings_ms, limit);
        let anchor = Candidate::new(anchor_key, entry, queue, now);
        // One selection per accepted region whose fleet is not backing off, best ping first
        // (it wins ties).
        let open = entry.regions & self.backoff.open_mask(now);
        let mut regions: SmallVec<[(u16, u8); 8]> = (0..pings.pings_ms.len())
            .filter(|region| open & (1 << region) != 0)
            .map(|region| (pings.pings_ms[region], region as u8))
            .collect();
        regions.sort_unstable();
        let mut picks: SmallVec<[RegionPick; 4]> = regions
            .iter()
            .map(|(_, region)| RegionPick::new(&anchor, *region))
            .collect();
        if picks.is_empty() {
            return Err(entry.regions);
        }
        let walk = walk_outward(pool, anchor_key, anchor.rating, anchor.window)
            .take(usize::from(queue.max_candidates_per_anchor));
        for (key, candidate_entry) in walk {
            if candidate_entry.regions & entry.regions == 0
                || candidate_entry.waited_ms(now) >= queue.max_wait_ms
            {
                continue;
            }
            let candidate = Candidate::new(*key, *candidate_entry, queue, now);
            if !candidate.mutually_within(&anchor) {
                continue;
            }
            for pick in &mut picks {
                if pick.offer(&candidate, queue) {
                    match self.plan(queue_index, pick.region, &pick.chosen, now) {
                        Some(plan) => return Ok(plan),
                        None => pick.closed = true,
                    }
                }
            }
            if picks.iter().all(|pick| pick.closed) {
                break;
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
        let queue = self.settings.queue(queue_index);
        let mut tickets = Vec::with_capacity(chosen.len());
        for candidate in chosen {
            let ticket = self.tickets.get(candidate.entry.entity).ok()?;
            let pings = &ticket.pings;
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
            for player in &ticket.players {
                let found = self.players.get(*player).ok()?;
                players.push((*player, found.id, found.rating));
            }
            tickets.push(PlannedTicket {
                candidate: *candidate,
                entity: candidate.entry.entity,
                id: ticket.id,
                party: ticket.party,
                enqueued_at_ms: ticket.enqueued_at_ms,
                players,
                ping_ms,
                ping_limit_ms,
                team: 0,
            });
        }
        let slots: SmallVec<[PartySlot; 12]> = tickets
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
        let mut team_ratings: SmallVec<[SmallVec<[Rating; 8]>; 4]> =
            (0..team_count).map(|_| SmallVec::new()).collect();
        for (planned, team) in tickets.iter_mut().zip(&assignment) {
            planned.team = *team;
            for (entity, _, rating) in &planned.players {
                let matched_mu = self
                    .players
                    .get(*entity)
                    .map_or(rating.mu, |p| p.matched_mu);
                team_ratings[usize::from(*team)].push(Rating {
                    mu: matched_mu,
                    ..*rating
                });
            }
        }
        let quality = rating::match_quality(&team_ratings, self.settings.config.rating.beta);
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
        let team_count = usize::from(self.settings.queue(queue_index).teams);
        // Which team gets which side is drawn from the seeded generator, so the anchor's team
        // is not always the first.
        let mut sides: SmallVec<[u8; 8]> = (0..team_count as u8).collect();
        for index in (1..team_count).rev() {
            let other = (self.rng.0.next_u64() % (index as u64 + 1)) as usize;
            sides.swap(index, other);
        }
        for planned in &mut plan.tickets {
            planned.team = sides[usize::from(planned.team)];
        }
        plan.tickets
            .sort_by_key(|planned| (planned.team, planned.id));
        let pool = &mut self.pools.0[queue_index];
        let mut summary_teams: Vec<Vec<MatchedTicket>> =
            (0..team_count).map(|_| Vec::new()).collect();
        let mut roster: Vec<Vec<Entity>> = (0..team_count).map(|_| Vec::new()).collect();
        let mut ticket_entities = Vec::with_capacity(plan.tickets.len());
        for planned in &plan.tickets {
            let removed = pool.remove(&planned.candidate.key);
            assert!(
                removed.is_some(),
                "matched {} missing from its pool",
                planned.id
            );
            let team = usize::from(planned.team);
            for (entity, _, _) in &planned.players {
                let mut player = self
                    .players
                    .get_mut(*entity)
                    .expect("a ticket's players exist");
                assert!(
                    player.in_match.is_none(),
                    "{} would be in two matches",
                    player.id
                );
                player.in_match = Some(match_entity);
                player.team = planned.team;
                roster[team].push(*entity);
            }
            // Out of the pool, with the match until its session has a game server.
            if let Ok(mut ticket) = self.tickets.get_mut(planned.entity) {
                ticket.state = TicketState::Proposed(match_entity);
            }
            ticket_entities.push(planned.entity);
            summary_teams[team].push(MatchedTicket {
                ticket: planned.id,
                party: planned.party,
                players: planned
                    .players
                    .iter()
                    .map(|(_, player, rating)| MatchedPlayer {
                        player: *player,
                        rating: *rating,
                    })
                    .collect(),
                rating: planned.candidate.rating,
                window_mmr: planned.candidate.window,
                ping_ms: planned.ping_ms,
                ping_limit_ms: planned.ping_limit_ms,
                enqueued_at_ms: planned.enqueued_at_ms,
                waited_ms: planned.candidate.entry.waited_ms(now),
            });
        }
        let summary = Arc::new(MatchSummary {
            match_id,
            queue: Arc::clone(&self.settings.queue_names[queue_index]),
            mode: Arc::clone(&self.settings.mode_names[queue_index]),
            region: Arc::clone(&self.settings.region_names[usize::from(plan.region)]),
            formed_at_ms: now,
            quality: plan.quality,
            quality_floor: plan.quality_floor,
            teams: summary_teams,
        });
        let phase = match &self.settings.queue(queue_index).acceptance {
            Some(acceptance) => {
                let deadline_ms = now.saturating_add(acceptance.timeout_ms);
                self.deadlines.0.schedule(deadline_ms, match_id);
                self.outbox.push(Event::MatchProposed {
                    summary: Arc::clone(&summary),
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
        let queue = self.settings.queue(queue_index);
        let pool = &mut self.pools.0[queue_index];
        let entry = *pool.get(&key).expect("the anchor is queued");
        let ticket = self
            .tickets
            .get(entry.entity)
            .expect("a queued ticket exists");
        let mut wake_at_ms = next_review_ms(queue, &entry, &ticket.pings, regions, now);
        if let Some(reopen_ms) = self.backoff.next_reopen_ms(regions, now) {
            wake_at_ms = wake_at_ms.min(reopen_ms);
        }
        pool.park(&key, wake_at_ms, regions);
    }
}

/// When a ticket that found no match at `now_ms` should be tried again: once its skill window
/// has widened by a review step or its quality floor relaxed by one (within the review
/// interval bounds), when the next region opens to it, or when it expires, whichever is first.
pub(crate) fn next_review_ms(
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
    // Time and durations are bounded (MAX_TIME_MS, MAX_DURATION_MS), so this never reaches the
    // DUE marker; the clamp keeps it so whatever the inputs.
    wake.max(now_ms.saturating_add(1)).min(pool::DUE - 1)
}
