//! Curves of a value over waiting time: skill windows and latency allowances that widen, quality
//! floors that relax. Windows are computed on demand from a ticket's enqueue time, never stored
//! and updated tick by tick: a tick only touches tickets that are due.

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

/// A value as a function of how long a ticket has waited, in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Curve {
    /// `start`, moving in a straight line to `end` over `over_ms`, then `end`.
    Linear {
        /// The value at 0 ms of waiting.
        start: f64,
        /// The value from `over_ms` on.
        end: f64,
        /// How long the change from `start` to `end` takes, in milliseconds.
        over_ms: u64,
    },
    /// `start`, moving geometrically to `end` over `over_ms` (`start * (end/start)^(t/over_ms)`),
    /// then `end`: widening that starts slow and accelerates, or a floor that drops fast and then
    /// slowly. Both `start` and `end` must be above zero.
    Exponential {
        /// The value at 0 ms of waiting.
        start: f64,
        /// The value from `over_ms` on.
        end: f64,
        /// How long the change from `start` to `end` takes, in milliseconds.
        over_ms: u64,
    },
    /// A value that changes in steps: each step holds from its `after_ms` until the next step's.
    /// The first step must have `after_ms = 0`, and `after_ms` must increase.
    Steps {
        /// The steps, in order of `after_ms`.
        steps: Vec<Step>,
    },
}

/// One step of a [`Curve::Steps`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// From this much waiting, in milliseconds...
    pub after_ms: u64,
    /// ...the curve has this value.
    pub value: f64,
}

/// Which way a curve is allowed to move as waiting time grows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Never decreases (windows, latency allowances).
    NonDecreasing,
    /// Never increases (quality floors).
    NonIncreasing,
}

impl Curve {
    /// A linear curve.
    pub const fn linear(start: f64, end: f64, over_ms: u64) -> Self {
        Self::Linear {
            start,
            end,
            over_ms,
        }
    }

    /// The curve's value after `waited_ms` of waiting.
    pub fn value_at(&self, waited_ms: u64) -> f64 {
        match self {
            Self::Linear {
                start,
                end,
                over_ms,
            } => {
                if waited_ms >= *over_ms {
                    *end
                } else {
                    let fraction = waited_ms as f64 / *over_ms as f64;
                    start + (end - start) * fraction
                }
            }
            Self::Exponential {
                start,
                end,
                over_ms,
            } => {
                if waited_ms >= *over_ms {
                    *end
                } else {
                    let fraction = waited_ms as f64 / *over_ms as f64;
                    start * (end / start).powf(fraction)
                }
            }
            Self::Steps { steps } => {
                // Steps are validated non-empty, starting at 0 and sorted.
                let index = steps.partition_point(|step| step.after_ms <= waited_ms);
                steps[index.saturating_sub(1)].value
            }
        }
    }

    /// The waiting time from which the curve stays at its final value.
    pub(crate) fn settles_after_ms(&self) -> u64 {
        match self {
            Self::Linear { over_ms, .. } | Self::Exponential { over_ms, .. } => *over_ms,
            Self::Steps { steps } => steps.last().map_or(0, |step| step.after_ms),
        }
    }

