//! Match rules in the core: what a ticket carries for them and how a match is held to them.
//!
//! A queue's rules (`config::Rule`), avoid lists (`config::BlockScope`) and role composition
//! (`config::RoleConfig`) are applied in four places, each owned by one file:
//!
//! - `intake`: an enqueue's attributes, roles and avoid lists are checked against the queue
//!   and the limits, and worked into [`TicketRules`]: one value per rule (a party's
//!   attributes aggregated as the rule says, texts interned per queue: `interned`), the
//!   sorted players and avoid list, each member's accepted roles, and what the enqueue gave,
//!   encoded, for snapshots. A problem is a `RejectReason` naming the attribute or role.
//! - `selection`: while the matching walk builds a match around an anchor, every offered
//!   ticket is checked against what is chosen so far, in O(1) per rule (running agreement,
//!   list intersection as a bit mask over the anchor's list, numeric span), plus the avoid
//!   lists and, in a role queue, Hall's condition on the roles accepted.
//! - `formation`: a full selection is split into teams that keep team-scoped rules (one
//!   value per team, a bounded gap between team means), keep blocked pairs off opposing teams
//!   when the queue says so, fill role compositions exactly (`roles`), or, in a flexible
//!   queue, form as many teams of allowed size as the players make.
//! - `explain`: for one queued ticket, which checks pass how many tickets of its queue, which
//!   of them block it, and when each window relaxes.
//!
//! A rule binds a ticket until the ticket has waited the rule's `optional_after_ms`; it binds
//! a match while it binds any ticket in it, and then holds for every ticket of the match,
//! with the strictest bound among the tickets it binds (as the skill window does).

mod explain;
mod formation;
mod intake;
mod interned;
mod roles;
mod selection;

use smallvec::SmallVec;

use crate::config::{BlockScope, QueueConfig, Rule};
use crate::ids::PlayerId;
use crate::rating::Rating;

pub(crate) use explain::explain;
pub use explain::{CheckReport, Explanation, Relaxation};
pub(crate) use formation::{FormTicket, Formation, form_teams};
pub(crate) use intake::ticket_rules;
pub(crate) use interned::{Interned, Interner};
pub(crate) use selection::{BLOCK_LIST, ROLES, RuleSelection};

/// What a ticket carries for its queue's rules, worked out once at enqueue. What the
/// matching walk reads of a candidate comes first (`repr(C)`: values, players, avoid list,
/// role masks, in the allocation's first three cache lines); the roles' ratings and the
/// enqueue's record are read only when a match forms or a snapshot is written.
#[derive(Clone, Debug, PartialEq)]
#[repr(C)]
pub(crate) struct TicketRules {
    /// One value per rule of the queue, in the config's order.
    pub values: SmallVec<[RuleValue; 4]>,
    /// The ticket's players, sorted.
    pub players: SmallVec<[PlayerId; 2]>,
    /// Everyone its members avoid, sorted, without repeats.
    pub avoid: Box<[PlayerId]>,
    /// Per member, in the ticket's order, `MemberRoles::mask` (role queues only).
    pub role_masks: SmallVec<[u8; 8]>,
    /// Per member, in the ticket's order, the roles accepted (role queues only).
    pub roles: Box<[MemberRoles]>,
    /// What the enqueue gave, encoded (`codec`): a snapshot decodes it ([`Self::source`]),
    /// and a restore works the rest out from it again.
    source: Box<[u8]>,
}

impl TicketRules {
    /// What the enqueue gave for the queue's rules, as a snapshot keeps it.
    pub(crate) fn source(&self) -> crate::snapshot::TicketRulesRecord {
        crate::codec::decode(&self.source)
            .expect("a ticket's record was encoded by `intake` and decodes")
    }

    /// Rules data with no values, roles or avoid list, for the players given (tests).
    #[cfg(test)]
    pub(crate) fn for_tests(players: &[PlayerId]) -> Self {
        Self {
            values: SmallVec::new(),
            players: players.iter().copied().collect(),
            avoid: Box::new([]),
            role_masks: SmallVec::new(),
            roles: Box::new([]),
            source: Box::new([]),
        }
    }
}

/// A ticket's value for one rule.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RuleValue {
    /// `equal`: the members' common text; `None` when members differ (the ticket then agrees
    /// with nobody while the rule binds).
    Text(Option<Interned>),
    /// `distance`: the span of the party's numbers under the rule's aggregation.
    Number {
        /// The lowest.
        low: f64,
        /// The highest.
        high: f64,
    },
    /// `overlap`: the party's list under the rule's aggregation.
    List(ListValue),
    /// `party_skill_spread`: the party's highest minus lowest rating.
    Spread(f64),
}

