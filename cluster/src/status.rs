//! What a partition process reports about itself: its role, its last tick, how far it is
//! behind the log. The runner writes it (`run`); the process's `/readyz` reads it, and every
//! change is also a metric (labelled by partition):
//!
//! - `matchwright_partition_leader` (1 leading, 0 not), `matchwright_partition_tick`,
//!   `matchwright_partition_lag_messages` (log messages after the last one read),
//!   `matchwright_partition_pending_commands`;
//! - `matchwright_partition_takeovers_total`, `matchwright_partition_starts_total` (starts
//!   from the newest snapshot, the first included), `matchwright_partition_refused_total`
//!   (by reason), `matchwright_partition_claims_released_total`.
//!
//! Ready means: this replica applied or led a tick within [`STALE_AFTER_MS`], so it follows a
//! live leader or is one. A standby of a partition whose leader died is not ready until one
//! takes over; a replica starting over is not ready until it has caught up.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A replica whose last tick is older than this is not ready.
pub const STALE_AFTER_MS: u64 = 3_000;

/// One partition process's status (shared with its HTTP endpoints).
#[derive(Debug, Default)]
pub struct PartitionStatus {
    partition: String,
    leading: AtomicBool,
    tick: AtomicU64,
    /// When the last tick was applied or led (Unix ms; 0: none since the start).
    last_tick_ms: AtomicU64,
    lag: AtomicU64,
}

impl PartitionStatus {
    /// The status of a replica of `partition`, not yet ready.
    pub fn new(partition: &str) -> Self {
        Self {
            partition: partition.to_owned(),
            ..Self::default()
        }
    }

    /// The partition.
    pub fn partition(&self) -> &str {
        &self.partition
    }

    /// Whether this replica leads.
    pub fn leading(&self) -> bool {
        self.leading.load(Ordering::Relaxed)
    }

    /// The last tick applied or led.
    pub fn tick(&self) -> u64 {
        self.tick.load(Ordering::Relaxed)
    }

    /// Why the replica is not ready at `now_ms` (Unix ms), if it is not.
    pub fn not_ready(&self, now_ms: u64) -> Option<String> {
        let last = self.last_tick_ms.load(Ordering::Relaxed);
        if last == 0 {
            return Some(format!(
                "partition {}: no tick applied since the start",
                self.partition
            ));
        }
        let age = now_ms.saturating_sub(last);
        (age > STALE_AFTER_MS).then(|| {
            format!(
                "partition {}: no tick for {age} ms (is a leader running?)",
                self.partition
            )
        })
    }

    pub(crate) fn set_leading(&self, leading: bool) {
        self.leading.store(leading, Ordering::Relaxed);
        let partition = self.partition.clone();
        metrics::gauge!("matchwright_partition_leader", "partition" => partition)
            .set(f64::from(u8::from(leading)));
    }

    pub(crate) fn ticked(&self, tick: u64, now_ms: u64, pending: usize) {
        self.tick.store(tick, Ordering::Relaxed);
        self.last_tick_ms.store(now_ms, Ordering::Relaxed);
        let partition = self.partition.clone();
        metrics::gauge!("matchwright_partition_tick", "partition" => partition.clone())
            .set(tick as f64);
        metrics::gauge!("matchwright_partition_pending_commands", "partition" => partition)
            .set(pending as f64);
    }

    pub(crate) fn behind(&self, messages: u64) {
        if self.lag.swap(messages, Ordering::Relaxed) != messages {
            let partition = self.partition.clone();
            metrics::gauge!("matchwright_partition_lag_messages", "partition" => partition)
                .set(messages as f64);
        }
    }

    pub(crate) fn count(&self, counter: &'static str, by: u64) {
        let partition = self.partition.clone();
        metrics::counter!(counter, "partition" => partition).increment(by);
    }

    pub(crate) fn refused(&self, reason: &'static str, by: u64) {
        let partition = self.partition.clone();
        metrics::counter!(
            "matchwright_partition_refused_total",
            "partition" => partition,
            "reason" => reason
        )
        .increment(by);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_is_ready_while_ticks_are_fresh() {
        let status = PartitionStatus::new("p");
        assert!(status.not_ready(1_000).unwrap().contains("no tick applied"));
        status.ticked(4, 10_000, 0);
        assert_eq!(status.not_ready(10_000 + STALE_AFTER_MS), None);
        let stale = status.not_ready(10_001 + STALE_AFTER_MS).unwrap();
        assert!(stale.contains("no tick for"), "{stale}");
        assert_eq!(status.tick(), 4);
        status.set_leading(true);
        assert!(status.leading());
    }
}
