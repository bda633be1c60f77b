//! The Postgres mirror: migrations, and the task that drains the redb outbox into Postgres.
//!
//! redb is the source of truth; Postgres is a copy for reporting and other services. The task
//! reads outbox rows in order, in batches, and splits each batch into partitions by key (a
//! match's rows by its id, a player's by theirs), so every Postgres row is written by one
//! partition only, in outbox order. Each partition applies its share on its own connection, in
//! one transaction of bulk upserts (`INSERT ... SELECT FROM UNNEST(...) ON CONFLICT`), which
//! also records the batch's last sequence number as that partition's high-water mark
//! (`mirror_state`, one row per partition). The partitions run at once; only after all of them
//! have committed are the rows deleted from the outbox, and while Postgres takes a batch the
//! next one is read and decoded from redb.
//!
//! A batch cut off mid-way is rolled back and sent again; a partition skips rows at or below
//! its own mark (committed there, not yet deleted from redb when the process died or another
//! partition failed). Upserts make a re-sent row harmless. While Postgres is away the task
//! retries with backoff and the outbox grows, up to the store's bound. `mirror_state` always
//! holds a complete set of marks; started with another number of partitions, every partition
//! starts from the lowest of them (rows after it are sent again, in order).
//!
//! What a reader of Postgres sees: each key's rows in outbox order, and each partition's
//! share of a batch at once; for a moment one partition's share may be in while another's is
//! not (a match's session before a player's new rating, say). With `partitions = 1` every
//! batch lands whole, as one transaction.
//!
//! Where the time goes (profiled with `storage-bench --mirror-rows N --profile`, see
//! `docs/benchmarks.md`): redb reads and deletes are about 2% of a drain; Postgres is the rest,
//! and most of that is `match_players` (several rows per match, two B-tree indexes, one of them
//! by player, so random), then the `ON CONFLICT` machinery itself (a probe of the key before
//! each insert, speculative insertion). Hence:
//! - `match_players` rows are sent sorted by player, the index they land in at random;
//! - the rows of a match new to Postgres (its `matches` row inserted by this very
//!   transaction, `RETURNING` says which) are plain inserts: nothing of it can be there yet.
//!   Should one collide all the same (rows written by hand), the transaction is done again
//!   with upserts only;
//! - an upsert that would change nothing writes nothing (`WHERE ... IS DISTINCT FROM`);
//! - a match's `matches` and `match_players` rows are not sent again while its players are
//!   what the partition last committed (`Seen`);
//! - the partitions put more than one Postgres backend to work;
//! - the next batch is read and decoded from redb, and the last one deleted, while Postgres
//!   takes the current one.
//!
//! The rows are sent as arrays (`UNNEST`), not with `COPY`: getting the rows into Postgres's
//! executor is a few percent of its time; index maintenance is the rest, and `COPY` into a
//! staging table would only add a write.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::hash::{Hash as _, Hasher as _};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions as _, Connection as _, Postgres, Transaction};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::records::{MatchRow, MirrorRow};
use crate::store::OutboxReader;

/// How long running the migrations may take.
const MIGRATION_TIMEOUT: Duration = Duration::from_secs(60);

/// The migrations in `storage/migrations`, embedded.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How to reach Postgres and how to drain into it.
#[derive(Clone, Debug)]
pub struct MirrorOptions {
    /// A `postgres://` URL.
    pub url: String,
    /// The schema to keep the tables in (created if missing); `None` for the default.
    pub schema: Option<String>,
    /// Outbox rows per batch (one Postgres transaction per partition).
    pub batch_rows: usize,
    /// Partitions: connections (and Postgres backends) writing one batch at once. Changing it
    /// between runs is safe (every partition then starts again from the lowest mark).
    pub partitions: usize,
    /// How long to wait for a connection before saying Postgres is unreachable.
    pub connect_timeout: Duration,
    /// How long to wait when the outbox is empty.
    pub idle_poll: Duration,
    /// The longest wait between retries while Postgres is away.
    pub max_backoff: Duration,
}

impl MirrorOptions {
    /// Defaults for a URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: None,
            batch_rows: 20_000,
            partitions: 2,
            connect_timeout: Duration::from_secs(5),
            idle_poll: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// Why the mirror could not do something.
#[derive(Debug)]
pub enum MirrorError {
    /// The URL does not parse.
    BadUrl(String),
    /// Postgres did not answer.
    Unreachable {
        /// Where it was looked for (no password).
        target: String,
        /// The cause.
        detail: String,
    },
    /// Postgres answered and refused us (wrong credentials, no such database).
    Refused {
        /// Where (no password).
        target: String,
        /// What Postgres said.
        detail: String,
    },
    /// The migrations failed.
    Migration(String),
    /// A statement failed.
    Query(String),
    /// Reading or acknowledging the outbox failed.
    Store(String),
}

impl fmt::Display for MirrorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadUrl(detail) => write!(f, "the Postgres URL is not valid: {detail}"),
            Self::Unreachable { target, detail } => {
                write!(f, "Postgres at {target} is unreachable: {detail}")
            }
            Self::Refused { target, detail } => {
                write!(f, "Postgres at {target} refused the connection: {detail}")
            }
            Self::Migration(detail) => write!(f, "the Postgres migrations failed: {detail}"),
            Self::Query(detail) => write!(f, "a Postgres statement failed: {detail}"),
            Self::Store(detail) => write!(f, "the outbox could not be read: {detail}"),
        }
    }
}

impl std::error::Error for MirrorError {}

