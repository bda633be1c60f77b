//! Accounts, refresh tokens and avoid lists in the shared record: what every gateway of a
//! cluster reads and writes, so a player registered at one gateway logs in at any other.

use matchwright_ecs::PlayerId;
use sqlx::{Postgres, Transaction};

use super::{SharedRecord, id, unsigned};
use crate::StoreError;
use crate::handle::Rotation;
use crate::records::{Account, RefreshToken};

type AccountColumns = (i64, String, String, String, Vec<String>, i64);

const ACCOUNT_COLUMNS: &str =
    "player_id, username, password_hash, display_name, regions, created_at_ms";

fn account_of(row: AccountColumns) -> Account {
    let (player, username, password_hash, display_name, regions, created_at_ms) = row;
    Account {
        player: PlayerId(unsigned(player)),
        username,
        password_hash,
        display_name,
        regions,
        created_at_ms: unsigned(created_at_ms),
    }
}

type TokenColumns = (i64, i64, i64, bool);

fn token_of((player, family, expires_at_ms, rotated): TokenColumns) -> RefreshToken {
    RefreshToken {
        player: PlayerId(unsigned(player)),
        family: unsigned(family),
        expires_at_ms: unsigned(expires_at_ms),
        rotated,
    }
}

/// Takes `family`'s advisory lock until the transaction ends.
async fn lock_family(
    tx: &mut Transaction<'static, Postgres>,
    family: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(family)
        .execute(&mut **tx)
        .await
        .map(drop)
}

/// Spends `token` (hashed `old`, its row and family locked) for `new`: a reuse revokes the
/// family, an expired token goes.
async fn spend(
    tx: &mut Transaction<'static, Postgres>,
    old: &[u8; 32],
    new: &[u8; 32],
    token: RefreshToken,
    expires_at_ms: u64,
    now_ms: u64,
) -> Result<Rotation, sqlx::Error> {
    let (player, family) = (token.player, token.family);
    if token.rotated {
        sqlx::query("DELETE FROM refresh_tokens WHERE family = $1")
            .bind(family as i64)
            .execute(&mut **tx)
            .await?;
        return Ok(Rotation::Reused { player, family });
    }
    if token.expires_at_ms <= now_ms {
        sqlx::query("DELETE FROM refresh_tokens WHERE token_hash = $1")
            .bind(old.as_slice())
            .execute(&mut **tx)
            .await?;
        return Ok(Rotation::Expired);
    }
    sqlx::query("UPDATE refresh_tokens SET rotated = TRUE WHERE token_hash = $1")
        .bind(old.as_slice())
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, player_id, family, expires_at_ms, rotated) \
         VALUES ($1, $2, $3, $4, FALSE)",
    )
    .bind(new.as_slice())
    .bind(id(player.0))
    .bind(family as i64)
    .bind(id(expires_at_ms))
    .execute(&mut **tx)
    .await?;
    Ok(Rotation::Rotated { player, family })
}

impl SharedRecord {
    /// Creates an account; refused with [`StoreError::UsernameTaken`] if the username is
    /// taken, and with [`StoreError::PlayerTaken`] if the player id is (whichever gateway
    /// took it).
    pub async fn create_account(&self, account: &Account) -> Result<(), StoreError> {
        let insert = sqlx::query(
            "INSERT INTO accounts (player_id, username, password_hash, display_name, regions, \
             created_at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id(account.player.0))
        .bind(&account.username)
        .bind(&account.password_hash)
        .bind(&account.display_name)
        .bind(&account.regions)
        .bind(id(account.created_at_ms))
        .execute(&self.pool);
        match tokio::time::timeout(self.timeout, insert).await {
            Ok(Err(sqlx::Error::Database(error))) if error.is_unique_violation() => {
                Err(match error.constraint() {
                    Some("accounts_pkey") => StoreError::PlayerTaken(account.player),
                    _ => StoreError::UsernameTaken(account.username.clone()),
                })
            }
            answered => self.answer("writing an account", answered).map(drop),
        }
    }

    /// Replaces an account (same player and username).
    pub async fn update_account(&self, account: &Account) -> Result<(), StoreError> {
        let update = sqlx::query(
            "UPDATE accounts SET password_hash = $2, display_name = $3, regions = $4 \
             WHERE player_id = $1",
        )
        .bind(id(account.player.0))
        .bind(&account.password_hash)
        .bind(&account.display_name)
        .bind(&account.regions)
        .execute(&self.pool);
        self.run("writing an account", update).await.map(drop)
    }

    /// An account by player.
    pub async fn account(&self, player: PlayerId) -> Result<Option<Account>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE player_id = $1");
        let read = sqlx::query_as::<_, AccountColumns>(sqlx::AssertSqlSafe(sql))
            .bind(id(player.0))
            .fetch_optional(&self.pool);
        Ok(self.run("reading an account", read).await?.map(account_of))
    }

    /// Whether `player` has an account (what every authenticated request asks): read once,
    /// then remembered, so a token's check does not go to Postgres each time.
    pub async fn account_exists(&self, player: PlayerId) -> Result<bool, StoreError> {
        if self.known_players().contains(&player.0) {
            return Ok(true);
        }
        let read =
            sqlx::query_scalar::<_, i64>("SELECT player_id FROM accounts WHERE player_id = $1")
                .bind(id(player.0))
                .fetch_optional(&self.pool);
        let found = self.run("reading an account", read).await?.is_some();
        if found {
            let mut known = self.known_players();
            if known.len() >= super::KNOWN_PLAYERS {
                known.clear();
            }
            known.insert(player.0);
        }
        Ok(found)
    }

