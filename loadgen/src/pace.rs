//! Pacing: think times, game lengths and start-up offsets vary from half to one and a half
//! times their setting, drawn from a seed, so players move out of step as real ones do
//! rather than as a herd.

use std::time::Duration;

/// A duration drawn evenly from half to one and a half times `base_ms` (splitmix64 over
/// `seed`).
pub(crate) fn jittered(base_ms: u64, seed: u64) -> Duration {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let unit = (z >> 11) as f64 / (1_u64 << 53) as f64;
    Duration::from_millis((base_ms as f64 * (0.5 + unit)) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_stay_within_half_to_one_and_a_half_and_spread() {
        let draws: Vec<Duration> = (0..1_000).map(|seed| jittered(1_000, seed)).collect();
        let (low, high) = (Duration::from_millis(500), Duration::from_millis(1_500));
        assert!(draws.iter().all(|draw| (low..=high).contains(draw)));
        let below = draws
            .iter()
            .filter(|draw| **draw < Duration::from_secs(1))
            .count();
        assert!(
            (400..600).contains(&below),
            "{below} of 1000 below the setting"
        );
        assert_eq!(jittered(1_000, 7), jittered(1_000, 7));
    }
}