fn classify(target: &str, error: sqlx::Error) -> MirrorError {
    match &error {
        sqlx::Error::Database(db) => {
            // Class 28: invalid authorization; 3D000: no such database.
            let code = db.code().unwrap_or_default();
            if code.starts_with("28") || code == "3D000" {
                return MirrorError::Refused {
                    target: target.to_string(),
                    detail: db.message().to_string(),
                };
            }
            MirrorError::Query(error.to_string())
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolClosed => MirrorError::Unreachable {
            target: target.to_string(),
            detail: error.to_string(),
        },
        _ => MirrorError::Query(error.to_string()),
    }
}

/// A connection pool to the mirror database, migrated.
#[derive(Clone, Debug)]
pub struct Mirror {
    pool: PgPool,
    target: String,
    partitions: usize,
}

fn unreachable(target: String, within: Duration) -> MirrorError {
    MirrorError::Unreachable {
        target,
        detail: format!("no answer within {within:?}"),
    }
}

impl Mirror {
    /// Connects (failing within `connect_timeout` with a clear error if Postgres is away or
    /// refuses us), creates the schema if one is named, and runs the migrations.
    pub async fn connect(options: &MirrorOptions) -> Result<Self, MirrorError> {
        let mut connect = PgConnectOptions::from_str(&options.url)
            .map_err(|error| MirrorError::BadUrl(error.to_string()))?;
        let target = format!(
            "{}:{}/{} as {}",
            connect.get_host(),
            connect.get_port(),
            connect.get_database().unwrap_or("(default)"),
            connect.get_username()
        );
        let within = options.connect_timeout;
        // One plain connection first: a pool retries a refused connection until its timeout
        // and then says only that it timed out; this says at once what happened.
        match tokio::time::timeout(within, connect.connect()).await {
            Ok(Ok(first)) => {
                let _ = first.close().await;
            }
            Ok(Err(error)) => return Err(classify(&target, error)),
            Err(_) => return Err(unreachable(target, within)),
        }
        let probe = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(within)
            .connect_with(connect.clone());
        let probe = match tokio::time::timeout(within, probe).await {
            Ok(result) => result.map_err(|error| classify(&target, error))?,
            Err(_) => return Err(unreachable(target, within)),
        };
        if let Some(schema) = &options.schema {
            sqlx::query(AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS \"{}\"",
                schema.replace('"', "\"\"")
            )))
            .execute(&probe)
            .await
            .map_err(|error| classify(&target, error))?;
            connect = connect.options([("search_path", schema.as_str())]);
        }
        probe.close().await;
        let partitions = options.partitions.clamp(1, 64);
        // A connection per partition, and one to spare (the marks, tools reading the mirror).
        let pool = PgPoolOptions::new()
            .max_connections(partitions as u32 + 1)
            .acquire_timeout(within)
            .connect_lazy_with(connect);
        // Another process migrating holds the migration lock: wait for it, within reason.
        tokio::time::timeout(MIGRATION_TIMEOUT, MIGRATOR.run(&pool))
            .await
            .map_err(|_| {
                MirrorError::Migration(format!(
                    "the migrations did not finish within {MIGRATION_TIMEOUT:?} (another process holding the migration lock?)"
                ))
            })?
            .map_err(|error| MirrorError::Migration(error.to_string()))?;
        Ok(Self {
            pool,
            target,
            partitions,
        })
    }

    /// Where it points (no password).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The pool (for tests and tools that read the mirror).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The partitions a batch is split into.
    pub fn partitions(&self) -> usize {
        self.partitions
    }

    /// Drops a schema and everything in it (tests and benchmarks clean up with it).
    pub async fn drop_schema(&self, schema: &str) -> Result<(), MirrorError> {
        sqlx::query(AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            schema.replace('"', "\"\"")
        )))
        .execute(&self.pool)
        .await
        .map_err(|error| classify(&self.target, error))?;
        Ok(())
    }

    /// The last outbox sequence number every partition has applied, if any.
    pub async fn high_water(&self) -> Result<Option<u64>, MirrorError> {
        Ok(lowest(&self.marks().await?))
    }

    /// Each partition's high-water mark (`None`: nothing applied yet). Marks another number
    /// of partitions left are replaced, in one transaction, by their lowest, for every
    /// partition: rows after it are sent again, in order, which is safe.
    pub async fn marks(&self) -> Result<Vec<Option<u64>>, MirrorError> {
        let classify = |error| classify(&self.target, error);
        let stored: Vec<(i16, i64)> =
            sqlx::query_as("SELECT id, high_water FROM mirror_state ORDER BY id")
                .fetch_all(&self.pool)
                .await
                .map_err(classify)?;
        let ids: Vec<usize> = stored.iter().map(|(id, _)| *id as usize).collect();
        if ids == (1..=self.partitions).collect::<Vec<_>>() {
            return Ok(stored.iter().map(|(_, mark)| mark_of(*mark)).collect());
        }
        // Always a complete set (see `set_marks`): its lowest mark holds for every key.
        let low = stored.iter().map(|(_, mark)| *mark).min().unwrap_or(-1);
        let mut tx = self.pool.begin().await.map_err(classify)?;
        set_marks(&mut tx, self.partitions, low)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(vec![mark_of(low); self.partitions])
    }

    /// Applies a whole batch (in outbox order) in one transaction, and sets every partition's
    /// mark to its last row. Rows before the batch must be in Postgres already.
    pub async fn apply(&self, batch: &[(u64, MirrorRow)]) -> Result<(), MirrorError> {
        let Some((last, _)) = batch.last() else {
            return Ok(());
        };
        let columns = Columns::from_rows(batch.iter().cloned(), &Seen::default());
        self.commit(&columns, *last, Marking::All)
            .await
            .map_err(|error| classify(&self.target, error))
    }

    /// Applies one partition's share of a batch ending at `last` in one transaction, with
    /// that partition's mark; `seen` is read to leave out what Postgres has, and updated once
    /// the transaction has committed.
    async fn apply_part(
        &self,
        part: usize,
        rows: Vec<(u64, MirrorRow)>,
        last: u64,
        seen: &mut Seen,
    ) -> Result<(), MirrorError> {
        let columns = Columns::from_rows(rows, seen);
        self.commit(&columns, last, Marking::Partition(part))
            .await
            .map_err(|error| classify(&self.target, error))?;
        seen.commit(columns.seen);
        Ok(())
    }

    /// Writes `columns` and the mark(s) in one transaction. The rows of matches new to
    /// Postgres go in as plain inserts; should one collide all the same (rows written by hand,
    /// say), the transaction is rolled back and done again with upserts only.
    async fn commit(&self, columns: &Columns, last: u64, mark: Marking) -> Result<(), sqlx::Error> {
        match self.try_commit(columns, last, mark, Fresh::Plain).await {
            Err(error) if unique_violation(&error) => {
                tracing::warn!(%error, "the mirror found rows it did not expect; upserting them");
                self.try_commit(columns, last, mark, Fresh::Upsert).await
            }
            result => result,
        }
    }

    async fn try_commit(
        &self,
        columns: &Columns,
        last: u64,
        mark: Marking,
        fresh: Fresh,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        write_columns(&mut tx, columns, fresh).await?;
        match mark {
            Marking::All => set_marks(&mut tx, self.partitions, last as i64).await?,
            Marking::Partition(part) => set_mark(&mut tx, part, last).await?,
        }
        tx.commit().await
    }
}

