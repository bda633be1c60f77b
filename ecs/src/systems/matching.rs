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
//! In a queue with rules, a candidate's rules data comes from its pool's slab
//! (`PoolEntry::slot`), not from the world, and the walk runs one candidate ahead of the
//! offers so that the next candidate's lookups overlap with the current one's checks.
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
    Match, MatchAvoids, MatchPhase, MatchRecord, MatchRoster, Player, Ticket, TicketPings,
    TicketState,
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
use crate::rules::{FormTicket, RuleSelection, TicketRules, form_teams};
use crate::teams;

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

/// The walk an anchor makes: over the whole queue, or over its group only (see
/// `pool::QueuePool::by_group`).
pub(crate) enum AnchorWalk<All, Group> {
    /// Every queued ticket.
    All(All),
    /// The tickets of the anchor's group.
    Group(Group),
}

impl<'a, All, Group> Iterator for AnchorWalk<All, Group>
where
    All: Iterator<Item = (&'a PoolKey, &'a PoolEntry)>,
    Group: Iterator<Item = (&'a PoolKey, &'a PoolEntry)>,
{
    type Item = (&'a PoolKey, &'a PoolEntry);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::All(walk) => walk.next(),
            Self::Group(walk) => walk.next(),
        }
    }
}

/// An anchor's walk: in its group when it has one and the grouping rule binds it (every
/// ticket of its match must then share its value), else over the whole queue.
fn anchor_walk(
    pool: &QueuePool,
    group: Option<u64>,
    from: PoolKey,
    centre: f64,
    reach: f64,
) -> impl Iterator<Item = (&PoolKey, &PoolEntry)> {
    match group {
        None => AnchorWalk::All(walk_outward(pool, from, centre, reach)),
        Some(group) => {
            let mut below = pool.group_below(group, from);
            let mut above = pool.group_above(group, from);
            AnchorWalk::Group(OutwardWalk {
                centre,
                reach,
                next_below: below.next(),
                next_above: above.next(),
                below,
                above,
            })
        }
    }
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

/// Whether parties of these sizes fit into the queue's teams (not necessarily full). In a
/// flexible queue any party fits (none is larger than a team), and team formation decides.
fn can_pack(sizes: &[u8], queue: &QueueConfig) -> bool {
    if queue.flexible.is_some() || sizes.iter().all(|size| *size == 1) {
        return sizes.iter().map(|size| usize::from(*size)).sum::<usize>()
            <= queue.players_per_match();
    }
    teams::pack(sizes, usize::from(queue.teams), queue.team_size).is_some()
}

/// One region's selection, built while the walk goes on.
pub(crate) struct RegionPick<'a> {
    /// The region's index.
    pub region: u8,
    /// The chosen tickets, the anchor first.
    pub chosen: SmallVec<[Candidate; 12]>,
    sizes: SmallVec<[u8; 12]>,
    players: usize,
    /// The rules' running state, in a queue whose tickets carry rules data.
    rules: Option<RuleSelection<'a>>,
    /// Whether a chosen ticket has an avoid list (queues without rules check avoid lists
    /// only then).
    pub avoids: bool,
    /// A full selection for this region failed its split or quality: no more offers.
    pub closed: bool,
}

impl<'a> RegionPick<'a> {
    /// A selection holding only the anchor (with its rules state, if its queue has rules).
    pub(crate) fn new(anchor: &Candidate, region: u8, rules: Option<RuleSelection<'a>>) -> Self {
        let mut chosen = SmallVec::new();
        chosen.push(*anchor);
        let mut sizes = SmallVec::new();
        sizes.push(anchor.entry.players);
        Self {
            region,
            chosen,
            sizes,
            players: usize::from(anchor.entry.players),
            rules,
            avoids: anchor.entry.avoids,
            closed: false,
        }
    }