/// A list value: its items, and the same as a bit set of their ids when they are small.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ListValue {
    /// The items, sorted by text, without repeats.
    pub items: Box<[Interned]>,
    /// Bit `id` for each item's [`Interned::id`] when every id is below 63, so that two lists
    /// of one queue share exactly the items of `a.bits & b.bits`; [`ListValue::LARGE`] when
    /// some id is not.
    pub bits: u64,
}

impl ListValue {
    /// `bits` of a list with an id of 63 or more.
    pub(crate) const LARGE: u64 = 1 << 63;

    /// The list of these items (sorted, without repeats).
    pub(crate) fn new(items: Box<[Interned]>) -> Self {
        let bits = items.iter().try_fold(0_u64, |bits, item| {
            (item.id() < 63).then(|| bits | 1 << item.id())
        });
        Self {
            items,
            bits: bits.unwrap_or(Self::LARGE),
        }
    }

    /// Whether `bits` is the bit set of the ids.
    pub(crate) fn is_small(&self) -> bool {
        self.bits & Self::LARGE == 0
    }
}

/// One member's roles: role indices most wanted first, with the member's rating in each.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct MemberRoles {
    /// (role index, rating for it), most wanted first.
    pub choices: SmallVec<[(u8, Rating); 4]>,
    /// Bit `r` set when role `r` is accepted.
    pub mask: u8,
}

impl MemberRoles {
    /// The member's rating in `role` (the first choice's if the role is not among them).
    pub(crate) fn rating_in(&self, role: u8) -> Rating {
        self.choices
            .iter()
            .find(|(choice, _)| *choice == role)
            .or(self.choices.first())
            .map_or(Rating::new(0.0, 1.0), |(_, rating)| *rating)
    }
}

/// Whether a ticket may be matched at all now: every `party_skill_spread` rule that binds it
/// allows its spread.
pub(crate) fn eligible(queue: &QueueConfig, rules: &TicketRules, waited_ms: u64) -> bool {
    queue
        .rules
        .iter()
        .zip(&rules.values)
        .all(|(rule, value)| match (rule, value) {
            (Rule::PartySkillSpread { max, .. }, RuleValue::Spread(spread)) => {
                !rule.binds_at(waited_ms) || *spread <= max.value_at(waited_ms)
            }
            _ => true,
        })
}

/// Whether the queue has a `party_skill_spread` rule (without one, [`eligible`] always holds).
pub(crate) fn has_spread_rule(queue: &QueueConfig) -> bool {
    queue
        .rules
        .iter()
        .any(|rule| matches!(rule, Rule::PartySkillSpread { .. }))
}

/// The next waiting time after `waited_ms` at which a rule of the queue changes for a ticket
/// (it stops binding, or a step curve takes its next step), so that a parked ticket is tried
/// again then. Continuous curves are left to the review interval.
pub(crate) fn next_rule_change_ms(queue: &QueueConfig, waited_ms: u64) -> Option<u64> {
    queue
        .rules
        .iter()
        .flat_map(|rule| {
            let optional = rule.optional_after_ms().filter(|after| *after > waited_ms);
            let step = match rule.curve() {
                Some((crate::curve::Curve::Steps { steps }, _)) => steps
                    .iter()
                    .map(|step| step.after_ms)
                    .find(|after| *after > waited_ms),
                _ => None,
            };
            [optional, step]
        })
        .flatten()
        .min()
}

/// The index of the queue's grouping rule: its first match-wide `equal` rule, whose values
/// split the pool into groups an anchor bound by it walks alone (`pool::QueuePool::by_group`).
pub(crate) fn grouping_rule(queue: &QueueConfig) -> Option<usize> {
    queue.rules.iter().position(|rule| {
        matches!(
            rule,
            Rule::Equal {
                scope: crate::config::RuleScope::Match,
                ..
            }
        )
    })
}

/// A ticket's group in its pool: a hash of its value of the grouping rule, or
/// `pool::NO_GROUP` (no grouping rule, or a party whose members differ).
pub(crate) fn group_of_ticket(queue: &QueueConfig, rules: Option<&TicketRules>) -> u64 {
    let value = grouping_rule(queue).and_then(|index| match &rules?.values[index] {
        RuleValue::Text(Some(value)) => Some(value),
        _ => None,
    });
    value.map_or(crate::pool::NO_GROUP, |value| crate::pool::group_of(value))
}

/// What the pool entry keeps of a ticket's rules so that the walk can turn most tickets away
/// without reading the ticket: the queue's first `overlap` rule's list as a 64-bit mask of
/// item hashes, and its first match-wide `distance` rule's span rounded inward to `f32`. Both
/// only ever refuse what the full check would refuse: disjoint masks mean no shared item, and
/// an inward-rounded span is never wider than the true one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct RuleHint {
    /// Bit `hash(item) % 64` for each list item (all bits without an overlap rule).
    pub items: u64,
    /// The span's low end, rounded up.
    pub low: f32,
    /// The span's high end, rounded down.
    pub high: f32,
}

