//! Team formation: packing whole parties into teams of an exact size, and splitting a match's
//! parties into teams whose total ratings are as close as possible.
//!
//! A party is never split. Small matches are split exactly (every assignment is tried; 5v5 of
//! solos has 126 distinct splits); larger ones use a Karmarkar-Karp-style differencing
//! heuristic with team capacities, polished by swapping equal-size parties between the heaviest
//! and lightest teams. Every search here is bounded and deterministic (ties go to the first
//! candidate in a fixed order).

use smallvec::SmallVec;

/// Per-match scratch sized for common formats without touching the heap.
type Small<T> = SmallVec<[T; 16]>;

/// One party of a match, as team formation sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct PartySlot {
    /// Players in the party.
    pub size: u8,
    /// The party's contribution to its team's rating (its combined rating times its size).
    pub weight: f64,
}

/// Search nodes a packing search may visit before it gives up (and reports "cannot pack").
const PACK_NODE_BUDGET: u32 = 20_000;
/// Complete splits the exact search may score before it settles for the best so far.
pub(crate) const EXACT_SPLIT_LEAF_BUDGET: u32 = 50_000;
/// Rounds of swap polishing after the heuristic.
const POLISH_ROUNDS: usize = 64;

/// An assignment of parties (by their index) to teams that respects `team_size`, if one is found.
/// Teams need not be full. Searches exhaustively within a node budget, so a "no" for an awkward
/// mix of large parties may be a false negative, never a false yes.
pub(crate) fn pack(sizes: &[u8], teams: usize, team_size: u8) -> Option<Small<u8>> {
    let total: usize = sizes.iter().map(|size| usize::from(*size)).sum();
    if total > teams * usize::from(team_size) || sizes.iter().any(|size| *size > team_size) {
        return None;
    }
    if sizes.iter().all(|size| *size == 1) {
        // Solos: fill team after team.
        return Some(
            (0..sizes.len())
                .map(|index| (index / usize::from(team_size)) as u8)
                .collect(),
        );
    }
    let order = order_by_size(sizes, None);
    let mut remaining: Small<u8> = SmallVec::from_elem(team_size, teams);
    let mut assignment: Small<u8> = SmallVec::from_elem(0, sizes.len());
    let mut budget = PACK_NODE_BUDGET;
    pack_from(
        &order,
        sizes,
        0,
        &mut remaining,
        &mut assignment,
        &mut budget,
    )
    .then_some(assignment)
}

fn pack_from(
    order: &[usize],
    sizes: &[u8],
    position: usize,
    remaining: &mut [u8],
    assignment: &mut [u8],
    budget: &mut u32,
) -> bool {
    let Some(&party) = order.get(position) else {
        return true;
    };
    let size = sizes[party];
    for team in 0..remaining.len() {
        // Teams with the same room left are interchangeable: try only the first.
        if remaining[team] < size || remaining[..team].contains(&remaining[team]) {
            continue;
        }
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        remaining[team] -= size;
        assignment[party] = team as u8;
        if pack_from(order, sizes, position + 1, remaining, assignment, budget) {
            return true;
        }
        remaining[team] += size;
    }
    false
}

/// Party indices, largest party first, then heaviest, then by index.
fn order_by_size(sizes: &[u8], weights: Option<&[f64]>) -> Small<usize> {
    let mut order: Small<usize> = (0..sizes.len()).collect();
    order.sort_by(|a, b| {
        sizes[*b].cmp(&sizes[*a]).then_with(|| match weights {
            Some(weights) => weights[*b].total_cmp(&weights[*a]).then(a.cmp(b)),
            None => a.cmp(b),
        })
    });
    order
}

