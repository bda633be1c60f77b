//! What the partitions' events made, read from the shared record: ratings (the one a gateway
//! sends with an enqueue), history, leaderboards and matches. The rows are recorded by
//! `recording`; the tables are the mirror's.

use matchwright_ecs::{MatchId, PlayerId, Rating};

use super::{SharedRecord, id, unsigned};
use crate::StoreError;
use crate::leaderboard::{LeaderboardCursor, LeaderboardEntry, LeaderboardPage, rank_key};
use crate::records::{MatchRow, MatchState, MirrorRow, RatingRecord};

type RatingColumns = (String, f64, f64, f64, i64, i64);

fn rating_of((mode, mu, sigma, volatility, games, at): RatingColumns) -> (String, RatingRecord) {
    let record = RatingRecord {
        rating: Rating {
            mu,
            sigma,
            volatility,
        },
        games: unsigned(games),
        updated_at_ms: unsigned(at),
    };
    (mode, record)
}

/// The conservative rating a leaderboard key was made from (`rank_key` inverted).
fn conservative_of(key: u64) -> f64 {
    let ascending = !key;
    let bits = if ascending >> 63 == 1 {
        ascending & !(1 << 63)
    } else {
        !ascending
    };
    f64::from_bits(bits)
}

impl SharedRecord {
    /// A player's rating in a mode (the rating key), this season.
    pub async fn rating(
        &self,
        player: PlayerId,
        mode: &str,
    ) -> Result<Option<RatingRecord>, StoreError> {
        let read = sqlx::query_as::<_, RatingColumns>(
            "SELECT mode, mu, sigma, volatility, games, updated_at_ms FROM ratings \
             WHERE player_id = $1 AND mode = $2 AND season = $3",
        )
        .bind(id(player.0))
        .bind(mode)
        .bind(&self.season)
        .fetch_optional(&self.pool);
        let found = self.run("reading a rating", read).await?;
        Ok(found.map(|row| rating_of(row).1))
    }

    /// Sets one player's rating under `key` this season (an operator's correction).
    pub async fn put_rating(
        &self,
        player: PlayerId,
        key: &str,
        record: &RatingRecord,
    ) -> Result<(), StoreError> {
        let write = sqlx::query(
            "INSERT INTO ratings (player_id, mode, season, mu, sigma, volatility, games, \
             updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (player_id, mode, season) DO UPDATE SET mu = EXCLUDED.mu, \
             sigma = EXCLUDED.sigma, volatility = EXCLUDED.volatility, games = EXCLUDED.games, \
             updated_at_ms = EXCLUDED.updated_at_ms",
        )
        .bind(id(player.0))
        .bind(key)
        .bind(&self.season)
        .bind(record.rating.mu)
        .bind(record.rating.sigma)
        .bind(record.rating.volatility)
        .bind(id(record.games))
        .bind(id(record.updated_at_ms))
        .execute(&self.pool);
        self.run("setting a rating", write).await.map(drop)
    }

    /// A player's ratings this season, by mode.
    pub async fn ratings_of(
        &self,
        player: PlayerId,
    ) -> Result<Vec<(String, RatingRecord)>, StoreError> {
        let read = sqlx::query_as::<_, RatingColumns>(
            "SELECT mode, mu, sigma, volatility, games, updated_at_ms FROM ratings \
             WHERE player_id = $1 AND season = $2 ORDER BY mode",
        )
        .bind(id(player.0))
        .bind(&self.season)
        .fetch_all(&self.pool);
        let rows = self.run("reading ratings", read).await?;
        Ok(rows.into_iter().map(rating_of).collect())
    }

    /// One page of rated history for a player, newest match first: at most `limit` rows of
    /// matches older than `before`; the second value continues it, when there may be more.
    pub async fn history_page(
        &self,
        player: PlayerId,
        before: Option<MatchId>,
        limit: usize,
    ) -> Result<(Vec<MirrorRow>, Option<MatchId>), StoreError> {
        let read = sqlx::query_as::<_, (i64, String, i64, f64, f64, f64, f64, i64)>(
            "SELECT match_id, mode, placement, mu_before, sigma_before, mu_after, \
             sigma_after, at_ms FROM match_history WHERE player_id = $1 AND match_id < $2 \
             ORDER BY match_id DESC LIMIT $3",
        )
        .bind(id(player.0))
        .bind(before.map_or(i64::MAX, |m| id(m.0)))
        .bind(limit as i64 + 1)
        .fetch_all(&self.pool);
        let mut rows = self.run("reading history", read).await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = more
            .then(|| rows.last().map(|row| MatchId(unsigned(row.0))))
            .flatten();
        let rows = rows
            .into_iter()
            .map(
                |(match_id, mode, placement, mub, sigb, mua, siga, at)| MirrorRow::History {
                    player,
                    match_id: MatchId(unsigned(match_id)),
                    mode,
                    placement: u32::try_from(placement).unwrap_or(u32::MAX),
                    before: Rating::new(mub, sigb),
                    after: Rating::new(mua, siga),
                    at_ms: unsigned(at),
                },
            )
            .collect();
        Ok((rows, next))
    }