/// Which marks a transaction sets.
#[derive(Clone, Copy)]
enum Marking {
    /// Every partition's (a whole batch).
    All,
    /// One partition's.
    Partition(usize),
}

/// How the rows of matches new to Postgres (whose `matches` row this transaction inserted)
/// are written. Such a match has no `match_players` or `sessions` rows yet: they are only
/// ever written in the transaction that writes its `matches` row, or after it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fresh {
    /// Plain inserts: no arbiter check or speculative insertion (a quarter of Postgres's
    /// time in a profile of the drain).
    Plain,
    /// Upserts like every other row.
    Upsert,
}

/// SQLSTATE 23505.
fn unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}

/// Raises partition `part`'s mark to `last` (never lowers it: a partition may be ahead of
/// the batch after a partial failure).
async fn set_mark(
    tx: &mut Transaction<'static, Postgres>,
    part: usize,
    last: u64,
) -> Result<(), sqlx::Error> {
    let updated =
        sqlx::query("UPDATE mirror_state SET high_water = GREATEST(high_water, $1) WHERE id = $2")
            .bind(last as i64)
            .bind(part as i16 + 1)
            .execute(&mut **tx)
            .await?;
    if updated.rows_affected() != 1 {
        return Err(sqlx::Error::Protocol(format!(
            "the mark of partition {} is missing from mirror_state",
            part + 1
        )));
    }
    Ok(())
}

/// A stored mark: -1 is "nothing applied yet".
fn mark_of(stored: i64) -> Option<u64> {
    u64::try_from(stored).ok()
}

/// The lowest of the marks (`None` if any partition has applied nothing).
fn lowest(marks: &[Option<u64>]) -> Option<u64> {
    marks
        .iter()
        .copied()
        .try_fold(u64::MAX, |low, mark| mark.map(|mark| low.min(mark)))
        .filter(|_| !marks.is_empty())
}

/// Replaces the marks with one per partition, all `mark`: `mirror_state` always holds a
/// complete set (ids 1 to the number of partitions that wrote it), so its lowest mark is one
/// every key has reached, whatever partition held it.
async fn set_marks(
    tx: &mut Transaction<'static, Postgres>,
    partitions: usize,
    mark: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM mirror_state WHERE id > $1")
        .bind(partitions as i16)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO mirror_state (id, high_water) SELECT id, $2 FROM generate_series(1, $1) \
         AS ids (id) ON CONFLICT (id) DO UPDATE SET high_water = EXCLUDED.high_water",
    )
    .bind(i32::try_from(partitions).unwrap_or(i32::MAX))
    .bind(mark)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The partition a row belongs to: a match's rows go by its id, a player's by theirs, so each
/// Postgres row is written by one partition.
fn partition_of(row: &MirrorRow, partitions: usize) -> usize {
    let key = match row {
        MirrorRow::Match(row) => row.match_id.0,
        MirrorRow::Player { player, .. }
        | MirrorRow::Rating { player, .. }
        | MirrorRow::History { player, .. } => player.0,
    };
    // Fibonacci hashing: ids handed out in order spread evenly.
    let mixed = key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    (mixed % partitions.max(1) as u64) as usize
}

/// Ids are u64 in the core and BIGINT here: stored bit for bit (the server hands out ids
/// below 2^63, which read as themselves).
fn id(value: u64) -> i64 {
    value as i64
}

/// mu, sigma, volatility, games, updated_at_ms.
type RatingValues = (f64, f64, f64, i64, i64);
/// mode, placement, mu and sigma before, mu and sigma after, at_ms.
type HistoryValues = (String, i64, f64, f64, f64, f64, i64);
/// queue, mode, region, formed_at_ms, quality.
type MatchValues = (String, String, String, i64, f64);
/// state, updated_at_ms, placements, server address.
type SessionValues = (String, i64, Option<String>, Option<String>);

/// What a partition has committed of each live match: a digest of its players and roles. A
/// later row of the match with the same digest needs neither its `matches` row (written
/// once) nor its `match_players` rows: Postgres has them. Only ever a shortcut: a match not
/// found here is sent in full, and the upserts make that harmless.
#[derive(Debug, Default)]
struct Seen {
    matches: HashMap<u64, u64>,
}