    /// Offers a ticket (already known to accept and be accepted by the anchor). Returns
    /// `Ok(true)` when the selection has just become a full match, `Ok(false)` when it was not
    /// taken or the match is not full yet, and `Err(check)` when a rule turned it away.
    pub(crate) fn offer(
        &mut self,
        candidate: &Candidate,
        rules: Option<&'a TicketRules>,
        queue: &QueueConfig,
        now: u64,
    ) -> Result<bool, usize> {
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
            return Ok(false);
        }
        self.sizes.push(candidate.entry.players);
        if !can_pack(&self.sizes, queue) {
            self.sizes.pop();
            return Ok(false);
        }
        if let (Some(selection), Some(rules)) = (&mut self.rules, rules)
            && let Err(check) = selection.offer(rules, candidate.entry.waited_ms(now))
        {
            self.sizes.pop();
            return Err(check);
        }
        self.chosen.push(*candidate);
        self.players += size;
        self.avoids |= candidate.entry.avoids;
        Ok(self.players == queue.players_per_match())
    }

    /// Whether a flexible queue may form this selection short of full: it has the fewest
    /// players a match needs and its longest-waiting ticket has waited `fill_wait_ms`.
    fn may_form_short(&self, queue: &QueueConfig, now: u64) -> bool {
        let Some(flexible) = &queue.flexible else {
            return false;
        };
        let longest = self
            .chosen
            .iter()
            .map(|c| c.entry.waited_ms(now))
            .max()
            .unwrap_or(0);
        !self.closed
            && self.players >= queue.min_players_per_match()
            && longest >= flexible.fill_wait_ms
    }
}

/// What an anchor's search needs to know besides its selections.
struct Search<'s> {
    queue_index: usize,
    anchor: &'s Candidate,
    /// What the anchor's rule hint turns away (queues with rules).
    hints: crate::rules::HintCheck,
    /// Whether the queue has rules or roles (every ticket carries rules data).
    rule_queue: bool,
    /// Whether the queue has a `party_skill_spread` rule (that may hold a candidate back).
    spread_rules: bool,
    /// Tickets offered before the search gives up.
    considered: usize,
    now: u64,
}

/// A walked ticket the anchor and it accept (`Matching::walked`).
struct Walked<'a> {
    candidate: Candidate,
    /// The checks that turned it away before any selection saw it (a bit each).
    turned_away: u64,
    /// Its rules data, when no check turned it away (queues with rules).
    rules: Option<&'a TicketRules>,
}

impl<'s> Search<'s> {
    fn new(
        queue_index: usize,
        queue: &QueueConfig,
        anchor: &'s Candidate,
        rule_queue: bool,
        now: u64,
    ) -> Self {
        let waited_ms = anchor.entry.waited_ms(now);
        Self {
            queue_index,
            anchor,
            hints: crate::rules::HintCheck::new(queue, anchor.entry.hint, waited_ms),
            rule_queue,
            spread_rules: crate::rules::has_spread_rule(queue),
            considered: usize::from(queue.max_candidates_per_anchor),
            now,
        }
    }