/// Splits parties into `teams` full teams of `team_size`, minimising the gap between the
/// heaviest and lightest team. Returns each party's team. `None` if no split into full teams
/// was found. The caller guarantees the sizes add up to `teams * team_size`.
pub(crate) fn split(
    parties: &[PartySlot],
    teams: usize,
    team_size: u8,
    exact_max: u8,
) -> Option<Small<u8>> {
    debug_assert_eq!(
        parties.iter().map(|p| usize::from(p.size)).sum::<usize>(),
        teams * usize::from(team_size)
    );
    if parties.len() <= usize::from(exact_max)
        && let Some(assignment) = split_exact(parties, teams, team_size)
    {
        return Some(assignment);
    }
    let mut assignment = split_differencing(parties, teams, team_size).or_else(|| {
        let sizes: Small<u8> = parties.iter().map(|p| p.size).collect();
        pack(&sizes, teams, team_size)
    })?;
    polish(parties, teams, &mut assignment);
    Some(assignment)
}

/// The spread (heaviest minus lightest team) of an assignment.
#[cfg(test)]
fn spread(parties: &[PartySlot], teams: usize, assignment: &[u8]) -> f64 {
    let sums = team_sums(parties, teams, assignment);
    let max = sums.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = sums.iter().copied().fold(f64::INFINITY, f64::min);
    max - min
}

fn team_sums(parties: &[PartySlot], teams: usize, assignment: &[u8]) -> Small<f64> {
    let mut sums: Small<f64> = SmallVec::from_elem(0.0, teams);
    for (party, team) in parties.iter().zip(assignment) {
        sums[usize::from(*team)] += party.weight;
    }
    sums
}

/// Every split into full teams, within a leaf budget; the one with the smallest spread.
fn split_exact(parties: &[PartySlot], teams: usize, team_size: u8) -> Option<Small<u8>> {
    let sizes: Small<u8> = parties.iter().map(|p| p.size).collect();
    let weights: Small<f64> = parties.iter().map(|p| p.weight).collect();
    let mut search = ExactSearch {
        order: order_by_size(&sizes, Some(&weights)),
        parties,
        remaining: SmallVec::from_elem(team_size, teams),
        sums: SmallVec::from_elem(0.0, teams),
        assignment: SmallVec::from_elem(0, parties.len()),
        best: SmallVec::new(),
        best_spread: f64::INFINITY,
        leaves_left: EXACT_SPLIT_LEAF_BUDGET,
        team_size,
    };
    search.run(0);
    (!search.best.is_empty()).then_some(search.best)
}

struct ExactSearch<'a> {
    order: Small<usize>,
    parties: &'a [PartySlot],
    remaining: Small<u8>,
    /// Each team's total along the current path (restored exactly on the way back: each
    /// level saves the value it overwrites).
    sums: Small<f64>,
    assignment: Small<u8>,
    best: Small<u8>,
    best_spread: f64,
    leaves_left: u32,
    team_size: u8,
}

impl ExactSearch<'_> {
    fn done(&self) -> bool {
        self.leaves_left == 0 || self.best_spread <= 0.0
    }

    fn run(&mut self, position: usize) {
        let Some(&party) = self.order.get(position) else {
            self.score_leaf();
            return;
        };
        let size = self.parties[party].size;
        for team in 0..self.remaining.len() {
            if self.done() {
                return;
            }
            if self.remaining[team] < size {
                continue;
            }
            // Empty teams are interchangeable: only the first empty team is tried.
            if self.remaining[team] == self.team_size
                && self.remaining[..team].contains(&self.team_size)
            {
                continue;
            }
            let saved = self.sums[team];
            self.sums[team] = saved + self.parties[party].weight;
            self.remaining[team] -= size;
            self.assignment[party] = team as u8;
            self.run(position + 1);
            self.remaining[team] += size;
            self.sums[team] = saved;
        }
    }

    fn score_leaf(&mut self) {
        self.leaves_left = self.leaves_left.saturating_sub(1);
        let max = self.sums.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let min = self.sums.iter().copied().fold(f64::INFINITY, f64::min);
        let spread = max - min;
        if spread < self.best_spread {
            self.best_spread = spread;
            self.best.clone_from(&self.assignment);
        }
    }
}

/// One team of a partial solution in the differencing heuristic.
#[derive(Clone, Debug, Default)]
struct Bucket {
    size: u16,
    weight: f64,
    parties: Vec<usize>,
}