/// Entries beyond which `Seen` starts over (a bound on its memory, not a correctness limit).
const SEEN_LIMIT: usize = 1 << 18;

impl Seen {
    fn has(&self, match_id: u64, digest: u64) -> bool {
        self.matches.get(&match_id) == Some(&digest)
    }

    /// Records a committed batch: matches with their digest, or `None` once over.
    fn commit(&mut self, changes: BTreeMap<u64, Option<u64>>) {
        if self.matches.len() + changes.len() > SEEN_LIMIT {
            self.matches.clear();
        }
        for (match_id, digest) in changes {
            match digest {
                Some(digest) => self.matches.insert(match_id, digest),
                None => self.matches.remove(&match_id),
            };
        }
    }
}

fn digest(row: &MatchRow) -> u64 {
    let mut hasher = DefaultHasher::new();
    row.players.hash(&mut hasher);
    row.roles.hash(&mut hasher);
    hasher.finish()
}

/// A batch as columns, one map per table. Later rows of the same key replace earlier ones (one
/// statement may not touch a row twice). `match_players` is keyed (player, match), so it is
/// sent in the order of its index by player, the one its rows land in at random.
#[derive(Default)]
struct Columns {
    players: BTreeMap<u64, (String, String, i64)>,
    ratings: BTreeMap<(u64, String, String), RatingValues>,
    matches: BTreeMap<u64, MatchValues>,
    match_players: BTreeMap<(u64, u64), (i16, Option<String>)>,
    sessions: BTreeMap<u64, SessionValues>,
    history: BTreeMap<(u64, u64), HistoryValues>,
    /// What `Seen` learns once this commits.
    seen: BTreeMap<u64, Option<u64>>,
}

impl Columns {
    fn from_rows(rows: impl IntoIterator<Item = (u64, MirrorRow)>, seen: &Seen) -> Self {
        let mut columns = Self::default();
        for (_, row) in rows {
            columns.push(row, seen);
        }
        columns
    }

    fn push(&mut self, row: MirrorRow, seen: &Seen) {
        match row {
            MirrorRow::Player {
                player,
                username,
                display_name,
                created_at_ms,
            } => {
                let values = (username, display_name, created_at_ms as i64);
                self.players.insert(player.0, values);
            }
            MirrorRow::Rating {
                player,
                mode,
                season,
                record,
            } => {
                let rating = record.rating;
                self.ratings.insert(
                    (player.0, mode, season),
                    (
                        rating.mu,
                        rating.sigma,
                        rating.volatility,
                        record.games as i64,
                        record.updated_at_ms as i64,
                    ),
                );
            }
            MirrorRow::Match(row) => self.push_match(row, seen),
            MirrorRow::History {
                player,
                match_id,
                mode,
                placement,
                before,
                after,
                at_ms,
            } => {
                let values = (
                    mode,
                    i64::from(placement),
                    before.mu,
                    before.sigma,
                    after.mu,
                    after.sigma,
                    at_ms as i64,
                );
                self.history.insert((player.0, match_id.0), values);
            }
        }
    }

    fn push_match(&mut self, row: MatchRow, seen: &Seen) {
        let match_id = row.match_id.0;
        let digest = digest(&row);
        if !seen.has(match_id, digest) {
            let values = (
                row.queue,
                row.mode,
                row.region,
                row.formed_at_ms as i64,
                row.quality,
            );
            self.matches.insert(match_id, values);
            for (player, team) in &row.players {
                let role = row
                    .roles
                    .iter()
                    .find(|(p, _)| p == player)
                    .map(|(_, role)| role.clone());
                self.match_players
                    .insert((player.0, match_id), (i16::from(*team), role));
            }
        }
        self.seen
            .insert(match_id, (!row.state.is_final()).then_some(digest));
        let placements = row
            .placements
            .as_deref()
            .map(crate::records::placements_text);
        let values = (
            row.state.as_str().to_string(),
            row.updated_at_ms as i64,
            placements,
            row.server,
        );
        self.sessions.insert(match_id, values);
    }
}

/// Writes every table's rows, a statement per table that has any.
async fn write_columns(
    tx: &mut Transaction<'static, Postgres>,
    c: &Columns,
    fresh: Fresh,
) -> Result<(), sqlx::Error> {
    write_players(tx, &c.players).await?;
    write_ratings(tx, &c.ratings).await?;
    let mut new = write_matches(tx, &c.matches).await?;
    if fresh == Fresh::Upsert {
        new.clear();
    }
    write_match_players(tx, &c.match_players, &new).await?;
    write_sessions(tx, &c.sessions, &new).await?;
    write_history(tx, &c.history).await
}

