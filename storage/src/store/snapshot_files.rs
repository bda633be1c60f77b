//! Snapshots written off the tick thread, and where they are: each is one file in a directory
//! beside the redb file (`<file>.snapshots/`), named by its tick, and a row in the
//! `snapshot_files` table that says the file is whole (its length and blake3 hash). The file
//! is written to a temporary name, fsynced and renamed, and only then is its row committed
//! (by the tick thread, with a tick): a file without a row is an interrupted write and is
//! deleted at open; a row always names a whole file.
//!
//! Where a snapshot is written is the [`SnapshotSink`] trait, apart from where it comes from
//! (`follower`): a directory here; a cluster's partitions would put the same bytes in an
//! object store.
//!
//! This file also owns the catalog of every snapshot the store keeps, in the table (`Inline`:
//! the first snapshot, those written under a new config, and those written in the tick when
//! no follower runs) or in files, so that recovery, export, pruning and `base_snapshot` read
//! one list, and which file snapshots are kept.

use std::io::Write;
use std::path::{Path, PathBuf};

use matchwright_ecs::codec;
use matchwright_ecs::{Config, Snapshot};
use redb::{ReadTransaction, ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};

use super::snapshot::StoredSnapshot;
use crate::error::{StoreError, from_redb};
use crate::tables::{SNAPSHOT_FILES, SNAPSHOTS, decode_at};

/// The first bytes of a snapshot file, before the encoded [`StoredSnapshot`].
const FILE_MAGIC: &[u8; 8] = b"MWSNAP01";

/// Where snapshots taken off the tick thread go. `write` returns only once the bytes are
/// durable; `read` returns them as written (the caller checks length and hash).
pub trait SnapshotSink: Send + Sync + std::fmt::Debug + 'static {
    /// Stores the snapshot of `tick`; returns its name.
    fn write(&self, tick: u64, bytes: &[u8]) -> std::io::Result<String>;
    /// The bytes stored under `name`.
    fn read(&self, name: &str) -> std::io::Result<Vec<u8>>;
    /// Deletes `name` (a name already gone is not an error).
    fn delete(&self, name: &str) -> std::io::Result<()>;
    /// Deletes what an interrupted `write` left (not any name in `keep`).
    fn clean(&self, keep: &[String]) -> std::io::Result<usize>;
}

/// A directory of snapshot files.
#[derive(Clone, Debug)]
pub struct DirectorySink {
    dir: PathBuf,
}

