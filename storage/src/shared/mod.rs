//! The shared record: Postgres as the system of record of a cluster (issue 21). Gateways keep
//! no accounts of their own: every gateway reads and writes accounts, refresh tokens and avoid
//! lists here (`accounts`), bans and the operators' audit log (`operators`), reads ratings, history, leaderboards and matches here (`derived`),
//! and records each partition's events into those tables exactly once (`recording`).
//!
//! The same questions `StoreHandle` answers for `serve`, with the same rules (usernames unique,
//! a refresh token spent once, a reused one revoking its family), each call one statement or
//! one transaction, so a call that fails changed nothing. Errors are
//! [`StoreError::Shared`], naming what was being done. The tables are the mirror's schema
//! grown (`storage/migrations`): ratings, matches and history are the mirror's own tables.

mod accounts;
mod derived;
mod operators;
mod recording;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::PgPool;

use crate::StoreError;
use crate::mirror::{Mirror, MirrorError, MirrorOptions};

pub use operators::{BAN_READ_TIMEOUT, BAN_UNANSWERED};
pub use recording::{EventsPart, Recorded};

/// A pool on the shared record, migrated, for one season's ratings.
#[derive(Clone, Debug)]
pub struct SharedRecord {
    pool: PgPool,
    season: String,
    target: String,
    timeout: Duration,
    /// Players whose account was seen (accounts are never deleted, so a token's account,
    /// once found, is not read again): at most [`KNOWN_PLAYERS`], forgotten all at once there.
    known: Arc<Mutex<HashSet<u64>>>,
}

/// The bound on [`SharedRecord`]'s set of players known to exist (about 40 MB at the bound).
pub const KNOWN_PLAYERS: usize = 1_000_000;

impl SharedRecord {
    /// Connects (a clear error within `options.connect_timeout` if Postgres is away or refuses
    /// us) and runs the migrations; ratings are read and written under `season`.
    pub async fn connect(
        options: &MirrorOptions,
        season: impl Into<String>,
    ) -> Result<Self, MirrorError> {
        let mirror = Mirror::connect(options).await?;
        Ok(Self {
            pool: mirror.pool().clone(),
            season: season.into(),
            target: mirror.target().to_string(),
            timeout: options.connect_timeout,
            known: Arc::default(),
        })
    }

    /// Where it points (no password).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The season ratings are kept under.
    pub fn season(&self) -> &str {
        &self.season
    }

    /// The pool (for tools and tests reading the record).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs `work`, bounded by the connect timeout (a Postgres that hangs is an error, not a
    /// request waiting for ever), and names `doing` in its error.
    async fn run<T>(
        &self,
        doing: &'static str,
        work: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, StoreError> {
        let answered = tokio::time::timeout(self.timeout, work).await;
        self.answer(doing, answered)
    }

    /// What a statement bounded by the timeout gave, as the record's result.
    fn answer<T>(
        &self,
        doing: &'static str,
        answered: Result<Result<T, sqlx::Error>, tokio::time::error::Elapsed>,
    ) -> Result<T, StoreError> {
        match answered {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(StoreError::Shared {
                doing,
                detail: error.to_string(),
            }),
            Err(_) => Err(StoreError::Shared {
                doing,
                detail: format!("no answer within {:?}", self.timeout),
            }),
        }
    }
}

/// A u64 id as Postgres's BIGINT. Ids the server makes stay below 2^63; a larger one (a
/// client's path or cursor) reads as `i64::MAX`, which names nothing: not found, or the end.
fn id(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A BIGINT column back to the u64 it was stored from (bit pattern, so a u64 above i64::MAX,
/// e.g. a token family, comes back unchanged).
fn unsigned(value: i64) -> u64 {
    value as u64
}
