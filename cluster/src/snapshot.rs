//! A partition's snapshots: its state at a tick, in the JetStream object store (bucket
//! `MW_SNAPSHOTS`, one object per snapshot, `<partition>.<tick>`), with the newest one named
//! in KV (`MW_CLUSTER`, key `snapshot.<partition>`, advanced only by compare-and-set to a
//! later tick). A replica that starts, or starts over, restores the newest snapshot and reads
//! the log after it; the log before the snapshot's previous one is trimmed (one snapshot
//! interval is kept, so a standby slightly behind never finds its next message trimmed).
//!
//! Standbys write them, never the leader, so a snapshot never stalls a tick: every replica
//! holds the same state at a tick, so any standby's snapshot is the partition's. A partition
//! run without a standby writes none (its log grows until one runs).

use async_nats::jetstream::Context;
use async_nats::jetstream::kv::{self, CreateErrorKind, UpdateErrorKind};
use async_nats::jetstream::object_store::{self, ObjectStore};
use async_nats::jetstream::stream::StorageType;
use matchwright_ecs::{EventChain, Snapshot, codec};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt as _;

use crate::lease::bucket;
use crate::log::{LOG_TIMEOUT, LogError, PartitionLog};

/// The object store bucket of the partitions' snapshots.
pub const SNAPSHOT_BUCKET: &str = "MW_SNAPSHOTS";

/// How long a snapshot's upload or download may take.
pub const SNAPSHOT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// A partition's state after a tick, and where that tick stands in the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartitionSnapshot {
    /// The hash of the partition's config (`agreement`): a snapshot restores only under it.
    pub config_hash: [u8; 32],
    /// The tick.
    pub tick: u64,
    /// Its time.
    pub now_ms: u64,
    /// Its log sequence.
    pub tick_seq: u64,
    /// Every command up to this log sequence had been applied.
    pub commands_through: u64,
    /// The chain of event hashes up to it.
    pub chain: EventChain,
    /// The matcher's state.
    pub state: Snapshot,
}

/// Where the newest snapshot of a partition is, as KV records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMark {
    /// Its tick.
    pub tick: u64,
    /// Its tick's log sequence.
    pub tick_seq: u64,
    /// Its `commands_through`.
    pub commands_through: u64,
    /// The previous snapshot's mark's log position to trim below (0: none).
    pub trim_below: u64,
}

impl SnapshotMark {
    /// The first log sequence a replica restored from this snapshot must read.
    pub fn read_from(&self) -> u64 {
        self.tick_seq.min(self.commands_through) + 1
    }
}

/// A partition's snapshots.
#[derive(Clone)]
pub struct Snapshots {
    objects: ObjectStore,
    marks: kv::Store,
    partition: String,
}

fn server(what: &str, error: impl std::fmt::Display) -> LogError {
    LogError::Server(format!("{what}: {error}"))
}

impl Snapshots {
    /// The snapshots of `partition`, creating the bucket if needed.
    pub async fn open(jetstream: &Context, partition: &str) -> Result<Self, LogError> {
        let objects = match jetstream.get_object_store(SNAPSHOT_BUCKET).await {
            Ok(objects) => objects,
            Err(_) => {
                let config = object_store::Config {
                    bucket: SNAPSHOT_BUCKET.to_owned(),
                    storage: StorageType::File,
                    ..Default::default()
                };
                tokio::time::timeout(LOG_TIMEOUT, jetstream.create_object_store(config))
                    .await
                    .map_err(|_| server("creating the snapshot bucket", "timed out"))?
                    .map_err(|error| server("creating the snapshot bucket", error))?
            }
        };
        Ok(Self {
            objects,
            marks: bucket(jetstream, crate::agreement::CLUSTER_BUCKET).await?,
            partition: partition.to_owned(),
        })
    }

    fn key(&self) -> String {
        format!("snapshot.{}", self.partition)
    }

    fn object(&self, tick: u64) -> String {
        format!("{}.{tick:020}", self.partition)
    }