    fn known_players(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<u64>> {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An account by username.
    pub async fn account_by_username(&self, username: &str) -> Result<Option<Account>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username = $1");
        let read = sqlx::query_as::<_, AccountColumns>(sqlx::AssertSqlSafe(sql))
            .bind(username)
            .fetch_optional(&self.pool);
        Ok(self.run("reading an account", read).await?.map(account_of))
    }

    /// Stores a refresh token under the hash of its secret.
    pub async fn put_refresh_token(
        &self,
        hash: &[u8; 32],
        token: &RefreshToken,
    ) -> Result<(), StoreError> {
        let insert = sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, player_id, family, expires_at_ms, rotated) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (token_hash) DO UPDATE SET \
             player_id = EXCLUDED.player_id, family = EXCLUDED.family, \
             expires_at_ms = EXCLUDED.expires_at_ms, rotated = EXCLUDED.rotated",
        )
        .bind(hash.as_slice())
        .bind(id(token.player.0))
        .bind(token.family as i64)
        .bind(id(token.expires_at_ms))
        .bind(token.rotated)
        .execute(&self.pool);
        self.run("writing a refresh token", insert).await.map(drop)
    }

    /// A refresh token by the hash of its secret.
    pub async fn refresh_token(&self, hash: &[u8; 32]) -> Result<Option<RefreshToken>, StoreError> {
        let read = sqlx::query_as::<_, TokenColumns>(
            "SELECT player_id, family, expires_at_ms, rotated FROM refresh_tokens \
             WHERE token_hash = $1",
        )
        .bind(hash.as_slice())
        .fetch_optional(&self.pool);
        Ok(self
            .run("reading a refresh token", read)
            .await?
            .map(token_of))
    }

    /// Spends the token hashed `old` and stores `new` in its family, in one transaction, so
    /// two concurrent rotations of one token (at two gateways) cannot both succeed. A token
    /// rotated before is a replay: its family is revoked. The family's advisory lock, taken
    /// before the token's row, orders a rotation with a revocation of its family (which takes
    /// it too): a token rotated in while its family is revoked cannot survive it.
    pub async fn rotate_refresh_token(
        &self,
        old: &[u8; 32],
        new: &[u8; 32],
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<Rotation, StoreError> {
        let work = async {
            let mut tx = self.pool.begin().await?;
            let Some(family) = sqlx::query_scalar::<_, i64>(
                "SELECT family FROM refresh_tokens WHERE token_hash = $1",
            )
            .bind(old.as_slice())
            .fetch_optional(&mut *tx)
            .await?
            else {
                return Ok(Rotation::Unknown);
            };
            lock_family(&mut tx, family).await?;
            let found = sqlx::query_as::<_, TokenColumns>(
                "SELECT player_id, family, expires_at_ms, rotated FROM refresh_tokens \
                 WHERE token_hash = $1 FOR UPDATE",
            )
            .bind(old.as_slice())
            .fetch_optional(&mut *tx)
            .await?
            .map(token_of);
            let rotation = match found {
                None => Rotation::Unknown,
                Some(token) => spend(&mut tx, old, new, token, expires_at_ms, now_ms).await?,
            };
            tx.commit().await?;
            Ok(rotation)
        };
        self.run("rotating a refresh token", work).await
    }

    /// Deletes every refresh token of a family (logout, reuse) and every expired token (as
    /// the store does). Returns how many went.
    pub async fn revoke_token_family(&self, family: u64, now_ms: u64) -> Result<u64, StoreError> {
        let work = async {
            let mut tx = self.pool.begin().await?;
            lock_family(&mut tx, family as i64).await?;
            let deleted =
                sqlx::query("DELETE FROM refresh_tokens WHERE family = $1 OR expires_at_ms <= $2")
                    .bind(family as i64)
                    .bind(id(now_ms))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            tx.commit().await?;
            Ok(deleted)
        };
        self.run("revoking refresh tokens", work).await
    }

    /// Replaces `player`'s avoid list (sorted, without repeats; empty deletes it).
    pub async fn set_avoid_list(
        &self,
        player: PlayerId,
        avoid: &[PlayerId],
    ) -> Result<(), StoreError> {
        let mut list: Vec<i64> = avoid.iter().map(|p| id(p.0)).collect();
        list.sort_unstable();
        list.dedup();
        let write = if list.is_empty() {
            sqlx::query("DELETE FROM avoid_lists WHERE player_id = $1").bind(id(player.0))
        } else {
            sqlx::query(
                "INSERT INTO avoid_lists (player_id, avoided) VALUES ($1, $2) \
                 ON CONFLICT (player_id) DO UPDATE SET avoided = EXCLUDED.avoided",
            )
            .bind(id(player.0))
            .bind(list)
        };
        self.run("writing an avoid list", write.execute(&self.pool))
            .await
            .map(drop)
    }

    /// The avoid lists of `players`, in their order (empty for a player without one).
    pub async fn avoid_lists(
        &self,
        players: &[PlayerId],
    ) -> Result<Vec<Vec<PlayerId>>, StoreError> {
        let ids: Vec<i64> = players.iter().map(|p| id(p.0)).collect();
        let read = sqlx::query_as::<_, (i64, Vec<i64>)>(
            "SELECT player_id, avoided FROM avoid_lists WHERE player_id = ANY($1)",
        )
        .bind(ids)
        .fetch_all(&self.pool);
        let found: std::collections::HashMap<u64, Vec<i64>> = self
            .run("reading avoid lists", read)
            .await?
            .into_iter()
            .map(|(player, list)| (unsigned(player), list))
            .collect();
        Ok(players
            .iter()
            .map(|player| {
                found.get(&player.0).map_or_else(Vec::new, |list| {
                    list.iter().map(|p| PlayerId(unsigned(*p))).collect()
                })
            })
            .collect())
    }
}