impl DirectorySink {
    /// The snapshot directory of the store at `store_path`.
    pub fn beside(store_path: &Path) -> Self {
        let mut dir = store_path.as_os_str().to_owned();
        dir.push(".snapshots");
        Self {
            dir: PathBuf::from(dir),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn sync_dir(&self) -> std::io::Result<()> {
        std::fs::File::open(&self.dir)?.sync_all()
    }
}

impl SnapshotSink for DirectorySink {
    fn write(&self, tick: u64, bytes: &[u8]) -> std::io::Result<String> {
        std::fs::create_dir_all(&self.dir)?;
        let name = format!("snapshot-{tick:020}.bin");
        let partial = self.dir.join(format!("{name}.partial"));
        let mut file = std::fs::File::create(&partial)?;
        file.write_all(FILE_MAGIC)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&partial, self.dir.join(&name))?;
        self.sync_dir()?;
        Ok(name)
    }

    fn read(&self, name: &str) -> std::io::Result<Vec<u8>> {
        let mut bytes = std::fs::read(self.dir.join(name))?;
        if !bytes.starts_with(FILE_MAGIC) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "it does not start with a Matchwright snapshot's magic bytes",
            ));
        }
        bytes.drain(..FILE_MAGIC.len());
        Ok(bytes)
    }

    fn delete(&self, name: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.dir.join(name)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    fn clean(&self, keep: &[String]) -> std::io::Result<usize> {
        let entries = match std::fs::read_dir(&self.dir) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            other => other?,
        };
        let mut removed = 0;
        for entry in entries {
            let name = entry?.file_name().to_string_lossy().into_owned();
            let ours = name.starts_with("snapshot-");
            if ours && !keep.contains(&name) {
                self.delete(&name)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// A snapshot file's row: where it is and what it must hash to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SnapshotFileRow {
    pub(crate) tick: u64,
    pub(crate) now_ms: u64,
    pub(crate) chain_hash: [u8; 32],
    pub(crate) name: String,
    pub(crate) len: u64,
    pub(crate) hash: [u8; 32],
}

/// One snapshot the store keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SnapshotRef {
    /// In the `snapshots` table, at this tick.
    Inline(u64),
    /// In a file.
    File(SnapshotFileRow),
}

impl SnapshotRef {
    pub(crate) fn tick(&self) -> u64 {
        match self {
            Self::Inline(tick) => *tick,
            Self::File(row) => row.tick,
        }
    }
}

/// Every snapshot kept, oldest first (a tick in both places is listed once, inline).
pub(crate) fn catalog(path: &Path, read: &ReadTransaction) -> Result<Vec<SnapshotRef>, StoreError> {
    let read_error = |error: redb::Error| from_redb(path, "reading", error);
    let mut all = Vec::new();
    let inline = read
        .open_table(SNAPSHOTS)
        .map_err(|e| read_error(e.into()))?;
    for item in inline.iter().map_err(|e| read_error(e.into()))? {
        let (tick, _) = item.map_err(|e| read_error(e.into()))?;
        all.push(SnapshotRef::Inline(tick.value()));
    }
    for row in file_rows(path, read)? {
        if !all.contains(&SnapshotRef::Inline(row.tick)) {
            all.push(SnapshotRef::File(row));
        }
    }
    all.sort_by_key(SnapshotRef::tick);
    Ok(all)
}

/// The rows of the `snapshot_files` table (none in a store written before it existed).
pub(crate) fn file_rows(
    path: &Path,
    read: &ReadTransaction,
) -> Result<Vec<SnapshotFileRow>, StoreError> {
    let read_error = |error: redb::Error| from_redb(path, "reading", error);
    let table = match read.open_table(SNAPSHOT_FILES) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(error) => return Err(read_error(error.into())),
    };
    let mut rows = Vec::new();
    for item in table.iter().map_err(|e| read_error(e.into()))? {
        let (tick, bytes) = item.map_err(|e| read_error(e.into()))?;
        let row: SnapshotFileRow = decode_at(
            path,
            format_args!("snapshot file row {}", tick.value()),
            bytes.value(),
        )?;
        if row.tick != tick.value() {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                detail: format!("snapshot file row {} names tick {}", tick.value(), row.tick),
            });
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Reads one snapshot, checked: a file must have its row's length and hash, and hold the tick
/// and chain its row names.
pub(crate) fn load(
    path: &Path,
    read: &ReadTransaction,
    at: &SnapshotRef,
) -> Result<StoredSnapshot, StoreError> {
    match at {
        SnapshotRef::Inline(tick) => {
            let read_error = |error: redb::Error| from_redb(path, "reading", error);
            let table = read
                .open_table(SNAPSHOTS)
                .map_err(|e| read_error(e.into()))?;
            let bytes = table
                .get(*tick)
                .map_err(|e| read_error(e.into()))?
                .ok_or_else(|| StoreError::Corrupt {
                    path: path.to_path_buf(),
                    detail: format!("snapshot {tick} is listed but missing"),
                })?;
            decode_at(path, format_args!("snapshot {tick}"), bytes.value())
        }
        SnapshotRef::File(row) => load_file(path, &DirectorySink::beside(path), row),
    }
}

/// Reads and checks a snapshot file against its row.
pub(crate) fn load_file(
    path: &Path,
    sink: &dyn SnapshotSink,
    row: &SnapshotFileRow,
) -> Result<StoredSnapshot, StoreError> {
    let damaged = |detail: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail: format!("snapshot file {} (tick {}) {detail}", row.name, row.tick),
    };
    let bytes = sink
        .read(&row.name)
        .map_err(|error| damaged(format!("cannot be read: {error}")))?;
    if bytes.len() as u64 != row.len || *blake3::hash(&bytes).as_bytes() != row.hash {
        return Err(damaged(format!(
            "is damaged: {} bytes, its row says {} with another hash",
            bytes.len(),
            row.len
        )));
    }
    let stored: StoredSnapshot =
        decode_at(path, format_args!("snapshot file {}", row.name), &bytes)?;
    if stored.tick != row.tick || stored.chain_hash != row.chain_hash {
        return Err(damaged("holds another tick or chain than its row".into()));
    }
    Ok(stored)
}

