//! Rating math: match quality and rating updates, through the `skillratings` crate, plus how a
//! party's ratings combine. Ratings live on the MMR scale (1500 +- 500 for a new player); the
//! Weng-Lin and TrueSkill formulas are scale-free once beta is scaled with them (see
//! `RatingConfig::beta`), and Glicko-2 uses this scale natively.

use serde::{Deserialize, Serialize};
use skillratings::{
    MultiTeamOutcome, Outcomes,
    glicko2::{Glicko2Config, Glicko2Rating, glicko2_rating_period},
    trueskill::{TrueSkillConfig, TrueSkillRating, match_quality_two_teams, trueskill_multi_team},
    weng_lin::{WengLinConfig, WengLinRating, weng_lin_multi_team},
};
use smallvec::SmallVec;

use crate::config::{PartyRating, RatingConfig, RatingSystem};

/// A player's rating in one game mode.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rating {
    /// The estimated skill, in MMR.
    pub mu: f64,
    /// The uncertainty of `mu` (one standard deviation), in MMR.
    pub sigma: f64,
    /// Glicko-2's volatility; unused by the other systems. Default: 0.06.
    #[serde(default = "default_volatility")]
    pub volatility: f64,
}

fn default_volatility() -> f64 {
    0.06
}

impl Rating {
    /// A rating with the default volatility.
    pub const fn new(mu: f64, sigma: f64) -> Self {
        Self {
            mu,
            sigma,
            volatility: 0.06,
        }
    }

    /// Whether the numbers make sense: sigma and volatility above zero, and everything inside
    /// generous bounds (|mu| <= 1e6, sigma <= 1e5, volatility <= 10) so that the rating
    /// formulas stay finite and sums over a match stay exact enough.
    pub fn is_valid(&self) -> bool {
        self.mu.is_finite()
            && self.mu.abs() <= 1e6
            && self.sigma.is_finite()
            && self.sigma > 0.0
            && self.sigma <= 1e5
            && self.volatility.is_finite()
            && self.volatility > 0.0
            && self.volatility <= 10.0
    }

    fn trueskill(&self) -> TrueSkillRating {
        TrueSkillRating {
            rating: self.mu,
            uncertainty: self.sigma,
        }
    }
}

/// A party's (or solo's) combined rating: the centre of its skill window.
pub fn party_rating(aggregation: PartyRating, members: &[Rating]) -> f64 {
    debug_assert!(!members.is_empty(), "a ticket has at least one member");
    let count = members.len() as f64;
    let mean = members.iter().map(|rating| rating.mu).sum::<f64>() / count;
    let max = members
        .iter()
        .map(|rating| rating.mu)
        .fold(f64::NEG_INFINITY, f64::max);
    match aggregation {
        PartyRating::Mean => mean,
        PartyRating::Max => max,
        PartyRating::Strongest { weight } => weight * max + (1.0 - weight) * mean,
    }
}

/// The root mean square of the members' sigmas: the ticket's uncertainty.
pub(crate) fn party_sigma(members: &[Rating]) -> f64 {
    let count = members.len() as f64;
    (members
        .iter()
        .map(|rating| rating.sigma * rating.sigma)
        .sum::<f64>()
        / count)
        .sqrt()
}

