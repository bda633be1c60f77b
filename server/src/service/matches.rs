//! Answering a proposed match (queues with acceptance).

use matchwright_ecs::{Command, MatchId, PlayerId};
use matchwright_transport::wire::Done;

use crate::app::AppState;
use crate::error::ApiError;
use crate::view::MatchStage;

/// Checks that `player` may answer match `match_id`.
fn proposed_match(state: &AppState, player: PlayerId, match_id: MatchId) -> Result<(), ApiError> {
    let view = state.view();
    let Some(found) = view.match_view(match_id) else {
        return Err(ApiError::not_found(
            "unknown_match",
            format!("no live match is {match_id}"),
        ));
    };
    if !found.has_player(player) {
        return Err(ApiError::forbidden(
            "not_your_match",
            format!("you are not a player of {match_id}"),
        ));
    }
    if !matches!(found.stage, MatchStage::AwaitingAcceptance { .. }) {
        return Err(ApiError::conflict(
            "wrong_match_phase",
            format!(
                "{match_id} is {}, not awaiting acceptance",
                found.stage.name()
            ),
        ));
    }
    Ok(())
}

/// Accepts or declines a proposed match the caller plays in.
async fn answer_match(
    state: &AppState,
    player: PlayerId,
    match_id: MatchId,
    accept: bool,
) -> Result<Done, ApiError> {
    proposed_match(state, player, match_id)?;
    let (command, status) = if accept {
        (Command::AcceptMatch { match_id, player }, "accepted")
    } else {
        (Command::DeclineMatch { match_id, player }, "declined")
    };
    state.ticks.submit(command).await?;
    Ok(Done {
        status: status.into(),
        match_id: Some(match_id.0),
    })
}

/// Accepts a proposed match.
pub async fn accept(state: &AppState, player: PlayerId, match_id: u64) -> Result<Done, ApiError> {
    answer_match(state, player, MatchId(match_id), true).await
}

/// Declines a proposed match: the caller leaves the queue; everyone else goes back with their
/// waiting time.
pub async fn decline(state: &AppState, player: PlayerId, match_id: u64) -> Result<Done, ApiError> {
    answer_match(state, player, MatchId(match_id), false).await
}