/// Writes an encoded snapshot through `sink`; returns its row.
pub(crate) fn write_file(
    sink: &dyn SnapshotSink,
    stored: &StoredSnapshot,
) -> std::io::Result<SnapshotFileRow> {
    let bytes = codec::encode(stored);
    let name = sink.write(stored.tick, &bytes)?;
    Ok(SnapshotFileRow {
        tick: stored.tick,
        now_ms: stored.now_ms,
        chain_hash: stored.chain_hash,
        name,
        len: bytes.len() as u64,
        hash: *blake3::hash(&bytes).as_bytes(),
    })
}

/// Removes the rows of file snapshots nobody needs, and returns their files' names. Kept: the
/// newest (recovery's), the oldest of all (the export's base until pruning moves it), and,
/// between them, one snapshot per half `journal_keep_ms` (walking from the oldest, a snapshot
/// is kept if it was taken at least that long after the last one kept), so that pruning
/// always finds a base no more than half `journal_keep_ms` older than it could use. With
/// snapshots every few minutes and an hour of journal kept, that is three to four files.
pub(super) fn retire_files(
    txn: &redb::WriteTransaction,
    journal_keep_ms: u64,
) -> Result<Vec<String>, redb::Error> {
    let mut table = txn.open_table(SNAPSHOT_FILES)?;
    let mut rows: Vec<SnapshotFileRow> = Vec::new();
    for item in table.iter()? {
        let (_, bytes) = item?;
        rows.push(
            codec::decode(bytes.value())
                .map_err(|e| redb::Error::Corrupted(format!("snapshot file row: {e}")))?,
        );
    }
    let spacing = journal_keep_ms / 2;
    // An inline snapshot older than every file is the oldest kept; its time is unknown without
    // decoding it, and only its being older matters.
    let inline_first = txn
        .open_table(SNAPSHOTS)?
        .first()?
        .map(|(tick, _)| tick.value());
    let mut last_kept: Option<u64> = inline_first
        .filter(|tick| rows.first().is_some_and(|row| *tick < row.tick))
        .map(|_| 0);
    let newest = rows.last().map(|row| row.tick);
    let mut retired = Vec::new();
    for row in rows {
        let keep = match last_kept {
            None => true,
            Some(at) => Some(row.tick) == newest || row.now_ms >= at.saturating_add(spacing),
        };
        if keep {
            last_kept = Some(row.now_ms);
        } else {
            table.remove(row.tick)?;
            retired.push(row.name);
        }
    }
    Ok(retired)
}

impl super::Store {
    /// The oldest snapshot kept (the base the journal can be replayed from): its tick, the
    /// config it ran under, and the state.
    pub fn base_snapshot(&self) -> Result<(u64, Config, Snapshot), StoreError> {
        let read_error = |error: redb::Error| from_redb(&self.path, "reading", error);
        let read = self.db.begin_read().map_err(|e| read_error(e.into()))?;
        let oldest = catalog(&self.path, &read)?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Corrupt {
                path: self.path.clone(),
                detail: "it holds no snapshot".into(),
            })?;
        let stored = load(&self.path, &read, &oldest)?;
        let config = stored.config(&self.path)?;
        Ok((stored.tick, config, stored.state))
    }
}