/// Karmarkar-Karp differencing for `teams` teams with capacities. Every party starts as a
/// partial solution with the party in one team and the others empty. Repeatedly, the two
/// partial solutions with the largest spread are merged, pairing the heaviest team of one with
/// the lightest team of the other that still has room, which cancels their differences. `None`
/// if capacities block a merge.
fn split_differencing(parties: &[PartySlot], teams: usize, team_size: u8) -> Option<Small<u8>> {
    let mut solutions: Vec<Vec<Bucket>> = parties
        .iter()
        .enumerate()
        .map(|(index, party)| {
            let mut buckets = vec![Bucket::default(); teams];
            buckets[0] = Bucket {
                size: u16::from(party.size),
                weight: party.weight,
                parties: vec![index],
            };
            buckets
        })
        .collect();
    let bucket_spread = |buckets: &[Bucket]| {
        let max = buckets
            .iter()
            .map(|b| b.weight)
            .fold(f64::NEG_INFINITY, f64::max);
        let min = buckets
            .iter()
            .map(|b| b.weight)
            .fold(f64::INFINITY, f64::min);
        max - min
    };
    while solutions.len() > 1 {
        // The two largest spreads; ties keep the earlier solution (stable, deterministic).
        solutions.sort_by(|a, b| bucket_spread(b).total_cmp(&bucket_spread(a)));
        let mut first = solutions.remove(0);
        let mut second = solutions.remove(0);
        first.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        second.sort_by(|a, b| a.weight.total_cmp(&b.weight));
        let mut used = vec![false; teams];
        let mut merged = Vec::with_capacity(teams);
        for heavy in first {
            let partner = (0..teams).find(|&candidate| {
                !used[candidate] && heavy.size + second[candidate].size <= u16::from(team_size)
            })?;
            used[partner] = true;
            let light = &second[partner];
            let mut parties = heavy.parties;
            parties.extend_from_slice(&light.parties);
            merged.push(Bucket {
                size: heavy.size + light.size,
                weight: heavy.weight + light.weight,
                parties,
            });
        }
        solutions.push(merged);
    }
    let solution = solutions.pop()?;
    if solution
        .iter()
        .any(|bucket| bucket.size != u16::from(team_size))
    {
        return None;
    }
    let mut assignment: Small<u8> = SmallVec::from_elem(0, parties.len());
    for (team, bucket) in solution.iter().enumerate() {
        for party in &bucket.parties {
            assignment[*party] = team as u8;
        }
    }
    Some(assignment)
}

