//! Leadership of a partition: a lease in JetStream KV (bucket `MW_LEASES`, one key per
//! partition, the holder's name as its value), taken and renewed only by compare-and-set on
//! the key's revision. A leader renews it every `lease / 5`; a standby that sees the same
//! revision for a whole lease (by its own monotonic clock: no clocks are compared across
//! machines) takes it over with the revision it saw, so of two standbys at most one wins.
//!
//! The lease says who should lead; it is not what keeps the log single-writer. That is the
//! log's expected-sequence append (`log`): a leader whose lease lapsed without its knowing
//! still cannot append after another's tick.

use std::time::{Duration, Instant};

use async_nats::jetstream::Context;
use async_nats::jetstream::kv::{self, CreateErrorKind, UpdateErrorKind};
use async_nats::jetstream::stream::{self, DiscardPolicy, StorageType};

use crate::log::{LOG_TIMEOUT, LogError};

/// The KV bucket of the partitions' leases.
pub const LEASE_BUCKET: &str = "MW_LEASES";

/// A KV bucket, created if it does not exist yet (one value per key is kept). Created as the
/// stream `create_key_value` would make (`KV_<name>` over `$KV.<name>.>`), but directly:
/// `create_key_value` first asks for the account's info, whose answer from a 2.9 server (the
/// Debian package) async-nats 0.51 cannot parse.
pub(crate) async fn bucket(jetstream: &Context, name: &str) -> Result<kv::Store, LogError> {
    let server = |error: String| LogError::Server(format!("KV bucket {name}: {error}"));
    let timed = |what| move |_| server(format!("{what} timed out"));
    let config = stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        storage: StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: DiscardPolicy::New,
        num_replicas: 1,
        ..Default::default()
    };
    tokio::time::timeout(LOG_TIMEOUT, jetstream.get_or_create_stream(config))
        .await
        .map_err(timed("creating"))?
        .map_err(|error| server(error.to_string()))?;
    tokio::time::timeout(LOG_TIMEOUT, jetstream.get_key_value(name))
        .await
        .map_err(timed("opening"))?
        .map_err(|error| server(error.to_string()))
}

/// Writes `value` under `key` by compare-and-set over `revision` (none: the key must not
/// exist yet). `Ok(Some(revision))`: written, at that new revision; `Ok(None)`: another
/// wrote first; an error names `what` failed (NATS unreachable, slow, or refusing).
pub(crate) async fn compare_and_set(
    store: &kv::Store,
    key: &str,
    value: bytes::Bytes,
    revision: Option<u64>,
    what: &str,
) -> Result<Option<u64>, LogError> {
    let failed = |detail: String| LogError::Server(format!("{what}: {detail}"));
    match revision {
        None => match tokio::time::timeout(LOG_TIMEOUT, store.create(key, value))
            .await
            .map_err(|_| failed("timed out".into()))?
        {
            Ok(written) => Ok(Some(written)),
            Err(error) if error.kind() == CreateErrorKind::AlreadyExists => Ok(None),
            Err(error) => Err(failed(error.to_string())),
        },
        Some(revision) => {
            match tokio::time::timeout(LOG_TIMEOUT, store.update(key, value, revision))
                .await
                .map_err(|_| failed("timed out".into()))?
            {
                Ok(written) => Ok(Some(written)),
                Err(error) if error.kind() == UpdateErrorKind::WrongLastRevision => Ok(None),
                Err(error) => Err(failed(error.to_string())),
            }
        }
    }
}

/// Who holds a lease, as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// The holder's name.
    pub name: String,
    /// The key's revision when read.
    pub revision: u64,
}

/// One replica's view of its partition's lease.
pub struct Lease {
    store: kv::Store,
    key: String,
    me: String,
    length: Duration,
    /// The revision this replica wrote last and when it wrote it (it holds the lease).
    held: Option<(u64, Instant)>,
    /// Another's revision and when this replica first saw it (a standby's clock on it).
    observed: Option<(u64, Instant)>,
}

/// Whether a replica name can be a lease holder: 1 to 128 bytes, not blank.
pub fn check_replica_name(name: &str) -> Result<(), LogError> {
    if (1..=128).contains(&name.len()) && !name.trim().is_empty() {
        Ok(())
    } else {
        Err(LogError::BadName(format!(
            "replica name `{name}`: use 1 to 128 bytes, not blank"
        )))
    }
}

