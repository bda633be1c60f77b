//! Snapshots as stored: the matcher's state, the config it ran under and where the event
//! chain stood, written inside a tick's transaction when one is due. Recovery starts from the
//! newest, export and `base_snapshot` from an older one; all three read this one type, so
//! what a snapshot holds is defined once.

use std::path::Path;

use matchwright_ecs::codec;
use matchwright_ecs::{Config, Matcher, Snapshot};
use redb::WriteTransaction;
use serde::{Deserialize, Serialize};

use super::Store;
use crate::error::StoreError;
use crate::tables::SNAPSHOTS;

/// A snapshot as stored: the matcher's state, the config it ran under (as TOML: the config's
/// tagged enums need a self-describing format), and where the event chain stood.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct StoredSnapshot {
    pub(super) tick: u64,
    pub(super) now_ms: u64,
    pub(super) chain_hash: [u8; 32],
    pub(super) config_toml: String,
    pub(super) state: Snapshot,
}

impl StoredSnapshot {
    /// The config it ran under.
    pub(super) fn config(&self, path: &Path) -> Result<Config, StoreError> {
        Config::from_toml_str(&self.config_toml).map_err(|error| StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: format!(
                "snapshot {} holds a config that does not load: {error}",
                self.tick
            ),
        })
    }
}

impl Store {
    /// Writes a snapshot of `matcher` at the last tick into `txn`, and restarts the count
    /// towards the next one.
    pub(super) fn write_snapshot(
        &mut self,
        txn: &WriteTransaction,
        matcher: &Matcher,
        config: &Config,
    ) -> Result<(), StoreError> {
        let state = matcher.snapshot().map_err(|error| StoreError::Matcher {
            path: self.path.clone(),
            detail: error.to_string(),
        })?;
        let stored = StoredSnapshot {
            tick: self.last_tick,
            now_ms: self.last_now_ms,
            chain_hash: self.chain_hash,
            config_toml: config.to_toml_string(),
            state,
        };
        let bytes = codec::encode(&stored);
        let result = (|| -> Result<(), redb::Error> {
            txn.open_table(SNAPSHOTS)?
                .insert(self.last_tick, bytes.as_slice())?;
            Ok(())
        })();
        result.map_err(|error| self.fail("writing a snapshot to", error))?;
        self.ticks_since_snapshot = 0;
        self.commands_since_snapshot = 0;
        Ok(())
    }
}