/// Swaps equal-size parties between the heaviest and the lightest team while that narrows
/// their gap.
fn polish(parties: &[PartySlot], teams: usize, assignment: &mut [u8]) {
    for _ in 0..POLISH_ROUNDS {
        let sums = team_sums(parties, teams, assignment);
        let heavy = (0..teams).max_by(|a, b| sums[*a].total_cmp(&sums[*b]).then(b.cmp(a)));
        let light = (0..teams).min_by(|a, b| sums[*a].total_cmp(&sums[*b]).then(a.cmp(b)));
        let (Some(heavy), Some(light)) = (heavy, light) else {
            return;
        };
        let gap = sums[heavy] - sums[light];
        let mut best: Option<(f64, usize, usize)> = None;
        for (p, party) in parties.iter().enumerate() {
            if usize::from(assignment[p]) != heavy {
                continue;
            }
            for (q, other) in parties.iter().enumerate() {
                if usize::from(assignment[q]) != light || other.size != party.size {
                    continue;
                }
                let new_gap = (gap - 2.0 * (party.weight - other.weight)).abs();
                if new_gap < gap && best.is_none_or(|(best_gap, _, _)| new_gap < best_gap) {
                    best = Some((new_gap, p, q));
                }
            }
        }
        let Some((_, p, q)) = best else {
            return;
        };
        assignment.swap(p, q);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solos(weights: &[f64]) -> Vec<PartySlot> {
        weights
            .iter()
            .map(|weight| PartySlot {
                size: 1,
                weight: *weight,
            })
            .collect()
    }

    fn check_full(parties: &[PartySlot], teams: usize, team_size: u8, assignment: &[u8]) {
        let mut counts = vec![0_u32; teams];
        for (party, team) in parties.iter().zip(assignment) {
            counts[usize::from(*team)] += u32::from(party.size);
        }
        assert!(
            counts.iter().all(|count| *count == u32::from(team_size)),
            "{counts:?}"
        );
    }

    #[test]
    fn exact_split_of_ten_solos_is_optimal() {
        let parties = solos(&[
            1500.0, 1510.0, 1490.0, 1700.0, 1300.0, 1620.0, 1380.0, 1555.0, 1445.0, 1500.0,
        ]);
        let assignment = split(&parties, 2, 5, 10).unwrap();
        check_full(&parties, 2, 5, &assignment);
        // Brute force over all 2^10 assignments with 5 per team.
        let mut best = f64::INFINITY;
        for mask in 0_u32..1024 {
            if mask.count_ones() != 5 {
                continue;
            }
            let a: Vec<u8> = (0..10).map(|i| ((mask >> i) & 1) as u8).collect();
            best = best.min(spread(&parties, 2, &a));
        }
        assert_eq!(spread(&parties, 2, &assignment), best);
    }

    #[test]
    fn parties_stay_whole() {
        let parties = vec![
            PartySlot {
                size: 3,
                weight: 4800.0,
            },
            PartySlot {
                size: 2,
                weight: 3000.0,
            },
            PartySlot {
                size: 2,
                weight: 3100.0,
            },
            PartySlot {
                size: 1,
                weight: 1500.0,
            },
            PartySlot {
                size: 1,
                weight: 1400.0,
            },
            PartySlot {
                size: 1,
                weight: 1600.0,
            },
        ];
        for exact_max in [0, 10] {
            let assignment = split(&parties, 2, 5, exact_max).unwrap();
            check_full(&parties, 2, 5, &assignment);
        }
    }

    #[test]
    fn impossible_packings_are_refused() {
        // 4 + 4 + 2 cannot make two teams of 5.
        assert!(pack(&[4, 4, 2], 2, 5).is_none());
        assert!(pack(&[4, 1, 4, 1], 2, 5).is_some());
        assert!(pack(&[6], 2, 5).is_none());
        let parties = vec![
            PartySlot {
                size: 4,
                weight: 1.0,
            },
            PartySlot {
                size: 4,
                weight: 1.0,
            },
            PartySlot {
                size: 2,
                weight: 1.0,
            },
        ];
        assert!(split(&parties, 2, 5, 10).is_none());
        assert!(split(&parties, 2, 5, 0).is_none());
    }

    #[test]
    fn heuristic_is_close_to_exact_on_large_matches() {
        // 16 v 16 of solos, spread ratings; the heuristic must balance to within one rating step.
        let weights: Vec<f64> = (0..32).map(|i| 1000.0 + f64::from(i) * 37.0).collect();
        let parties = solos(&weights);
        let assignment = split(&parties, 2, 16, 0).unwrap();
        check_full(&parties, 2, 16, &assignment);
        assert!(spread(&parties, 2, &assignment) <= 37.0);
    }

    #[test]
    fn three_teams_of_three_with_parties() {
        let parties = vec![
            PartySlot {
                size: 3,
                weight: 4500.0,
            },
            PartySlot {
                size: 2,
                weight: 3100.0,
            },
            PartySlot {
                size: 1,
                weight: 1450.0,
            },
            PartySlot {
                size: 1,
                weight: 1500.0,
            },
            PartySlot {
                size: 1,
                weight: 1550.0,
            },
            PartySlot {
                size: 1,
                weight: 1400.0,
            },
        ];
        let exact = split(&parties, 3, 3, 10).unwrap();
        check_full(&parties, 3, 3, &exact);
        let heuristic = split(&parties, 3, 3, 0).unwrap();
        check_full(&parties, 3, 3, &heuristic);
        assert!(spread(&parties, 3, &exact) <= spread(&parties, 3, &heuristic));
    }
}