    /// The most tickets the walk looks at: in a queue with rules, tickets a rule turns away
    /// do not count against `max_candidates_per_anchor`, and the walk looks at no more than
    /// four times as many.
    fn looked_at(&self) -> usize {
        if self.rule_queue {
            4 * self.considered
        } else {
            self.considered
        }
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
    /// Each player's role, in a role queue.
    roles: SmallVec<[u8; 2]>,
    ping_ms: u16,
    ping_limit_ms: f64,
    team: u8,
}

/// A match about to be committed.
struct MatchPlan {
    region: u8,
    teams: usize,
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
                Err((regions, turned_away)) => {
                    self.count_turned_away(queue_index, turned_away);
                    self.park(queue_index, due.key, regions, now);
                }
            }
        }
        self.counters.attempts += attempts;
        self.counters.matches += formed;
    }

    /// Counts, per check, an anchor that found no match after the check turned candidates
    /// away (bit `c` of `turned_away` for check `c`: a rule's index, `BLOCK_LIST`, `ROLES`).
    fn count_turned_away(&mut self, queue_index: usize, turned_away: u64) {
        let mut bits = turned_away;
        while bits != 0 {
            let check = bits.trailing_zeros() as u8;
            bits &= bits - 1;
            *self
                .counters
                .turned_away
                .entry((queue_index as u16, check))
                .or_insert(0) += 1;
        }
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
    /// accepts now (for parking) and the checks that turned candidates away (a bit each).
    fn try_anchor(
        &self,
        queue_index: usize,
        anchor_key: PoolKey,
        mut entry: PoolEntry,
        now: u64,
    ) -> Result<MatchPlan, (u32, u64)> {
        let queue = self.settings.queue(queue_index);
        let pool = &self.pools.0[queue_index];
        let anchor_ticket = self
            .tickets
            .get(entry.entity)
            .expect("a queued ticket exists");
        let pings = &anchor_ticket.pings;
        let limit = pool::ping_limit(queue, entry.waited_ms(now), pings.best_ms, pings.own_max_ms);
        entry.regions = pool::regions_within(&pings.pings_ms, limit);
        let anchor = Candidate::new(anchor_key, entry, queue, now);
        // In a queue with rules or roles every ticket carries rules data; in others only
        // tickets with an avoid list do, and avoid lists are checked on their own.
        let rule_queue = queue.has_rules();
        let anchor_rules = pool.rules_of(&entry).filter(|_| rule_queue);
        assert!(
            !rule_queue || anchor_rules.is_some(),
            "{} is in a queue with rules but carries no rules data",
            anchor_key.ticket
        );
        let selection = match anchor_rules {
            Some(rules) if !crate::rules::eligible(queue, rules, anchor.entry.waited_ms(now)) => {
                return Err((entry.regions, 0));
            }
            Some(rules) => match RuleSelection::new(queue, rules, anchor.entry.waited_ms(now)) {
                Some(selection) => Some(selection),
                None => return Err((entry.regions, 0)),
            },
            None => None,
        };
        // One selection per accepted region whose fleet is not backing off, best ping first
        // (it wins ties).
        let open = entry.regions & self.backoff.open_mask(now);
        let mut regions: SmallVec<[(u16, u8); 8]> = (0..pings.pings_ms.len())
            .filter(|region| open & (1 << region) != 0)
            .map(|region| (pings.pings_ms[region], region as u8))
            .collect();
        regions.sort_unstable();
        let mut picks: SmallVec<[RegionPick<'_>; 4]> = regions
            .iter()
            .map(|(_, region)| RegionPick::new(&anchor, *region, selection.clone()))
            .collect();
        if picks.is_empty() {
            return Err((entry.regions, 0));
        }
        let mut turned_away = 0_u64;
        let group = anchor_rules
            .zip(crate::rules::grouping_rule(queue))
            .filter(|(_, index)| queue.rules[*index].binds_at(anchor.entry.waited_ms(now)))
            .map(|_| entry.group)
            .filter(|group| *group != pool::NO_GROUP);
        let search = Search::new(queue_index, queue, &anchor, rule_queue, now);
        let walk = anchor_walk(pool, group, anchor_key, anchor.rating, anchor.window)
            .take(search.looked_at());
        match self.search(&search, walk, &mut picks, &mut turned_away) {
            Some(plan) => Ok(plan),
            None => self
                .form_short(queue_index, &mut picks, now)
                .ok_or((entry.regions, turned_away)),
        }
    }

    /// Offers the walk's tickets to the anchor's selections until one makes a match, the walk
    /// ends, `considered` tickets were offered, or every selection is closed.
    ///
    /// The walk runs one candidate ahead of the offers: the next candidate's checks on its
    /// pool entry, and the lookup of its rules data, are made before the current one is
    /// offered, so that their cache misses overlap with the offers. The checks are pure; what
    /// they turned away is counted only when the search reaches that candidate, so the outcome
    /// is the one of a walk in step.
    fn search<'a>(
        &'a self,
        search: &Search<'_>,
        walk: impl Iterator<Item = (&'a PoolKey, &'a PoolEntry)>,
        picks: &mut [RegionPick<'a>],
        turned_away: &mut u64,
    ) -> Option<MatchPlan> {
        let queue = self.settings.queue(search.queue_index);
        let now = search.now;
        let plain_blocks = !search.rule_queue && crate::rules::blocks_whole_match(queue);
        let mut walk = walk.filter_map(|(key, entry)| self.walked(search, key, entry));
        let mut next = walk.next();
        let mut offered = 0;
        while let Some(current) = next.take() {
            if offered >= search.considered {
                break;
            }
            *turned_away |= current.turned_away;
            next = walk.next();
            if search.rule_queue && current.rules.is_none() {
                continue;
            }
            let (candidate, rules) = (current.candidate, current.rules);
            // Whether some selection got past the rule checks with it (or had none to make).
            let mut kept_by_a_rule_check = false;
            for pick in picks.iter_mut() {
                if plain_blocks
                    && (candidate.entry.avoids || pick.avoids)
                    && self.blocked_with(&pick.chosen, &candidate)
                {
                    *turned_away |= 1 << crate::rules::BLOCK_LIST;
                    continue;
                }
                match pick.offer(&candidate, rules, queue, now) {
                    Ok(true) => match self.plan(search.queue_index, pick.region, &pick.chosen, now)
                    {
                        Some(plan) => return Some(plan),
                        None => pick.closed = true,
                    },
                    Ok(false) => kept_by_a_rule_check = true,
                    Err(check) => *turned_away |= 1 << check,
                }
            }
            offered += usize::from(!search.rule_queue || kept_by_a_rule_check);
            if picks.iter().all(|pick| pick.closed) {
                break;
            }
        }
        None
    }

    /// A walked ticket that shares a region with the anchor, has not expired and is inside
    /// the anchor's window and the anchor inside its: with what its rule hint or eligibility
    /// turned away, or else its rules data (queues with rules). `None` for any other.
    fn walked<'a>(
        &'a self,
        search: &Search<'_>,
        key: &PoolKey,
        entry: &PoolEntry,
    ) -> Option<Walked<'a>> {
        let queue = self.settings.queue(search.queue_index);
        let (anchor, now) = (search.anchor, search.now);
        if entry.regions & anchor.entry.regions == 0 || entry.waited_ms(now) >= queue.max_wait_ms {
            return None;
        }
        let candidate = Candidate::new(*key, *entry, queue, now);
        if !candidate.mutually_within(anchor) {
            return None;
        }
        let mut walked = Walked {
            candidate,
            turned_away: 0,
            rules: None,
        };
        if !search.rule_queue {
            return Some(walked);
        }
        if let Some(rule) = search.hints.refuses(&candidate.entry.hint) {
            walked.turned_away = 1 << rule;
            return Some(walked);
        }
        walked.rules = self.candidate_rules(search, &candidate, &mut walked.turned_away);
        if let Some(rules) = walked.rules {
            // Reads the lines of its rules data an offer reads (values, players and avoid
            // list, role masks) now, all at once (see `search`).
            core::hint::black_box((
                rules.values.len(),
                rules.avoid.len(),
                rules.role_masks.len(),
            ));
        }
        Some(walked)
    }

    /// Whether the candidate and any chosen ticket avoid each other (queues without rules,
    /// where only tickets with an avoid list carry rules data).
    fn blocked_with(&self, chosen: &[Candidate], candidate: &Candidate) -> bool {
        let (players, avoid) = self.players_and_avoid(candidate.entry.entity);
        chosen.iter().any(|other| {
            let (other_players, other_avoid) = self.players_and_avoid(other.entry.entity);
            crate::rules::names_any(avoid, &other_players)
                || crate::rules::names_any(other_avoid, &players)
        })
    }

    /// A ticket's players (sorted) and avoid list.
    fn players_and_avoid(&self, entity: Entity) -> (SmallVec<[PlayerId; 2]>, &[PlayerId]) {
        let Ok(ticket) = self.tickets.get(entity) else {
            return (SmallVec::new(), &[]);
        };
        let mut players: SmallVec<[PlayerId; 2]> = ticket
            .players
            .iter()
            .filter_map(|p| self.players.get(*p).ok().map(|found| found.id))
            .collect();
        players.sort_unstable();
        (players, ticket.rules.as_ref().map_or(&[], |r| &r.avoid))
    }

    /// A candidate's rules data, from its pool's slab, if it may be matched now (a binding
    /// `party_skill_spread` rule may hold it back: that rule's bit is set in `turned_away`).
    fn candidate_rules(
        &self,
        search: &Search<'_>,
        candidate: &Candidate,
        turned_away: &mut u64,
    ) -> Option<&TicketRules> {
        let queue = self.settings.queue(search.queue_index);
        let rules = self.pools.0[search.queue_index].rules_of(&candidate.entry)?;
        if !search.spread_rules
            || crate::rules::eligible(queue, rules, candidate.entry.waited_ms(search.now))
        {
            return Some(rules);
        }
        for (index, rule) in queue.rules.iter().enumerate() {
            if matches!(rule, crate::config::Rule::PartySkillSpread { .. }) {
                *turned_away |= 1 << index;
            }
        }
        None
    }

    /// In a flexible queue, when the walk found no full match: the largest selection that may
    /// form short of full (fill wait passed), best ping first among equals.
    fn form_short(
        &self,
        queue_index: usize,
        picks: &mut [RegionPick<'_>],
        now: u64,
    ) -> Option<MatchPlan> {
        let queue = self.settings.queue(queue_index);
        queue.flexible.as_ref()?;
        let mut order: SmallVec<[usize; 4]> = (0..picks.len())
            .filter(|&at| picks[at].may_form_short(queue, now))
            .collect();
        order.sort_by_key(|&at| (core::cmp::Reverse(picks[at].players), at));
        order.into_iter().find_map(|at| {
            let pick = &picks[at];
            self.plan(queue_index, pick.region, &pick.chosen, now)
        })
    }

    /// Checks latency against the windows in force now, forms teams under the queue's rules
    /// and scores the match.
    fn plan(
        &self,
        queue_index: usize,
        region: u8,
        chosen: &[Candidate],
        now: u64,
    ) -> Option<MatchPlan> {
        let queue = self.settings.queue(queue_index);
        let mut tickets = Vec::with_capacity(chosen.len());
        let mut rules: SmallVec<[Option<&TicketRules>; 16]> = SmallVec::new();
        let mut ids: SmallVec<[SmallVec<[PlayerId; 2]>; 16]> = SmallVec::new();
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
            let mut players: SmallVec<[(Entity, PlayerId, Rating); 2]> = SmallVec::new();
            for player in &ticket.players {
                let found = self.players.get(*player).ok()?;
                players.push((*player, found.id, found.rating));
            }
            let mut sorted: SmallVec<[PlayerId; 2]> = players.iter().map(|p| p.1).collect();
            sorted.sort_unstable();
            ids.push(sorted);
            rules.push(ticket.rules.as_deref());
            tickets.push(PlannedTicket {
                candidate: *candidate,
                entity: candidate.entry.entity,
                id: ticket.id,
                party: ticket.party,
                enqueued_at_ms: ticket.enqueued_at_ms,
                players,
                roles: SmallVec::new(),
                ping_ms,
                ping_limit_ms,
                team: 0,
            });
        }
        let form: SmallVec<[FormTicket<'_>; 16]> = tickets
            .iter()
            .zip(rules.iter().zip(&ids))
            .map(|(planned, (rules, players))| FormTicket {
                rules: *rules,
                players,
                avoid: rules.map_or(&[][..], |r| &r.avoid[..]),
                size: planned.candidate.entry.players,
                rating: planned.candidate.rating,
                waited_ms: planned.candidate.entry.waited_ms(now),
            })
            .collect();
        let formation = form_teams(queue, &form)?;
        let team_ratings = self.apply_formation(queue, &formation, &rules, &mut tickets);
        let quality = rating::match_quality(&team_ratings, self.settings.config.rating.beta);
        let longest_wait = chosen
            .iter()
            .map(|candidate| candidate.entry.waited_ms(now))
            .max()
            .unwrap_or(0);
        let quality_floor = queue.quality_floor.value_at(longest_wait);
        (quality >= quality_floor).then_some(MatchPlan {
            region,
            teams: formation.teams,
            tickets,
            quality,
            quality_floor,
        })
    }

    /// Puts each ticket in its team and each player in its role, and returns the teams'
    /// ratings as matched: the party offset included, or, in a queue rated per role, the
    /// rating of the role played (which is then the rating the result updates).
    fn apply_formation(
        &self,
        queue: &QueueConfig,
        formation: &crate::rules::Formation,
        rules: &[Option<&TicketRules>],
        tickets: &mut [PlannedTicket],
    ) -> Vec<SmallVec<[Rating; 8]>> {
        let per_role = queue.roles.as_ref().is_some_and(|r| r.rating_per_role);
        let mut team_ratings: Vec<SmallVec<[Rating; 8]>> =
            (0..formation.teams).map(|_| SmallVec::new()).collect();
        for (index, planned) in tickets.iter_mut().enumerate() {
            planned.team = formation.team_of[index];
            planned.roles = formation.roles.get(index).cloned().unwrap_or_default();
            for (member, (entity, _, rating)) in planned.players.iter_mut().enumerate() {
                let role = planned.roles.get(member).copied();
                let matched = match (per_role, role, rules[index]) {
                    (true, Some(role), Some(rules)) => {
                        *rating = rules.roles[member].rating_in(role);
                        *rating
                    }
                    _ => Rating {
                        mu: self
                            .players
                            .get(*entity)
                            .map_or(rating.mu, |p| p.matched_mu),
                        ..*rating
                    },
                };
                team_ratings[usize::from(planned.team)].push(matched);
            }
        }
        team_ratings
    }

    fn commit(&mut self, queue_index: usize, mut plan: MatchPlan, now: u64) {
        let match_id = self.ids.take();
        let match_entity = self.commands.spawn_empty().id();
        let team_count = plan.teams;
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
        let per_role = self
            .settings
            .queue(queue_index)
            .roles
            .as_ref()
            .is_some_and(|r| r.rating_per_role);
        let role_names = &self.settings.role_names[queue_index];
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
            for (member, (entity, _, rating)) in planned.players.iter().enumerate() {
                let mut player = self
                    .players
                    .get_mut(*entity)
                    .expect("a ticket's players exist");
                player.role = planned.roles.get(member).copied();
                if player.role.is_some() && per_role {
                    player.rating = *rating;
                    player.matched_mu = rating.mu;
                }
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
                    .enumerate()
                    .map(|(member, (_, player, rating))| MatchedPlayer {
                        player: *player,
                        rating: *rating,
                        role: planned
                            .roles
                            .get(member)
                            .map(|role| Arc::clone(&role_names[usize::from(*role)])),
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
        let mut avoided: Vec<PlayerId> = plan
            .tickets
            .iter()
            .filter_map(|planned| self.tickets.get(planned.entity).ok())
            .filter_map(|ticket| ticket.rules.as_ref())
            .flat_map(|rules| rules.avoid.iter().copied())
            .collect();
        if !avoided.is_empty() {
            avoided.sort_unstable();
            avoided.dedup();
            self.commands
                .entity(match_entity)
                .insert(MatchAvoids(avoided.into_boxed_slice()));
        }
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
        if let Some(change) = crate::rules::next_rule_change_ms(queue, entry.waited_ms(now)) {
            let at = entry.enqueued_at_ms.saturating_add(change);
            wake_at_ms = wake_at_ms.min(at.max(now.saturating_add(1)));
        }
        if let Some(flexible) = &queue.flexible {
            // A short match may form once the fill wait has passed.
            let at = entry.enqueued_at_ms.saturating_add(flexible.fill_wait_ms);
            if at > now {
                wake_at_ms = wake_at_ms.min(at);
            }
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
