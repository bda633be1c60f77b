//! Leaderboards and match history: a season's players in a game mode ranked by conservative
//! rating (`mu - 3 sigma`, as the GameBackend seed does), and the caller's rated matches,
//! newest first. Both are read from redb (the leaderboard from its own index,
//! `matchwright_storage::leaderboard`) with cursor pagination, so a page costs the same at any
//! depth; Postgres holds the same rows through the mirror.

use matchwright_ecs::{MatchId, PlayerId};
use matchwright_storage::MirrorRow;
use matchwright_storage::leaderboard::LeaderboardCursor;
use matchwright_transport::wire::{
    HistoryEntry, HistoryPage, HistoryQuery, LeaderboardEntry, LeaderboardPage, LeaderboardQuery,
};

use crate::app::AppState;
use crate::error::ApiError;
use crate::hub::rating;

/// The most entries one page holds.
pub const MAX_PAGE: usize = 200;
/// Entries per page when `limit` is not given.
pub const DEFAULT_PAGE: usize = 50;

fn page_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(limit) if (1..=MAX_PAGE).contains(&limit) => Ok(limit),
        Some(_) => Err(ApiError::invalid(
            "limit",
            format!("a page holds 1 to {MAX_PAGE} entries"),
        )),
    }
}

/// A mode some queue plays, or `MODE:ROLE` of a queue rated per role.
fn known_mode(state: &AppState, mode: &str) -> Result<(), ApiError> {
    let mut modes = super::profile::rating_keys(state);
    if modes.iter().any(|known| known == mode) {
        return Ok(());
    }
    modes.sort_unstable();
    Err(ApiError::invalid(
        "mode",
        format!("no queue plays the mode `{mode}`; the modes are {modes:?}"),
    ))
}

/// A page of `season`'s leaderboard in one mode, best conservative rating first (ties to the
/// lower player id).
pub async fn leaderboard(
    state: &AppState,
    season: String,
    query: LeaderboardQuery,
) -> Result<LeaderboardPage, ApiError> {
    known_mode(state, &query.mode)?;
    let limit = page_limit(query.limit)?;
    let after = match &query.cursor {
        None => None,
        Some(text) => Some(LeaderboardCursor::decode(text).ok_or_else(|| {
            ApiError::invalid(
                "cursor",
                "not a cursor of this leaderboard; pass `next_cursor` as it came",
            )
        })?),
    };
    let page = state
        .records
        .leaderboard_page(&season, &query.mode, after, limit)
        .await?;
    Ok(LeaderboardPage {
        season,
        mode: query.mode,
        entries: page
            .entries
            .into_iter()
            .map(|entry| LeaderboardEntry {
                rank: entry.rank,
                player_id: entry.player.0,
                display_name: entry.display_name,
                rating: rating(entry.record.rating),
                games: entry.record.games,
            })
            .collect(),
        next_cursor: page.next.map(|cursor| cursor.encode()),
    })
}

/// A page of the caller's rated matches, newest first. The server keeps the newest
/// `history_per_player` per player; the Postgres mirror keeps every one.
pub async fn history(
    state: &AppState,
    player: PlayerId,
    query: HistoryQuery,
) -> Result<HistoryPage, ApiError> {
    let limit = page_limit(query.limit)?;
    let before = match &query.cursor {
        None => None,
        Some(text) => Some(MatchId(text.parse().map_err(|_| {
            ApiError::invalid(
                "cursor",
                "not a history cursor; pass `next_cursor` as it came",
            )
        })?)),
    };
    let (rows, next) = state.records.history_page(player, before, limit).await?;
    let matches = rows
        .into_iter()
        .filter_map(|row| match row {
            MirrorRow::History {
                match_id,
                mode,
                placement,
                before,
                after,
                at_ms,
                ..
            } => Some(HistoryEntry {
                match_id: match_id.0,
                mode,
                placement: (placement != u32::MAX).then_some(placement),
                before: rating(before),
                after: rating(after),
                at_ms,
            }),
            _ => None,
        })
        .collect();
    Ok(HistoryPage {
        matches,
        next_cursor: next.map(|id| id.0.to_string()),
    })
}
