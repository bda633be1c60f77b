//! Recent matching, per queue and minute: how many matches formed, how many tickets they
//! took, how long those tickets had waited and the matches' quality, over the last ten
//! minutes (`GET /v1/admin/queues`, the console's time-to-match chart). The live view feeds
//! it as matches are proposed (or formed, in queues without acceptance), on the matcher's
//! own time (`MatchSummary::formed_at_ms`), so `serve` and a gateway keep the same minutes.
//!
//! Bounds, and what happens at each: [`MINUTES`] minutes per queue (a minute older than that
//! is dropped when a newer one starts); at most [`MAX_WAITS_PER_MINUTE`] waits per minute
//! for its percentiles (beyond, tickets are counted but their waits are not kept); a queue
//! without a match for [`MINUTES`] minutes is forgotten.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use matchwright_ecs::event::MatchSummary;
use matchwright_transport::wire::{MinuteOfMatching, WaitPercentiles};

/// Minutes kept per queue.
pub const MINUTES: u64 = 10;
/// Waits kept per queue and minute, for its percentiles.
pub const MAX_WAITS_PER_MINUTE: usize = 4_096;
const MINUTE_MS: u64 = 60_000;

/// Every queue's recent minutes.
#[derive(Debug, Default)]
pub struct RecentMatching {
    queues: HashMap<Arc<str>, VecDeque<Minute>>,
}

/// One queue's minute.
#[derive(Clone, Debug)]
pub struct Minute {
    start_ms: u64,
    matches: u64,
    tickets: u64,
    waits: Vec<u64>,
    quality_sum: f64,
}

impl Minute {
    fn new(start_ms: u64) -> Self {
        Self {
            start_ms,
            matches: 0,
            tickets: 0,
            waits: Vec::new(),
            quality_sum: 0.0,
        }
    }
}

impl RecentMatching {
    /// Counts a match in its queue's minute. Matcher time does not go back; a match dated
    /// before its queue's newest minute counts in that minute.
    pub fn record(&mut self, summary: &MatchSummary) {
        let start_ms = summary.formed_at_ms - summary.formed_at_ms % MINUTE_MS;
        let oldest_kept = start_ms.saturating_sub((MINUTES - 1) * MINUTE_MS);
        let starts_a_minute = self.queues.get(&*summary.queue).is_none_or(|minutes| {
            minutes
                .back()
                .is_none_or(|minute| minute.start_ms < start_ms)
        });
        if starts_a_minute {
            // Once per queue and minute, not per match: the queues quiet for ten minutes go.
            self.queues.retain(|_, minutes| {
                minutes
                    .back()
                    .is_some_and(|minute| minute.start_ms >= oldest_kept)
            });
        }
        let minutes = self.queues.entry(Arc::clone(&summary.queue)).or_default();
        if starts_a_minute {
            minutes.push_back(Minute::new(start_ms));
        }
        while minutes
            .front()
            .is_some_and(|minute| minute.start_ms < oldest_kept)
        {
            minutes.pop_front();
        }
        let Some(minute) = minutes.back_mut() else {
            return;
        };
        minute.matches += 1;
        minute.quality_sum += summary.quality;
        for ticket in summary.tickets() {
            minute.tickets += 1;
            if minute.waits.len() < MAX_WAITS_PER_MINUTE {
                minute.waits.push(ticket.waited_ms);
            }
        }
        debug_assert!(minutes.len() as u64 <= MINUTES, "{} minutes", minutes.len());
    }

    /// A copy of `queue`'s kept minutes: taken while the view is locked, summed up after
    /// ([`QueueMinutes::to_wire`] sorts the waits).
    pub fn copy(&self, queue: &str) -> QueueMinutes {
        QueueMinutes(
            self.queues
                .get(queue)
                .map_or_else(Vec::new, |minutes| minutes.iter().cloned().collect()),
        )
    }

    /// `queue`'s last [`MINUTES`] minutes up to the one holding `now_ms`: see
    /// [`QueueMinutes::to_wire`].
    pub fn minutes(&self, queue: &str, now_ms: u64) -> Vec<MinuteOfMatching> {
        self.copy(queue).to_wire(now_ms)
    }
}

/// One queue's kept minutes, copied out of the view.
#[derive(Debug, Default)]
pub struct QueueMinutes(Vec<Minute>);

impl QueueMinutes {
    /// The last [`MINUTES`] minutes up to the one holding `now_ms`, the oldest first; a
    /// minute without matches is there with none.
    pub fn to_wire(&self, now_ms: u64) -> Vec<MinuteOfMatching> {
        let current = now_ms - now_ms % MINUTE_MS;
        (0..MINUTES)
            .rev()
            .map(|back| current.saturating_sub(back * MINUTE_MS))
            .map(|start_ms| {
                let found = self.0.iter().find(|minute| minute.start_ms == start_ms);
                found.map_or_else(|| Minute::new(start_ms).to_wire(), Minute::to_wire)
            })
            .collect()
    }
}

