//! A leader's checks on a tick's enqueues before it runs the tick, and its releases after:
//! an enqueue is refused when its queue is not this partition's (per the map), or plays in a
//! region this partition does not run its queue in (a queue split by region), or when a
//! player of it is claimed by another partition (`claims`). The refusals go in the tick
//! message, so every replica consumes the same commands without running them.
//!
//! Claims are made and released concurrently, at most [`CLAIMS_IN_FLIGHT`] at a time; the
//! leader awaits them (its tick waits for its claims; its next tick for its releases), so a
//! player released after one tick and queued again in the next keeps the new claim.

use std::collections::{BTreeMap, HashSet};

use futures_util::StreamExt;
use matchwright_ecs::{Config, EnqueueTicket, PlayerId};

use crate::claims::{Claim, Claims};
use crate::message::{Refusal, Refused};
use crate::partitions::{ClusterSection, plays_only_in};

/// The most claim or release requests a leader has outstanding at once.
pub const CLAIMS_IN_FLIGHT: usize = 256;

/// The most bytes of an error's text a refusal keeps (it goes in the tick message).
pub const MAX_DETAIL_BYTES: usize = 160;

/// `text` cut to at most [`MAX_DETAIL_BYTES`], on a character boundary.
fn bounded(mut text: String) -> String {
    if text.len() > MAX_DETAIL_BYTES {
        let mut end = MAX_DETAIL_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// One partition's admission of enqueues.
#[derive(Debug)]
pub struct Admission {
    claims: Claims,
    map: ClusterSection,
    /// The queues this partition runs (none: every queue, no map).
    queues: Option<HashSet<String>>,
    /// The regions it runs them in (none: every region).
    regions: Option<Vec<String>>,
    /// The matcher's config (its regions, for the tickets' pings).
    config: Config,
}

impl Admission {
    /// The admission of `partition` under `map` (checked: the partition is in it, if it
    /// lists any).
    pub fn new(
        claims: Claims,
        map: ClusterSection,
        partition: &str,
        config: Config,
    ) -> Result<Self, String> {
        let queues = map
            .queues_of(partition)?
            .map(|queues| queues.into_iter().collect());
        let regions = map.regions_of(partition).map(<[String]>::to_vec);
        Ok(Self {
            claims,
            map,
            queues,
            regions,
            config,
        })
    }

    /// Whether `ticket` is for this partition: its queue, and only its regions.
    fn is_ours(&self, ticket: &EnqueueTicket) -> bool {
        let queue_ours = self
            .queues
            .as_ref()
            .is_none_or(|queues| queues.contains(&ticket.queue));
        let regions_ours = self
            .regions
            .as_ref()
            .is_none_or(|regions| plays_only_in(ticket, regions, &self.config));
        queue_ours && regions_ours
    }

    /// The refusals among `enqueues` (log sequence and ticket), sorted by sequence.
    pub async fn refusals(&self, enqueues: &[(u64, &EnqueueTicket)]) -> Vec<Refused> {
        let mut refused: BTreeMap<u64, Refusal> = BTreeMap::new();
        let mut to_claim = Vec::new();
        for (seq, ticket) in enqueues {
            if self.is_ours(ticket) {
                to_claim.extend(ticket.members.iter().map(|m| (*seq, m.player)));
            } else {
                let partition = self
                    .map
                    .partition_of_ticket(ticket, &self.config)
                    .map(str::to_owned);
                let queue = ticket.queue.clone();
                refused.insert(*seq, Refusal::WrongPartition { queue, partition });
            }
        }
        let claimed: Vec<_> = futures_util::stream::iter(to_claim)
            .map(|(seq, player)| async move { (seq, player, self.claims.claim(player).await) })
            .buffer_unordered(CLAIMS_IN_FLIGHT)
            .collect()
            .await;
        for (seq, player, outcome) in claimed {
            let reason = match outcome {
                Ok(Claim::Ours) => continue,
                Ok(Claim::Elsewhere(partition)) => Refusal::PlayerElsewhere { player, partition },
                Err(error) => Refusal::ClaimsUnavailable {
                    detail: bounded(error.to_string()),
                },
            };
            // One reason per command: the lowest player's, so that the message is the same
            // whatever order the answers came in.
            let keep = match refused.get(&seq) {
                Some(Refusal::PlayerElsewhere { player: kept, .. }) => player < *kept,
                Some(_) => false,
                None => true,
            };
            if keep {
                refused.insert(seq, reason);
            }
        }
        refused
            .into_iter()
            .map(|(seq, reason)| Refused { seq, reason })
            .collect()
    }

    /// Releases the claims of `players` (free in this partition's matcher); returns how
    /// many claims it deleted. A release that fails is logged and leaves the claim: the
    /// player can still queue in this partition.
    pub async fn release(&self, players: &[PlayerId]) -> u64 {
        let outcomes: Vec<_> = futures_util::stream::iter(players.iter().copied())
            .map(|player| async move { (player, self.claims.release(player).await) })
            .buffer_unordered(CLAIMS_IN_FLIGHT)
            .collect()
            .await;
        let released = outcomes
            .iter()
            .filter(|(_, o)| matches!(o, Ok(true)))
            .count();
        let failures: Vec<_> = outcomes
            .into_iter()
            .filter_map(|(player, outcome)| outcome.err().map(|error| (player, error)))
            .collect();
        if let Some((player, error)) = failures.first() {
            tracing::warn!(
                failed = failures.len(),
                player = player.0,
                %error,
                "could not release players' claims"
            );
        }
        released as u64
    }
}
