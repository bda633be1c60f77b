//! The rules while a match is being chosen: every ticket offered to a selection is checked
//! against the tickets chosen so far, in constant time per rule, and taken only if every rule
//! that binds the selection with it still holds. What a selection cannot know yet (teams) is
//! left to `formation`, which may still refuse the full selection.
//!
//! Per rule, the running state is:
//! - `equal` (match): whether every value so far equals the anchor's, and whether the rule
//!   binds any chosen ticket;
//! - `equal` (team): players per value, so that the values can still each fill whole teams
//!   (the sum over values of `ceil(players / team_size)` is at most `teams`);
//! - `overlap`: the values of the anchor's list every chosen ticket shares, as a bit mask
//!   (over the items' ids when the anchor's list is small, `ListValue::bits`, so that a
//!   small list is intersected without being read; else over the anchor's list, at most 64
//!   items), and the most shared values a binding ticket asks for;
//! - `distance` (match): the lowest and highest value, and the strictest bound among binding
//!   tickets;
//! - avoid lists: the chosen players and everyone they avoid, sorted;
//! - roles: members per set of accepted roles, held to Hall's condition against the places
//!   the match's teams have (at most 8 roles: 256 sets).

use smallvec::SmallVec;

use super::{Interned, ListValue, RuleValue, TicketRules, blocks_whole_match, names_any, shared};
use crate::config::{QueueConfig, Rule, RuleScope};
use crate::ids::PlayerId;

/// Which check turned a ticket away: a rule's index, or one of these.
pub(crate) const BLOCK_LIST: usize = 62;
/// Roles could not be filled with the ticket.
pub(crate) const ROLES: usize = 63;

/// One rule's running state: small and `Copy`, so that an offer works on a copy and keeps
/// it only if every rule holds (the players per value of a team-scoped `equal` rule live in
/// `RuleSelection::team_groups`, changed only once the ticket is taken).
#[derive(Clone, Copy, Debug)]
enum Running {
    /// Nothing to keep at selection (checked per ticket, or at team formation).
    Nothing,
    Equal {
        agree: bool,
        binding: bool,
    },
    EqualPerTeam {
        binding: bool,
    },
    Overlap {
        mask: u64,
        need: f64,
        binding: bool,
    },
    Distance {
        low: f64,
        high: f64,
        bound: f64,
        binding: bool,
    },
}

/// A selection's rules state. See the module comment.
#[derive(Clone, Debug)]
pub(crate) struct RuleSelection<'a> {
    queue: &'a QueueConfig,
    anchor: &'a TicketRules,
    running: SmallVec<[Running; 4]>,
    /// Per team-scoped `equal` rule, in rule order: players per value (`None`: a party whose
    /// members differ).
    team_groups: SmallVec<[Groups<'a>; 1]>,
    players: Ids,
    avoided: Ids,
    /// Members per set of accepted roles (role queues), indexed by the set's bit mask.
    role_sets: SmallVec<[u16; 32]>,
}

/// Sorted player ids, inline for a 5v5 (a selection is cloned once per region an anchor
/// tries, so it should not allocate for common formats).
type Ids = SmallVec<[PlayerId; 16]>;

/// Players per value of one team-scoped `equal` rule: (rule index, (value, players)).
type Groups<'a> = (usize, SmallVec<[(Option<&'a Interned>, u16); 4]>);

/// Whether two values of one rule are the same text (`None`, a party whose members differ,
/// is the same as nothing).
fn same_text(a: Option<&Interned>, b: Option<&Interned>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a.same(b))
}

