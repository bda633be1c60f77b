//! A partition's snapshots: its state at a tick, in the JetStream object store (bucket
//! `MW_SNAPSHOTS`, one object per snapshot and writer, `<partition>.<tick>.<replica>`, so two
//! standbys never overwrite each other's chunks), with the newest one named in KV
//! (`MW_CLUSTER`, key `snapshot.<partition>`, advanced only by compare-and-set to a later
//! tick). A replica that starts, or starts over, restores the newest snapshot and reads the
//! log from the snapshot's start: its first pending command, or the message after its tick.
//! Marking a snapshot trims the log below the previous snapshot's start and deletes the
//! object of the snapshot before that, so the two newest stay whole: a standby up to one
//! interval behind, or a replica that just read the previous mark, finds what it needs.
//!
//! Standbys write them, so a snapshot does not stall the leader's ticks: every replica holds
//! the same state at a tick, so any standby's snapshot is the partition's. When none has been
//! written for two intervals (no standby runs), the leader writes one (`run`).

use async_nats::jetstream::Context;
use async_nats::jetstream::kv;
use async_nats::jetstream::object_store::{self, ObjectStore};
use async_nats::jetstream::stream::StorageType;
use matchwright_ecs::{EventChain, Snapshot, codec};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt as _;

use crate::lease::{bucket, compare_and_set};
use crate::log::{LOG_TIMEOUT, LogError, PartitionLog};

/// The object store bucket of the partitions' snapshots.
pub const SNAPSHOT_BUCKET: &str = "MW_SNAPSHOTS";

/// How long a snapshot's upload or download may take.
pub const SNAPSHOT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// A partition's state after a tick, and where that tick stands in the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartitionSnapshot {
    /// The first log sequence a replica restored from it must read: its first pending
    /// command, or the message after its tick.
    pub read_from: u64,
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
    /// The matches waiting for a game server and the sessions' servers.
    pub sessions: crate::sessions::Sessions,
}

/// Where the newest snapshot of a partition is, as KV records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMark {
    /// Its tick.
    pub tick: u64,
    /// Its tick's log sequence.
    pub tick_seq: u64,
    /// The first log sequence a replica restored from it must read.
    pub read_from: u64,
    /// Its object's name.
    pub object: String,
    /// The previous mark's object (deleted when the next mark is made).
    pub previous_object: Option<String>,
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

/// What no retry cures (a snapshot of another build, a damaged one): the replica stops.
fn broken(what: &str, error: impl std::fmt::Display) -> LogError {
    LogError::Refused(format!("{what}: {error}"))
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

    fn object(&self, tick: u64, replica: &str) -> String {
        format!("{}.{tick:020}.{replica}", self.partition)
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
            .map_err(|error| broken("the snapshot mark", format!("does not decode: {error}")))?;
        Ok(Some((mark, entry.revision)))
    }

    /// Loads the snapshot a mark names.
    pub async fn load(&self, mark: &SnapshotMark) -> Result<PartitionSnapshot, LogError> {
        let name = &mark.object;
        let mut bytes = Vec::new();
        let read = async {
            let mut object = self.objects.get(name).await.map_err(|e| e.to_string())?;
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

    /// Stores an encoded snapshot (written by `replica`) and marks it the newest if it is
    /// later than the one marked; then trims the log below the previous snapshot's start and
    /// deletes the snapshot before that. Returns whether it became the newest.
    pub async fn save(
        &self,
        log: &PartitionLog,
        snapshot: (u64, u64, u64),
        replica: &str,
        bytes: &[u8],
    ) -> Result<bool, LogError> {
        let (tick, tick_seq, read_from) = snapshot;
        if self
            .newest()
            .await?
            .is_some_and(|(newest, _)| newest.tick >= tick)
        {
            return Ok(false);
        }
        let object = self.object(tick, replica);
        let mut reader = bytes;
        tokio::time::timeout(
            SNAPSHOT_TIMEOUT,
            self.objects.put(object.as_str(), &mut reader),
        )
        .await
        .map_err(|_| server("storing the snapshot", "timed out"))?
        .map_err(|error| server("storing the snapshot", error))?;
        let previous = self.newest().await?;
        let mark = SnapshotMark {
            tick,
            tick_seq,
            read_from,
            object: object.clone(),
            previous_object: previous
                .as_ref()
                .map(|(previous, _)| previous.object.clone()),
        };
        let marked = previous
            .as_ref()
            .is_none_or(|(previous, _)| previous.tick < tick)
            && self
                .mark(&mark, previous.as_ref().map(|(_, revision)| *revision))
                .await?;
        if !marked {
            self.delete(&object).await;
            return Ok(false);
        }
        if let Some((previous, _)) = previous {
            log.trim_below(previous.read_from).await?;
            if let Some(older) = previous.previous_object {
                self.delete(&older).await;
            }
        }
        Ok(true)
    }

    /// Writes the mark over `revision` (none: no mark yet); false when another wrote first.
    async fn mark(&self, mark: &SnapshotMark, revision: Option<u64>) -> Result<bool, LogError> {
        let value: bytes::Bytes = codec::encode(mark).into();
        // `None`: another standby marked one first: the same state; theirs stands.
        let written = compare_and_set(
            &self.marks,
            &self.key(),
            value,
            revision,
            "marking the snapshot",
        )
        .await?;
        Ok(written.is_some())
    }

    /// Deletes a snapshot's object (best effort: what is left is retried at the next mark).
    async fn delete(&self, object: &str) {
        let deleted = self.objects.delete(object);
        if tokio::time::timeout(LOG_TIMEOUT, deleted).await.is_err() {
            tracing::warn!(object, "could not delete a snapshot");
        }
    }
}