impl Lease {
    /// The lease of `partition` as seen by the replica named `me`; a lease lapses after
    /// `length` without renewal.
    pub async fn open(
        jetstream: &Context,
        partition: &str,
        me: &str,
        length: Duration,
    ) -> Result<Self, LogError> {
        check_replica_name(me)?;
        Ok(Self {
            store: bucket(jetstream, LEASE_BUCKET).await?,
            key: partition.to_owned(),
            me: me.to_owned(),
            length,
            held: None,
            observed: None,
        })
    }

    /// The current holder, if any (an empty name: given up, see [`Lease::release`]).
    pub async fn holder(&self) -> Result<Option<Holder>, LogError> {
        let entry = tokio::time::timeout(LOG_TIMEOUT, self.store.entry(self.key.as_str()))
            .await
            .map_err(|_| LogError::Server("reading the lease timed out".into()))?
            .map_err(|error| LogError::Server(format!("reading the lease: {error}")))?;
        Ok(entry
            .filter(|entry| entry.operation == kv::Operation::Put)
            .map(|entry| Holder {
                name: String::from_utf8_lossy(&entry.value).into_owned(),
                revision: entry.revision,
            }))
    }

    /// A standby's check: takes the lease if nobody holds it, it was given up, or its holder
    /// has not renewed it for a whole lease by this replica's clock. Returns whether this
    /// replica now holds it.
    pub async fn try_take(&mut self, now: Instant) -> Result<bool, LogError> {
        let revision = match self.holder().await? {
            None => None,
            Some(holder) if holder.name.is_empty() => Some(holder.revision),
            Some(holder) => {
                let lapsed = match self.observed {
                    Some((seen, since)) if seen == holder.revision => {
                        now.duration_since(since) >= self.length
                    }
                    _ => {
                        self.observed = Some((holder.revision, now));
                        false
                    }
                };
                if !lapsed {
                    return Ok(false);
                }
                Some(holder.revision)
            }
        };
        self.observed = None;
        self.put(revision, now).await
    }

    /// A leader's renewal. Returns false when another holds the lease (deposed). A renewal
    /// whose answer was lost is recognised: the key still holds this replica's name.
    pub async fn renew(&mut self, now: Instant) -> Result<bool, LogError> {
        let Some((revision, _)) = self.held else {
            return Ok(false);
        };
        if self.put(Some(revision), now).await? {
            return Ok(true);
        }
        match self.holder().await? {
            // Renew over it at once: standbys count from when they saw that revision.
            Some(holder) if holder.name == self.me => self.put(Some(holder.revision), now).await,
            _ => Ok(false),
        }
    }

    /// Whether this replica's last renewal is older than the lease: a standby may have taken
    /// over by now, so it must not lead on.
    pub fn lapsed(&self, now: Instant) -> bool {
        self.held
            .is_none_or(|(_, renewed)| now.duration_since(renewed) >= self.length)
    }

    /// Gives the lease up if it names this replica (a leader stopping or starting over), so
    /// that a standby need not wait it out: at the revision that holds the name now, which
    /// may be later than the one this replica knows (a renewal cut short after it was
    /// written). A replica the lease does not name never writes here.
    pub async fn release(&mut self) {
        let known = self.held.take();
        let revision = match self.holder().await {
            Ok(Some(holder)) if holder.name == self.me => holder.revision,
            Ok(_) => return,
            Err(_) => match known {
                Some((revision, _)) => revision,
                None => return,
            },
        };
        let released = self.store.update(self.key.as_str(), "".into(), revision);
        let _ = tokio::time::timeout(LOG_TIMEOUT, released).await;
    }

    /// Forgets that this replica held the lease (it stepped down).
    pub fn forget(&mut self) {
        self.held = None;
    }

    /// Writes this replica's name over `revision` (none: the key must not exist). Returns
    /// false when another wrote first.
    async fn put(&mut self, revision: Option<u64>, now: Instant) -> Result<bool, LogError> {
        let value: bytes::Bytes = self.me.clone().into_bytes().into();
        let what = if revision.is_none() {
            "taking the lease"
        } else {
            "renewing the lease"
        };
        let written = compare_and_set(&self.store, &self.key, value, revision, what).await?;
        self.held = written.map(|revision| (revision, now));
        Ok(written.is_some())
    }

    /// How often a leader renews, and a standby looks.
    pub fn check_every(&self) -> Duration {
        self.length / 5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_names_are_checked() {
        assert!(check_replica_name("host-1234-0a1b2c3d").is_ok());
        for bad in ["", "   ", &"x".repeat(129)] {
            let error = check_replica_name(bad).unwrap_err();
            assert!(error.to_string().contains("replica name"), "{error}");
        }
    }
}