impl RuleHint {
    /// The hint of a ticket without rules data: refuses nothing.
    pub(crate) const NONE: Self = Self {
        items: u64::MAX,
        low: f32::NEG_INFINITY,
        high: f32::INFINITY,
    };
}

fn first_overlap(queue: &QueueConfig) -> Option<usize> {
    queue
        .rules
        .iter()
        .position(|rule| matches!(rule, Rule::Overlap { .. }))
}

fn first_distance(queue: &QueueConfig) -> Option<usize> {
    queue.rules.iter().position(|rule| {
        matches!(
            rule,
            Rule::Distance {
                scope: crate::config::RuleScope::Match,
                ..
            }
        )
    })
}

/// A ticket's [`RuleHint`].
pub(crate) fn hint_of(queue: &QueueConfig, rules: Option<&TicketRules>) -> RuleHint {
    let Some(rules) = rules else {
        return RuleHint::NONE;
    };
    let mut hint = RuleHint::NONE;
    if let Some(RuleValue::List(list)) = first_overlap(queue).map(|i| &rules.values[i]) {
        hint.items = list.items.iter().fold(0, |mask, item| {
            mask | 1 << (crate::pool::group_of(item) % 64)
        });
    }
    if let Some(RuleValue::Number { low, high }) = first_distance(queue).map(|i| &rules.values[i]) {
        hint.low = round_up(*low);
        // An inverted span (a single value rounded both ways) only narrows the hint's span.
        hint.high = round_down(*high);
    }
    hint
}

fn round_up(value: f64) -> f32 {
    let rounded = value as f32;
    if f64::from(rounded) < value {
        rounded.next_up()
    } else {
        rounded
    }
}

fn round_down(value: f64) -> f32 {
    let rounded = value as f32;
    if f64::from(rounded) > value {
        rounded.next_down()
    } else {
        rounded
    }
}

/// What an anchor's hint turns away, worked out once per anchor: the rule an anchor's hint
/// alone shows a candidate breaks, if any, is the anchor's first `overlap` rule when it binds
/// the anchor (asking for at least one value) and their lists share nothing, else its first
/// `distance` rule when it binds the anchor and their spans (inward) are wider than its own
/// bound (the strictest in force is no wider).
#[derive(Clone, Copy, Debug)]
pub(crate) struct HintCheck {
    anchor: RuleHint,
    /// The first `overlap` rule, when it binds the anchor and asks for a value.
    overlap: Option<usize>,
    /// The first `distance` rule and the anchor's bound, when it binds the anchor.
    distance: Option<(usize, f64)>,
}

impl HintCheck {
    /// The check of an anchor with this hint that has waited `anchor_waited_ms`.
    pub(crate) fn new(queue: &QueueConfig, anchor: RuleHint, anchor_waited_ms: u64) -> Self {
        let overlap = first_overlap(queue).filter(|index| {
            let rule = &queue.rules[*index];
            let need = rule
                .curve()
                .map_or(0.0, |(curve, _)| curve.value_at(anchor_waited_ms));
            rule.binds_at(anchor_waited_ms) && need > 0.0
        });
        let distance = first_distance(queue).and_then(|index| {
            let rule = &queue.rules[index];
            let (curve, _) = rule.curve()?;
            rule.binds_at(anchor_waited_ms)
                .then(|| (index, curve.value_at(anchor_waited_ms)))
        });
        Self {
            anchor,
            overlap,
            distance,
        }
    }

    /// The rule the hints show `candidate` breaks with the anchor, if any.
    #[inline]
    pub(crate) fn refuses(&self, candidate: &RuleHint) -> Option<usize> {
        if let Some(index) = self.overlap
            && self.anchor.items & candidate.items == 0
        {
            return Some(index);
        }
        if let Some((index, bound)) = self.distance {
            let span = f64::from(self.anchor.high.max(candidate.high))
                - f64::from(self.anchor.low.min(candidate.low));
            if span > bound {
                return Some(index);
            }
        }
        None
    }
}

/// Whether the sorted `list` holds any of `players`.
pub(crate) fn names_any(list: &[PlayerId], players: &[PlayerId]) -> bool {
    !list.is_empty() && players.iter().any(|p| list.binary_search(p).is_ok())
}

/// Whether the queue keeps blocked pairs out of the same match.
pub(crate) fn blocks_whole_match(queue: &QueueConfig) -> bool {
    queue.block_lists == BlockScope::Match
}

/// How many values two sorted lists share.
pub(crate) fn shared(a: &[Interned], b: &[Interned]) -> usize {
    let (mut i, mut j, mut count) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            core::cmp::Ordering::Less => i += 1,
            core::cmp::Ordering::Greater => j += 1,
            core::cmp::Ordering::Equal => {
                count += 1;
                i += 1;
                j += 1;
            }
        }
    }
    count
}
