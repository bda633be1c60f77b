//! The store opened read-only, for `matchwright trace export`: the snapshot an export starts
//! from and the journal after it, read without recovering or writing anything. It reads the
//! same tables as `recover` but never runs the matcher (the trace tools do that), so it is
//! the one reader that must check the journal's invariants itself (`journal`) before handing
//! entries out.

use std::path::{Path, PathBuf};

use matchwright_ecs::{Config, EventChain, Snapshot};
use redb::ReadableDatabase;

use super::journal::{JournalHead, walk};
use super::open::check_header;
use super::snapshot::StoredSnapshot;
use super::snapshot_files::{SnapshotRef, catalog, load};
use crate::error::{StoreError, from_redb};
use crate::records::JournalEntry;

/// The store opened read-only, for `matchwright trace export`: the journal and the snapshot it
/// starts from, read without recovering or writing anything. Refused (`StoreError::InUse`)
/// while a server holds the file.
pub struct JournalExport {
    db: redb::ReadOnlyDatabase,
    path: PathBuf,
}

/// Where an export starts: a snapshot, and the journal after it.
#[derive(Clone, Debug)]
pub struct ExportBase {
    /// The snapshot's tick; the export's first tick is the one after.
    pub tick: u64,
    /// The matcher time of that tick.
    pub now_ms: u64,
    /// The event chain at that tick: the first journal entry after it must extend it.
    pub chain: EventChain,
    /// The config the journal after it ran under.
    pub config: Config,
    /// The matcher's state.
    pub state: Snapshot,
    /// When the journal kept before `tick` ran under another config (the server was restarted
    /// with a new one), the oldest snapshot kept: that part cannot replay under this config
    /// and is left out.
    pub other_config_from: Option<u64>,
}

impl JournalExport {
    /// Opens the store at `path` read-only.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Err(error) = std::fs::metadata(&path) {
            return Err(StoreError::Io {
                path,
                doing: "reading",
                detail: error.to_string(),
                disk_full: false,
            });
        }
        check_header(&path)?;
        let db = redb::ReadOnlyDatabase::open(&path).map_err(|error| match error {
            redb::DatabaseError::RepairAborted => StoreError::Corrupt {
                path: path.clone(),
                detail: "it was not closed cleanly (the server crashed or was killed) and cannot \
                         be repaired read-only: start `matchwright serve` on it once, which \
                         recovers it, stop it, then export"
                    .into(),
            },
            other => from_redb(&path, "opening", other.into()),
        })?;
        Ok(Self { db, path })
    }

    /// The snapshot the export starts from: the oldest kept under the config in force now.
    pub fn base(&self) -> Result<ExportBase, StoreError> {
        let read_error = |error: redb::Error| from_redb(&self.path, "reading", error);
        let read = self.db.begin_read().map_err(|e| read_error(e.into()))?;
        let catalog = catalog(&self.path, &read)?;
        // Newest first: walk back while the config stays the newest one's.
        let mut base: Option<StoredSnapshot> = None;
        let mut other_config_from = None;
        for at in catalog.iter().rev() {
            let stored = load(&self.path, &read, at)?;
            match &base {
                Some(newer) if newer.config_toml != stored.config_toml => {
                    // The oldest snapshot of all, for the message.
                    other_config_from = catalog.first().map(SnapshotRef::tick);
                    break;
                }
                _ => base = Some(stored),
            }
        }
        let base = base.ok_or_else(|| StoreError::Corrupt {
            path: self.path.clone(),
            detail: "it holds no snapshot to export from".into(),
        })?;
        let config = base.config(&self.path)?;
        Ok(ExportBase {
            tick: base.tick,
            now_ms: base.now_ms,
            chain: EventChain(base.chain_hash),
            config,
            state: base.state,
            other_config_from,
        })
    }

    /// Visits every journal entry after the base at `base_tick` (whose chain is
    /// `base_chain`: [`ExportBase::tick`] and [`ExportBase::chain`]), in order, and returns how
    /// many it visited. Each entry is checked first to follow the one before (the read side
    /// of the journal's invariants): a break is `Err(Ok(StoreError::Corrupt))`, and nothing
    /// after it is visited. `visit` may stop the walk with an error of its own (returned as
    /// `Err(Err(..))`).
    pub fn entries<E>(
        &self,
        base_tick: u64,
        base_chain: EventChain,
        mut visit: impl FnMut(JournalEntry) -> Result<(), E>,
    ) -> Result<u64, Result<StoreError, E>> {
        let base = JournalHead {
            tick: base_tick,
            chain: base_chain,
        };
        let head = walk(&self.db, &self.path, base_tick + 1, Some(base), |entry| {
            visit(entry).map(|()| true)
        })?;
        Ok(head.map_or(0, |head| head.tick - base_tick))
    }
}
