//! The leaderboard and history routes: `GET /v1/leaderboard/{season}?mode=` and
//! `GET /v1/matches/history`. The work is `service::boards`'s (QUIC's `Leaderboard` and
//! `History` requests call the same functions).

// utoipa's expansion of `params(SomeQuery)` qualifies paths the lint calls unnecessary.
#![allow(unused_qualifications)]

use axum::Json;
use axum::extract::State;
use matchwright_transport::wire::{
    HistoryPage, HistoryQuery, LeaderboardPage, LeaderboardQuery, WireError,
};

use crate::app::AppState;
use crate::error::{ApiError, ApiPath, ApiQuery};
use crate::guard::AuthPlayer;
use crate::service::boards;

/// A season's leaderboard in one mode, best conservative rating (`mu - 3 sigma`) first.
#[utoipa::path(get, path = "/v1/leaderboard/{season}", tag = "leaderboards", security(("bearer" = [])),
    params(("season" = String, Path, description = "The season (the server's is `server.season`)"), LeaderboardQuery),
    responses(
        (status = 200, description = "A page of the leaderboard", body = LeaderboardPage),
        (status = 401, description = "No valid access token", body = WireError),
        (status = 422, description = "Unknown mode, bad limit or cursor", body = WireError)))]
pub async fn leaderboard(
    State(state): State<AppState>,
    AuthPlayer(_player): AuthPlayer,
    ApiPath(season): ApiPath<String>,
    ApiQuery(query): ApiQuery<LeaderboardQuery>,
) -> Result<Json<LeaderboardPage>, ApiError> {
    Ok(Json(boards::leaderboard(&state, season, query).await?))
}

/// The caller's rated matches, newest first. The server keeps the newest
/// `history_per_player` per player; the Postgres mirror keeps every one.
#[utoipa::path(get, path = "/v1/matches/history", tag = "leaderboards", security(("bearer" = [])),
    params(HistoryQuery),
    responses(
        (status = 200, description = "A page of history", body = HistoryPage),
        (status = 401, description = "No valid access token", body = WireError),
        (status = 422, description = "Bad limit or cursor", body = WireError)))]
pub async fn history(
    State(state): State<AppState>,
    AuthPlayer(player): AuthPlayer,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryPage>, ApiError> {
    Ok(Json(boards::history(&state, player, query).await?))
}