    /// The least waiting time at which the curve has reached `target` (gone at least as far as
    /// `target` in `direction`), or `None` if it never does.
    ///
    /// A binary search over whole milliseconds using [`Curve::value_at`] itself, so the answer
    /// agrees exactly with the values the matcher checks, whatever the floating-point rounding.
    pub fn waited_ms_to_reach(&self, target: f64, direction: Direction) -> Option<u64> {
        let reached = |waited_ms: u64| {
            let value = self.value_at(waited_ms);
            match direction {
                Direction::NonDecreasing => value >= target,
                Direction::NonIncreasing => value <= target,
            }
        };
        let mut high = self.settles_after_ms();
        if !reached(high) {
            return None;
        }
        let mut low = 0_u64;
        if reached(low) {
            return Some(0);
        }
        // Invariant: !reached(low) && reached(high).
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            if reached(middle) {
                high = middle;
            } else {
                low = middle;
            }
        }
        Some(high)
    }

    /// Checks the curve's shape: finite values, inside `[min, max]`, moving only in `direction`.
    pub fn validate(
        &self,
        field: &str,
        direction: Direction,
        min: f64,
        max: f64,
    ) -> Result<(), ConfigError> {
        let fail = |why: String| Err(ConfigError::new(field, why));
        let in_range = |value: f64| value.is_finite() && value >= min && value <= max;
        let ordered = |from: f64, to: f64| match direction {
            Direction::NonDecreasing => to >= from,
            Direction::NonIncreasing => to <= from,
        };
        let word = match direction {
            Direction::NonDecreasing => "must not decrease",
            Direction::NonIncreasing => "must not increase",
        };
        match self {
            Self::Linear { start, end, .. } | Self::Exponential { start, end, .. } => {
                if !in_range(*start) || !in_range(*end) {
                    return fail(format!(
                        "start {start} and end {end} must be finite and within [{min}, {max}]"
                    ));
                }
                if !ordered(*start, *end) {
                    return fail(format!("{word} over time, but goes from {start} to {end}"));
                }
                if matches!(self, Self::Exponential { .. }) && (*start <= 0.0 || *end <= 0.0) {
                    return fail("an exponential curve needs start and end above 0".into());
                }
            }
            Self::Steps { steps } => {
                let Some(first) = steps.first() else {
                    return fail("a step curve needs at least one step".into());
                };
                if first.after_ms != 0 {
                    return fail(format!(
                        "the first step must have after_ms = 0, not {}",
                        first.after_ms
                    ));
                }
                for pair in steps.windows(2) {
                    if pair[1].after_ms <= pair[0].after_ms {
                        return fail(format!(
                            "steps must have increasing after_ms ({} then {})",
                            pair[0].after_ms, pair[1].after_ms
                        ));
                    }
                    if !ordered(pair[0].value, pair[1].value) {
                        return fail(format!(
                            "{word} over time, but a step goes from {} to {}",
                            pair[0].value, pair[1].value
                        ));
                    }
                }
                if let Some(step) = steps.iter().find(|step| !in_range(step.value)) {
                    return fail(format!(
                        "step value {} must be finite and within [{min}, {max}]",
                        step.value
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_matches_the_seed_numbers() {
        let curve = Curve::linear(100.0, 500.0, 40_000);
        assert_eq!(curve.value_at(0), 100.0);
        assert_eq!(curve.value_at(20_000), 300.0);
        assert_eq!(curve.value_at(40_000), 500.0);
        assert_eq!(curve.value_at(1_000_000), 500.0);
    }

    #[test]
    fn exponential_moves_geometrically_both_ways() {
        let widening = Curve::Exponential {
            start: 100.0,
            end: 400.0,
            over_ms: 20_000,
        };
        assert!((widening.value_at(10_000) - 200.0).abs() < 1e-9);
        let relaxing = Curve::Exponential {
            start: 0.8,
            end: 0.2,
            over_ms: 20_000,
        };
        assert!((relaxing.value_at(10_000) - 0.4).abs() < 1e-9);
        assert_eq!(relaxing.value_at(20_000), 0.2);
    }

    #[test]
    fn steps_hold_until_the_next_step() {
        let curve = Curve::Steps {
            steps: vec![
                Step {
                    after_ms: 0,
                    value: 50.0,
                },
                Step {
                    after_ms: 5_000,
                    value: 150.0,
                },
            ],
        };
        assert_eq!(curve.value_at(4_999), 50.0);
        assert_eq!(curve.value_at(5_000), 150.0);
        assert_eq!(
            curve.waited_ms_to_reach(100.0, Direction::NonDecreasing),
            Some(5_000)
        );
        assert_eq!(
            curve.waited_ms_to_reach(151.0, Direction::NonDecreasing),
            None
        );
    }

    #[test]
    fn time_to_reach_agrees_with_value_at() {
        let curve = Curve::linear(100.0, 500.0, 40_000);
        let at = curve
            .waited_ms_to_reach(125.0, Direction::NonDecreasing)
            .unwrap();
        assert!(curve.value_at(at) >= 125.0);
        assert!(curve.value_at(at - 1) < 125.0);
        let floor = Curve::linear(0.5, 0.1, 10_000);
        let at = floor
            .waited_ms_to_reach(0.3, Direction::NonIncreasing)
            .unwrap();
        assert!(floor.value_at(at) <= 0.3 && floor.value_at(at - 1) > 0.3);
        assert_eq!(
            floor.waited_ms_to_reach(0.05, Direction::NonIncreasing),
            None
        );
    }

    #[test]
    fn validation_names_what_is_wrong() {
        let shrinking = Curve::linear(500.0, 100.0, 1_000);
        let error = shrinking
            .validate("queues[0].skill_window", Direction::NonDecreasing, 0.0, 1e6)
            .unwrap_err();
        assert!(error.to_string().contains("queues[0].skill_window"));
        assert!(error.to_string().contains("must not decrease"));
        let empty = Curve::Steps { steps: vec![] };
        assert!(
            empty
                .validate("x", Direction::NonDecreasing, 0.0, 1.0)
                .is_err()
        );
    }
}
