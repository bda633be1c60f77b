//! What a run measured: distributions kept in HdrHistograms (bounded memory however long the
//! run), exact sums for means, and the report written as `report.json`.
//!
//! Every number in the report comes from the run's events and the simulator's own knowledge
//! of true skill, in a fixed order, so the same run gives the same report byte for byte
//! (apart from `wall_s`, the only measurement of the machine).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// A distribution of non-negative values, kept at a fixed resolution (`1 / scale`).
#[derive(Clone, Debug)]
pub struct Dist {
    histogram: Histogram<u64>,
    scale: f64,
    sum: f64,
    count: u64,
    max: f64,
}

impl Dist {
    /// Values up to `max` at a resolution of `1 / scale`, three significant digits.
    pub fn new(max: f64, scale: f64) -> Self {
        let high = ((max * scale).ceil() as u64).max(2);
        Self {
            histogram: Histogram::new_with_max(high, 3)
                .expect("a histogram's bounds are fixed and valid"),
            scale,
            sum: 0.0,
            count: 0,
            max: 0.0,
        }
    }

    /// Records `value` `count` times (negative values count as 0; values past the maximum as
    /// the maximum; the mean and max stay exact).
    pub fn record_n(&mut self, value: f64, count: u64) {
        let value = if value.is_finite() {
            value.max(0.0)
        } else {
            0.0
        };
        self.histogram
            .saturating_record_n((value * self.scale).round() as u64, count);
        self.sum += value * count as f64;
        self.count += count;
        self.max = self.max.max(value);
    }

    /// Records `value` once.
    pub fn record(&mut self, value: f64) {
        self.record_n(value, 1);
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The exact mean (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }

    /// The value at quantile `q` in [0, 1] (0 when empty).
    pub fn quantile(&self, q: f64) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.histogram.value_at_quantile(q) as f64 / self.scale
        }
    }

    /// The largest value recorded.
    pub fn max(&self) -> f64 {
        self.max
    }

    /// Counts in `bins` equal bins from 0 to `upper`: (bin start, count). Values past `upper`
    /// fall in the last bin.
    pub fn bins(&self, upper: f64, bins: usize) -> Vec<(f64, u64)> {
        let bins = bins.max(1);
        let width = (upper / bins as f64).max(f64::MIN_POSITIVE);
        let mut counts = vec![0u64; bins];
        for value in self.histogram.iter_recorded() {
            let at = value.value_iterated_to() as f64 / self.scale;
            let index = ((at / width) as usize).min(bins - 1);
            counts[index] += value.count_at_value();
        }
        counts
            .into_iter()
            .enumerate()
            .map(|(index, count)| (index as f64 * width, count))
            .collect()
    }
}

/// Mean and tail quantiles of time to match, in seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TtmSummary {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Longest.
    pub max: f64,
}

/// Mean and the low tail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LowTail {
    /// Mean.
    pub mean: f64,
    /// 10th percentile.
    pub p10: f64,
}

/// Mean and the high tail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HighTail {
    /// Mean.
    pub mean: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// One slice of the run (a region or a queue).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    /// Matches formed (for a region: hosted there).
    pub matches: u64,
    /// Players matched (counted once per match).
    pub players_matched: u64,
    /// Time to match, in seconds, per matched player.
    pub ttm_s: TtmSummary,
    /// Match quality.
    pub quality: LowTail,
    /// Ping of matched players to the match's region, in ms.
    pub ping_ms: HighTail,
    /// Tickets that left their queue unmatched (for a region: by home region).
    pub abandoned: u64,
    /// `abandoned` over tickets that either matched or left.
    pub abandon_rate: f64,
}

/// Players matched into one role of a role queue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolePlay {
    /// Players matched into the role (counted once per match).
    pub players: u64,
    /// Of them, those whose first choice it was.
    pub first_choice: u64,
}