/// The quality of a match: the probability of a draw between the teams under the TrueSkill
/// model (Herbrich et al.), in `[0, 1]`. Two teams use the closed form; more teams the matrix
/// form over adjacent team differences, whose matrices are tridiagonal, so determinants and
/// the solve take `O(teams)` (`multi_team_quality`): a 100-team free-for-all costs what its
/// players do. Anything that is not a number counts as 0.
pub fn match_quality<Team: AsRef<[Rating]>>(teams: &[Team], beta: f64) -> f64 {
    let quality = match teams {
        [one, two] => {
            let config = TrueSkillConfig {
                beta,
                ..TrueSkillConfig::new()
            };
            let convert = |team: &Team| -> SmallVec<[TrueSkillRating; 16]> {
                team.as_ref().iter().map(Rating::trueskill).collect()
            };
            match_quality_two_teams(&convert(one), &convert(two), &config)
        }
        _ => multi_team_quality(teams, beta),
    };
    if quality.is_finite() {
        quality.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// TrueSkill's draw probability for any number of teams:
/// `sqrt(det(b2 AtA) / det(b2 AtA + At S A)) * exp(-1/2 dt (b2 AtA + At S A)^-1 d)`, with `A`
/// the players-by-(teams - 1) matrix of adjacent team differences, `S` the players'
/// variances and `d = At mu` the adjacent differences of team sums. Both matrices are
/// tridiagonal (column `j` touches teams `j` and `j + 1` only), so the determinants are
/// products of pivots (summed as logarithms, which cannot overflow) and the solve is the
/// Thomas algorithm.
fn multi_team_quality<Team: AsRef<[Rating]>>(teams: &[Team], beta: f64) -> f64 {
    let beta2 = beta * beta;
    // Per team: players, sum of mu, sum of sigma squared.
    let sums: SmallVec<[(f64, f64, f64); 16]> = teams
        .iter()
        .map(|team| {
            let team = team.as_ref();
            (
                team.len() as f64,
                team.iter().map(|r| r.mu).sum(),
                team.iter().map(|r| r.sigma * r.sigma).sum(),
            )
        })
        .collect();
    let k = sums.len().saturating_sub(1);
    if k == 0 {
        return 1.0;
    }
    // Diagonals and off-diagonals of b2 AtA (`plain`) and b2 AtA + At S A (`full`).
    let plain_diag = |j: usize| beta2 * (sums[j].0 + sums[j + 1].0);
    let plain_off = |j: usize| -beta2 * sums[j + 1].0;
    let full_diag = |j: usize| plain_diag(j) + sums[j].2 + sums[j + 1].2;
    let full_off = |j: usize| plain_off(j) - sums[j + 1].2;
    let mut log_ratio = 0.0;
    let (mut plain_pivot, mut full_pivot) = (0.0_f64, 0.0_f64);
    // Forward elimination of `full` for the solve: pivots and the eliminated right side.
    let mut pivots: SmallVec<[f64; 16]> = SmallVec::with_capacity(k);
    let mut rhs: SmallVec<[f64; 16]> = SmallVec::with_capacity(k);
    for j in 0..k {
        let d = sums[j].1 - sums[j + 1].1;
        if j == 0 {
            plain_pivot = plain_diag(0);
            full_pivot = full_diag(0);
            rhs.push(d);
        } else {
            let (po, fo) = (plain_off(j - 1), full_off(j - 1));
            plain_pivot = plain_diag(j) - po * po / plain_pivot;
            let factor = fo / full_pivot;
            full_pivot = full_diag(j) - fo * factor;
            rhs.push(d - factor * rhs[j - 1]);
        }
        if plain_pivot <= 0.0 || full_pivot <= 0.0 {
            return 0.0;
        }
        log_ratio += plain_pivot.ln() - full_pivot.ln();
        pivots.push(full_pivot);
    }
    // Back substitution: x = full^-1 d; the exponent needs dt x.
    let mut x: SmallVec<[f64; 16]> = SmallVec::from_elem(0.0, k);
    for j in (0..k).rev() {
        let above = if j + 1 < k {
            full_off(j) * x[j + 1]
        } else {
            0.0
        };
        x[j] = (rhs[j] - above) / pivots[j];
    }
    let quadratic: f64 = (0..k).map(|j| (sums[j].1 - sums[j + 1].1) * x[j]).sum();
    (0.5 * log_ratio - 0.5 * quadratic).exp()
}

/// New ratings after a result. `placements[t]` is team `t`'s place (1 is best; equal places are
/// draws). Returns the new ratings in the same shape as `teams`. The caller checks that there
/// is one placement per team and that every team has a player.
pub fn rate(teams: &[Vec<Rating>], placements: &[u32], config: &RatingConfig) -> Vec<Vec<Rating>> {
    debug_assert_eq!(teams.len(), placements.len());
    match config.system {
        RatingSystem::WengLin => rate_weng_lin(teams, placements, config),
        RatingSystem::TrueSkill => rate_trueskill(teams, placements, config),
        RatingSystem::Glicko2 => rate_glicko2(teams, placements, config),
    }
}

fn rate_weng_lin(
    teams: &[Vec<Rating>],
    placements: &[u32],
    config: &RatingConfig,
) -> Vec<Vec<Rating>> {
    let converted: Vec<Vec<WengLinRating>> = teams
        .iter()
        .map(|team| {
            team.iter()
                .map(|rating| WengLinRating {
                    rating: rating.mu,
                    uncertainty: rating.sigma,
                })
                .collect()
        })
        .collect();
    let input: Vec<(&[WengLinRating], MultiTeamOutcome)> = converted
        .iter()
        .zip(placements)
        .map(|(team, place)| (team.as_slice(), MultiTeamOutcome::new(*place as usize)))
        .collect();
    let weng_lin = WengLinConfig {
        beta: config.beta,
        ..WengLinConfig::new()
    };
    let updated = weng_lin_multi_team(&input, &weng_lin);
    merge(teams, updated, |old, new| Rating {
        mu: new.rating,
        sigma: new.uncertainty,
        volatility: old.volatility,
    })
}

fn rate_trueskill(
    teams: &[Vec<Rating>],
    placements: &[u32],
    config: &RatingConfig,
) -> Vec<Vec<Rating>> {
    let converted: Vec<Vec<TrueSkillRating>> = teams
        .iter()
        .map(|team| team.iter().map(Rating::trueskill).collect())
        .collect();
    let input: Vec<(&[TrueSkillRating], MultiTeamOutcome)> = converted
        .iter()
        .zip(placements)
        .map(|(team, place)| (team.as_slice(), MultiTeamOutcome::new(*place as usize)))
        .collect();
    let trueskill = TrueSkillConfig {
        draw_probability: config.draw_probability,
        beta: config.beta,
        dynamics_factor: config.dynamics,
    };
    // Weights are only rejected when given; none are.
    let updated = trueskill_multi_team(&input, &trueskill, None).unwrap_or(converted);
    merge(teams, updated, |old, new| Rating {
        mu: new.rating,
        sigma: new.uncertainty,
        volatility: old.volatility,
    })
}

/// Glicko-2 rates one player against opponents. Each player here plays one "game" against each
/// other team, represented by a composite opponent: the team's mean rating and root mean square
/// deviation. Win, loss or draw comes from the placements.
fn rate_glicko2(
    teams: &[Vec<Rating>],
    placements: &[u32],
    config: &RatingConfig,
) -> Vec<Vec<Rating>> {
    let glicko2 = Glicko2Config {
        tau: config.glicko2_tau,
        ..Glicko2Config::new()
    };
    let composites: Vec<Glicko2Rating> = teams
        .iter()
        .map(|team| {
            let count = team.len() as f64;
            Glicko2Rating {
                rating: team.iter().map(|r| r.mu).sum::<f64>() / count,
                deviation: (team.iter().map(|r| r.sigma * r.sigma).sum::<f64>() / count).sqrt(),
                volatility: team.iter().map(|r| r.volatility).sum::<f64>() / count,
            }
        })
        .collect();
    teams
        .iter()
        .enumerate()
        .map(|(index, team)| {
            let results: Vec<(Glicko2Rating, Outcomes)> = composites
                .iter()
                .enumerate()
                .filter(|(other, _)| *other != index)
                .map(|(other, composite)| {
                    let outcome = match placements[index].cmp(&placements[other]) {
                        core::cmp::Ordering::Less => Outcomes::WIN,
                        core::cmp::Ordering::Equal => Outcomes::DRAW,
                        core::cmp::Ordering::Greater => Outcomes::LOSS,
                    };
                    (*composite, outcome)
                })
                .collect();
            team.iter()
                .map(|player| {
                    let before = Glicko2Rating {
                        rating: player.mu,
                        deviation: player.sigma,
                        volatility: player.volatility,
                    };
                    let after = glicko2_rating_period(&before, &results, &glicko2);
                    let rating = Rating {
                        mu: after.rating,
                        sigma: after.deviation,
                        volatility: after.volatility,
                    };
                    // As in `merge`: never poison a rating with a non-finite result.
                    if rating.is_valid() { rating } else { *player }
                })
                .collect()
        })
        .collect()
}

/// Puts updated values back in the teams' shape; a result that is not a finite number keeps the
/// old rating (a rating update must never poison a player's rating with NaN).
fn merge<T>(
    teams: &[Vec<Rating>],
    updated: Vec<Vec<T>>,
    convert: impl Fn(&Rating, &T) -> Rating,
) -> Vec<Vec<Rating>> {
    teams
        .iter()
        .zip(updated)
        .map(|(team, new_team)| {
            team.iter()
                .zip(new_team.iter())
                .map(|(old, new)| {
                    let rating = convert(old, new);
                    if rating.is_valid() { rating } else { *old }
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn multi_team_quality_agrees_with_the_matrix_form() {
        use skillratings::trueskill::match_quality_multi_team;
        let teams: Vec<Vec<Rating>> = vec![
            vec![Rating::new(1500.0, 200.0), Rating::new(1620.0, 90.0)],
            vec![Rating::new(1480.0, 150.0), Rating::new(1555.0, 300.0)],
            vec![Rating::new(1700.0, 60.0), Rating::new(1300.0, 120.0)],
            vec![Rating::new(1510.0, 100.0), Rating::new(1490.0, 100.0)],
            vec![Rating::new(1400.0, 250.0), Rating::new(1650.0, 80.0)],
        ];
        let config = TrueSkillConfig {
            beta: 250.0,
            ..TrueSkillConfig::new()
        };
        for count in 3..=teams.len() {
            let converted: Vec<Vec<TrueSkillRating>> = teams[..count]
                .iter()
                .map(|team| team.iter().map(Rating::trueskill).collect())
                .collect();
            let slices: Vec<&[TrueSkillRating]> = converted.iter().map(Vec::as_slice).collect();
            let expected = match_quality_multi_team(&slices, &config, None).unwrap();
            let got = match_quality(&teams[..count], 250.0);
            assert!(
                (got - expected).abs() < 1e-9,
                "{count} teams: {got} vs {expected}"
            );
        }
        // A 100-team free-for-all of equal players is computable and in range.
        let ffa: Vec<Vec<Rating>> = (0..100).map(|_| vec![Rating::new(1500.0, 100.0)]).collect();
        let quality = match_quality(&ffa, 250.0);
        assert!((0.0..=1.0).contains(&quality) && quality > 0.0, "{quality}");
    }

    use super::*;

    fn solo(mu: f64, sigma: f64) -> Vec<Rating> {
        vec![Rating::new(mu, sigma)]
    }

    #[test]
    fn equal_players_make_better_matches_than_unequal_ones() {
        let even = match_quality(&[solo(1500.0, 100.0), solo(1500.0, 100.0)], 250.0);
        let uneven = match_quality(&[solo(1500.0, 100.0), solo(1900.0, 100.0)], 250.0);
        assert!(even > uneven, "{even} vs {uneven}");
        // sqrt(2 b^2 / (2 b^2 + 2 s^2)) with b = 250, s = 100.
        assert!((even - (125_000.0_f64 / 145_000.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn quality_scales_like_the_original_trueskill_numbers() {
        // The same match on TrueSkill's own scale (mu 25, beta 25/6) and ours (x60).
        let ours = match_quality(&[solo(1500.0, 500.0), solo(1560.0, 400.0)], 250.0);
        let theirs = match_quality(
            &[solo(25.0, 500.0 / 60.0), solo(26.0, 400.0 / 60.0)],
            25.0 / 6.0,
        );
        assert!((ours - theirs).abs() < 1e-12);
    }

    #[test]
    fn three_team_quality_is_a_probability() {
        let teams = [
            solo(1500.0, 100.0),
            solo(1520.0, 100.0),
            solo(1480.0, 100.0),
        ];
        let quality = match_quality(&teams, 250.0);
        assert!(quality > 0.0 && quality <= 1.0, "{quality}");
    }

    #[test]
    fn winners_go_up_and_losers_down_in_every_system() {
        for system in [
            RatingSystem::WengLin,
            RatingSystem::TrueSkill,
            RatingSystem::Glicko2,
        ] {
            let config = RatingConfig {
                system,
                ..RatingConfig::default()
            };
            let teams = vec![
                vec![Rating::new(1500.0, 300.0), Rating::new(1400.0, 300.0)],
                vec![Rating::new(1450.0, 300.0), Rating::new(1450.0, 300.0)],
            ];
            let after = rate(&teams, &[1, 2], &config);
            for (before, after) in teams[0].iter().zip(&after[0]) {
                assert!(
                    after.mu > before.mu,
                    "{system:?}: winner {before:?} -> {after:?}"
                );
                assert!(after.sigma < before.sigma, "{system:?}: sigma shrinks");
            }
            for (before, after) in teams[1].iter().zip(&after[1]) {
                assert!(
                    after.mu < before.mu,
                    "{system:?}: loser {before:?} -> {after:?}"
                );
            }
        }
    }

    #[test]
    fn party_aggregation() {
        let members = [Rating::new(1000.0, 100.0), Rating::new(2000.0, 100.0)];
        assert_eq!(party_rating(PartyRating::Mean, &members), 1500.0);
        assert_eq!(party_rating(PartyRating::Max, &members), 2000.0);
        assert_eq!(
            party_rating(PartyRating::Strongest { weight: 0.5 }, &members),
            1750.0
        );
    }
}
