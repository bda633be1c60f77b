//! Where the API reads and writes accounts, refresh tokens, avoid lists, ratings, history,
//! leaderboards and matches: the server's own redb store (`serve`, and a gateway started
//! without Postgres), or the shared record in Postgres (a cluster's gateways, so a player
//! registered at one gateway logs in at any other and every gateway reads the ratings the
//! partitions computed). One door, so a handler does not care which; both answer the same
//! questions with the same rules (see `matchwright_storage::shared`).

use std::sync::Arc;

use matchwright_ecs::{MatchId, PlayerId};
use matchwright_storage::leaderboard::{LeaderboardCursor, LeaderboardPage};
use matchwright_storage::shared::SharedRecord;
use matchwright_storage::{
    Account, AuditRecord, BanRecord, MatchRow, MirrorRow, RatingRecord, RefreshToken, Rotation,
    StoreError, StoreHandle,
};

/// The record the API reads and writes.
#[derive(Clone, Debug)]
pub enum Records {
    /// This server's redb store.
    Local(StoreHandle),
    /// The cluster's shared record.
    Shared(Arc<SharedRecord>),
}

/// Runs a redb write off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|error| {
            Err(StoreError::Busy {
                detail: format!("the write's task failed: {error}"),
            })
        })
}

impl Records {
    /// The season ratings are kept under.
    pub fn season(&self) -> &str {
        match self {
            Self::Local(store) => store.season(),
            Self::Shared(record) => record.season(),
        }
    }

