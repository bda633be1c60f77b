//! The Postgres mirror: migrations, and the task that drains the redb outbox into Postgres.
//!
//! redb is the source of truth; Postgres is a copy for reporting and other services. The task
//! reads outbox rows in order, in batches, and applies each batch in one Postgres transaction
//! of bulk upserts (`INSERT ... SELECT FROM UNNEST(...) ON CONFLICT DO UPDATE`), which also
//! records the batch's last sequence number as the high-water mark. Only after that commits
//! are the rows deleted from the outbox. A batch cut off mid-way is rolled back and sent again;
//! rows at or below Postgres's high-water mark (committed there, not yet deleted from redb when
//! the process died) are skipped. While Postgres is away the task retries with backoff and the
//! outbox grows, up to the store's bound.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions as _, Connection as _, Postgres, Transaction};
use tokio::sync::watch;

use crate::records::MirrorRow;
use crate::store::OutboxReader;

/// The migrations in `storage/migrations`, embedded.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How to reach Postgres and how to drain into it.
#[derive(Clone, Debug)]
pub struct MirrorOptions {
    /// A `postgres://` URL.
    pub url: String,
    /// The schema to keep the tables in (created if missing); `None` for the default.
    pub schema: Option<String>,
    /// Rows per batch (per Postgres transaction).
    pub batch_rows: usize,
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
            batch_rows: 10_000,
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

/// A connection pool to the mirror database, migrated.
#[derive(Clone, Debug)]
pub struct Mirror {
    pool: PgPool,
    target: String,
}

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
        // One plain connection first: a pool retries a refused connection until its timeout
        // and then says only that it timed out; this says at once what happened.
        match tokio::time::timeout(options.connect_timeout, connect.connect()).await {
            Ok(Ok(first)) => {
                let _ = first.close().await;
            }
            Ok(Err(error)) => return Err(classify(&target, error)),
            Err(_) => {
                return Err(MirrorError::Unreachable {
                    target,
                    detail: format!("no answer within {:?}", options.connect_timeout),
                });
            }
        }
        let probe = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.connect_timeout)
            .connect_with(connect.clone());
        let probe = match tokio::time::timeout(options.connect_timeout, probe).await {
            Ok(result) => result.map_err(|error| classify(&target, error))?,
            Err(_) => {
                return Err(MirrorError::Unreachable {
                    target,
                    detail: format!("no answer within {:?}", options.connect_timeout),
                });
            }
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
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(options.connect_timeout)
            .connect_lazy_with(connect);
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|error| MirrorError::Migration(error.to_string()))?;
        Ok(Self { pool, target })
    }

    /// Where it points (no password).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The pool (for tests and tools that read the mirror).
    pub fn pool(&self) -> &PgPool {
        &self.pool
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

    /// The last outbox sequence number applied, if any.
    pub async fn high_water(&self) -> Result<Option<u64>, MirrorError> {
        let value: Option<i64> =
            sqlx::query_scalar("SELECT high_water FROM mirror_state WHERE id = 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(|error| classify(&self.target, error))?;
        Ok(value.map(|v| v as u64))
    }

    /// Applies a batch (in outbox order) in one transaction, with the high-water mark.
    pub async fn apply(&self, batch: &[(u64, MirrorRow)]) -> Result<(), MirrorError> {
        let Some((last, _)) = batch.last() else {
            return Ok(());
        };
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|error| classify(&self.target, error))?;
        write_batch(&mut tx, batch)
            .await
            .map_err(|error| classify(&self.target, error))?;
        sqlx::query(
            "INSERT INTO mirror_state (id, high_water) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET high_water = EXCLUDED.high_water",
        )
        .bind(*last as i64)
        .execute(&mut *tx)
        .await
        .map_err(|error| classify(&self.target, error))?;
        tx.commit()
            .await
            .map_err(|error| classify(&self.target, error))?;
        Ok(())
    }
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

#[derive(Default)]
struct Columns {
    players: BTreeMap<u64, (String, String, i64)>,
    ratings: BTreeMap<(u64, String, String), RatingValues>,
    matches: BTreeMap<u64, (String, String, String, i64, f64)>,
    match_players: BTreeMap<(u64, u64), (i16, Option<String>)>,
    sessions: BTreeMap<u64, (String, i64, Option<String>, Option<String>)>,
    history: BTreeMap<(u64, u64), HistoryValues>,
}

/// Later rows of the same key replace earlier ones (one statement may not touch a row twice).
fn columns(batch: &[(u64, MirrorRow)]) -> Columns {
    let mut c = Columns::default();
    for (_, row) in batch {
        match row {
            MirrorRow::Player {
                player,
                username,
                display_name,
                created_at_ms,
            } => {
                c.players.insert(
                    player.0,
                    (
                        username.clone(),
                        display_name.clone(),
                        *created_at_ms as i64,
                    ),
                );
            }
            MirrorRow::Rating {
                player,
                mode,
                season,
                record,
            } => {
                c.ratings.insert(
                    (player.0, mode.clone(), season.clone()),
                    (
                        record.rating.mu,
                        record.rating.sigma,
                        record.rating.volatility,
                        record.games as i64,
                        record.updated_at_ms as i64,
                    ),
                );
            }
            MirrorRow::Match(row) => {
                c.matches.insert(
                    row.match_id.0,
                    (
                        row.queue.clone(),
                        row.mode.clone(),
                        row.region.clone(),
                        row.formed_at_ms as i64,
                        row.quality,
                    ),
                );
                for (player, team) in &row.players {
                    let role = row
                        .roles
                        .iter()
                        .find(|(p, _)| p == player)
                        .map(|(_, role)| role.clone());
                    c.match_players
                        .insert((row.match_id.0, player.0), (i16::from(*team), role));
                }
                let placements = row
                    .placements
                    .as_ref()
                    .map(|p| p.iter().map(u32::to_string).collect::<Vec<_>>().join(","));
                c.sessions.insert(
                    row.match_id.0,
                    (
                        row.state.as_str().to_string(),
                        row.updated_at_ms as i64,
                        placements,
                        row.server.clone(),
                    ),
                );
            }
            MirrorRow::History {
                player,
                match_id,
                mode,
                placement,
                before,
                after,
                at_ms,
            } => {
                c.history.insert(
                    (player.0, match_id.0),
                    (
                        mode.clone(),
                        i64::from(*placement),
                        before.mu,
                        before.sigma,
                        after.mu,
                        after.sigma,
                        *at_ms as i64,
                    ),
                );
            }
        }
    }
    c
}

async fn write_batch(
    tx: &mut Transaction<'static, Postgres>,
    batch: &[(u64, MirrorRow)],
) -> Result<(), sqlx::Error> {
    let c = columns(batch);
    if !c.players.is_empty() {
        let ids: Vec<i64> = c.players.keys().map(|k| id(*k)).collect();
        let (usernames, names, created): (Vec<_>, Vec<_>, Vec<_>) =
            unzip3(c.players.values().cloned());
        sqlx::query(
            "INSERT INTO players (player_id, username, display_name, created_at_ms) \
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[]) \
             ON CONFLICT (player_id) DO UPDATE SET username = EXCLUDED.username, \
             display_name = EXCLUDED.display_name, created_at_ms = EXCLUDED.created_at_ms",
        )
        .bind(ids)
        .bind(usernames)
        .bind(names)
        .bind(created)
        .execute(&mut **tx)
        .await?;
    }
    if !c.ratings.is_empty() {
        let mut cols = (
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
        );
        for ((player, mode, season), (mu, sigma, vol, games, at)) in &c.ratings {
            cols.0.push(id(*player));
            cols.1.push(mode.clone());
            cols.2.push(season.clone());
            cols.3.push(*mu);
            cols.4.push(*sigma);
            cols.5.push(*vol);
            cols.6.push(*games);
            cols.7.push(*at);
        }
        sqlx::query(
            "INSERT INTO ratings (player_id, mode, season, mu, sigma, volatility, games, updated_at_ms) \
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::float8[], $5::float8[], \
             $6::float8[], $7::bigint[], $8::bigint[]) \
             ON CONFLICT (player_id, mode, season) DO UPDATE SET mu = EXCLUDED.mu, \
             sigma = EXCLUDED.sigma, volatility = EXCLUDED.volatility, games = EXCLUDED.games, \
             updated_at_ms = EXCLUDED.updated_at_ms",
        )
        .bind(cols.0)
        .bind(cols.1)
        .bind(cols.2)
        .bind(cols.3)
        .bind(cols.4)
        .bind(cols.5)
        .bind(cols.6)
        .bind(cols.7)
        .execute(&mut **tx)
        .await?;
    }
    if !c.matches.is_empty() {
        let mut cols = (vec![], vec![], vec![], vec![], vec![], vec![]);
        for (match_id, (queue, mode, region, formed, quality)) in &c.matches {
            cols.0.push(id(*match_id));
            cols.1.push(queue.clone());
            cols.2.push(mode.clone());
            cols.3.push(region.clone());
            cols.4.push(*formed);
            cols.5.push(*quality);
        }
        sqlx::query(
            "INSERT INTO matches (match_id, queue, mode, region, formed_at_ms, quality) \
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], \
             $6::float8[]) ON CONFLICT (match_id) DO NOTHING",
        )
        .bind(cols.0)
        .bind(cols.1)
        .bind(cols.2)
        .bind(cols.3)
        .bind(cols.4)
        .bind(cols.5)
        .execute(&mut **tx)
        .await?;
        let mut players = (vec![], vec![], vec![], vec![]);
        for ((match_id, player), (team, role)) in &c.match_players {
            players.0.push(id(*match_id));
            players.1.push(id(*player));
            players.2.push(*team);
            players.3.push(role.clone());
        }
        sqlx::query(
            "INSERT INTO match_players (match_id, player_id, team, role) \
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::smallint[], $4::text[]) \
             ON CONFLICT (match_id, player_id) DO UPDATE SET team = EXCLUDED.team, \
             role = EXCLUDED.role",
        )
        .bind(players.0)
        .bind(players.1)
        .bind(players.2)
        .bind(players.3)
        .execute(&mut **tx)
        .await?;
        let mut sessions = (vec![], vec![], vec![], vec![], vec![]);
        for (match_id, (state, at, placements, server)) in &c.sessions {
            sessions.0.push(id(*match_id));
            sessions.1.push(state.clone());
            sessions.2.push(*at);
            sessions.3.push(placements.clone());
            sessions.4.push(server.clone());
        }
        sqlx::query(
            "INSERT INTO sessions (match_id, state, updated_at_ms, placements, server_address) \
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[]) \
             ON CONFLICT (match_id) DO UPDATE SET state = EXCLUDED.state, \
             updated_at_ms = EXCLUDED.updated_at_ms, placements = EXCLUDED.placements, \
             server_address = COALESCE(EXCLUDED.server_address, sessions.server_address)",
        )
        .bind(sessions.0)
        .bind(sessions.1)
        .bind(sessions.2)
        .bind(sessions.3)
        .bind(sessions.4)
        .execute(&mut **tx)
        .await?;
    }
    if !c.history.is_empty() {
        let mut cols = (
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
        );
        for ((player, match_id), (mode, placement, mu_b, sig_b, mu_a, sig_a, at)) in &c.history {
            cols.0.push(id(*player));
            cols.1.push(id(*match_id));
            cols.2.push(mode.clone());
            cols.3.push(*placement);
            cols.4.push(*mu_b);
            cols.5.push(*sig_b);
            cols.6.push(*mu_a);
            cols.7.push(*sig_a);
            cols.8.push(*at);
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
        .bind(cols.0)
        .bind(cols.1)
        .bind(cols.2)
        .bind(cols.3)
        .bind(cols.4)
        .bind(cols.5)
        .bind(cols.6)
        .bind(cols.7)
        .bind(cols.8)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

fn unzip3<A, B, C>(items: impl Iterator<Item = (A, B, C)>) -> (Vec<A>, Vec<B>, Vec<C>) {
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for (x, y, z) in items {
        a.push(x);
        b.push(y);
        c.push(z);
    }
    (a, b, c)
}

/// What the drain task did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrainStats {
    /// Rows applied.
    pub rows: u64,
    /// Batches committed.
    pub batches: u64,
    /// Batches that failed and were retried.
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
    let mut stats = DrainStats::default();
    let mut backoff = Duration::from_millis(50);
    let mut high_water: Option<Option<u64>> = None;
    loop {
        let stopping = *shutdown.borrow();
        // The high-water mark, once per connection: rows at or below it are in Postgres.
        let after = match high_water {
            Some(mark) => mark,
            None => match mirror.high_water().await {
                Ok(mark) => {
                    high_water = Some(mark);
                    mark
                }
                Err(error) => {
                    if stopping {
                        break;
                    }
                    tracing::warn!(%error, "the Postgres mirror waits for Postgres");
                    stats.retries += 1;
                    wait(&mut shutdown, backoff).await;
                    backoff = (backoff * 2).min(options.max_backoff);
                    continue;
                }
            },
        };
        if let Some(mark) = after {
            // Committed in Postgres but perhaps not yet deleted from redb (a crash between).
            let reader = reader.clone();
            let _ = tokio::task::spawn_blocking(move || reader.acknowledge(mark)).await;
        }
        let batch = {
            let reader = reader.clone();
            let limit = options.batch_rows;
            tokio::task::spawn_blocking(move || reader.read_batch(after, limit)).await
        };
        let batch = match batch {
            Ok(Ok(batch)) => batch,
            Ok(Err(error)) => {
                tracing::error!(%error, "the Postgres mirror cannot read the outbox");
                if stopping {
                    break;
                }
                wait(&mut shutdown, options.max_backoff).await;
                continue;
            }
            Err(join) => {
                tracing::error!(%join, "the outbox reader panicked");
                break;
            }
        };
        let Some((last, _)) = batch.last() else {
            if stopping {
                break;
            }
            wait(&mut shutdown, options.idle_poll).await;
            continue;
        };
        let last = *last;
        match mirror.apply(&batch).await {
            Ok(()) => {
                backoff = Duration::from_millis(50);
                high_water = Some(Some(last));
                stats.rows += batch.len() as u64;
                stats.batches += 1;
                metrics::counter!("matchwright_mirror_rows_total").increment(batch.len() as u64);
                let reader = reader.clone();
                if let Ok(Err(error)) =
                    tokio::task::spawn_blocking(move || reader.acknowledge(last)).await
                {
                    tracing::error!(%error, "the outbox could not be acknowledged");
                }
            }
            Err(error) => {
                // The transaction rolled back; Postgres may have restarted: read the mark again.
                high_water = None;
                stats.retries += 1;
                tracing::warn!(%error, rows = reader.rows(), "the Postgres mirror will retry");
                if stopping {
                    break;
                }
                wait(&mut shutdown, backoff).await;
                backoff = (backoff * 2).min(options.max_backoff);
            }
        }
    }
    stats
}

async fn wait(shutdown: &mut watch::Receiver<bool>, duration: Duration) {
    let _ = tokio::time::timeout(duration, shutdown.changed()).await;
}