impl Minute {
    fn to_wire(&self) -> MinuteOfMatching {
        let mut waits = self.waits.clone();
        waits.sort_unstable();
        MinuteOfMatching {
            start_ms: self.start_ms,
            matches: self.matches,
            tickets: self.tickets,
            time_to_match_ms: wait_percentiles(&waits),
            mean_quality: (self.matches > 0).then(|| self.quality_sum / self.matches as f64),
        }
    }
}

/// Nearest-rank percentiles of `waits` (sorted, ascending); `None` for none.
pub fn wait_percentiles(waits: &[u64]) -> Option<WaitPercentiles> {
    debug_assert!(waits.is_sorted(), "waits must be sorted");
    let rank = |share: f64| {
        let at = (share * waits.len() as f64).ceil() as usize;
        waits[at.clamp(1, waits.len()) - 1]
    };
    let max = *waits.last()?;
    Some(WaitPercentiles {
        p50: rank(0.50),
        p90: rank(0.90),
        p99: rank(0.99),
        max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use matchwright_ecs::event::MatchedTicket;
    use matchwright_ecs::{MatchId, TicketId};

    fn summary(queue: &str, formed_at_ms: u64, waits: &[u64], quality: f64) -> MatchSummary {
        let ticket = |(index, waited_ms): (usize, &u64)| MatchedTicket {
            ticket: TicketId(index as u64 + 1),
            party: None,
            players: Vec::new(),
            rating: 1_500.0,
            window_mmr: 100.0,
            ping_ms: 20,
            ping_limit_ms: 100.0,
            enqueued_at_ms: formed_at_ms.saturating_sub(*waited_ms),
            waited_ms: *waited_ms,
        };
        MatchSummary {
            match_id: MatchId(1),
            queue: queue.into(),
            mode: "m".into(),
            region: "r".into(),
            formed_at_ms,
            quality,
            quality_floor: 0.0,
            teams: vec![waits.iter().enumerate().map(ticket).collect()],
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        assert_eq!(wait_percentiles(&[]), None);
        let one = WaitPercentiles {
            p50: 7,
            p90: 7,
            p99: 7,
            max: 7,
        };
        assert_eq!(wait_percentiles(&[7]), Some(one));
        let waits: Vec<u64> = (1..=100).collect();
        let hundred = WaitPercentiles {
            p50: 50,
            p90: 90,
            p99: 99,
            max: 100,
        };
        assert_eq!(wait_percentiles(&waits), Some(hundred));
    }

    #[test]
    fn minutes_count_matches_tickets_waits_and_quality() {
        let mut recent = RecentMatching::default();
        let now = 600_000_000;
        recent.record(&summary("duel", now - 59_000, &[1_000, 3_000], 0.5));
        recent.record(&summary("duel", now + 1_000, &[2_000, 4_000], 0.9));
        recent.record(&summary("duel", now + 2_000, &[6_000, 8_000], 0.7));
        let minutes = recent.minutes("duel", now + 30_000);
        assert_eq!(minutes.len() as u64, MINUTES);
        assert_eq!(minutes[9].start_ms, now);
        assert_eq!((minutes[9].matches, minutes[9].tickets), (2, 4));
        assert_eq!(minutes[9].time_to_match_ms.unwrap().p50, 4_000);
        assert_eq!(minutes[9].time_to_match_ms.unwrap().max, 8_000);
        assert!((minutes[9].mean_quality.unwrap() - 0.8).abs() < 1e-9);
        assert_eq!((minutes[8].matches, minutes[8].tickets), (1, 2));
        assert_eq!(minutes[0].matches, 0);
        assert_eq!(minutes[0].time_to_match_ms, None);
        assert_eq!(minutes[0].mean_quality, None);
        assert!(recent.minutes("other", now).iter().all(|m| m.matches == 0));
    }

    #[test]
    fn old_minutes_and_quiet_queues_are_forgotten_and_waits_are_bounded() {
        let mut recent = RecentMatching::default();
        let waits = vec![5; MAX_WAITS_PER_MINUTE + 10];
        recent.record(&summary("quiet", 0, &[1], 0.5));
        for minute in 0..(MINUTES + 5) {
            recent.record(&summary("busy", minute * MINUTE_MS, &waits, 0.5));
        }
        assert!(
            !recent.queues.contains_key("quiet"),
            "a quiet queue is forgotten"
        );
        let busy = &recent.queues["busy"];
        assert_eq!(busy.len() as u64, MINUTES);
        assert_eq!(busy.back().unwrap().waits.len(), MAX_WAITS_PER_MINUTE);
        assert_eq!(busy.back().unwrap().tickets, waits.len() as u64);
        // A match dated before the newest minute counts in the newest.
        recent.record(&summary("busy", 0, &[1], 0.5));
        assert_eq!(recent.queues["busy"].back().unwrap().matches, 2);
    }
}
