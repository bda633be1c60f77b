//! Teams for a full selection, under the queue's rules:
//!
//! - role queues: `roles::form` fills every team's composition exactly;
//! - flexible queues: as many teams as the players make (within `min_teams..=teams`), each
//!   of `min_team_size..=team_size`, by best-fit decreasing (each party into the fullest team
//!   it fits), which keeps parties whole and packs squads tight; `O(tickets x teams)`;
//! - fixed queues: tickets avoiding each other under `block_lists = "opposing_teams"` are
//!   joined into one unit (they must be teammates); under a binding team-scoped `equal` rule
//!   the units are grouped by value and each group is split into whole teams on its own; each
//!   split is `teams::split` (exact up to `exact_split_max_tickets`, else differencing).
//!
//! Then every binding team-scoped `distance` rule is checked on the teams' mean values.
//! A selection that cannot be formed is refused (`None`), never formed against a rule.

use smallvec::SmallVec;

use super::{RuleValue, TicketRules, names_any, roles};
use crate::config::{BlockScope, QueueConfig, Rule, RuleScope};
use crate::teams::{self, PartySlot};

/// A ticket of a full selection, as team formation sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FormTicket<'a> {
    /// Its rules data, if its queue reads any.
    pub rules: Option<&'a TicketRules>,
    /// Its players, sorted.
    pub players: &'a [crate::ids::PlayerId],
    /// Everyone its members avoid, sorted.
    pub avoid: &'a [crate::ids::PlayerId],
    /// Its players.
    pub size: u8,
    /// Its combined rating.
    pub rating: f64,
    /// How long it has waited.
    pub waited_ms: u64,
}

/// The teams of a match.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Formation {
    /// How many teams.
    pub teams: usize,
    /// Each ticket's team, in the selection's order.
    pub team_of: SmallVec<[u8; 16]>,
    /// Each ticket's members' roles, in a role queue (empty otherwise).
    pub roles: Vec<SmallVec<[u8; 2]>>,
}