async fn write_players(
    tx: &mut Transaction<'static, Postgres>,
    rows: &BTreeMap<u64, (String, String, i64)>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = rows.keys().map(|k| id(*k)).collect();
    let (mut usernames, mut names, mut created) = (vec![], vec![], vec![]);
    for (username, name, at) in rows.values() {
        usernames.push(username.as_str());
        names.push(name.as_str());
        created.push(*at);
    }
    sqlx::query(
        "INSERT INTO players (player_id, username, display_name, created_at_ms) \
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[]) \
         ON CONFLICT (player_id) DO UPDATE SET username = EXCLUDED.username, \
         display_name = EXCLUDED.display_name, created_at_ms = EXCLUDED.created_at_ms \
         WHERE (players.username, players.display_name, players.created_at_ms) \
         IS DISTINCT FROM (EXCLUDED.username, EXCLUDED.display_name, EXCLUDED.created_at_ms)",
    )
    .bind(ids)
    .bind(usernames)
    .bind(names)
    .bind(created)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn write_ratings(
    tx: &mut Transaction<'static, Postgres>,
    rows: &BTreeMap<(u64, String, String), RatingValues>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let (mut players, mut modes, mut seasons) = (vec![], vec![], vec![]);
    let (mut mus, mut sigmas, mut vols, mut games, mut ats) =
        (vec![], vec![], vec![], vec![], vec![]);
    for ((player, mode, season), (mu, sigma, vol, played, at)) in rows {
        players.push(id(*player));
        modes.push(mode.as_str());
        seasons.push(season.as_str());
        mus.push(*mu);
        sigmas.push(*sigma);
        vols.push(*vol);
        games.push(*played);
        ats.push(*at);
    }
    sqlx::query(
        "INSERT INTO ratings (player_id, mode, season, mu, sigma, volatility, games, \
         updated_at_ms) SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], \
         $4::float8[], $5::float8[], $6::float8[], $7::bigint[], $8::bigint[]) \
         ON CONFLICT (player_id, mode, season) DO UPDATE SET mu = EXCLUDED.mu, \
         sigma = EXCLUDED.sigma, volatility = EXCLUDED.volatility, games = EXCLUDED.games, \
         updated_at_ms = EXCLUDED.updated_at_ms",
    )
    .bind(players)
    .bind(modes)
    .bind(seasons)
    .bind(mus)
    .bind(sigmas)
    .bind(vols)
    .bind(games)
    .bind(ats)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Inserts the matches Postgres does not have; returns their ids.
async fn write_matches(
    tx: &mut Transaction<'static, Postgres>,
    rows: &BTreeMap<u64, MatchValues>,
) -> Result<HashSet<u64>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<i64> = rows.keys().map(|k| id(*k)).collect();
    let (mut queues, mut modes, mut regions) = (vec![], vec![], vec![]);
    let (mut formed, mut quality) = (vec![], vec![]);
    for (queue, mode, region, at, q) in rows.values() {
        queues.push(queue.as_str());
        modes.push(mode.as_str());
        regions.push(region.as_str());
        formed.push(*at);
        quality.push(*q);
    }
    let new: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO matches (match_id, queue, mode, region, formed_at_ms, quality) \
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], \
         $6::float8[]) ON CONFLICT (match_id) DO NOTHING RETURNING match_id",
    )
    .bind(ids)
    .bind(queues)
    .bind(modes)
    .bind(regions)
    .bind(formed)
    .bind(quality)
    .fetch_all(&mut **tx)
    .await?;
    Ok(new.into_iter().map(|id| id as u64).collect())
}

/// Some of a table's rows, in key order.
type Part<'a, K, V> = Vec<(&'a K, &'a V)>;

/// A table's rows split by match: those of matches in `new` first (plain inserts), then the
/// others (upserts), each part with the statement that writes it; empty parts left out.
fn by_freshness<'a, K, V>(
    rows: &'a BTreeMap<K, V>,
    new: &HashSet<u64>,
    match_of: impl Fn(&K) -> u64,
    (insert, upsert): (&str, &str),
) -> Vec<(AssertSqlSafe<String>, Part<'a, K, V>)> {
    let (plain, other): (Vec<_>, Vec<_>) = rows
        .iter()
        .partition(|(key, _)| new.contains(&match_of(key)));
    [
        (insert.to_string(), plain),
        (format!("{insert}{upsert}"), other),
    ]
    .into_iter()
    .filter(|(_, part)| !part.is_empty())
    .map(|(sql, part)| (AssertSqlSafe(sql), part))
    .collect()
}