    /// Whether this is the cluster's shared record.
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Shared(_))
    }

    /// Creates an account (409 `username_taken` when taken).
    pub async fn create_account(&self, account: &Account) -> Result<(), StoreError> {
        match self {
            Self::Local(store) => {
                let (store, account) = (store.clone(), account.clone());
                blocking(move || store.create_account(&account)).await
            }
            Self::Shared(record) => record.create_account(account).await,
        }
    }

    /// Replaces an account.
    pub async fn update_account(&self, account: &Account) -> Result<(), StoreError> {
        match self {
            Self::Local(store) => {
                let (store, account) = (store.clone(), account.clone());
                blocking(move || store.update_account(&account)).await
            }
            Self::Shared(record) => record.update_account(account).await,
        }
    }

    /// An account by player.
    pub async fn account(&self, player: PlayerId) -> Result<Option<Account>, StoreError> {
        match self {
            Self::Local(store) => store.account(player),
            Self::Shared(record) => record.account(player).await,
        }
    }

    /// Whether `player` has an account (each authenticated request asks).
    pub async fn account_exists(&self, player: PlayerId) -> Result<bool, StoreError> {
        match self {
            Self::Local(store) => Ok(store.account(player)?.is_some()),
            Self::Shared(record) => record.account_exists(player).await,
        }
    }

    /// An account by username.
    pub async fn account_by_username(&self, name: &str) -> Result<Option<Account>, StoreError> {
        match self {
            Self::Local(store) => store.account_by_username(name),
            Self::Shared(record) => record.account_by_username(name).await,
        }
    }

    /// Stores a refresh token under the hash of its secret.
    pub async fn put_refresh_token(
        &self,
        hash: &[u8; 32],
        token: &RefreshToken,
    ) -> Result<(), StoreError> {
        match self {
            Self::Local(store) => {
                let (store, hash, token) = (store.clone(), *hash, token.clone());
                blocking(move || store.put_refresh_token(&hash, &token)).await
            }
            Self::Shared(record) => record.put_refresh_token(hash, token).await,
        }
    }

    /// A refresh token by the hash of its secret.
    pub async fn refresh_token(&self, hash: &[u8; 32]) -> Result<Option<RefreshToken>, StoreError> {
        match self {
            Self::Local(store) => store.refresh_token(hash),
            Self::Shared(record) => record.refresh_token(hash).await,
        }
    }

    /// Spends the token hashed `old` for `new` (a reused one revokes its family).
    pub async fn rotate_refresh_token(
        &self,
        old: &[u8; 32],
        new: &[u8; 32],
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<Rotation, StoreError> {
        match self {
            Self::Local(store) => {
                let (store, old, new) = (store.clone(), *old, *new);
                blocking(move || store.rotate_refresh_token(&old, &new, expires_at_ms, now_ms))
                    .await
            }
            Self::Shared(record) => {
                record
                    .rotate_refresh_token(old, new, expires_at_ms, now_ms)
                    .await
            }
        }
    }

    /// Deletes a family of refresh tokens.
    pub async fn revoke_token_family(&self, family: u64, now_ms: u64) -> Result<u64, StoreError> {
        match self {
            Self::Local(store) => {
                let store = store.clone();
                blocking(move || store.revoke_token_family(family, now_ms)).await
            }
            Self::Shared(record) => record.revoke_token_family(family, now_ms).await,
        }
    }

    /// Replaces a player's avoid list.
    pub async fn set_avoid_list(
        &self,
        player: PlayerId,
        avoid: &[PlayerId],
    ) -> Result<(), StoreError> {
        match self {
            Self::Local(store) => {
                let (store, avoid) = (store.clone(), avoid.to_vec());
                blocking(move || store.set_avoid_list(player, &avoid)).await
            }
            Self::Shared(record) => record.set_avoid_list(player, avoid).await,
        }
    }

    /// The avoid lists of `players`, in their order.
    pub async fn avoid_lists(
        &self,
        players: &[PlayerId],
    ) -> Result<Vec<Vec<PlayerId>>, StoreError> {
        match self {
            Self::Local(store) => store.avoid_lists(players),
            Self::Shared(record) => record.avoid_lists(players).await,
        }
    }

    /// A player's rating under a rating key, this season.
    pub async fn rating(
        &self,
        player: PlayerId,
        key: &str,
    ) -> Result<Option<RatingRecord>, StoreError> {
        match self {
            Self::Local(store) => store.rating(player, key),
            Self::Shared(record) => record.rating(player, key).await,
        }
    }

    /// Sets a player's rating under a rating key, this season.
    pub async fn put_rating(
        &self,
        player: PlayerId,
        key: &str,
        record: RatingRecord,
    ) -> Result<(), StoreError> {
        match self {
            Self::Local(store) => {
                let (store, key) = (store.clone(), key.to_owned());
                blocking(move || store.put_rating(player, &key, record).map(drop)).await
            }
            Self::Shared(shared) => shared.put_rating(player, key, &record).await,
        }
    }

    /// A player's ratings this season, by rating key.
    pub async fn ratings_of(
        &self,
        player: PlayerId,
    ) -> Result<Vec<(String, RatingRecord)>, StoreError> {
        match self {
            Self::Local(store) => store.ratings_of(player),
            Self::Shared(record) => record.ratings_of(player).await,
        }
    }

    /// A match and its session.
    pub async fn match_row(&self, match_id: MatchId) -> Result<Option<MatchRow>, StoreError> {
        match self {
            Self::Local(store) => store.match_row(match_id),
            Self::Shared(record) => record.match_row(match_id).await,
        }
    }

    /// A page of a player's rated history, newest first.
    pub async fn history_page(
        &self,
        player: PlayerId,
        before: Option<MatchId>,
        limit: usize,
    ) -> Result<(Vec<MirrorRow>, Option<MatchId>), StoreError> {
        match self {
            Self::Local(store) => store.history_page(player, before, limit),
            Self::Shared(record) => record.history_page(player, before, limit).await,
        }
    }

    /// A page of a leaderboard.
    pub async fn leaderboard_page(
        &self,
        season: &str,
        mode: &str,
        after: Option<LeaderboardCursor>,
        limit: usize,
    ) -> Result<LeaderboardPage, StoreError> {
        match self {
            Self::Local(store) => store.leaderboard_page(season, mode, after, limit),
            Self::Shared(record) => record.leaderboard_page(season, mode, after, limit).await,
        }
    }

    /// Bans a player (replacing an earlier ban's record).
    pub async fn put_ban(&self, ban: &BanRecord) -> Result<(), StoreError> {
        match self {
            Self::Local(store) => {
                let (store, ban) = (store.clone(), ban.clone());
                blocking(move || store.put_ban(&ban)).await
            }
            Self::Shared(record) => record.put_ban(ban).await,
        }
    }

    /// Lifts a player's ban; whether there was one.
    pub async fn remove_ban(&self, player: PlayerId) -> Result<bool, StoreError> {
        match self {
            Self::Local(store) => {
                let store = store.clone();
                blocking(move || store.remove_ban(player)).await
            }
            Self::Shared(record) => record.remove_ban(player).await,
        }
    }

    /// A player's ban (each authenticated request asks).
    pub async fn ban(&self, player: PlayerId) -> Result<Option<BanRecord>, StoreError> {
        match self {
            Self::Local(store) => store.ban(player),
            Self::Shared(record) => record.ban(player).await,
        }
    }

    /// Appends an operator's action to the audit log; its number.
    pub async fn append_audit(&self, record: &AuditRecord) -> Result<u64, StoreError> {
        match self {
            Self::Local(store) => {
                let (store, record) = (store.clone(), record.clone());
                blocking(move || store.append_audit(&record)).await
            }
            Self::Shared(shared) => shared.append_audit(record).await,
        }
    }

    /// A page of the audit log, newest first.
    pub async fn audit_page(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        match self {
            Self::Local(store) => store.audit_page(before, limit),
            Self::Shared(record) => record.audit_page(before, limit).await,
        }
    }
}
