//! `StoreHandle`: the store's door for request handlers, beside the tick loop's [`Store`].
//! It reads (accounts, ratings, matches, history) and writes the records that are not part of
//! a tick (accounts, refresh tokens, avoid lists). Once the tick loop turns group commit on, a
//! write joins the next tick's transaction and returns when that is durable (`group`): redb
//! has one writer. Before (tools, tests), each write is its own durable transaction. Readers
//! never block the writer; mirror rows are numbered inside each transaction (see
//! `tables::append_outbox`). A refused write (a taken username) writes nothing; a write the
//! disk refuses returns its error and leaves nothing half done.
//!
//! [`Store`]: crate::Store

use std::path::{Path, PathBuf};
use std::sync::Arc;

use matchwright_ecs::codec;
use matchwright_ecs::{MatchId, PlayerId};
use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};

use crate::error::{StoreError, from_redb};
use crate::group::GroupCommit;
use crate::leaderboard::{self, LEADERBOARD, LeaderboardCursor, LeaderboardEntry, LeaderboardPage};
use crate::records::{Account, MatchRow, MirrorRow, RatingRecord, RefreshToken};
use crate::tables::{
    ACCOUNTS, AVOID_LISTS, HISTORY, MATCHES, OutboxCounter, RATINGS, REFRESH_TOKENS, USERNAMES,
    append_outbox, decode_at,
};

/// A shareable handle on the store for request handlers. Cheap to clone.
#[derive(Clone, Debug)]
pub struct StoreHandle {
    pub(crate) db: Arc<Database>,
    pub(crate) path: PathBuf,
    pub(crate) season: String,
    pub(crate) mirror: bool,
    pub(crate) outbox: Arc<OutboxCounter>,
    pub(crate) outbox_limit: u64,
    pub(crate) group: Arc<GroupCommit>,
}

/// What rotating a refresh token found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The token was valid: it is now spent and the new one stored in its family.
    Rotated {
        /// Whose.
        player: PlayerId,
        /// The family.
        family: u64,
    },
    /// The token had been rotated already: someone replayed it. The whole family is revoked.
    Reused {
        /// Whose.
        player: PlayerId,
        /// The family revoked.
        family: u64,
    },
    /// The token has expired (it is deleted).
    Expired,
    /// No such token (never issued, revoked, or logged out).
    Unknown,
}

impl StoreHandle {
    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The season ratings are kept under.
    pub fn season(&self) -> &str {
        &self.season
    }

    fn write_error(&self, doing: &'static str) -> impl Fn(redb::Error) -> StoreError + '_ {
        move |error| from_redb(&self.path, doing, error)
    }

    pub(crate) fn read_error(&self) -> impl Fn(redb::Error) -> StoreError + '_ {
        move |error| from_redb(&self.path, "reading", error)
    }

