//! Role queues: every team gets exactly its composition (say 1 tank, 2 damage, 2 support),
//! parties stay whole and their members take distinct places of one team, and members get
//! their earlier choices where the composition allows.
//!
//! 1. Roles, match-wide. Parties first (largest first), then solos (fewest choices first).
//!    Each takes, in the order of its members' preferences, the first assignment that leaves
//!    the rest fillable: Hall's condition over sets of roles (`hall_holds`: for every set of
//!    roles, the members who accept only roles in it are no more than its places). A party
//!    tries at most `PARTY_TRIES` assignments.
//! 2. Teams. Parties by size, then rating, each into the lightest team with room for its
//!    roles (depth-first with a node budget when the greedy choice dead-ends); then, per
//!    role, solos from the strongest down, each into the lightest team still needing the
//!    role; then swaps of same-role solos between the heaviest and lightest team while that
//!    narrows the gap. Team balance uses the rating of the role played.
//!
//! Cost: `O(members x 2^roles)` for the roles, `O(tickets x teams)` for the teams.

use smallvec::SmallVec;

use super::MemberRoles;
use super::formation::{FormTicket, Formation};
use crate::config::{QueueConfig, RoleConfig};

/// Assignments a party may try before the match is refused.
const PARTY_TRIES: u32 = 4_096;
/// Nodes the team placement of parties may visit.
const PLACE_BUDGET: u32 = 20_000;
/// Rounds of swaps.
const POLISH_ROUNDS: usize = 64;

/// Hall's condition for members by set of accepted roles (`sets[mask]` members accept exactly
/// the roles of `mask`) against `places[role]` places.
pub(crate) fn hall_holds(sets: &[u16], places: &[usize]) -> bool {
    let roles = places.len();
    let mut confined: SmallVec<[u32; 256]> = sets.iter().map(|n| u32::from(*n)).collect();
    for role in 0..roles {
        for set in 0..confined.len() {
            if set & (1 << role) != 0 {
                confined[set] += confined[set ^ (1 << role)];
            }
        }
    }
    confined.iter().enumerate().all(|(set, members)| {
        let room: usize = (0..roles)
            .filter(|role| set & (1 << role) != 0)
            .map(|role| places[role])
            .sum();
        *members as usize <= room
    })
}

/// One member of the match.
struct Member<'a> {
    ticket: usize,
    roles: &'a MemberRoles,
}

