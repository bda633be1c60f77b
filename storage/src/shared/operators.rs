//! Bans and the audit log in the shared record: the same rules as the store's
//! (`crate::operators`), so that a player banned at one gateway is refused at every gateway
//! at their next request.

use matchwright_ecs::PlayerId;

use super::{SharedRecord, id, unsigned};
use crate::StoreError;
use crate::operators::MAX_AUDIT_PAGE;
use crate::records::{AUDIT_KEEP, AuditRecord, BanRecord};

/// How long a ban read may take (it comes with every request a gateway serves).
pub const BAN_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
/// `StoreError::Shared::doing` of a ban read Postgres did not answer.
pub const BAN_UNANSWERED: &str = "reading a ban (Postgres did not answer)";

type AuditColumns = (i64, i64, String, String, String, String, String);

fn audit_of(row: AuditColumns) -> AuditRecord {
    let (id, at_ms, operator, action, target, outcome, detail) = row;
    AuditRecord {
        id: unsigned(id),
        at_ms: unsigned(at_ms),
        operator,
        action,
        target,
        outcome,
        detail,
    }
}

impl SharedRecord {
    /// Bans a player (replacing an earlier ban's record).
    pub async fn put_ban(&self, ban: &BanRecord) -> Result<(), StoreError> {
        let write = sqlx::query(
            "INSERT INTO bans (player_id, reason, banned_by, at_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (player_id) DO UPDATE SET reason = EXCLUDED.reason, \
             banned_by = EXCLUDED.banned_by, at_ms = EXCLUDED.at_ms",
        )
        .bind(id(ban.player.0))
        .bind(&ban.reason)
        .bind(&ban.by)
        .bind(id(ban.at_ms))
        .execute(&self.pool);
        self.run("writing a ban", write).await.map(drop)
    }

    /// Lifts a player's ban. Returns whether there was one.
    pub async fn remove_ban(&self, player: PlayerId) -> Result<bool, StoreError> {
        let write = sqlx::query("DELETE FROM bans WHERE player_id = $1")
            .bind(id(player.0))
            .execute(&self.pool);
        let done = self.run("lifting a ban", write).await?;
        Ok(done.rows_affected() > 0)
    }

    /// A player's ban, if they are banned. Read with every request, so bounded tighter than
    /// other statements ([`BAN_READ_TIMEOUT`]): no answer in time (or no connection, or no
    /// server) is an error whose `doing` is [`BAN_UNANSWERED`]; any other failure (a statement
    /// Postgres refused) is not.
    pub async fn ban(&self, player: PlayerId) -> Result<Option<BanRecord>, StoreError> {
        let read = sqlx::query_as::<_, (String, String, i64)>(
            "SELECT reason, banned_by, at_ms FROM bans WHERE player_id = $1",
        )
        .bind(id(player.0))
        .fetch_optional(&self.pool);
        let unanswered = |detail: String| StoreError::Shared {
            doing: BAN_UNANSWERED,
            detail,
        };
        let row = match tokio::time::timeout(BAN_READ_TIMEOUT, read).await {
            Err(_) => Err(unanswered(format!("no answer within {BAN_READ_TIMEOUT:?}"))),
            Ok(Err(
                error @ (sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed),
            )) => Err(unanswered(error.to_string())),
            Ok(Err(error)) => Err(StoreError::Shared {
                doing: "reading a ban",
                detail: error.to_string(),
            }),
            Ok(Ok(row)) => Ok(row),
        }?;
        Ok(row.map(|(reason, by, at_ms)| BanRecord {
            player,
            reason,
            by,
            at_ms: unsigned(at_ms),
        }))
    }

    /// Appends an operator's action to the audit log and drops the oldest beyond
    /// [`AUDIT_KEEP`]. Returns its number.
    pub async fn append_audit(&self, record: &AuditRecord) -> Result<u64, StoreError> {
        let write = async {
            let mut tx = self.pool.begin().await?;
            let (number,): (i64,) = sqlx::query_as(
                "INSERT INTO audit_log (at_ms, operator, action, target, outcome, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(id(record.at_ms))
            .bind(&record.operator)
            .bind(&record.action)
            .bind(&record.target)
            .bind(&record.outcome)
            .bind(&record.detail)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM audit_log WHERE id <= $1")
                .bind(number - id(AUDIT_KEEP))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(number)
        };
        self.run("writing the audit log", write).await.map(unsigned)
    }

    /// The audit log, newest first: up to `limit` records (at most [`MAX_AUDIT_PAGE`])
    /// numbered below `before` (all of them when `None`).
    pub async fn audit_page(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let limit = limit.min(MAX_AUDIT_PAGE);
        let read = sqlx::query_as::<_, AuditColumns>(
            "SELECT id, at_ms, operator, action, target, outcome, detail FROM audit_log \
             WHERE id < $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(before.map_or(i64::MAX, id))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool);
        let rows = self.run("reading the audit log", read).await?;
        Ok(rows.into_iter().map(audit_of).collect())
    }
}