/// The rows of matches in `new` as plain inserts, the others as upserts; each in player order.
async fn write_match_players(
    tx: &mut Transaction<'static, Postgres>,
    rows: &BTreeMap<(u64, u64), (i16, Option<String>)>,
    new: &HashSet<u64>,
) -> Result<(), sqlx::Error> {
    const INSERT: &str = "INSERT INTO match_players (match_id, player_id, team, role) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::smallint[], $4::text[])";
    const UPSERT: &str = " ON CONFLICT (match_id, player_id) DO UPDATE SET \
         team = EXCLUDED.team, role = EXCLUDED.role WHERE (match_players.team, \
         match_players.role) IS DISTINCT FROM (EXCLUDED.team, EXCLUDED.role)";
    for (sql, part) in by_freshness(rows, new, |(_, m)| *m, (INSERT, UPSERT)) {
        let (mut matches, mut players, mut teams, mut roles) = (vec![], vec![], vec![], vec![]);
        for ((player, match_id), (team, role)) in part {
            matches.push(id(*match_id));
            players.push(id(*player));
            teams.push(*team);
            roles.push(role.as_deref());
        }
        sqlx::query(sql)
            .bind(matches)
            .bind(players)
            .bind(teams)
            .bind(roles)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The sessions of matches in `new` as plain inserts, the others as upserts.
async fn write_sessions(
    tx: &mut Transaction<'static, Postgres>,
    rows: &BTreeMap<u64, SessionValues>,
    new: &HashSet<u64>,
) -> Result<(), sqlx::Error> {
    const INSERT: &str = "INSERT INTO sessions (match_id, state, updated_at_ms, placements, \
         server_address) SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], \
         $4::text[], $5::text[])";
    const UPSERT: &str = " ON CONFLICT (match_id) DO UPDATE SET state = EXCLUDED.state, \
         updated_at_ms = EXCLUDED.updated_at_ms, placements = EXCLUDED.placements, \
         server_address = COALESCE(EXCLUDED.server_address, sessions.server_address)";
    for (sql, part) in by_freshness(rows, new, |m| *m, (INSERT, UPSERT)) {
        let (mut ids, mut states, mut ats) = (vec![], vec![], vec![]);
        let (mut placements, mut servers) = (vec![], vec![]);
        for (match_id, (state, at, placed, server)) in part {
            ids.push(id(*match_id));
            states.push(state.as_str());
            ats.push(*at);
            placements.push(placed.as_deref());
            servers.push(server.as_deref());
        }
        sqlx::query(sql)
            .bind(ids)
            .bind(states)
            .bind(ats)
            .bind(placements)
            .bind(servers)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn write_history(
    tx: &mut Transaction<'static, Postgres>,
    rows: &BTreeMap<(u64, u64), HistoryValues>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let (mut players, mut matches, mut modes, mut placements) = (vec![], vec![], vec![], vec![]);
    let (mut mu_b, mut sig_b, mut mu_a, mut sig_a, mut ats) =
        (vec![], vec![], vec![], vec![], vec![]);
    for ((player, match_id), (mode, placement, mub, sigb, mua, siga, at)) in rows {
        players.push(id(*player));
        matches.push(id(*match_id));
        modes.push(mode.as_str());
        placements.push(*placement);
        mu_b.push(*mub);
        sig_b.push(*sigb);
        mu_a.push(*mua);
        sig_a.push(*siga);
        ats.push(*at);
    }
    sqlx::query(
        "INSERT INTO match_history (player_id, match_id, mode, placement, mu_before, \
         sigma_before, mu_after, sigma_after, at_ms) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], \
         $5::float8[], $6::float8[], $7::float8[], $8::float8[], $9::bigint[]) \
         ON CONFLICT (player_id, match_id) DO UPDATE SET placement = EXCLUDED.placement, \
         mu_before = EXCLUDED.mu_before, sigma_before = EXCLUDED.sigma_before, \
         mu_after = EXCLUDED.mu_after, sigma_after = EXCLUDED.sigma_after, at_ms = EXCLUDED.at_ms",
    )
    .bind(players)
    .bind(matches)
    .bind(modes)
    .bind(placements)
    .bind(mu_b)
    .bind(sig_b)
    .bind(mu_a)
    .bind(sig_a)
    .bind(ats)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What the drain task did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrainStats {
    /// Rows applied.
    pub rows: u64,
    /// Batches committed (by every partition).
    pub batches: u64,
    /// Batches (or reads of the marks) that failed and were retried.
    pub retries: u64,
}

/// Drains the outbox into Postgres until `shutdown` turns true and the outbox is empty (or
/// until `shutdown` turns true while Postgres is away: the rows wait in redb for next time).
pub async fn drain(
    reader: OutboxReader,
    mirror: Mirror,
    options: MirrorOptions,
    mut shutdown: watch::Receiver<bool>,
) -> DrainStats {
    let mut task = Drain::new(reader, mirror, options.batch_rows);
    let mut backoff = Duration::from_millis(50);
    loop {
        let stopping = *shutdown.borrow();
        match task.step().await {
            Step::Applied => backoff = Duration::from_millis(50),
            Step::Empty => {
                if stopping {
                    break;
                }
                wait(&mut shutdown, options.idle_poll).await;
            }
            Step::Retry(error) => {
                task.stats.retries += 1;
                let rows = task.reader.rows();
                tracing::warn!(%error, rows, "the Postgres mirror waits for Postgres and will retry");
                if stopping {
                    break;
                }
                wait(&mut shutdown, backoff).await;
                backoff = (backoff * 2).min(options.max_backoff);
            }
            Step::Outbox(error) => {
                tracing::error!(%error, "the Postgres mirror cannot read the outbox");
                if stopping {
                    break;
                }
                wait(&mut shutdown, options.max_backoff).await;
            }
            Step::Panicked(what) => {
                tracing::error!(what, "a task of the Postgres mirror panicked");
                break;
            }
        }
    }
    task.finish().await
}

async fn wait(shutdown: &mut watch::Receiver<bool>, duration: Duration) {
    let _ = tokio::time::timeout(duration, shutdown.changed()).await;
}

/// A batch read from the outbox, split by partition.
struct Batch {
    /// The marks it was read with: rows after the lowest, less what each partition has.
    marks: Vec<Option<u64>>,
    /// Its last row's sequence number (`None`: nothing after the lowest mark).
    last: Option<u64>,
    /// Rows read.
    rows: usize,
    /// Each partition's share, in outbox order.
    parts: Vec<Vec<(u64, MirrorRow)>>,
}

/// Reads up to `limit` rows after the lowest mark and splits them by partition, leaving out
/// the rows a partition has applied already (at or below its mark).
fn read_parts(
    reader: &OutboxReader,
    marks: Vec<Option<u64>>,
    limit: usize,
) -> Result<Batch, crate::StoreError> {
    let rows = reader.read_batch(lowest(&marks), limit)?;
    let mut parts: Vec<Vec<_>> = marks.iter().map(|_| Vec::new()).collect();
    let last = rows.last().map(|(seq, _)| *seq);
    let count = rows.len();
    for (seq, row) in rows {
        let part = partition_of(&row, marks.len());
        if marks[part].is_none_or(|mark| seq > mark) {
            parts[part].push((seq, row));
        }
    }
    Ok(Batch {
        marks,
        last,
        rows: count,
        parts,
    })
}

/// How one step of the drain went.
enum Step {
    /// A batch is in Postgres.
    Applied,
    /// The outbox had nothing to send.
    Empty,
    /// Postgres failed us (away, or a statement failed): retry after a backoff.
    Retry(MirrorError),
    /// The outbox could not be read.
    Outbox(crate::StoreError),
    /// A task panicked.
    Panicked(String),
}

type PartTask = JoinHandle<(Seen, Result<(), MirrorError>)>;

/// The drain task's state between steps.
struct Drain {
    reader: OutboxReader,
    mirror: Mirror,
    limit: usize,
    stats: DrainStats,
    /// Each partition's mark, as Postgres has it (read again after any failure).
    marks: Option<Vec<Option<u64>>>,
    /// Each partition's `Seen` (emptied after any failure).
    seen: Vec<Seen>,
    /// The next batch, read from redb while Postgres takes the current one.
    next: Option<JoinHandle<Result<Batch, crate::StoreError>>>,
    /// The outbox delete of the last committed batch, while the next one is sent.
    ack: Option<JoinHandle<Result<(), crate::StoreError>>>,
}

impl Drain {
    fn new(reader: OutboxReader, mirror: Mirror, limit: usize) -> Self {
        let seen = (0..mirror.partitions()).map(|_| Seen::default()).collect();
        Self {
            reader,
            mirror,
            limit: limit.max(1),
            stats: DrainStats::default(),
            marks: None,
            seen,
            next: None,
            ack: None,
        }
    }

    /// Sends one batch: every partition's share at once, each in its own transaction; the
    /// next batch is read meanwhile; the rows leave the outbox once all have committed.
    async fn step(&mut self) -> Step {
        let marks = match self.marks.clone() {
            Some(marks) => marks,
            None => match self.load_marks().await {
                Ok(marks) => marks,
                Err(error) => return Step::Retry(error),
            },
        };
        let batch = match self.next_batch(marks).await {
            Ok(batch) => batch,
            Err(step) => return step,
        };
        let Some(last) = batch.last else {
            return Step::Empty;
        };
        let after: Vec<Option<u64>> = (batch.marks.iter())
            .map(|mark| Some(mark.map_or(last, |mark| mark.max(last))))
            .collect();
        let tasks = self.spawn_parts(batch.parts, last);
        self.next = Some(self.spawn_read(after.clone()));
        if let Some(failed) = self.join_parts(tasks).await {
            // Some partitions may have committed: what Postgres has is read again.
            self.marks = None;
            self.next = None;
            return failed;
        }
        self.marks = Some(after);
        self.stats.rows += batch.rows as u64;
        self.stats.batches += 1;
        metrics::counter!("matchwright_mirror_rows_total").increment(batch.rows as u64);
        self.acknowledge(last).await;
        Step::Applied
    }

    /// Reads the marks from Postgres (a new connection, or after a failure: nothing about
    /// Postgres is assumed), and deletes from the outbox what every partition has.
    async fn load_marks(&mut self) -> Result<Vec<Option<u64>>, MirrorError> {
        let marks = self.mirror.marks().await?;
        self.seen
            .iter_mut()
            .for_each(|seen| *seen = Seen::default());
        self.next = None;
        if let Some(mark) = lowest(&marks) {
            // Committed in Postgres but perhaps not yet deleted from redb (a crash between).
            self.acknowledge(mark).await;
        }
        self.marks = Some(marks.clone());
        Ok(marks)
    }

    fn spawn_read(&self, marks: Vec<Option<u64>>) -> JoinHandle<Result<Batch, crate::StoreError>> {
        let (reader, limit) = (self.reader.clone(), self.limit);
        tokio::task::spawn_blocking(move || read_parts(&reader, marks, limit))
    }

    /// The batch after `marks`: the one read ahead if it was read with these marks.
    async fn next_batch(&mut self, marks: Vec<Option<u64>>) -> Result<Batch, Step> {
        for _ in 0..2 {
            let handle = match self.next.take() {
                Some(handle) => handle,
                None => self.spawn_read(marks.clone()),
            };
            match handle.await {
                Ok(Ok(batch)) if batch.marks == marks => return Ok(batch),
                Ok(Ok(_)) => continue,
                Ok(Err(error)) => return Err(Step::Outbox(error)),
                Err(join) => return Err(Step::Panicked(join.to_string())),
            }
        }
        Err(Step::Panicked(
            "the outbox read ahead with other marks".into(),
        ))
    }

    fn spawn_parts(&mut self, parts: Vec<Vec<(u64, MirrorRow)>>, last: u64) -> Vec<PartTask> {
        let mut tasks = Vec::with_capacity(parts.len());
        for (part, rows) in parts.into_iter().enumerate() {
            let mirror = self.mirror.clone();
            let mut seen = std::mem::take(&mut self.seen[part]);
            tasks.push(tokio::spawn(async move {
                let result = mirror.apply_part(part, rows, last, &mut seen).await;
                (seen, result)
            }));
        }
        tasks
    }

    /// Waits for every partition; the first failure, if any.
    async fn join_parts(&mut self, tasks: Vec<PartTask>) -> Option<Step> {
        let mut failed = None;
        for (part, task) in tasks.into_iter().enumerate() {
            match task.await {
                Ok((seen, result)) => {
                    self.seen[part] = seen;
                    if let Err(error) = result {
                        failed.get_or_insert(Step::Retry(error));
                    }
                }
                Err(join) => {
                    failed.get_or_insert(Step::Panicked(join.to_string()));
                }
            }
        }
        failed
    }

    /// Deletes rows up to `upto` from the outbox, in the background: one delete at a time,
    /// in order, each while the next batch is sent.
    async fn acknowledge(&mut self, upto: u64) {
        self.settle().await;
        let reader = self.reader.clone();
        self.ack = Some(tokio::task::spawn_blocking(move || {
            reader.acknowledge(upto)
        }));
    }

    async fn settle(&mut self) {
        if let Some(ack) = self.ack.take()
            && let Ok(Err(error)) = ack.await
        {
            tracing::error!(%error, "the outbox could not be acknowledged");
        }
    }

    async fn finish(mut self) -> DrainStats {
        self.settle().await;
        self.stats
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.
mod tests {
    use matchwright_ecs::{Config, MatchId, PlayerId};

    use super::*;
    use crate::{Account, MatchState, Store, StoreOptions};

    fn match_row(id: u64, players: &[u64], state: MatchState) -> MatchRow {
        MatchRow {
            match_id: MatchId(id),
            queue: "duel-1v1".into(),
            mode: "duel".into(),
            region: "eu-west".into(),
            formed_at_ms: 1,
            quality: 0.5,
            players: players.iter().map(|p| (PlayerId(*p), 0)).collect(),
            roles: Vec::new(),
            state,
            updated_at_ms: 2,
            placements: None,
            server: None,
        }
    }

    #[test]
    fn the_lowest_mark_is_none_until_every_partition_has_one() {
        assert_eq!(lowest(&[]), None);
        assert_eq!(lowest(&[Some(3), None]), None);
        assert_eq!(lowest(&[Some(3), Some(1), Some(7)]), Some(1));
        assert_eq!(mark_of(-1), None);
        assert_eq!(mark_of(0), Some(0));
    }

    #[test]
    fn partitions_spread_ids_and_keep_a_match_in_one() {
        for partitions in [1, 2, 3, 5] {
            let mut counts = vec![0_u32; partitions];
            for id in 0..10_000 {
                let row = MirrorRow::Match(match_row(id, &[id, id + 1], MatchState::Active));
                let part = partition_of(&row, partitions);
                let again = MirrorRow::Match(match_row(id, &[9], MatchState::Ended));
                assert_eq!(part, partition_of(&again, partitions));
                counts[part] += 1;
            }
            let fair = 10_000 / partitions as u32;
            assert!(counts.iter().all(|c| *c > fair * 9 / 10), "{counts:?}");
        }
    }

    #[test]
    fn a_seen_match_sends_only_its_session_and_an_ended_one_is_forgotten() {
        let mut seen = Seen::default();
        let first = Columns::from_rows(
            [(
                0,
                MirrorRow::Match(match_row(7, &[1, 2], MatchState::Allocating)),
            )],
            &seen,
        );
        assert_eq!((first.matches.len(), first.match_players.len()), (1, 2));
        seen.commit(first.seen);
        // The same players again: Postgres has them; the session still changes.
        let again = Columns::from_rows(
            [(
                1,
                MirrorRow::Match(match_row(7, &[1, 2], MatchState::Active)),
            )],
            &seen,
        );
        assert_eq!((again.matches.len(), again.match_players.len()), (0, 0));
        assert_eq!(again.sessions[&7].0, "active");
        seen.commit(again.seen);
        // A backfilled player: every player is sent again.
        let grown = Columns::from_rows(
            [(
                2,
                MirrorRow::Match(match_row(7, &[1, 2, 3], MatchState::Ended)),
            )],
            &seen,
        );
        assert_eq!(grown.match_players.len(), 3);
        seen.commit(grown.seen);
        assert!(seen.matches.is_empty(), "an ended match is forgotten");
        // Sorted by player, the index the rows land in at random.
        let keys: Vec<_> = grown.match_players.keys().copied().collect();
        assert_eq!(keys, vec![(1, 7), (2, 7), (3, 7)]);
    }

    #[test]
    fn seen_starts_over_at_its_bound() {
        let mut seen = Seen::default();
        seen.commit((0..SEEN_LIMIT as u64).map(|id| (id, Some(id))).collect());
        assert_eq!(seen.matches.len(), SEEN_LIMIT);
        seen.commit([(u64::MAX, Some(1))].into_iter().collect());
        assert_eq!(seen.matches.len(), 1);
        assert!(seen.has(u64::MAX, 1));
    }

    fn store_with_accounts(dir: &std::path::Path, accounts: u64) -> Store {
        let options = StoreOptions {
            mirror: true,
            ..StoreOptions::default()
        };
        let opened = Store::open(dir.join("s.redb"), Config::default(), 1, options).unwrap();
        let accounts: Vec<Account> = (0..accounts)
            .map(|player| Account {
                player: PlayerId(player),
                username: format!("player{player}"),
                password_hash: "x".into(),
                display_name: format!("Player {player}"),
                regions: vec![],
                created_at_ms: player,
            })
            .collect();
        opened.store.handle().import_accounts(&accounts).unwrap();
        opened.store
    }

    #[test]
    fn a_batch_leaves_out_what_each_partition_has_and_stops_at_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_accounts(dir.path(), 40);
        let reader = store.outbox_reader();
        // Partition 0 has everything up to 20, partition 1 nothing: all 40 rows are read,
        // partition 0 gets only its rows after 20.
        let batch = read_parts(&reader, vec![Some(20), None], 100).unwrap();
        assert_eq!((batch.rows, batch.last), (40, Some(39)));
        let expected = |part: usize, after: Option<u64>| -> Vec<u64> {
            (0..40)
                .filter(|seq| after.is_none_or(|mark| *seq > mark))
                .filter(|seq| {
                    let row = MirrorRow::Player {
                        player: PlayerId(*seq),
                        username: String::new(),
                        display_name: String::new(),
                        created_at_ms: 0,
                    };
                    partition_of(&row, 2) == part
                })
                .collect()
        };
        let seqs = |part: usize| {
            batch.parts[part]
                .iter()
                .map(|(seq, _)| *seq)
                .collect::<Vec<_>>()
        };
        assert_eq!(seqs(0), expected(0, Some(20)));
        assert_eq!(seqs(1), expected(1, None));
        // A limit cuts the batch; the next starts after its last row.
        let first = read_parts(&reader, vec![Some(9), Some(9)], 7).unwrap();
        assert_eq!((first.rows, first.last), (7, Some(16)));
        let next = read_parts(&reader, vec![Some(16), Some(16)], 100).unwrap();
        assert_eq!((next.rows, next.last), (23, Some(39)));
        let past = read_parts(&reader, vec![Some(39), Some(39)], 100).unwrap();
        assert_eq!((past.rows, past.last), (0, None));
    }
}