impl<'a> RuleSelection<'a> {
    /// A selection holding only the anchor, which has waited `waited_ms`; `None` when the
    /// anchor alone breaks a rule that binds it (a party whose members differ on an `equal`
    /// attribute, or whose roles cannot be filled).
    pub(crate) fn new(
        queue: &'a QueueConfig,
        anchor: &'a TicketRules,
        waited_ms: u64,
    ) -> Option<Self> {
        let running: SmallVec<[Running; 4]> = queue
            .rules
            .iter()
            .map(|rule| match rule {
                Rule::Equal {
                    scope: RuleScope::Match,
                    ..
                } => Running::Equal {
                    agree: true,
                    binding: false,
                },
                Rule::Equal { .. } => Running::EqualPerTeam { binding: false },
                Rule::Overlap { .. } => Running::Overlap {
                    mask: u64::MAX,
                    need: 0.0,
                    binding: false,
                },
                Rule::Distance {
                    scope: RuleScope::Match,
                    ..
                } => Running::Distance {
                    low: f64::INFINITY,
                    high: f64::NEG_INFINITY,
                    bound: f64::INFINITY,
                    binding: false,
                },
                Rule::Distance { .. } | Rule::PartySkillSpread { .. } => Running::Nothing,
            })
            .collect();
        let roles = queue
            .roles
            .as_ref()
            .map_or(0, |roles| roles.composition.len());
        let team_groups = running
            .iter()
            .enumerate()
            .filter(|(_, running)| matches!(running, Running::EqualPerTeam { .. }))
            .map(|(index, _)| (index, SmallVec::new()))
            .collect();
        let mut selection = Self {
            queue,
            anchor,
            running,
            team_groups,
            players: SmallVec::new(),
            avoided: SmallVec::new(),
            role_sets: SmallVec::from_elem(0, if roles == 0 { 0 } else { 1 << roles }),
        };
        selection.offer(anchor, waited_ms).ok()?;
        Some(selection)
    }

    /// Offers a ticket that has waited `waited_ms`. Takes it and returns `Ok` if every rule
    /// that binds the selection with it holds; else returns the check that refused it (a rule
    /// index, [`BLOCK_LIST`] or [`ROLES`]) and changes nothing.
    pub(crate) fn offer(&mut self, ticket: &'a TicketRules, waited_ms: u64) -> Result<(), usize> {
        let mut next = self.running.clone();
        for (index, running) in next.iter_mut().enumerate() {
            if !self.update(index, running, ticket, waited_ms) {
                return Err(index);
            }
        }
        let blocks = blocks_whole_match(self.queue);
        if blocks
            && (names_any(&self.avoided, &ticket.players)
                || names_any(&ticket.avoid, &self.players))
        {
            return Err(BLOCK_LIST);
        }
        if !self.role_sets.is_empty() {
            for mask in &ticket.role_masks {
                self.role_sets[usize::from(*mask)] += 1;
            }
            if !self.roles_can_fill() {
                for mask in &ticket.role_masks {
                    self.role_sets[usize::from(*mask)] -= 1;
                }
                return Err(ROLES);
            }
        }
        self.running = next;
        for (index, groups) in &mut self.team_groups {
            if let RuleValue::Text(text) = &ticket.values[*index] {
                let key = text.as_ref();
                let players = ticket.players.len() as u16;
                match groups.iter_mut().find(|(value, _)| same_text(key, *value)) {
                    Some((_, count)) => *count += players,
                    None => groups.push((key, players)),
                }
            }
        }
        if blocks {
            insert_sorted(&mut self.players, &ticket.players);
            insert_sorted(&mut self.avoided, &ticket.avoid);
        }
        Ok(())
    }

    /// Updates one rule's state with a ticket; false if the rule then fails.
    fn update(
        &self,
        index: usize,
        running: &mut Running,
        ticket: &'a TicketRules,
        waited_ms: u64,
    ) -> bool {
        let rule = &self.queue.rules[index];
        let binds = rule.binds_at(waited_ms);
        let value = &ticket.values[index];
        match (running, value) {
            (Running::Equal { agree, binding }, RuleValue::Text(text)) => {
                let anchor = &self.anchor.values[index];
                *agree &=
                    matches!(anchor, RuleValue::Text(a) if same_text(a.as_ref(), text.as_ref()));
                *binding |= binds;
                *agree || !*binding
            }
            (Running::EqualPerTeam { binding }, RuleValue::Text(text)) => {
                *binding |= binds;
                !*binding || self.values_fill_teams(index, text.as_ref(), ticket.players.len())
            }
            (
                Running::Overlap {
                    mask,
                    need,
                    binding,
                },
                RuleValue::List(list),
            ) => {
                let RuleValue::List(anchor) = &self.anchor.values[index] else {
                    return false;
                };
                *mask &= shared_mask(anchor, list);
                if binds && let Some((curve, _)) = rule.curve() {
                    *need = need.max(curve.value_at(waited_ms).ceil());
                    *binding = true;
                }
                !*binding || f64::from(mask.count_ones()) >= *need
            }
            (
                Running::Distance {
                    low,
                    high,
                    bound,
                    binding,
                },
                RuleValue::Number {
                    low: value_low,
                    high: value_high,
                },
            ) => {
                *low = low.min(*value_low);
                *high = high.max(*value_high);
                if binds && let Some((curve, _)) = rule.curve() {
                    *bound = bound.min(curve.value_at(waited_ms));
                    *binding = true;
                }
                !*binding || *high - *low <= *bound
            }
            (Running::Nothing, _) => true,
            // A value of another kind than its rule cannot be built (intake makes one value
            // per rule, of the rule's kind).
            _ => false,
        }
    }

