//! Leaderboards and match history: `GET /v1/leaderboard/{season}?mode=` ranks a season's
//! players in a game mode by conservative rating (`mu - 3 sigma`, as the GameBackend seed
//! does), and `GET /v1/matches/history` lists the caller's rated matches, newest first. Both
//! are read from redb (the leaderboard from its own index, `matchwright_storage::leaderboard`)
//! with cursor pagination, so a page costs the same at any depth; Postgres holds the same rows
//! through the mirror.

// utoipa's expansion of `params(SomeQuery)` qualifies paths the lint calls unnecessary.
#![allow(unused_qualifications)]

use axum::extract::State;
use matchwright_ecs::MatchId;
use matchwright_storage::MirrorRow;
use matchwright_storage::leaderboard::LeaderboardCursor;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::auth::AuthPlayer;
use crate::error::{ApiError, ApiPath, ApiQuery, ErrorBody};
use crate::hub::RatingBody;

/// The most entries one page holds.
pub const MAX_PAGE: usize = 200;
/// Entries per page when `limit` is not given.
pub const DEFAULT_PAGE: usize = 50;

/// `GET /v1/leaderboard/{season}` parameters.
#[derive(Clone, Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LeaderboardQuery {
    /// The game mode (as configured on the queues, e.g. `duel`).
    pub mode: String,
    /// Entries per page, 1 to 200 (default 50).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One ranked player.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct LeaderboardEntryBody {
    /// 1 is the best.
    pub rank: u64,
    /// The player.
    pub player_id: u64,
    /// The name others see.
    pub display_name: String,
    /// The rating (`conservative` is what ranks).
    pub rating: RatingBody,
    /// Rated games played this season in this mode.
    pub games: u64,
}

/// A leaderboard page.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct LeaderboardPageBody {
    /// The season.
    pub season: String,
    /// The mode.
    pub mode: String,
    /// The entries, best first.
    pub entries: Vec<LeaderboardEntryBody>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

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

fn known_mode(state: &AppState, mode: &str) -> Result<(), ApiError> {
    let config = &state.settings.matcher;
    if config.queues.iter().any(|queue| queue.mode_name() == mode) {
        return Ok(());
    }
    let mut modes: Vec<&str> = config.queues.iter().map(|q| q.mode_name()).collect();
    modes.sort_unstable();
    modes.dedup();
    Err(ApiError::invalid(
        "mode",
        format!("no queue plays the mode `{mode}`; the modes are {modes:?}"),
    ))
}

/// A season's leaderboard in one mode, best conservative rating (`mu - 3 sigma`) first.
#[utoipa::path(get, path = "/v1/leaderboard/{season}", tag = "leaderboards", security(("bearer" = [])),
    params(("season" = String, Path, description = "The season (the server's is `server.season`)"), LeaderboardQuery),
    responses(
        (status = 200, description = "A page of the leaderboard", body = LeaderboardPageBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 422, description = "Unknown mode, bad limit or cursor", body = ErrorBody)))]
pub async fn leaderboard(
    State(state): State<AppState>,
    AuthPlayer(_player): AuthPlayer,
    ApiPath(season): ApiPath<String>,
    ApiQuery(query): ApiQuery<LeaderboardQuery>,
) -> Result<axum::Json<LeaderboardPageBody>, ApiError> {
    known_mode(&state, &query.mode)?;
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
        .store
        .leaderboard_page(&season, &query.mode, after, limit)?;
    Ok(axum::Json(LeaderboardPageBody {
        season,
        mode: query.mode,
        entries: page
            .entries
            .into_iter()
            .map(|entry| LeaderboardEntryBody {
                rank: entry.rank,
                player_id: entry.player.0,
                display_name: entry.display_name,
                rating: entry.record.rating.into(),
                games: entry.record.games,
            })
            .collect(),
        next_cursor: page.next.map(|cursor| cursor.encode()),
    }))
}

/// `GET /v1/matches/history` parameters.
#[derive(Clone, Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Matches per page, 1 to 200 (default 50).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One rated match of the caller's.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntryBody {
    /// The match.
    pub match_id: u64,
    /// Its game mode.
    pub mode: String,
    /// The caller's team's place (1 = first), when known.
    pub placement: Option<u32>,
    /// The caller's rating before.
    pub before: RatingBody,
    /// And after.
    pub after: RatingBody,
    /// When the result came (Unix ms).
    pub at_ms: u64,
}

/// A page of match history.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct HistoryPageBody {
    /// Newest first.
    pub matches: Vec<HistoryEntryBody>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The caller's rated matches, newest first. The server keeps the newest
/// `history_per_player` per player; the Postgres mirror keeps every one.
#[utoipa::path(get, path = "/v1/matches/history", tag = "leaderboards", security(("bearer" = [])),
    params(HistoryQuery),
    responses(
        (status = 200, description = "A page of history", body = HistoryPageBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 422, description = "Bad limit or cursor", body = ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<axum::Json<HistoryPageBody>, ApiError> {
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
    let (rows, next) = state.store.history_page(player, before, limit)?;
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
            } => Some(HistoryEntryBody {
                match_id: match_id.0,
                mode,
                placement: (placement != u32::MAX).then_some(placement),
                before: before.into(),
                after: after.into(),
                at_ms,
            }),
            _ => None,
        })
        .collect();
    Ok(axum::Json(HistoryPageBody {
        matches,
        next_cursor: next.map(|id| id.0.to_string()),
    }))
}