    /// Runs `job` in a write transaction: the next tick's when group commit is on (waiting
    /// until it is durable), else one of its own. `job` returns its result and the outbox
    /// rows it queued; a refusal must come before any write (see `group`).
    pub(crate) fn write<T: Send + 'static>(
        &self,
        doing: &'static str,
        job: impl FnOnce(&WriteTransaction) -> Result<(T, u64), redb::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        if !self.group.is_on() {
            let txn = self
                .db
                .begin_write()
                .map_err(|error| from_redb(&self.path, doing, error.into()))?;
            let (out, rows) = job(&txn).map_err(self.write_error(doing))?;
            txn.commit()
                .map_err(|error| from_redb(&self.path, doing, error.into()))?;
            if self.mirror {
                self.outbox.add(rows, self.outbox_limit);
            }
            return Ok(out);
        }
        let slot = Arc::new(std::sync::Mutex::new(None));
        let filled = Arc::clone(&slot);
        let ticket = self
            .group
            .submit(Box::new(move |txn| {
                let (out, rows) = job(txn)?;
                *filled.lock().unwrap_or_else(|p| p.into_inner()) = Some(out);
                Ok(rows)
            }))
            .map_err(|detail| StoreError::Busy { detail })?;
        let started = std::time::Instant::now();
        ticket
            .wait()
            .map_err(|detail| StoreError::Busy { detail })?;
        metrics::histogram!("matchwright_store_group_write_seconds")
            .record(started.elapsed().as_secs_f64());
        let out = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        Ok(out.expect("a committed job left its result"))
    }

    /// A transaction of its own, for the bulk imports (tools run them, not handlers; a refusal
    /// partway aborts the whole import, which a shared tick transaction could not).
    fn begin_write(&self, doing: &'static str) -> Result<WriteTransaction, StoreError> {
        self.db
            .begin_write()
            .map_err(|error| from_redb(&self.path, doing, error.into()))
    }

    fn commit(
        &self,
        txn: WriteTransaction,
        doing: &'static str,
        rows: u64,
    ) -> Result<(), StoreError> {
        txn.commit()
            .map_err(|error| from_redb(&self.path, doing, error.into()))?;
        if self.mirror {
            self.outbox.add(rows, self.outbox_limit);
        }
        Ok(())
    }

    fn player_row(account: &Account) -> MirrorRow {
        MirrorRow::Player {
            player: account.player,
            username: account.username.clone(),
            display_name: account.display_name.clone(),
            created_at_ms: account.created_at_ms,
        }
    }

    // ---- Accounts and tokens ----

    /// Creates an account; refused with [`StoreError::UsernameTaken`] if the username is
    /// taken, and with [`StoreError::PlayerTaken`] if the player id is.
    pub fn create_account(&self, account: &Account) -> Result<(), StoreError> {
        let account = account.clone();
        let mirror = self.mirror;
        let refused = self.write("writing an account to", move |txn| {
            let mut names = txn.open_table(USERNAMES)?;
            if names.get(account.username.as_str())?.is_some() {
                return Ok((Some(StoreError::UsernameTaken(account.username.clone())), 0));
            }
            let mut accounts = txn.open_table(ACCOUNTS)?;
            if accounts.get(account.player.0)?.is_some() {
                return Ok((Some(StoreError::PlayerTaken(account.player)), 0));
            }
            names.insert(account.username.as_str(), account.player.0)?;
            accounts.insert(account.player.0, codec::encode(&account).as_slice())?;
            drop((names, accounts));
            if mirror {
                append_outbox(txn, &[Self::player_row(&account)])?;
            }
            Ok((None, u64::from(mirror)))
        })?;
        refused.map_or(Ok(()), Err)
    }

    /// Replaces an account (same player and username).
    pub fn update_account(&self, account: &Account) -> Result<(), StoreError> {
        let account = account.clone();
        let mirror = self.mirror;
        self.write("writing an account to", move |txn| {
            txn.open_table(ACCOUNTS)?
                .insert(account.player.0, codec::encode(&account).as_slice())?;
            if mirror {
                append_outbox(txn, &[Self::player_row(&account)])?;
            }
            Ok(((), u64::from(mirror)))
        })
    }

    /// The highest player id of any account (new accounts take the next one).
    pub fn last_player_id(&self) -> Result<Option<PlayerId>, StoreError> {
        let read = self
            .db
            .begin_read()
            .map_err(|e| self.read_error()(e.into()))?;
        let table = read
            .open_table(ACCOUNTS)
            .map_err(|e| self.read_error()(e.into()))?;
        let last = table.last().map_err(|e| self.read_error()(e.into()))?;
        Ok(last.map(|(key, _)| PlayerId(key.value())))
    }

    /// An account by player.
    pub fn account(&self, player: PlayerId) -> Result<Option<Account>, StoreError> {
        self.get_decoded(ACCOUNTS, player.0, "account")
    }

    /// An account by username.
    pub fn account_by_username(&self, username: &str) -> Result<Option<Account>, StoreError> {
        let read = self
            .db
            .begin_read()
            .map_err(|e| self.read_error()(e.into()))?;
        let names = read
            .open_table(USERNAMES)
            .map_err(|e| self.read_error()(e.into()))?;
        let Some(player) = names
            .get(username)
            .map_err(|e| self.read_error()(e.into()))?
        else {
            return Ok(None);
        };
        self.account(PlayerId(player.value()))
    }

    /// Stores a refresh token under the hash of its secret.
    pub fn put_refresh_token(
        &self,
        hash: &[u8; 32],
        token: &RefreshToken,
    ) -> Result<(), StoreError> {
        let (hash, token) = (*hash, token.clone());
        self.write("writing a token to", move |txn| {
            txn.open_table(REFRESH_TOKENS)?
                .insert(hash.as_slice(), codec::encode(&token).as_slice())?;
            Ok(((), 0))
        })
    }

    /// A refresh token by the hash of its secret.
    pub fn refresh_token(&self, hash: &[u8; 32]) -> Result<Option<RefreshToken>, StoreError> {
        let read = self
            .db
            .begin_read()
            .map_err(|e| self.read_error()(e.into()))?;
        let table = read
            .open_table(REFRESH_TOKENS)
            .map_err(|e| self.read_error()(e.into()))?;
        match table
            .get(hash.as_slice())
            .map_err(|e| self.read_error()(e.into()))?
        {
            Some(bytes) => Ok(Some(decode_at(
                &self.path,
                "a refresh token",
                bytes.value(),
            )?)),
            None => Ok(None),
        }
    }

    /// Spends the token hashed `old` and stores `new` (valid until `expires_at_ms`) in its
    /// family, in one transaction, so two concurrent rotations of one token cannot both
    /// succeed. A token rotated before is a replay: its whole family is revoked.
    pub fn rotate_refresh_token(
        &self,
        old: &[u8; 32],
        new: &[u8; 32],
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<Rotation, StoreError> {
        let (old, new) = (*old, *new);
        self.write("rotating a token in", move |txn| {
            let mut table = txn.open_table(REFRESH_TOKENS)?;
            let found = match table.get(old.as_slice())? {
                Some(bytes) => Some(
                    codec::decode::<RefreshToken>(bytes.value())
                        .map_err(|e| redb::Error::Corrupted(format!("a refresh token: {e}")))?,
                ),
                None => None,
            };
            let Some(mut token) = found else {
                return Ok((Rotation::Unknown, 0));
            };
            if token.rotated {
                let family = token.family;
                table.retain(|_, bytes| {
                    codec::decode::<RefreshToken>(bytes).is_ok_and(|t| t.family != family)
                })?;
                let player = token.player;
                return Ok((Rotation::Reused { player, family }, 0));
            }
            if token.expires_at_ms <= now_ms {
                table.remove(old.as_slice())?;
                return Ok((Rotation::Expired, 0));
            }
            token.rotated = true;
            table.insert(old.as_slice(), codec::encode(&token).as_slice())?;
            let fresh = RefreshToken {
                player: token.player,
                family: token.family,
                expires_at_ms,
                rotated: false,
            };
            table.insert(new.as_slice(), codec::encode(&fresh).as_slice())?;
            let (player, family) = (token.player, token.family);
            Ok((Rotation::Rotated { player, family }, 0))
        })
    }

    /// Deletes every refresh token of a family (on logout, or when a rotated token is reused)
    /// and every expired token. Returns how many went.
    pub fn revoke_token_family(&self, family: u64, now_ms: u64) -> Result<u64, StoreError> {
        self.write("revoking tokens in", move |txn| {
            let mut table = txn.open_table(REFRESH_TOKENS)?;
            let before = table.len()?;
            table.retain(|_, bytes| {
                codec::decode::<RefreshToken>(bytes)
                    .is_ok_and(|token| token.family != family && token.expires_at_ms > now_ms)
            })?;
            Ok((before - table.len()?, 0))
        })
    }

    // ---- Avoid lists ----

    /// Replaces `player`'s avoid list (sorted and without repeats as stored; empty deletes
    /// it). Durable when it returns. Avoid lists are not mirrored to Postgres.
    pub fn set_avoid_list(&self, player: PlayerId, avoid: &[PlayerId]) -> Result<(), StoreError> {
        let mut list = avoid.to_vec();
        list.sort_unstable();
        list.dedup();
        self.write("writing an avoid list to", move |txn| {
            let mut table = txn.open_table(AVOID_LISTS)?;
            if list.is_empty() {
                table.remove(player.0)?;
            } else {
                table.insert(player.0, codec::encode(&list).as_slice())?;
            }
            Ok(((), 0))
        })
    }

    /// `player`'s avoid list, sorted (empty when it has none).
    pub fn avoid_list(&self, player: PlayerId) -> Result<Vec<PlayerId>, StoreError> {
        Ok(self.avoid_lists(&[player])?.pop().unwrap_or_default())
    }

    /// The avoid lists of `players`, in their order, read in one transaction.
    pub fn avoid_lists(&self, players: &[PlayerId]) -> Result<Vec<Vec<PlayerId>>, StoreError> {
        let read = self
            .db
            .begin_read()
            .map_err(|e| self.read_error()(e.into()))?;
        let table = match read.open_table(AVOID_LISTS) {
            Ok(table) => table,
            // A store from before avoid lists: nobody avoids anybody yet.
            Err(redb::TableError::TableDoesNotExist(_)) => {
                return Ok(vec![Vec::new(); players.len()]);
            }
            Err(error) => return Err(self.read_error()(error.into())),
        };
        let mut lists = Vec::with_capacity(players.len());
        for player in players {
            let list = match table
                .get(player.0)
                .map_err(|e| self.read_error()(e.into()))?
            {
                Some(bytes) => decode_at(
                    &self.path,
                    format_args!("the avoid list of player {}", player.0),
                    bytes.value(),
                )?,
                None => Vec::new(),
            };
            lists.push(list);
        }
        Ok(lists)
    }

    // ---- State derived from events ----

    /// A player's rating in a mode, this season.
    pub fn rating(&self, player: PlayerId, mode: &str) -> Result<Option<RatingRecord>, StoreError> {
        let read = self
            .db
            .begin_read()
            .map_err(|e| self.read_error()(e.into()))?;
        let table = read
            .open_table(RATINGS)
            .map_err(|e| self.read_error()(e.into()))?;
        let key = (player.0, mode, self.season.as_str());
        match table.get(key).map_err(|e| self.read_error()(e.into()))? {
            Some(bytes) => Ok(Some(decode_at(&self.path, "a rating", bytes.value())?)),
            None => Ok(None),
        }
    }

    /// A player's ratings this season, by mode.
    pub fn ratings_of(&self, player: PlayerId) -> Result<Vec<(String, RatingRecord)>, StoreError> {
        let read = self
            .db
            .begin_read()
            .map_err(|e| self.read_error()(e.into()))?;
        let table = read
            .open_table(RATINGS)
            .map_err(|e| self.read_error()(e.into()))?;
        let mut rows = Vec::new();
        let range = table
            .range((player.0, "", "")..(player.0.saturating_add(1), "", ""))
            .map_err(|e| self.read_error()(e.into()))?;
        for item in range {
            let (key, bytes) = item.map_err(|e| self.read_error()(e.into()))?;
            let (found, mode, season) = key.value();
            if found == player.0 && season == self.season {
                rows.push((
                    mode.to_string(),
                    decode_at(&self.path, "a rating", bytes.value())?,
                ));
            }
        }
        Ok(rows)
    }

    /// Every rating this season: (player, mode, record).
    pub fn ratings(&self) -> Result<Vec<(PlayerId, String, RatingRecord)>, StoreError> {
        let read = self
            .db
            .begin_read()
            .map_err(|e| self.read_error()(e.into()))?;
        let table = read
            .open_table(RATINGS)
            .map_err(|e| self.read_error()(e.into()))?;
        let mut rows = Vec::new();
        for item in table.iter().map_err(|e| self.read_error()(e.into()))? {
            let (key, bytes) = item.map_err(|e| self.read_error()(e.into()))?;
            let (player, mode, season) = key.value();
            if season == self.season {
                let record = decode_at(&self.path, "a rating", bytes.value())?;
                rows.push((PlayerId(player), mode.to_string(), record));
            }
        }
        Ok(rows)
    }

    /// A match as the store knows it.
    pub fn match_row(&self, match_id: MatchId) -> Result<Option<MatchRow>, StoreError> {
        self.get_decoded(MATCHES, match_id.0, "match")
    }

    /// Every match row (for tests, tools and the server's start; handlers read by id).
    pub fn match_rows(&self) -> Result<Vec<MatchRow>, StoreError> {
        let read = self
            .db
            .begin_read()
            .map_err(|e| self.read_error()(e.into()))?;
        let table = read
            .open_table(MATCHES)
            .map_err(|e| self.read_error()(e.into()))?;
        let mut rows = Vec::new();
        for item in table.iter().map_err(|e| self.read_error()(e.into()))? {
            let (_, bytes) = item.map_err(|e| self.read_error()(e.into()))?;
            rows.push(decode_at(&self.path, "a match", bytes.value())?);
        }
        Ok(rows)
    }

    /// Rated history rows kept for a player, newest first.
    pub fn history(&self, player: PlayerId) -> Result<Vec<MirrorRow>, StoreError> {
        let read = self
            .db
            .begin_read()
            .map_err(|e| self.read_error()(e.into()))?;
        let table = read
            .open_table(HISTORY)
            .map_err(|e| self.read_error()(e.into()))?;
        let mut rows = Vec::new();
        for item in table
            .range((player.0, 0)..=(player.0, u64::MAX))
            .map_err(|e| self.read_error()(e.into()))?
            .rev()
        {
            let (_, bytes) = item.map_err(|e| self.read_error()(e.into()))?;
            rows.push(decode_at(&self.path, "a history row", bytes.value())?);
        }
        Ok(rows)
    }

    /// One page of rated history for a player, newest first: at most `limit` rows of
    /// matches older than `before` (all when `None`). The second value is the match id to pass
    /// as `before` for the next page, when there may be one.
    pub fn history_page(
        &self,
        player: PlayerId,
        before: Option<MatchId>,
        limit: usize,
    ) -> Result<(Vec<MirrorRow>, Option<MatchId>), StoreError> {
        let read = self
            .db
            .begin_read()
            .map_err(|e| self.read_error()(e.into()))?;
        let table = read
            .open_table(HISTORY)
            .map_err(|e| self.read_error()(e.into()))?;
        let end = before.map_or(u64::MAX, |id| id.0);
        let mut rows = Vec::with_capacity(limit.min(256));
        let mut last = None;
        let range = table
            .range((player.0, 0)..(player.0, end))
            .map_err(|e| self.read_error()(e.into()))?;
        let mut more = false;
        for item in range.rev() {
            let (key, bytes) = item.map_err(|e| self.read_error()(e.into()))?;
            if rows.len() == limit {
                more = true;
                break;
            }
            last = Some(MatchId(key.value().1));
            rows.push(decode_at(&self.path, "a history row", bytes.value())?);
        }
        // `(player, u64::MAX)` itself lies outside the half-open range; no match id is that big.
        Ok((rows, if more { last } else { None }))
    }

    /// One page of a season's leaderboard in `mode`, best conservative rating first: at most
    /// `limit` entries after `after` (from the top when `None`), with display names.
    pub fn leaderboard_page(
        &self,
        season: &str,
        mode: &str,
        after: Option<LeaderboardCursor>,
        limit: usize,
    ) -> Result<LeaderboardPage, StoreError> {
        let read = self
            .db
            .begin_read()
            .map_err(|e| self.read_error()(e.into()))?;
        let board = read
            .open_table(LEADERBOARD)
            .map_err(|e| self.read_error()(e.into()))?;
        let accounts = read
            .open_table(ACCOUNTS)
            .map_err(|e| self.read_error()(e.into()))?;
        let start = after.map_or((0, 0), |cursor| (cursor.key, cursor.player));
        let range = board
            .range((season, mode, start.0, start.1)..=(season, mode, u64::MAX, u64::MAX))
            .map_err(|e| self.read_error()(e.into()))?;
        let mut rank = after.map_or(0, |cursor| cursor.rank);
        let mut entries = Vec::with_capacity(limit.min(1_000));
        let mut more = false;
        for item in range {
            let (key, bytes) = item.map_err(|e| self.read_error()(e.into()))?;
            let (_, _, rank_key, player) = key.value();
            if after.is_some_and(|cursor| (cursor.key, cursor.player) == (rank_key, player)) {
                continue;
            }
            if entries.len() == limit {
                more = true;
                break;
            }
            rank += 1;
            let record: RatingRecord = decode_at(&self.path, "a leaderboard entry", bytes.value())?;
            let display_name = match accounts
                .get(player)
                .map_err(|e| self.read_error()(e.into()))?
            {
                Some(bytes) => {
                    decode_at::<Account>(
                        &self.path,
                        format_args!("account {player}"),
                        bytes.value(),
                    )?
                    .display_name
                }
                None => String::new(),
            };
            entries.push(LeaderboardEntry {
                rank,
                player: PlayerId(player),
                display_name,
                record,
            });
        }
        let next = match entries.last() {
            Some(last) if more => Some(LeaderboardCursor {
                rank: last.rank,
                key: leaderboard::rank_key(last.record.rating),
                player: last.player.0,
            }),
            _ => None,
        };
        Ok(LeaderboardPage { entries, next })
    }

    /// Creates accounts in bulk, in one transaction (an import from another system, or a
    /// benchmark's population). Refused as a whole, writing nothing, if any username or
    /// player id is taken.
    pub fn import_accounts(&self, accounts: &[Account]) -> Result<(), StoreError> {
        let doing = "importing accounts into";
        let txn = self.begin_write(doing)?;
        let result = (|| -> Result<Option<StoreError>, redb::Error> {
            let mut names = txn.open_table(USERNAMES)?;
            let mut table = txn.open_table(ACCOUNTS)?;
            let mut mirrored = Vec::new();
            for account in accounts {
                if names.get(account.username.as_str())?.is_some() {
                    return Ok(Some(StoreError::UsernameTaken(account.username.clone())));
                }
                if table.get(account.player.0)?.is_some() {
                    return Ok(Some(StoreError::PlayerTaken(account.player)));
                }
                names.insert(account.username.as_str(), account.player.0)?;
                table.insert(account.player.0, codec::encode(account).as_slice())?;
                if self.mirror {
                    mirrored.push(Self::player_row(account));
                }
            }
            drop((names, table));
            append_outbox(&txn, &mirrored)?;
            Ok(None)
        })();
        if let Some(refused) = result.map_err(self.write_error(doing))? {
            // Dropping the transaction aborts it: nothing of the import is written.
            return Err(refused);
        }
        let mirrored = if self.mirror {
            accounts.len() as u64
        } else {
            0
        };
        self.commit(txn, doing, mirrored)
    }

    /// Sets one player's rating under `key` this season (an operator's correction), moving
    /// their leaderboard entry and queueing the row for the mirror. Durable when it returns;
    /// returns the rating it replaced.
    pub fn put_rating(
        &self,
        player: PlayerId,
        key: &str,
        record: RatingRecord,
    ) -> Result<Option<RatingRecord>, StoreError> {
        let (key, season, mirror) = (key.to_owned(), self.season.clone(), self.mirror);
        self.write("setting a rating in", move |txn| {
            let mut ratings = txn.open_table(RATINGS)?;
            let table_key = (player.0, key.as_str(), season.as_str());
            let old = match ratings.get(table_key)? {
                Some(bytes) => Some(
                    codec::decode::<RatingRecord>(bytes.value())
                        .map_err(|e| redb::Error::Corrupted(format!("rating: {e}")))?,
                ),
                None => None,
            };
            ratings.insert(table_key, codec::encode(&record).as_slice())?;
            let mut board = txn.open_table(LEADERBOARD)?;
            let previous = old.map(|old| old.rating);
            leaderboard::index(&mut board, &season, &key, player, previous, &record)?;
            drop((ratings, board));
            if !mirror {
                return Ok((old, 0));
            }
            let row = MirrorRow::Rating {
                player,
                mode: key.clone(),
                season: season.clone(),
                record,
            };
            append_outbox(txn, &[row])?;
            Ok((old, 1))
        })
    }

    /// Writes ratings in bulk for `mode` and `season` (an import from another system, or a
    /// benchmark's population), indexing them for the leaderboard, in one transaction.
    /// Existing ratings of these players are replaced.
    pub fn import_ratings(
        &self,
        mode: &str,
        season: &str,
        rows: &[(PlayerId, RatingRecord)],
    ) -> Result<(), StoreError> {
        let doing = "importing ratings into";
        let txn = self.begin_write(doing)?;
        let result = (|| -> Result<(), redb::Error> {
            let mut ratings = txn.open_table(RATINGS)?;
            let mut board = txn.open_table(LEADERBOARD)?;
            let mut mirrored = Vec::new();
            for (player, record) in rows {
                let key = (player.0, mode, season);
                let old = match ratings.get(key)? {
                    Some(bytes) => Some(
                        codec::decode::<RatingRecord>(bytes.value())
                            .map_err(|e| redb::Error::Corrupted(format!("rating: {e}")))?
                            .rating,
                    ),
                    None => None,
                };
                ratings.insert(key, codec::encode(record).as_slice())?;
                leaderboard::index(&mut board, season, mode, *player, old, record)?;
                if self.mirror {
                    mirrored.push(MirrorRow::Rating {
                        player: *player,
                        mode: mode.to_string(),
                        season: season.to_string(),
                        record: *record,
                    });
                }
            }
            drop((ratings, board));
            append_outbox(&txn, &mirrored)
        })();
        result.map_err(self.write_error(doing))?;
        let mirrored = if self.mirror { rows.len() as u64 } else { 0 };
        self.commit(txn, doing, mirrored)
    }

    fn get_decoded<T: serde::de::DeserializeOwned>(
        &self,
        table: TableDefinition<'_, u64, &'static [u8]>,
        key: u64,
        what: &str,
    ) -> Result<Option<T>, StoreError> {
        let read = self
            .db
            .begin_read()
            .map_err(|e| self.read_error()(e.into()))?;
        let table = read
            .open_table(table)
            .map_err(|e| self.read_error()(e.into()))?;
        match table.get(key).map_err(|e| self.read_error()(e.into()))? {
            Some(bytes) => Ok(Some(decode_at(
                &self.path,
                format_args!("{what} {key}"),
                bytes.value(),
            )?)),
            None => Ok(None),
        }
    }
}
