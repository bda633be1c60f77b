//! Player ids for a cluster's gateways: a gateway registers players itself, so two gateways
//! must never hand out one id. Each reserves blocks of ids by compare-and-set on one counter
//! in KV (`MW_CLUSTER`, key `players.next`: the first id no block holds yet, 8 bytes
//! little-endian), and hands them out from its block until it is used up. A gateway that
//! stops leaves the rest of its block unused (ids are never reused, so holes are harmless).

use std::ops::Range;

use async_nats::jetstream::{Context, kv};

use crate::agreement::CLUSTER_BUCKET;
use crate::lease::{bucket, compare_and_set};
use crate::log::LogError;

const KEY: &str = "players.next";

/// How many times a reservation retries after another gateway reserved first.
const MAX_ATTEMPTS: usize = 32;

/// The cluster's player-id counter.
#[derive(Clone)]
pub struct PlayerIds {
    store: kv::Store,
}

impl PlayerIds {
    /// Opens the counter (the bucket is created if needed).
    pub async fn open(jetstream: &Context) -> Result<Self, LogError> {
        Ok(Self {
            store: bucket(jetstream, CLUSTER_BUCKET).await?,
        })
    }

    /// Reserves the next `count` ids (at least 1) for this caller alone; ids start at 1.
    pub async fn reserve(&self, count: u64) -> Result<Range<u64>, LogError> {
        assert!(count > 0, "a block holds at least one id");
        for _ in 0..MAX_ATTEMPTS {
            let entry = tokio::time::timeout(crate::log::LOG_TIMEOUT, self.store.entry(KEY))
                .await
                .map_err(|_| LogError::Server("reading the player-id counter timed out".into()))?
                .map_err(|error| LogError::Server(format!("the player-id counter: {error}")))?;
            let (first, revision) = match entry.filter(|e| e.operation == kv::Operation::Put) {
                Some(entry) => (decode(&entry.value)?, Some(entry.revision)),
                None => (1, None),
            };
            let end = first
                .checked_add(count)
                .ok_or_else(|| LogError::Refused("the player-id counter is exhausted".into()))?;
            let value = bytes::Bytes::copy_from_slice(&end.to_le_bytes());
            let written =
                compare_and_set(&self.store, KEY, value, revision, "reserving player ids").await?;
            if written.is_some() {
                return Ok(first..end);
            }
        }
        Err(LogError::Server(format!(
            "could not reserve player ids: {MAX_ATTEMPTS} attempts lost to other gateways"
        )))
    }
}

fn decode(value: &[u8]) -> Result<u64, LogError> {
    let bytes: [u8; 8] = value.try_into().map_err(|_| {
        LogError::Refused(format!(
            "the player-id counter holds {} bytes, not 8",
            value.len()
        ))
    })?;
    Ok(u64::from_le_bytes(bytes))
}