    /// Whether, with `players` more of `value`, the values of team-scoped rule `index` can
    /// still each fill whole teams (and no party whose members differ is among them).
    fn values_fill_teams(&self, index: usize, value: Option<&Interned>, players: usize) -> bool {
        let Some((_, groups)) = self.team_groups.iter().find(|(rule, _)| *rule == index) else {
            return false;
        };
        let size = usize::from(self.queue.team_size);
        let mut found = false;
        let mut teams_needed = 0;
        for (group, count) in groups {
            if group.is_none() {
                return false;
            }
            let mut count = usize::from(*count);
            if same_text(*group, value) {
                count += players;
                found = true;
            }
            teams_needed += count.div_ceil(size);
        }
        if !found {
            if value.is_none() {
                return false;
            }
            teams_needed += players.div_ceil(size);
        }
        teams_needed <= usize::from(self.queue.teams)
    }

    /// Whether the chosen members can still take distinct places of the match's teams.
    fn roles_can_fill(&self) -> bool {
        let Some(config) = &self.queue.roles else {
            return true;
        };
        let teams = usize::from(self.queue.teams);
        let places: SmallVec<[usize; 8]> = config
            .composition
            .iter()
            .map(|slot| usize::from(slot.count) * teams)
            .collect();
        super::roles::hall_holds(&self.role_sets, &places)
    }
}

/// The values of the anchor's list that `list` holds: when the anchor's list is small, as
/// the bit set of their ids (`list.bits` itself when it is small too); else bit `i` for item
/// `i` of the anchor's list (at most 64 items).
fn shared_mask(anchor: &ListValue, list: &ListValue) -> u64 {
    if anchor.is_small() {
        if list.is_small() {
            return list.bits;
        }
        return anchor
            .items
            .iter()
            .filter(|item| list.items.binary_search(item).is_ok())
            .fold(0, |mask, item| mask | 1 << item.id());
    }
    shared_positions(&anchor.items, &list.items)
}

/// Bit `i` set when item `i` of `anchor` is in `list` (both sorted, interned by the queue;
/// at most 64 items): by pointer while the lists are short, by text beyond.
fn shared_positions(anchor: &[Interned], list: &[Interned]) -> u64 {
    let anchor = &anchor[..anchor.len().min(64)];
    if anchor.len() * list.len() <= SHORT_LISTS {
        return anchor
            .iter()
            .enumerate()
            .filter(|(_, item)| list.iter().any(|other| item.same(other)))
            .fold(0, |mask, (index, _)| mask | (1 << index));
    }
    if shared(anchor, list) == anchor.len() {
        return match anchor.len() {
            64.. => u64::MAX,
            len => (1 << len) - 1,
        };
    }
    anchor
        .iter()
        .enumerate()
        .filter(|(_, item)| list.binary_search(item).is_ok())
        .fold(0, |mask, (index, _)| mask | (1 << index))
}

/// The most pairs of items [`shared_mask`] compares by pointer.
const SHORT_LISTS: usize = 256;

