//! Sessions: a player reads their match's session (game server and session token); game
//! servers report on theirs (HTTP only: the game-server routes have no QUIC request).

use matchwright_ecs::{Command, MatchId, PlayerId};
use matchwright_transport::wire::{
    BackfillRequest, LeaveRequest, ResultRequest, Session, SessionAck,
};

use crate::app::AppState;
use crate::auth;
use crate::clock::unix_ms;
use crate::error::ApiError;
use crate::view::MatchStage;

/// The session of a match the caller plays in: the game server and a session token, once
/// active.
pub async fn session(state: &AppState, player: PlayerId, id: u64) -> Result<Session, ApiError> {
    let match_id = MatchId(id);
    let live = state.view().match_view(match_id).cloned();
    let (stage_name, region, players, roles, server) = match live {
        Some(found) => {
            let server = match &found.stage {
                MatchStage::Active { server } => Some(server.clone()),
                _ => None,
            };
            let roles: Vec<(PlayerId, String)> = found
                .roles
                .iter()
                .map(|(player, role)| (*player, role.to_string()))
                .collect();
            (
                found.stage.name().to_string(),
                found.summary.region.to_string(),
                found.players,
                roles,
                server,
            )
        }
        None => {
            let row = state.records.match_row(match_id).await?.ok_or_else(|| {
                ApiError::not_found("unknown_match", format!("no match is {match_id}"))
            })?;
            (
                row.state.as_str().to_string(),
                row.region,
                row.players,
                row.roles,
                None,
            )
        }
    };
    let Some(team) = players.iter().find(|(p, _)| *p == player).map(|(_, t)| *t) else {
        return Err(ApiError::forbidden(
            "not_your_match",
            format!("you are not a player of {match_id}"),
        ));
    };
    let (token, expires) = match &server {
        Some(address) => {
            let claims = auth::session_claims(
                player,
                match_id,
                team,
                address,
                unix_ms() / 1_000,
                state.settings.server.session_token_ttl_s,
            );
            (
                Some(auth::session_token(&state.secrets.session, &claims)),
                Some(claims.exp * 1_000),
            )
        }
        None => (None, None),
    };
    Ok(Session {
        match_id: id,
        state: stage_name,
        region,
        your_team: Some(team),
        players: crate::hub::match_players(&players, |p| {
            roles
                .iter()
                .find(|(player, _)| *player == p)
                .map(|(_, role)| role.as_str())
        }),
        server,
        session_token: token,
        token_expires_at_ms: expires,
    })
}

fn teams_of(state: &AppState, match_id: MatchId) -> Result<usize, ApiError> {
    state
        .view()
        .match_view(match_id)
        .map(|found| found.summary.teams.len())
        .ok_or_else(|| {
            ApiError::not_found("unknown_match", format!("no running session is {match_id}"))
        })
}

/// The placements a result means.
pub fn placements_of(request: &ResultRequest, teams: usize) -> Result<Vec<u32>, ApiError> {
    let given = [
        request.winner.is_some(),
        request.ranking.is_some(),
        request.placements.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(ApiError::invalid(
            "winner",
            "give exactly one of `winner`, `ranking` or `placements`",
        ));
    }
    if let Some(winner) = request.winner {
        if usize::from(winner) >= teams {
            return Err(ApiError::invalid(
                "winner",
                format!("the match has {teams} teams (0 to {})", teams - 1),
            ));
        }
        let mut placements = vec![2; teams];
        placements[usize::from(winner)] = 1;
        return Ok(placements);
    }
    if let Some(ranking) = &request.ranking {
        let mut placements = vec![0_u32; teams];
        if ranking.len() != teams {
            return Err(ApiError::invalid(
                "ranking",
                format!("rank all {teams} teams, best first"),
            ));
        }
        for (place, team) in ranking.iter().enumerate() {
            let slot = placements.get_mut(usize::from(*team));
            match slot {
                Some(slot) if *slot == 0 => *slot = place as u32 + 1,
                _ => {
                    return Err(ApiError::invalid(
                        "ranking",
                        format!("rank each team 0 to {} exactly once", teams - 1),
                    ));
                }
            }
        }
        return Ok(placements);
    }
    let placements = request.placements.clone().unwrap_or_default();
    if placements.len() != teams || placements.contains(&0) {
        return Err(ApiError::invalid(
            "placements",
            format!("give one place (1 or more) for each of the {teams} teams"),
        ));
    }
    Ok(placements)
}

/// The game server is alive (keeps the session from timing out).
pub async fn heartbeat(state: &AppState, id: u64) -> Result<SessionAck, ApiError> {
    let match_id = MatchId(id);
    state.ticks.submit(Command::Heartbeat { match_id }).await?;
    Ok(ack(id, "alive"))
}

/// The session's result: it ends and its players' ratings update.
pub async fn report_result(
    state: &AppState,
    id: u64,
    request: ResultRequest,
) -> Result<SessionAck, ApiError> {
    let match_id = MatchId(id);
    let placements = placements_of(&request, teams_of(state, match_id)?)?;
    state
        .ticks
        .submit(Command::ReportResult {
            match_id,
            placements,
        })
        .await?;
    Ok(ack(id, "ended"))
}

/// A player left the running game: the slot is free for backfill. When the last player
/// leaves, the session is abandoned (`empty`).
pub async fn leave(
    state: &AppState,
    id: u64,
    request: LeaveRequest,
) -> Result<SessionAck, ApiError> {
    let command = Command::LeaveSession {
        match_id: MatchId(id),
        player: PlayerId(request.player_id),
    };
    state.ticks.submit(command).await?;
    Ok(ack(id, "player_left"))
}

/// The session ended without a result (ratings unchanged).
pub async fn end(state: &AppState, id: u64) -> Result<SessionAck, ApiError> {
    let match_id = MatchId(id);
    state.ticks.submit(Command::EndSession { match_id }).await?;
    Ok(ack(id, "ended"))
}

/// Asks for players to fill open slots of a running session (all zeros withdraws).
pub async fn backfill(
    state: &AppState,
    id: u64,
    request: BackfillRequest,
) -> Result<SessionAck, ApiError> {
    let match_id = MatchId(id);
    let cancel = request.open_slots.iter().all(|slots| *slots == 0);
    let command = if cancel {
        Command::CancelBackfill { match_id }
    } else {
        Command::RequestBackfill {
            match_id,
            open_slots: request.open_slots,
        }
    };
    state.ticks.submit(command).await?;
    let status = if cancel {
        "backfill_cancelled"
    } else {
        "backfill_requested"
    };
    Ok(ack(id, status))
}

fn ack(match_id: u64, status: &str) -> SessionAck {
    SessionAck {
        match_id,
        status: status.into(),
    }
}