/// Everything `report.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The scenario's name.
    pub scenario: String,
    /// The matcher (`matchwright` or a baseline).
    pub matcher: String,
    /// The seed.
    pub seed: u64,
    /// Simulated time, in seconds.
    pub duration_s: f64,
    /// The tick interval, in ms.
    pub tick_ms: u64,
    /// Matches formed.
    pub matches: u64,
    /// Distinct players who came online.
    pub players: u64,
    /// Players matched, counted once per match.
    pub players_matched: u64,
    /// Tickets that entered a queue.
    pub tickets: u64,
    /// Time to match, in seconds, per matched player (waiting since the ticket first queued).
    pub ttm_s: TtmSummary,
    /// Match quality: the draw probability of the teams by their ratings, as the matcher sees
    /// it (`matchwright_ecs::rating::match_quality`, the same formula for every matcher).
    pub quality: LowTail,
    /// Difference between the strongest and the weakest team's mean true skill, in MMR.
    pub team_gap: HighTail,
    /// The favourite's chance to win, from true skill: the strongest team against the
    /// next-strongest (every team in a free-for-all is compared this way).
    pub favourite_win_prob: HighTail,
    /// Ping of matched players to the match's region, in ms.
    pub ping_ms: HighTail,
    /// Tickets that left their queue unmatched, over tickets that matched or left.
    pub abandon_rate: f64,
    /// Unmatched departures by reason (`cancelled`: the players ran out of patience).
    pub abandons: BTreeMap<String, u64>,
    /// Pearson correlation of players' final ratings with their true skill, over every
    /// (player, mode) with at least one rated game.
    pub rating_skill_corr: f64,
    /// Rated games.
    pub games_rated: u64,
    /// Sessions given up, by reason.
    pub sessions_abandoned: BTreeMap<String, u64>,
    /// Commands the matcher rejected, by reason.
    pub rejected: BTreeMap<String, u64>,
    /// Limits that deferred work, by limit (ticks in which each was hit).
    pub limits_reached: BTreeMap<String, u64>,
    /// Per queue, per check (a rule's name, `block_list` or `roles`): anchors that found no
    /// match after the check turned candidates away, summed over the ticks
    /// (`TickReport::turned_away`): how often each rule was a reason a ticket was not matched.
    /// Only Matchwright's matcher counts them; queues without rules have none.
    #[serde(default)]
    pub turned_away: BTreeMap<String, BTreeMap<String, u64>>,
    /// Queues the matcher queued tickets in but never matched, with why (a baseline that
    /// cannot keep a queue's rules skips it). Empty for Matchwright's matcher.
    #[serde(default)]
    pub skipped_queues: BTreeMap<String, String>,
    /// Per role queue, per role: players matched into it, and how many of them had it as
    /// their first choice.
    #[serde(default)]
    pub roles_played: BTreeMap<String, BTreeMap<String, RolePlay>>,
    /// Logins refused because every registered player was already online.
    pub logins_refused: u64,
    /// Players online: mean and peak over the samples.
    pub online_mean: f64,
    /// Peak players online.
    pub online_max: u64,
    /// Per region (matches by host region, abandons by home region).
    pub per_region: BTreeMap<String, Breakdown>,
    /// Per queue.
    pub per_queue: BTreeMap<String, Breakdown>,
    /// Ticks run.
    pub ticks: u64,
    /// Commands submitted.
    pub commands: u64,
    /// Events received.
    pub events: u64,
    /// The event stream's chain hash (`matchwright_ecs::EventChain`, hex): the same value the
    /// store's journal and a replay of this run's trace give.
    pub event_chain: String,
    /// Wall-clock time of the run, in seconds: the only field that changes between runs.
    pub wall_s: f64,
}

impl Report {
    /// Virtual seconds simulated per wall-clock second.
    pub fn speedup(&self) -> f64 {
        if self.wall_s > 0.0 {
            self.duration_s / self.wall_s
        } else {
            f64::INFINITY
        }
    }
}

/// The running tallies of one slice.
#[derive(Clone, Debug)]
pub struct Slice {
    /// Matches.
    pub matches: u64,
    /// Time to match per player, in ms.
    pub ttm_ms: Dist,
    /// Quality per match.
    pub quality: Dist,
    /// Ping per player, in ms.
    pub ping_ms: Dist,
    /// Unmatched departures.
    pub abandoned: u64,
    /// Tickets that matched.
    pub tickets_matched: u64,
}