/// Adds sorted `items` to the sorted `into`, keeping it sorted.
fn insert_sorted(into: &mut Ids, items: &[PlayerId]) {
    for item in items {
        if let Err(at) = into.binary_search(item) {
            into.insert(at, *item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{AttributeValue, EnqueueTicket};
    use crate::config::{AttributeSpec, Config};
    use crate::curve::Curve;
    use crate::ids::TicketId;
    use crate::rating::Rating;

    fn queue(rules: Vec<Rule>) -> QueueConfig {
        QueueConfig {
            name: "q".into(),
            attributes: vec![
                AttributeSpec::Text {
                    name: "platform".into(),
                    default: None,
                },
                AttributeSpec::List {
                    name: "maps".into(),
                    default: None,
                },
                AttributeSpec::Number {
                    name: "level".into(),
                    default: None,
                },
            ],
            rules,
            ..QueueConfig::default()
        }
    }

    fn ticket(
        queue: &QueueConfig,
        id: u64,
        platform: &str,
        maps: &[&str],
        level: f64,
    ) -> TicketRules {
        let mut request = EnqueueTicket::solo(
            TicketId(id),
            "q",
            PlayerId(id),
            Rating::new(1500.0, 100.0),
            vec![30],
        );
        let attributes = &mut request.members[0].attributes;
        attributes.insert("platform".into(), AttributeValue::Text(platform.into()));
        attributes.insert(
            "maps".into(),
            AttributeValue::List(maps.iter().map(|m| (*m).to_owned()).collect()),
        );
        attributes.insert("level".into(), AttributeValue::Number(level));
        STRINGS.with(|strings| {
            super::super::ticket_rules(&Config::default().limits, queue, &request, strings)
                .unwrap()
                .unwrap()
        })
    }

    thread_local! {
        /// The tests' tickets share one queue's texts.
        static STRINGS: super::super::Interner = super::super::Interner::default();
    }

    #[test]
    fn equality_binds_until_optional() {
        let queue = queue(vec![Rule::Equal {
            name: "platform".into(),
            attribute: "platform".into(),
            scope: RuleScope::Match,
            optional_after_ms: Some(10_000),
        }]);
        let pc = ticket(&queue, 1, "pc", &[], 1.0);
        let console = ticket(&queue, 2, "console", &[], 1.0);
        let young_pc = ticket(&queue, 3, "pc", &[], 1.0);
        let mut young = RuleSelection::new(&queue, &pc, 0).unwrap();
        assert_eq!(young.offer(&console, 20_000), Err(0));
        let mut old = RuleSelection::new(&queue, &pc, 20_000).unwrap();
        assert_eq!(old.offer(&console, 20_000), Ok(()));
        // Once a binding ticket is in, the disagreement counts.
        assert_eq!(old.offer(&young_pc, 0), Err(0));
    }

    #[test]
    fn overlap_counts_what_every_ticket_shares() {
        let queue = queue(vec![Rule::Overlap {
            name: "maps".into(),
            attribute: "maps".into(),
            at_least: Curve::linear(2.0, 1.0, 10_000),
            party: crate::config::ListAggregate::Intersection,
            optional_after_ms: None,
        }]);
        let anchor = ticket(&queue, 1, "pc", &["a", "b", "c"], 1.0);
        let b_c = ticket(&queue, 2, "pc", &["b", "c"], 1.0);
        let c_d = ticket(&queue, 3, "pc", &["c", "d"], 1.0);
        let mut selection = RuleSelection::new(&queue, &anchor, 0).unwrap();
        assert_eq!(selection.offer(&b_c, 0), Ok(()));
        assert_eq!(selection.offer(&c_d, 0), Err(0));
        let mut relaxed = RuleSelection::new(&queue, &anchor, 10_000).unwrap();
        assert_eq!(relaxed.offer(&c_d, 10_000), Ok(()));
    }

    #[test]
    fn distance_keeps_the_span_within_the_strictest_bound() {
        let queue = queue(vec![Rule::Distance {
            name: "level".into(),
            attribute: "level".into(),
            max: Curve::linear(10.0, 30.0, 20_000),
            scope: RuleScope::Match,
            party: crate::config::NumberAggregate::All,
            optional_after_ms: None,
        }]);
        let anchor = ticket(&queue, 1, "pc", &[], 50.0);
        let far = ticket(&queue, 2, "pc", &[], 75.0);
        let young = ticket(&queue, 3, "pc", &[], 55.0);
        let mut selection = RuleSelection::new(&queue, &anchor, 20_000).unwrap();
        assert_eq!(selection.offer(&far, 20_000), Ok(()));
        // A young ticket brings the bound down to 10: the span 25 is too wide.
        assert_eq!(selection.offer(&young, 0), Err(0));
    }
}
