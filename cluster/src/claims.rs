//! One ticket per player in the whole cluster: a claim per player in JetStream KV (bucket
//! `MW_CLAIMS`, key `p.<player id>`, the partition's name as its value), made only by
//! compare-and-set (create if absent), so of two partitions enqueueing the same player at
//! once exactly one holds them.
//!
//! The partition's leader makes the claims of a tick's enqueues before it runs the tick, and
//! records a refused enqueue in the tick message (see `replica`), so every replica agrees on
//! what was refused. It releases a claim when the player is free again in its matcher (no
//! ticket, no match): see `holds`. A release deletes the key only if it still names this
//! partition at the revision read, so a late release never deletes another partition's claim.

use async_nats::jetstream::Context;
use async_nats::jetstream::kv::{self, CreateErrorKind};
use matchwright_ecs::PlayerId;

use crate::lease::bucket;
use crate::log::{LOG_TIMEOUT, LogError};

/// The KV bucket of the players' claims.
pub const CLAIMS_BUCKET: &str = "MW_CLAIMS";

/// How often a claim is tried before it is reported as failed (a create can lose a race with
/// a release and a create of another partition).
const CLAIM_TRIES: usize = 3;

/// Who holds a player, as a claim found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// This partition (just claimed, or already).
    Ours,
    /// Another partition.
    Elsewhere(String),
}

/// One partition's hand on the claims.
#[derive(Clone)]
pub struct Claims {
    store: kv::Store,
    partition: String,
}

impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claims")
            .field("partition", &self.partition)
            .finish_non_exhaustive()
    }
}

fn key(player: PlayerId) -> String {
    format!("p.{}", player.0)
}

impl Claims {
    /// The claims as `partition` makes them.
    pub async fn open(jetstream: &Context, partition: &str) -> Result<Self, LogError> {
        Ok(Self {
            store: bucket(jetstream, CLAIMS_BUCKET).await?,
            partition: partition.to_owned(),
        })
    }

    /// Claims `player` for this partition, unless another partition holds them.
    pub async fn claim(&self, player: PlayerId) -> Result<Claim, LogError> {
        let key = key(player);
        for _ in 0..CLAIM_TRIES {
            let created = tokio::time::timeout(
                LOG_TIMEOUT,
                self.store.create(&key, self.partition.clone().into()),
            )
            .await
            .map_err(|_| LogError::Server("claiming a player timed out".into()))?;
            match created {
                Ok(_) => return Ok(Claim::Ours),
                Err(error) if error.kind() == CreateErrorKind::AlreadyExists => {}
                // Lost a race on a released key: read who won.
                Err(error) => tracing::debug!(%error, player = player.0, "claim raced"),
            }
            if let Some((holder, _)) = self.holder(player).await? {
                return Ok(if holder == self.partition {
                    Claim::Ours
                } else {
                    Claim::Elsewhere(holder)
                });
            }
        }
        Err(LogError::Server(format!(
            "player {} could not be claimed in {CLAIM_TRIES} tries",
            player.0
        )))
    }

    /// The partition holding `player` and the claim's revision (none: free).
    pub async fn holder(&self, player: PlayerId) -> Result<Option<(String, u64)>, LogError> {
        let entry = tokio::time::timeout(LOG_TIMEOUT, self.store.entry(key(player)))
            .await
            .map_err(|_| LogError::Server("reading a claim timed out".into()))?
            .map_err(|error| LogError::Server(format!("reading a claim: {error}")))?;
        Ok(entry
            .filter(|entry| entry.operation == kv::Operation::Put)
            .map(|entry| {
                let holder = String::from_utf8_lossy(&entry.value).into_owned();
                (holder, entry.revision)
            }))
    }

    /// Releases `player` if this partition holds them (at the revision read). Returns whether
    /// a claim was deleted.
    pub async fn release(&self, player: PlayerId) -> Result<bool, LogError> {
        let Some((holder, revision)) = self.holder(player).await? else {
            return Ok(false);
        };
        if holder != self.partition {
            return Ok(false);
        }
        let deleted = tokio::time::timeout(
            LOG_TIMEOUT,
            self.store
                .delete_expect_revision(key(player), Some(revision)),
        )
        .await
        .map_err(|_| LogError::Server("releasing a claim timed out".into()))?;
        match deleted {
            Ok(()) => Ok(true),
            // Changed since it was read: another release and claim came first.
            Err(error) => {
                tracing::debug!(%error, player = player.0, "a release found the claim changed");
                Ok(false)
            }
        }
    }
}