/// Forms a role queue's teams, or `None` when the compositions cannot be filled.
pub(crate) fn form(
    queue: &QueueConfig,
    config: &RoleConfig,
    tickets: &[FormTicket<'_>],
) -> Option<Formation> {
    let members: Vec<Member<'_>> = tickets
        .iter()
        .enumerate()
        .flat_map(|(ticket, t)| {
            t.rules
                .into_iter()
                .flat_map(|rules| rules.roles.iter())
                .map(move |roles| Member { ticket, roles })
        })
        .collect();
    let teams = usize::from(queue.teams);
    let places: SmallVec<[usize; 8]> = config
        .composition
        .iter()
        .map(|slot| usize::from(slot.count) * teams)
        .collect();
    if members.len() != places.iter().sum::<usize>() {
        return None;
    }
    let played = assign_roles(config, tickets, &members, places)?;
    let mut roles: Vec<SmallVec<[u8; 2]>> = vec![SmallVec::new(); tickets.len()];
    for (member, role) in members.iter().zip(&played) {
        roles[member.ticket].push(*role);
    }
    let team_of = place_teams(queue, config, tickets, &members, &played, &roles)?;
    Some(Formation {
        teams,
        team_of,
        roles,
    })
}

/// Step 1: a role per member (in `members` order).
fn assign_roles(
    config: &RoleConfig,
    tickets: &[FormTicket<'_>],
    members: &[Member<'_>],
    mut places: SmallVec<[usize; 8]>,
) -> Option<Vec<u8>> {
    let mut order: Vec<usize> = (0..tickets.len()).collect();
    order.sort_by_key(|&t| {
        let choices: usize = members
            .iter()
            .filter(|m| m.ticket == t)
            .map(|m| m.roles.choices.len())
            .sum();
        (core::cmp::Reverse(tickets[t].size), choices, t)
    });
    let mut sets: Vec<u16> = vec![0; 1 << config.composition.len()];
    for member in members {
        sets[usize::from(member.roles.mask)] += 1;
    }
    let mut played = vec![0_u8; members.len()];
    for ticket in order {
        let own: SmallVec<[usize; 5]> = (0..members.len())
            .filter(|&m| members[m].ticket == ticket)
            .collect();
        for &m in &own {
            sets[usize::from(members[m].roles.mask)] -= 1;
        }
        let chosen = first_fitting(config, members, &own, &places, &sets)?;
        for (&m, &role) in own.iter().zip(&chosen) {
            played[m] = role;
            places[usize::from(role)] -= 1;
        }
    }
    Some(played)
}

/// The first assignment of `own`'s members (in preference order, first member's choice
/// varying slowest) that fits one team and the places left, and leaves the others fillable.
fn first_fitting(
    config: &RoleConfig,
    members: &[Member<'_>],
    own: &[usize],
    places: &[usize],
    others: &[u16],
) -> Option<SmallVec<[u8; 5]>> {
    let mut picks: SmallVec<[usize; 5]> = SmallVec::from_elem(0, own.len());
    let mut tries = 0_u32;
    loop {
        tries += 1;
        if tries > PARTY_TRIES {
            return None;
        }
        let roles: SmallVec<[u8; 5]> = own
            .iter()
            .zip(&picks)
            .map(|(&m, &pick)| members[m].roles.choices[pick].0)
            .collect();
        if fits(config, &roles, places, others) {
            return Some(roles);
        }
        // Next combination, last member fastest.
        let mut position = own.len();
        loop {
            if position == 0 {
                return None;
            }
            position -= 1;
            picks[position] += 1;
            if picks[position] < members[own[position]].roles.choices.len() {
                break;
            }
            picks[position] = 0;
        }
    }
}

fn fits(config: &RoleConfig, roles: &[u8], places: &[usize], others: &[u16]) -> bool {
    let mut left: SmallVec<[usize; 8]> = places.iter().copied().collect();
    for (role, slot) in config.composition.iter().enumerate() {
        let taken = roles.iter().filter(|r| usize::from(**r) == role).count();
        if taken > usize::from(slot.count) || taken > left[role] {
            return false;
        }
        left[role] -= taken;
    }
    hall_holds(others, &left)
}

/// Step 2: a team per ticket.
fn place_teams(
    queue: &QueueConfig,
    config: &RoleConfig,
    tickets: &[FormTicket<'_>],
    members: &[Member<'_>],
    played: &[u8],
    roles: &[SmallVec<[u8; 2]>],
) -> Option<SmallVec<[u8; 16]>> {
    let teams = usize::from(queue.teams);
    let weight_of = |m: usize| -> f64 {
        if config.rating_per_role {
            members[m].roles.rating_in(played[m]).mu
        } else {
            tickets[members[m].ticket].rating
        }
    };
    let mut ticket_weight = vec![0.0_f64; tickets.len()];
    for m in 0..members.len() {
        ticket_weight[members[m].ticket] += weight_of(m);
    }
    let mut need: Vec<SmallVec<[u8; 8]>> = (0..teams)
        .map(|_| config.composition.iter().map(|slot| slot.count).collect())
        .collect();
    let mut sums = vec![0.0_f64; teams];
    let mut team_of: SmallVec<[u8; 16]> = SmallVec::from_elem(0, tickets.len());
    let mut parties: Vec<usize> = (0..tickets.len())
        .filter(|&t| tickets[t].size > 1)
        .collect();
    parties.sort_by(|a, b| {
        tickets[*b]
            .size
            .cmp(&tickets[*a].size)
            .then(ticket_weight[*b].total_cmp(&ticket_weight[*a]))
            .then(a.cmp(b))
    });
    let mut budget = PLACE_BUDGET;
    let mut state = Placement {
        need: &mut need,
        sums: &mut sums,
        team_of: &mut team_of,
    };
    if !state.place_parties(&parties, roles, &ticket_weight, &mut budget) {
        return None;
    }
    let solos: Vec<usize> = (0..tickets.len())
        .filter(|&t| tickets[t].size == 1)
        .collect();
    for role in 0..config.composition.len() as u8 {
        let mut of_role: Vec<usize> = solos
            .iter()
            .copied()
            .filter(|&t| roles[t][0] == role)
            .collect();
        of_role.sort_by(|a, b| {
            ticket_weight[*b]
                .total_cmp(&ticket_weight[*a])
                .then(a.cmp(b))
        });
        for ticket in of_role {
            let team = (0..teams)
                .filter(|&team| state.need[team][usize::from(role)] > 0)
                .min_by(|a, b| state.sums[*a].total_cmp(&state.sums[*b]).then(a.cmp(b)))?;
            state.need[team][usize::from(role)] -= 1;
            state.sums[team] += ticket_weight[ticket];
            state.team_of[ticket] = team as u8;
        }
    }
    polish(&solos, roles, &ticket_weight, &mut sums, &mut team_of);
    Some(team_of)
}

struct Placement<'s> {
    need: &'s mut Vec<SmallVec<[u8; 8]>>,
    sums: &'s mut Vec<f64>,
    team_of: &'s mut SmallVec<[u8; 16]>,
}

impl Placement<'_> {
    /// Places parties depth-first, lightest fitting team first.
    fn place_parties(
        &mut self,
        parties: &[usize],
        roles: &[SmallVec<[u8; 2]>],
        weight: &[f64],
        budget: &mut u32,
    ) -> bool {
        let Some((&party, rest)) = parties.split_first() else {
            return true;
        };
        let mut teams: SmallVec<[usize; 8]> = (0..self.need.len())
            .filter(|&team| {
                roles[party].iter().enumerate().all(|(i, role)| {
                    let wanted = roles[party][..=i].iter().filter(|r| *r == role).count();
                    usize::from(self.need[team][usize::from(*role)]) >= wanted
                })
            })
            .collect();
        teams.sort_by(|a, b| self.sums[*a].total_cmp(&self.sums[*b]).then(a.cmp(b)));
        for team in teams {
            if *budget == 0 {
                return false;
            }
            *budget -= 1;
            for role in &roles[party] {
                self.need[team][usize::from(*role)] -= 1;
            }
            self.sums[team] += weight[party];
            self.team_of[party] = team as u8;
            if self.place_parties(rest, roles, weight, budget) {
                return true;
            }
            self.sums[team] -= weight[party];
            for role in &roles[party] {
                self.need[team][usize::from(*role)] += 1;
            }
        }
        false
    }
}

/// Swaps same-role solos between the heaviest and the lightest team while that narrows
/// their gap.
fn polish(
    solos: &[usize],
    roles: &[SmallVec<[u8; 2]>],
    weight: &[f64],
    sums: &mut [f64],
    team_of: &mut [u8],
) {
    let teams = sums.len();
    for _ in 0..POLISH_ROUNDS {
        let heavy = (0..teams).max_by(|a, b| sums[*a].total_cmp(&sums[*b]).then(b.cmp(a)));
        let light = (0..teams).min_by(|a, b| sums[*a].total_cmp(&sums[*b]).then(a.cmp(b)));
        let (Some(heavy), Some(light)) = (heavy, light) else {
            return;
        };
        let gap = sums[heavy] - sums[light];
        let mut best: Option<(f64, usize, usize)> = None;
        for &p in solos.iter().filter(|&&p| usize::from(team_of[p]) == heavy) {
            for &q in solos.iter().filter(|&&q| usize::from(team_of[q]) == light) {
                if roles[p][0] != roles[q][0] {
                    continue;
                }
                let new_gap = (gap - 2.0 * (weight[p] - weight[q])).abs();
                if new_gap < gap && best.is_none_or(|(b, _, _)| new_gap < b) {
                    best = Some((new_gap, p, q));
                }
            }
        }
        let Some((_, p, q)) = best else {
            return;
        };
        sums[heavy] += weight[q] - weight[p];
        sums[light] += weight[p] - weight[q];
        team_of.swap(p, q);
    }
}