/// Forms the teams of a full selection, or `None` if the rules cannot be kept.
pub(crate) fn form_teams(queue: &QueueConfig, tickets: &[FormTicket<'_>]) -> Option<Formation> {
    let formation = if let Some(config) = &queue.roles {
        roles::form(queue, config, tickets)?
    } else if queue.flexible.is_some() {
        form_flexible(queue, tickets)?
    } else {
        form_fixed(queue, tickets)?
    };
    team_distances_hold(queue, tickets, &formation).then_some(formation)
}

/// Fixed teams: units of tickets that must be teammates, grouped by team-scoped values, each
/// group split into whole teams.
fn form_fixed(queue: &QueueConfig, tickets: &[FormTicket<'_>]) -> Option<Formation> {
    let units = units_of(queue, tickets);
    let groups = groups_of(queue, tickets, &units)?;
    let team_size = queue.team_size;
    let mut team_of: SmallVec<[u8; 16]> = SmallVec::from_elem(0, tickets.len());
    let mut next_team = 0_usize;
    for group in groups {
        let players: usize = group.iter().map(|unit| unit_size(tickets, unit)).sum();
        if !players.is_multiple_of(usize::from(team_size)) {
            return None;
        }
        let group_teams = players / usize::from(team_size);
        let slots: SmallVec<[PartySlot; 12]> = group
            .iter()
            .map(|unit| PartySlot {
                size: u8::try_from(unit_size(tickets, unit)).unwrap_or(u8::MAX),
                weight: unit
                    .iter()
                    .map(|&t| tickets[t].rating * f64::from(tickets[t].size))
                    .sum(),
            })
            .collect();
        if slots.iter().any(|slot| slot.size > team_size) {
            return None;
        }
        let split = teams::split(
            &slots,
            group_teams,
            team_size,
            queue.exact_split_max_tickets,
        )?;
        for (unit, team) in group.iter().zip(split) {
            for &ticket in unit {
                team_of[ticket] = (next_team + usize::from(team)) as u8;
            }
        }
        next_team += group_teams;
    }
    (next_team == usize::from(queue.teams)).then_some(Formation {
        teams: next_team,
        team_of,
        roles: Vec::new(),
    })
}

type Unit = SmallVec<[usize; 2]>;

fn unit_size(tickets: &[FormTicket<'_>], unit: &Unit) -> usize {
    unit.iter().map(|&t| usize::from(tickets[t].size)).sum()
}

/// Tickets joined when one avoids the other and the queue keeps such pairs off opposing teams
/// (union-find over the pairs); each ticket alone otherwise. Units in ticket order.
fn units_of(queue: &QueueConfig, tickets: &[FormTicket<'_>]) -> Vec<Unit> {
    let mut root: Vec<usize> = (0..tickets.len()).collect();
    fn find(root: &mut [usize], mut at: usize) -> usize {
        while root[at] != at {
            root[at] = root[root[at]];
            at = root[at];
        }
        at
    }
    if queue.block_lists == BlockScope::OpposingTeams {
        for a in 0..tickets.len() {
            for b in a + 1..tickets.len() {
                let (ta, tb) = (&tickets[a], &tickets[b]);
                if names_any(ta.avoid, tb.players) || names_any(tb.avoid, ta.players) {
                    let (x, y) = (find(&mut root, a), find(&mut root, b));
                    root[x.max(y)] = x.min(y);
                }
            }
        }
    }
    let mut units: Vec<Unit> = Vec::new();
    let mut unit_of_root: Vec<Option<usize>> = vec![None; tickets.len()];
    for ticket in 0..tickets.len() {
        let r = find(&mut root, ticket);
        match unit_of_root[r] {
            Some(unit) => units[unit].push(ticket),
            None => {
                unit_of_root[r] = Some(units.len());
                units.push(SmallVec::from_elem(ticket, 1));
            }
        }
    }
    units
}

/// Units grouped by their values of every binding team-scoped `equal` rule (one group when
/// none binds). `None` when a unit's players differ on such a value (a mixed party, or
/// tickets that must be teammates): no team of one value can hold it.
fn groups_of(
    queue: &QueueConfig,
    tickets: &[FormTicket<'_>],
    units: &[Unit],
) -> Option<Vec<Vec<Unit>>> {
    let team_rules: SmallVec<[usize; 2]> = queue
        .rules
        .iter()
        .enumerate()
        .filter(|(_, rule)| {
            matches!(
                rule,
                Rule::Equal {
                    scope: RuleScope::Team,
                    ..
                }
            ) && tickets
                .iter()
                .any(|t| rule.binds_at(t.waited_ms) && t.rules.is_some())
        })
        .map(|(index, _)| index)
        .collect();
    if team_rules.is_empty() {
        return Some(vec![units.to_vec()]);
    }
    let key_of = |ticket: usize| -> Vec<Option<&str>> {
        team_rules
            .iter()
            .map(
                |&rule| match tickets[ticket].rules.map(|r| &r.values[rule]) {
                    Some(RuleValue::Text(text)) => text.as_deref(),
                    _ => None,
                },
            )
            .collect()
    };
    let mut groups: Vec<(Vec<Option<&str>>, Vec<Unit>)> = Vec::new();
    for unit in units {
        let keys: Vec<Vec<Option<&str>>> = unit.iter().map(|&t| key_of(t)).collect();
        let same = keys.windows(2).all(|pair| pair[0] == pair[1]);
        let key = keys.into_iter().next()?;
        if !same || key.iter().any(Option::is_none) {
            return None;
        }
        match groups.iter_mut().find(|(group_key, _)| *group_key == key) {
            Some((_, members)) => members.push(unit.clone()),
            None => groups.push((key, vec![unit.clone()])),
        }
    }
    Some(groups.into_iter().map(|(_, units)| units).collect())
}

/// Flexible teams: `t = clamp(ceil(players / team_size), min_teams, teams)` teams (fewer if
/// they cannot each get `min_team_size`), parties placed largest first into the fullest team
/// with room; empty teams are dropped.
fn form_flexible(queue: &QueueConfig, tickets: &[FormTicket<'_>]) -> Option<Formation> {
    let flexible = queue.flexible.as_ref()?;
    let players: usize = tickets.iter().map(|t| usize::from(t.size)).sum();
    let size = usize::from(queue.team_size);
    let min_size = usize::from(flexible.min_team_size);
    let mut teams = players
        .div_ceil(size)
        .clamp(usize::from(flexible.min_teams), usize::from(queue.teams));
    while teams * min_size > players && teams > 0 {
        teams -= 1;
    }
    if teams < usize::from(flexible.min_teams) {
        return None;
    }
    let mut order: SmallVec<[usize; 16]> = (0..tickets.len()).collect();
    order.sort_by(|a, b| {
        tickets[*b]
            .size
            .cmp(&tickets[*a].size)
            .then(tickets[*b].rating.total_cmp(&tickets[*a].rating))
            .then(a.cmp(b))
    });
    let mut filled: SmallVec<[usize; 16]> = SmallVec::from_elem(0, teams);
    let mut team_of: SmallVec<[u8; 16]> = SmallVec::from_elem(0, tickets.len());
    for ticket in order {
        let need = usize::from(tickets[ticket].size);
        let best = (0..teams)
            .filter(|&team| filled[team] + need <= size)
            .max_by(|a, b| filled[*a].cmp(&filled[*b]).then(b.cmp(a)))?;
        filled[best] += need;
        team_of[ticket] = best as u8;
    }
    // Drop empty teams, keeping order.
    let mut renumber: SmallVec<[u8; 16]> = SmallVec::from_elem(0, teams);
    let mut kept = 0_usize;
    for team in 0..teams {
        if filled[team] > 0 {
            if filled[team] < min_size {
                return None;
            }
            renumber[team] = kept as u8;
            kept += 1;
        }
    }
    if kept < usize::from(flexible.min_teams) {
        return None;
    }
    for team in &mut team_of {
        *team = renumber[usize::from(*team)];
    }
    Some(Formation {
        teams: kept,
        team_of,
        roles: Vec::new(),
    })
}

/// Every binding team-scoped `distance` rule: the teams' mean values (per player, each
/// ticket's value the middle of its span) are at most the strictest binding bound apart.
fn team_distances_hold(
    queue: &QueueConfig,
    tickets: &[FormTicket<'_>],
    formation: &Formation,
) -> bool {
    queue.rules.iter().enumerate().all(|(index, rule)| {
        let Rule::Distance {
            scope: RuleScope::Team,
            max,
            ..
        } = rule
        else {
            return true;
        };
        let bound = tickets
            .iter()
            .filter(|t| rule.binds_at(t.waited_ms))
            .map(|t| max.value_at(t.waited_ms))
            .fold(f64::INFINITY, f64::min);
        if bound.is_infinite() {
            return true;
        }
        let mut sums = vec![(0.0_f64, 0.0_f64); formation.teams];
        for (ticket, team) in tickets.iter().zip(&formation.team_of) {
            if let Some(RuleValue::Number { low, high }) = ticket.rules.map(|r| &r.values[index]) {
                let weight = f64::from(ticket.size);
                sums[usize::from(*team)].0 += (low + high) / 2.0 * weight;
                sums[usize::from(*team)].1 += weight;
            }
        }
        let means = sums
            .iter()
            .filter(|(_, weight)| *weight > 0.0)
            .map(|(sum, weight)| sum / weight);
        let high = means.clone().fold(f64::NEG_INFINITY, f64::max);
        let low = means.fold(f64::INFINITY, f64::min);
        high - low <= bound
    })
}