    /// The newest snapshot's mark and its KV revision, if any.
    pub async fn newest(&self) -> Result<Option<(SnapshotMark, u64)>, LogError> {
        let entry = tokio::time::timeout(LOG_TIMEOUT, self.marks.entry(self.key()))
            .await
            .map_err(|_| server("reading the snapshot mark", "timed out"))?
            .map_err(|error| server("reading the snapshot mark", error))?;
        let Some(entry) = entry.filter(|entry| entry.operation == kv::Operation::Put) else {
            return Ok(None);
        };
        let mark = codec::decode(&entry.value)
            .map_err(|error| server("the snapshot mark", format!("does not decode: {error}")))?;
        Ok(Some((mark, entry.revision)))
    }

    /// Loads the snapshot a mark names.
    pub async fn load(&self, mark: &SnapshotMark) -> Result<PartitionSnapshot, LogError> {
        let name = self.object(mark.tick);
        let mut bytes = Vec::new();
        let read = async {
            let mut object = self.objects.get(&name).await.map_err(|e| e.to_string())?;
            object
                .read_to_end(&mut bytes)
                .await
                .map_err(|e| e.to_string())
        };
        tokio::time::timeout(SNAPSHOT_TIMEOUT, read)
            .await
            .map_err(|_| server("loading the snapshot", "timed out"))?
            .map_err(|error| server(&format!("loading snapshot {name}"), error))?;
        let snapshot: PartitionSnapshot = codec::decode(&bytes).map_err(|error| {
            server(
                &format!("snapshot {name}"),
                format!("does not decode: {error}"),
            )
        })?;
        if snapshot.tick != mark.tick || snapshot.tick_seq != mark.tick_seq {
            return Err(server(
                &format!("snapshot {name}"),
                "is not the tick its mark names",
            ));
        }
        Ok(snapshot)
    }

    /// Stores an encoded snapshot and marks it the newest if it is later than the one marked;
    /// then trims the log below the snapshot before it and deletes that one's object. Returns
    /// whether it became the newest.
    pub async fn save(
        &self,
        log: &PartitionLog,
        mark: SnapshotMark,
        bytes: &[u8],
    ) -> Result<bool, LogError> {
        let name = self.object(mark.tick);
        let mut reader = bytes;
        tokio::time::timeout(
            SNAPSHOT_TIMEOUT,
            self.objects.put(name.as_str(), &mut reader),
        )
        .await
        .map_err(|_| server("storing the snapshot", "timed out"))?
        .map_err(|error| server("storing the snapshot", error))?;
        let previous = self.newest().await?;
        if previous.is_some_and(|(previous, _)| previous.tick >= mark.tick) {
            return Ok(false);
        }
        let mark = SnapshotMark {
            trim_below: previous.map_or(0, |(previous, _)| previous.read_from()),
            ..mark
        };
        let value = codec::encode(&mark);
        let written = match previous {
            None => tokio::time::timeout(LOG_TIMEOUT, self.marks.create(self.key(), value.into()))
                .await
                .map_err(|_| true)
                .and_then(|created| {
                    created
                        .map_err(|error| error.kind() != CreateErrorKind::AlreadyExists)
                        .map(|_| ())
                }),
            Some((_, revision)) => tokio::time::timeout(
                LOG_TIMEOUT,
                self.marks.update(self.key(), value.into(), revision),
            )
            .await
            .map_err(|_| true)
            .and_then(|updated| {
                updated
                    .map_err(|error| error.kind() != UpdateErrorKind::WrongLastRevision)
                    .map(|_| ())
            }),
        };
        match written {
            Ok(()) => {}
            // Another standby marked one first: it is the same state, keep theirs.
            Err(false) => return Ok(false),
            Err(true) => return Err(server("marking the snapshot", "the KV write failed")),
        }
        if let Some((previous, _)) = previous {
            log.trim_below(mark.trim_below).await?;
            // Best effort: a replica loading it right now starts over with the newest.
            let deleted = self.objects.delete(self.object(previous.tick));
            let _ = tokio::time::timeout(LOG_TIMEOUT, deleted).await;
        }
        Ok(true)
    }
}