    /// One page of a season's leaderboard in `mode`, best conservative rating (`mu - 3
    /// sigma`) first, ties by player; the same cursors as the store's.
    pub async fn leaderboard_page(
        &self,
        season: &str,
        mode: &str,
        after: Option<LeaderboardCursor>,
        limit: usize,
    ) -> Result<LeaderboardPage, StoreError> {
        let (value, after_player) = after.map_or((f64::INFINITY, -1), |cursor| {
            (conservative_of(cursor.key), id(cursor.player))
        });
        let read = sqlx::query_as::<_, (i64, String, f64, f64, f64, i64, i64)>(
            "SELECT r.player_id, COALESCE(a.display_name, ''), r.mu, r.sigma, r.volatility, \
             r.games, r.updated_at_ms FROM ratings r \
             LEFT JOIN accounts a ON a.player_id = r.player_id \
             WHERE r.mode = $1 AND r.season = $2 AND ((r.mu - 3 * r.sigma) < $3 \
             OR ((r.mu - 3 * r.sigma) = $3 AND r.player_id > $4)) \
             ORDER BY (r.mu - 3 * r.sigma) DESC, r.player_id LIMIT $5",
        )
        .bind(mode)
        .bind(season)
        .bind(value)
        .bind(after_player)
        .bind(limit as i64 + 1)
        .fetch_all(&self.pool);
        let mut rows = self.run("reading a leaderboard", read).await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let first = after.map_or(0, |cursor| cursor.rank);
        let entries: Vec<LeaderboardEntry> = rows
            .into_iter()
            .zip(first + 1..)
            .map(|((player, name, mu, sigma, volatility, games, at), rank)| {
                let (_, record) = rating_of((String::new(), mu, sigma, volatility, games, at));
                LeaderboardEntry {
                    rank,
                    player: PlayerId(unsigned(player)),
                    display_name: name,
                    record,
                }
            })
            .collect();
        let next = match entries.last() {
            Some(last) if more => Some(LeaderboardCursor {
                rank: last.rank,
                key: rank_key(last.record.rating),
                player: last.player.0,
            }),
            _ => None,
        };
        Ok(LeaderboardPage { entries, next })
    }

    /// A match and its session as recorded.
    pub async fn match_row(&self, match_id: MatchId) -> Result<Option<MatchRow>, StoreError> {
        let work = async {
            let found = sqlx::query_as::<
                _,
                (
                    String,
                    String,
                    String,
                    i64,
                    f64,
                    String,
                    i64,
                    Option<String>,
                    Option<String>,
                ),
            >(
                "SELECT m.queue, m.mode, m.region, m.formed_at_ms, m.quality, s.state, \
                 s.updated_at_ms, s.placements, s.server_address FROM matches m \
                 JOIN sessions s ON s.match_id = m.match_id WHERE m.match_id = $1",
            )
            .bind(id(match_id.0))
            .fetch_optional(&self.pool)
            .await?;
            let Some(found) = found else {
                return Ok(None);
            };
            let players = sqlx::query_as::<_, (i64, i16, Option<String>)>(
                "SELECT player_id, team, role FROM match_players WHERE match_id = $1 \
                 ORDER BY team, player_id",
            )
            .bind(id(match_id.0))
            .fetch_all(&self.pool)
            .await?;
            Ok(Some((found, players)))
        };
        let Some((found, players)) = self.run("reading a match", work).await? else {
            return Ok(None);
        };
        let (queue, mode, region, formed, quality, state, updated, placements, server) = found;
        Ok(Some(MatchRow {
            match_id,
            queue,
            mode,
            region,
            formed_at_ms: unsigned(formed),
            quality,
            players: players
                .iter()
                .map(|(p, team, _)| (PlayerId(unsigned(*p)), *team as u8))
                .collect(),
            roles: players
                .iter()
                .filter_map(|(p, _, role)| Some((PlayerId(unsigned(*p)), role.clone()?)))
                .collect(),
            state: MatchState::parse(&state).unwrap_or(MatchState::Allocating),
            updated_at_ms: unsigned(updated),
            placements: placements
                .map(|text| text.split(',').filter_map(|p| p.parse().ok()).collect()),
            server,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rank_key_gives_back_its_conservative_rating() {
        for (mu, sigma) in [(1500.0, 350.0), (25.0, 8.333), (-40.0, 2.0), (0.0, 0.0)] {
            let rating = Rating::new(mu, sigma);
            let key = rank_key(rating);
            assert_eq!(conservative_of(key), mu - 3.0 * sigma, "{mu} {sigma}");
        }
    }
}
