//! The leaderboard index: every rating of every season and mode, ordered best first by the
//! conservative rating `mu - 3 sigma` (as the GameBackend seed ranks), kept in its own redb
//! table beside `ratings` and written in the same transaction as the rating it indexes. A page
//! is one range scan from a cursor, so its cost does not grow with the number of players
//! (`benches/src/bin/leaderboard-bench.rs` measures it at 1,000,000).
//!
//! Key: `(season, mode, rank_key, player)`, where `rank_key` orders conservative ratings
//! descending ([`rank_key`]); ties go to the lower player id. Value: the encoded
//! [`RatingRecord`], so a page needs no second lookup for the numbers.
//!
//! Stores written before this table existed get it built from `ratings` when they open.

use matchwright_ecs::codec;
use matchwright_ecs::{PlayerId, Rating};
use redb::{ReadableTable, TableDefinition, TableHandle, WriteTransaction};

use crate::records::RatingRecord;

/// The index table.
pub(crate) const LEADERBOARD: TableDefinition<'_, (&str, &str, u64, u64), &[u8]> =
    TableDefinition::new("leaderboard");

/// The conservative rating leaderboards rank by.
pub fn conservative(rating: Rating) -> f64 {
    rating.mu - 3.0 * rating.sigma
}

/// A key whose ascending order is the conservative rating's descending order (total over
/// every f64, NaN last).
pub fn rank_key(rating: Rating) -> u64 {
    let value = conservative(rating);
    let value = if value.is_nan() {
        f64::NEG_INFINITY
    } else {
        value
    };
    let bits = value.to_bits();
    // Map to an unsigned key that sorts like the float, then invert for "best first".
    let ascending = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    !ascending
}

/// Where a leaderboard page continues: after the entry at `rank` with this key and player.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaderboardCursor {
    /// The rank (1-based) of the last entry returned.
    pub rank: u64,
    /// Its rank key.
    pub key: u64,
    /// Its player.
    pub player: u64,
}

impl LeaderboardCursor {
    /// The opaque text clients pass back.
    pub fn encode(&self) -> String {
        format!("{}.{:016x}.{}", self.rank, self.key, self.player)
    }

    /// Reads a cursor from [`LeaderboardCursor::encode`]; `None` if it is not one.
    pub fn decode(text: &str) -> Option<Self> {
        let mut parts = text.split('.');
        let rank = parts.next()?.parse().ok()?;
        let key_text = parts.next()?;
        if key_text.len() != 16 {
            return None;
        }
        let key = u64::from_str_radix(key_text, 16).ok()?;
        let player = parts.next()?.parse().ok()?;
        // Ranks count players: anything near u64::MAX is not a cursor we gave out.
        if parts.next().is_some() || rank == 0 || rank > 1 << 48 {
            return None;
        }
        Some(Self { rank, key, player })
    }
}

/// One leaderboard entry.
#[derive(Clone, Debug, PartialEq)]
pub struct LeaderboardEntry {
    /// Its rank, 1-based.
    pub rank: u64,
    /// The player.
    pub player: PlayerId,
    /// The player's display name (empty if the account is gone).
    pub display_name: String,
    /// The rating and games.
    pub record: RatingRecord,
}

/// A page of a leaderboard.
#[derive(Clone, Debug, PartialEq)]
pub struct LeaderboardPage {
    /// The entries, best first.
    pub entries: Vec<LeaderboardEntry>,
    /// Where the next page starts, if there may be one.
    pub next: Option<LeaderboardCursor>,
}

/// Moves `player`'s entry from its old rating (if it had one) to `record`.
pub(crate) fn index(
    table: &mut redb::Table<'_, (&str, &str, u64, u64), &[u8]>,
    season: &str,
    mode: &str,
    player: PlayerId,
    old: Option<Rating>,
    record: &RatingRecord,
) -> Result<(), redb::Error> {
    if let Some(old) = old {
        table.remove((season, mode, rank_key(old), player.0))?;
    }
    table.insert(
        (season, mode, rank_key(record.rating), player.0),
        codec::encode(record).as_slice(),
    )?;
    Ok(())
}

/// Builds the index from the `ratings` table, if the index does not exist yet (a store
/// written before it). Returns how many entries it wrote.
pub(crate) fn build_if_missing(
    txn: &WriteTransaction,
    ratings: TableDefinition<'_, (u64, &str, &str), &[u8]>,
) -> Result<u64, redb::Error> {
    let exists = txn
        .list_tables()?
        .any(|table| table.name() == LEADERBOARD.name());
    let mut index_table = txn.open_table(LEADERBOARD)?;
    if exists {
        return Ok(0);
    }
    let source = txn.open_table(ratings)?;
    let mut written = 0;
    for item in source.iter()? {
        let (key, bytes) = item?;
        let (player, mode, season) = key.value();
        let record: RatingRecord = codec::decode(bytes.value())
            .map_err(|e| redb::Error::Corrupted(format!("rating: {e}")))?;
        index_table.insert(
            (season, mode, rank_key(record.rating), player),
            bytes.value(),
        )?;
        written += 1;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rating(mu: f64, sigma: f64) -> Rating {
        Rating::new(mu, sigma)
    }

    #[test]
    fn rank_keys_order_best_first_across_signs() {
        let ratings = [
            rating(3000.0, 50.0),
            rating(1500.0, 100.0),
            rating(1500.0, 400.0),
            rating(0.5, 0.0),
            rating(-10.0, 100.0),
            rating(f64::NAN, 1.0),
        ];
        let keys: Vec<u64> = ratings.iter().map(|r| rank_key(*r)).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted, "ascending keys must be descending ratings");
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = LeaderboardCursor {
            rank: 100,
            key: rank_key(rating(1500.0, 100.0)),
            player: 42,
        };
        assert_eq!(LeaderboardCursor::decode(&cursor.encode()), Some(cursor));
        for bad in [
            "",
            "1",
            "1.2.3",
            "0.0000000000000000.1",
            "x.0000000000000000.1",
            "1.00.1",
            "1.0000000000000000.1.2",
            "18446744073709551615.0000000000000000.1",
        ] {
            assert_eq!(LeaderboardCursor::decode(bad), None, "{bad:?}");
        }
    }
}