impl Default for Slice {
    fn default() -> Self {
        Self {
            matches: 0,
            ttm_ms: ttm_dist(),
            quality: unit_dist(),
            ping_ms: Dist::new(70_000.0, 1.0),
            abandoned: 0,
            tickets_matched: 0,
        }
    }
}

/// A distribution of waiting times in ms (up to 30 days).
pub fn ttm_dist() -> Dist {
    Dist::new(30.0 * 24.0 * 3600.0 * 1000.0, 1.0)
}

/// A distribution of values in [0, 1], at a resolution of 1e-4.
pub fn unit_dist() -> Dist {
    Dist::new(1.0, 10_000.0)
}

impl Slice {
    /// The slice's summary.
    pub fn breakdown(&self) -> Breakdown {
        let left = self.tickets_matched + self.abandoned;
        Breakdown {
            matches: self.matches,
            players_matched: self.ttm_ms.count(),
            ttm_s: ttm_summary(&self.ttm_ms),
            quality: LowTail {
                mean: round(self.quality.mean()),
                p10: self.quality.quantile(0.10),
            },
            ping_ms: HighTail {
                mean: round(self.ping_ms.mean()),
                p99: self.ping_ms.quantile(0.99),
            },
            abandoned: self.abandoned,
            abandon_rate: ratio(self.abandoned, left),
        }
    }
}

/// Time to match in seconds from a distribution in ms.
pub fn ttm_summary(ttm_ms: &Dist) -> TtmSummary {
    TtmSummary {
        mean: round(ttm_ms.mean() / 1_000.0),
        p50: ttm_ms.quantile(0.50) / 1_000.0,
        p90: ttm_ms.quantile(0.90) / 1_000.0,
        p99: ttm_ms.quantile(0.99) / 1_000.0,
        max: ttm_ms.max() / 1_000.0,
    }
}

/// `part / whole`, 0 when `whole` is 0, rounded for reading.
pub fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        round(part as f64 / whole as f64)
    }
}

/// Rounds to 6 decimals: reports are read by people, and sums in a fixed order are exact
/// anyway.
pub fn round(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// Pearson correlation of pairs (0 when undefined).
pub fn correlation(pairs: impl Iterator<Item = (f64, f64)>) -> f64 {
    let (mut n, mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (x, y) in pairs {
        n += 1.0;
        sx += x;
        sy += y;
        sxx += x * x;
        syy += y * y;
        sxy += x * y;
    }
    let cov = n * sxy - sx * sy;
    let var = (n * sxx - sx * sx) * (n * syy - sy * sy);
    if n < 2.0 || var <= 0.0 {
        0.0
    } else {
        round(cov / var.sqrt())
    }
}

/// The standard normal CDF (Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7).
pub fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-z * z).exp();
    if x >= 0.0 {
        1.0 - 0.5 * erfc
    } else {
        0.5 * erfc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dist_keeps_exact_means_and_close_quantiles() {
        let mut dist = ttm_dist();
        for value in 1..=1000 {
            dist.record(f64::from(value));
        }
        assert_eq!(dist.mean(), 500.5);
        assert!((dist.quantile(0.9) - 900.0).abs() <= 1.0);
        assert_eq!(dist.max(), 1000.0);
        let bins = dist.bins(1000.0, 10);
        assert_eq!(bins.iter().map(|(_, count)| count).sum::<u64>(), 1000);
    }

    #[test]
    fn the_normal_cdf_is_right_where_it_matters() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.0) - 0.841_344_7).abs() < 1e-6);
        assert!((normal_cdf(-1.959_964) - 0.025).abs() < 1e-6);
    }

    #[test]
    fn correlation_of_a_line_is_one() {
        let pairs = (0..10).map(|x| (f64::from(x), 2.0 * f64::from(x) + 1.0));
        assert_eq!(correlation(pairs), 1.0);
        assert_eq!(correlation(std::iter::empty()), 0.0);
    }
}
