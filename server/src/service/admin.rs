//! The admin API for operators: what the queues, tickets and matches look like now (from the
//! live view), and the actions (cancel a ticket, end a session, ban and unban a player, set
//! or reset a rating), each
//! written to the audit log with who did it and how it went, refused ones included.
//!
//! An action that changes the matcher goes through the tick loop as any player's command
//! does (`Command::Cancel`, `Command::CancelMatch`, `Command::EndSession`), so it is
//! journaled and replayed like one.
//! A ban is a record of the store (or the shared record); every request a banned player's
//! token makes is refused from then on (`guard::not_banned`) and their ticket leaves its
//! queue. A session they are playing goes on (end it, if it must stop).

use matchwright_ecs::{Command, MatchId, PlayerId, Rating, TicketId};
use matchwright_storage::operators::MAX_AUDIT_PAGE;
use matchwright_storage::{AuditRecord, BanRecord, MAX_BAN_REASON_CHARS, RatingRecord};
use matchwright_transport::wire::{
    AdminDone, AdminMatch, AdminMatchPlayer, AdminMatches, AdminPlayer, AdminQueue, AdminQueues,
    AdminTicket, AdminTicketQuery, AdminTickets, AuditEntry, AuditPage, AuditQuery, Ban,
    BanRequest, SetRatingRequest, Windows,
};

use std::sync::Arc;

use crate::app::AppState;
use crate::clock::unix_ms;
use crate::error::ApiError;
use crate::guard::Operator;
use crate::recent::wait_percentiles;
use crate::settings::Settings;
use crate::view::{MatchStage, MatchView, PlayerStatus, TicketView, View};

/// The most tickets or matches one answer lists.
const MAX_LISTED: usize = 500;

/// The queues: depth, waits and the windows in force.
pub fn queues(state: &AppState) -> AdminQueues {
    let now_ms = unix_ms();
    let config = state.matcher();
    // Copied out so that the view's lock is held only for the copy.
    let (mut waits, recent): (Vec<(usize, u64, u64)>, Vec<_>) = {
        let view = state.view();
        let waits = waiting_tickets(&view)
            .filter_map(|(_, ticket)| {
                let queue = config.queue_index(&ticket.queue)?;
                let players = ticket.players.len() as u64;
                Some((queue, now_ms.saturating_sub(ticket.since_ms), players))
            })
            .collect();
        let recent: Vec<_> = (config.queues.iter())
            .map(|queue| view.recent().copy(&queue.name))
            .collect();
        (waits, recent)
    };
    waits.sort_unstable();
    let queues = config
        .queues
        .iter()
        .enumerate()
        .map(|(index, queue)| {
            let start = waits.partition_point(|(q, _, _)| *q < index);
            let end = waits.partition_point(|(q, _, _)| *q <= index);
            let mine = &waits[start..end];
            let sorted: Vec<u64> = mine.iter().map(|(_, waited, _)| *waited).collect();
            let waited_ms = wait_percentiles(&sorted);
            let typical = waited_ms.map_or(0, |waited| waited.p50);
            AdminQueue {
                name: queue.name.clone(),
                mode: queue.mode_name().to_string(),
                tickets: mine.len() as u64,
                players: mine.iter().map(|(_, _, players)| players).sum(),
                waited_ms,
                windows: Windows {
                    skill_mmr: queue.skill_window.value_at(typical),
                    ping_ms: queue.latency_window.value_at(typical),
                    quality_floor: queue.quality_floor.value_at(typical),
                },
                recent: recent[index].to_wire(now_ms),
            }
        })
        .collect();
    AdminQueues { queues, now_ms }
}

/// The tickets waiting in a queue (or in a proposed match): not those a match holds while it
/// waits for its game server.
fn waiting_tickets(view: &View) -> impl Iterator<Item = (TicketId, &TicketView)> {
    view.all_tickets().filter(move |(_, ticket)| {
        let first = ticket.players.first().and_then(|p| view.status(*p));
        !matches!(first, Some(PlayerStatus::InMatch(_)))
    })
}

/// Live tickets, the longest waiting first, filtered by queue and player.
pub fn tickets(state: &AppState, query: &AdminTicketQuery) -> Result<AdminTickets, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_LISTED).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("1 to {MAX_LISTED} tickets"),
        ));
    }
    if let Some(queue) = &query.queue
        && state.matcher().queue_index(queue).is_none()
    {
        return Err(ApiError::invalid("queue", format!("no queue is `{queue}`")));
    }
    let now_ms = unix_ms();
    let view = state.view();
    let mut found: Vec<AdminTicket> = waiting_tickets(&view)
        .filter(|(_, ticket)| query.queue.as_ref().is_none_or(|q| *q == ticket.queue))
        .filter(|(_, ticket)| {
            query
                .player
                .is_none_or(|player| ticket.players.contains(&PlayerId(player)))
        })
        .filter_map(|(id, _)| admin_ticket(&view, id, now_ms))
        .collect();
    drop(view);
    let total = found.len() as u64;
    found.sort_unstable_by_key(|ticket| (ticket.since_ms, ticket.id));
    found.truncate(limit);
    Ok(AdminTickets {
        tickets: found,
        total,
    })
}

/// One live ticket.
pub fn ticket(state: &AppState, id: u64) -> Result<AdminTicket, ApiError> {
    admin_ticket(&state.view(), TicketId(id), unix_ms()).ok_or_else(|| unknown_ticket(id))
}

fn unknown_ticket(id: u64) -> ApiError {
    ApiError::not_found("unknown_ticket", format!("no live ticket is ticket {id}"))
}

fn admin_ticket(view: &View, id: TicketId, now_ms: u64) -> Option<AdminTicket> {
    let ticket = view.ticket(id)?;
    let first = ticket.players.first().and_then(|p| view.status(*p));
    if matches!(first, Some(PlayerStatus::InMatch(_))) {
        return None;
    }
    let proposed_in = ticket
        .players
        .first()
        .and_then(|player| match view.status(*player) {
            Some(PlayerStatus::Proposed(_, match_id)) => Some(match_id.0),
            _ => None,
        });
    Some(AdminTicket {
        id: id.0,
        queue: ticket.queue.clone(),
        players: ticket.players.iter().map(|p| p.0).collect(),
        since_ms: ticket.since_ms,
        waited_ms: now_ms.saturating_sub(ticket.since_ms),
        proposed_in,
    })
}

/// The live matches, the newest first (at most [`MAX_LISTED`]).
pub fn matches(state: &AppState) -> AdminMatches {
    let view = state.view();
    let mut found: Vec<AdminMatch> = view
        .all_matches()
        .map(|(id, live)| admin_match(id, live))
        .collect();
    drop(view);
    let total = found.len() as u64;
    found.sort_unstable_by_key(|live| std::cmp::Reverse(live.id));
    found.truncate(MAX_LISTED);
    AdminMatches {
        matches: found,
        total,
    }
}

/// One live match.
pub fn match_of(state: &AppState, id: u64) -> Result<AdminMatch, ApiError> {
    state
        .view()
        .match_view(MatchId(id))
        .map(|live| admin_match(MatchId(id), live))
        .ok_or_else(|| ApiError::not_found("unknown_match", format!("no live match is {id}")))
}

fn admin_match(id: MatchId, live: &MatchView) -> AdminMatch {
    AdminMatch {
        id: id.0,
        queue: live.summary.queue.to_string(),
        stage: live.stage.name().to_string(),
        quality: live.summary.quality,
        formed_at_ms: live.summary.formed_at_ms,
        server: match &live.stage {
            MatchStage::Active { server } => Some(server.clone()),
            _ => None,
        },
        players: live
            .players
            .iter()
            .map(|(player, team)| AdminMatchPlayer {
                player: player.0,
                team: *team,
                role: live.role_of(*player).map(str::to_owned),
            })
            .collect(),
    }
}

/// Takes a live ticket out of its queue (declining its proposed match, if any).
pub async fn cancel_ticket(
    state: &AppState,
    operator: &Operator,
    id: u64,
) -> Result<AdminDone, ApiError> {
    let action = async {
        // A ticket a match holds while it waits for its game server is not waiting.
        if admin_ticket(&state.view(), TicketId(id), 0).is_none() {
            return Err(unknown_ticket(id));
        }
        let ticket = TicketId(id);
        state.ticks.submit(Command::Cancel { ticket }).await?;
        Ok("cancelled")
    };
    audited(
        state,
        operator,
        "cancel_ticket",
        format!("ticket {id}"),
        "",
        action,
    )
    .await
}

/// Cancels a match that has not started (awaiting acceptance, or waiting for its game
/// server): every ticket goes back to its queue keeping its waiting time.
pub async fn cancel_match(
    state: &AppState,
    operator: &Operator,
    id: u64,
) -> Result<AdminDone, ApiError> {
    let action = async {
        let stage = state.view().match_view(MatchId(id)).map(|m| m.stage.name());
        match stage {
            None => Err(ApiError::not_found(
                "unknown_match",
                format!("no live match is {id}"),
            )),
            Some("active") => Err(ApiError::conflict(
                "session_active",
                format!("match {id} is being played: end its session instead"),
            )),
            Some(_) => {
                let match_id = MatchId(id);
                state
                    .ticks
                    .submit(Command::CancelMatch { match_id })
                    .await?;
                Ok("cancelled")
            }
        }
    };
    audited(
        state,
        operator,
        "cancel_match",
        format!("match {id}"),
        "",
        action,
    )
    .await
}

/// Ends a session (allocating or active) as its game server would: no result, nobody rated.
pub async fn end_session(
    state: &AppState,
    operator: &Operator,
    id: u64,
) -> Result<AdminDone, ApiError> {
    let action = async {
        let stage = state.view().match_view(MatchId(id)).map(|m| m.stage.name());
        match stage {
            None => Err(ApiError::not_found(
                "unknown_session",
                format!("no live session is {id}"),
            )),
            Some("awaiting_acceptance") => Err(ApiError::conflict(
                "not_started",
                format!("match {id} awaits acceptance: cancel the match instead"),
            )),
            Some(_) => {
                let match_id = MatchId(id);
                state.ticks.submit(Command::EndSession { match_id }).await?;
                Ok("ended")
            }
        }
    };
    audited(
        state,
        operator,
        "end_session",
        format!("session {id}"),
        "",
        action,
    )
    .await
}

/// Bans a player: refused from their next request on, their ticket cancelled.
pub async fn ban(
    state: &AppState,
    operator: &Operator,
    player: u64,
    request: BanRequest,
) -> Result<AdminDone, ApiError> {
    let reason = request.reason.trim().to_owned();
    let action = async {
        let chars = reason.chars().count();
        if chars == 0 || chars > MAX_BAN_REASON_CHARS {
            return Err(ApiError::invalid(
                "reason",
                format!("a reason is 1 to {MAX_BAN_REASON_CHARS} characters"),
            ));
        }
        let player = PlayerId(player);
        if state.records.account(player).await?.is_none() {
            return Err(ApiError::not_found(
                "unknown_player",
                format!("no player is {}", player.0),
            ));
        }
        let record = BanRecord {
            player,
            reason: reason.clone(),
            by: operator.name.clone(),
            at_ms: unix_ms(),
        };
        state.records.put_ban(&record).await?;
        // The ban holds whatever happens to the ticket: one left behind is logged.
        if let Err(error) = leave_queue(state, player).await {
            tracing::warn!(player = %player, error = %error.0.message, "a banned player's ticket could not be cancelled");
        }
        Ok("banned")
    };
    let target = format!("player {player}");
    audited(state, operator, "ban_player", target, &reason, action).await
}

/// Sets a player's rating under `key` (a queue's mode, or `MODE:ROLE` in a queue rated per
/// role) this season, keeping their games played; `None` resets it to `[rating] initial` with
/// no games. Refused while the player is queued or in a match: their ticket carries the
/// rating it was queued with, and a result would write over the new one.
pub async fn set_rating(
    state: &AppState,
    operator: &Operator,
    (player, key): (u64, String),
    request: Option<SetRatingRequest>,
) -> Result<AdminDone, ApiError> {
    let (action, detail) = match &request {
        Some(set) => ("set_rating", format!("mu={} sigma={}", set.mu, set.sigma)),
        None => ("reset_rating", String::new()),
    };
    let work = async {
        let player = PlayerId(player);
        let old = check_rating_change(state, player, &key, request.as_ref()).await?;
        if request.is_none() && old.is_none() {
            // Never rated under this key: already at the initial rating.
            return Ok("rating_reset");
        }
        let initial = state.matcher().rating.initial;
        let record = match request {
            Some(set) => RatingRecord {
                rating: Rating {
                    mu: set.mu,
                    sigma: set.sigma,
                    volatility: old.map_or(initial.volatility, |old| old.rating.volatility),
                },
                games: old.map_or(0, |old| old.games),
                updated_at_ms: unix_ms(),
            },
            None => RatingRecord {
                rating: initial,
                games: 0,
                updated_at_ms: unix_ms(),
            },
        };
        state.records.put_rating(player, &key, record).await?;
        Ok(if action == "set_rating" {
            "rating_set"
        } else {
            "rating_reset"
        })
    };
    let target = format!("player {player} rating {key}");
    audited(state, operator, action, target, &detail, work).await
}

/// Why a rating may not be changed now, if it may not; else the rating it has.
async fn check_rating_change(
    state: &AppState,
    player: PlayerId,
    key: &str,
    request: Option<&SetRatingRequest>,
) -> Result<Option<RatingRecord>, ApiError> {
    if !crate::service::profile::rating_keys(state)
        .iter()
        .any(|k| k == key)
    {
        return Err(ApiError::invalid(
            "key",
            format!(
                "`{key}` is not a rating key: a queue's mode, or MODE:ROLE in a queue rated per role"
            ),
        ));
    }
    if let Some(set) = request {
        if !(set.mu.is_finite() && set.mu.abs() <= 1_000_000.0) {
            return Err(ApiError::invalid(
                "mu",
                "mu is a number from -1000000 to 1000000",
            ));
        }
        if !(set.sigma.is_finite() && set.sigma > 0.0 && set.sigma <= 100_000.0) {
            return Err(ApiError::invalid(
                "sigma",
                "sigma is a number above 0, at most 100000",
            ));
        }
    }
    if state.records.account(player).await?.is_none() {
        return Err(ApiError::not_found(
            "unknown_player",
            format!("no player is {}", player.0),
        ));
    }
    if state.view().status(player).is_some() {
        return Err(ApiError::conflict(
            "player_busy",
            "the player is queued or in a match, which carries the rating they were queued with \
             (a result would write over a new one): cancel their ticket or wait for the match to end",
        ));
    }
    Ok(state.records.rating(player, key).await?)
}

/// Reloads the matcher's config from the file (and environment) the server started with:
/// through the tick loop as `Command::ReloadConfig`, so it is journaled and replayed, and
/// refused (409 `config_does_not_fit`) when the live state does not fit it. The handlers take
/// the new config once the core has. Only the matcher's part is reloaded; a change to the
/// server's own tables (`[server]`, `[fleet]`...) is logged as waiting for a restart.
pub async fn reload_config(state: &AppState, operator: &Operator) -> Result<AdminDone, ApiError> {
    let source = state.config_source.get();
    let detail = source
        .and_then(|s| s.path.as_ref())
        .map_or_else(String::new, |path| path.display().to_string());
    let work = async {
        let Some(source) = source else {
            return Err(ApiError::new(
                axum::http::StatusCode::NOT_IMPLEMENTED,
                "not_in_cluster",
                "a cluster's config is reloaded by restarting its processes (they agree on it \
                 through JetStream KV)",
            ));
        };
        let _one_at_a_time = source.reloading.lock().await;
        let (path, environment) = (source.path.clone(), source.environment.clone());
        let loaded = tokio::task::spawn_blocking(move || environment.load(path.as_deref()))
            .await
            .map_err(ApiError::internal)?
            .map_err(|error| invalid_config(&error.to_string()))?;
        let new = loaded.settings;
        let current = state.matcher();
        if new.matcher == *current {
            warn_restart_needed(&state.settings, &new);
            return Ok("unchanged");
        }
        // The fleet, registrations and clients' pings are by region: a restart's business.
        if new.matcher.regions != current.regions {
            return Err(ApiError::conflict(
                "config_does_not_fit",
                format!(
                    "the regions changed from {:?} to {:?}: game servers and pings are by \
                     region, so a change of regions needs a restart",
                    current.regions, new.matcher.regions
                ),
            ));
        }
        let config_toml = new.matcher.to_toml_string();
        state
            .ticks
            .submit(Command::ReloadConfig { config_toml })
            .await?;
        *state
            .matcher
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(new.matcher.clone());
        warn_restart_needed(&state.settings, &new);
        Ok("reloaded")
    };
    audited(
        state,
        operator,
        "reload_config",
        "config".into(),
        &detail,
        work,
    )
    .await
}

/// 422 `invalid_config`: the loader's error (the file, the line or field, what is wrong)
/// without the lines of the file it quotes (`12 | key = "..."`, which could hold a secret) and
/// their markers.
fn invalid_config(error: &str) -> ApiError {
    let quoted = |line: &str| {
        let rest = line
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start();
        rest.starts_with('|') || line.chars().all(|c| c == '^' || c == '-' || c == ' ')
    };
    let kept: Vec<&str> = error
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !quoted(line))
        .collect();
    let message = if kept.is_empty() {
        "the config does not load".to_owned()
    } else {
        kept.join(" ")
    };
    ApiError::new(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_config",
        message,
    )
}

/// Logs the server's own tables that differ in `new`: they take effect at the next start.
fn warn_restart_needed(running: &Settings, new: &Settings) {
    let changed: Vec<&str> = [
        ("server", running.server != new.server),
        ("fleet", running.fleet != new.fleet),
        ("lobby", running.lobby != new.lobby),
        ("rate_limits", running.rate_limits != new.rate_limits),
        ("quic", running.quic != new.quic),
        ("telemetry", running.telemetry != new.telemetry),
        ("cluster", running.cluster != new.cluster),
        ("webhooks", running.webhooks != new.webhooks),
    ]
    .into_iter()
    .filter_map(|(name, differs)| differs.then_some(name))
    .collect();
    if !changed.is_empty() {
        tracing::warn!(tables = ?changed, "the config file's server tables changed: they take effect at the next start (a reload takes the matcher's part only)");
    }
}

/// Cancels the ticket `player` waits in, if any (a party's whole ticket).
async fn leave_queue(state: &AppState, player: PlayerId) -> Result<(), ApiError> {
    let status = state.view().status(player);
    if let Some(PlayerStatus::Queued(ticket) | PlayerStatus::Proposed(ticket, _)) = status {
        match state.ticks.submit(Command::Cancel { ticket }).await {
            // It matched or left in the meantime: nothing left to cancel.
            Err(error) if error.code() == "not_queued" => {}
            other => other.map(drop)?,
        }
    }
    Ok(())
}

/// Lifts a player's ban.
pub async fn unban(
    state: &AppState,
    operator: &Operator,
    player: u64,
) -> Result<AdminDone, ApiError> {
    let action = async {
        if state.records.remove_ban(PlayerId(player)).await? {
            Ok("unbanned")
        } else {
            Err(not_banned(player))
        }
    };
    let target = format!("player {player}");
    audited(state, operator, "unban_player", target, "", action).await
}

fn not_banned(player: u64) -> ApiError {
    ApiError::not_found("not_banned", format!("player {player} is not banned"))
}

/// A player's ban.
pub async fn ban_of(state: &AppState, player: u64) -> Result<Ban, ApiError> {
    let ban = state.records.ban(PlayerId(player)).await?;
    ban.map(wire_ban).ok_or_else(|| not_banned(player))
}

fn wire_ban(ban: BanRecord) -> Ban {
    Ban {
        player: ban.player.0,
        reason: ban.reason,
        by: ban.by,
        at_ms: ban.at_ms,
    }
}

/// A player: their profile, where they are now, and their ban.
pub async fn player(state: &AppState, id: u64) -> Result<AdminPlayer, ApiError> {
    let player = PlayerId(id);
    let account =
        state.records.account(player).await?.ok_or_else(|| {
            ApiError::not_found("unknown_player", format!("no player has id {id}"))
        })?;
    let profile = super::profile::profile_of(state, &account).await?;
    let ban = state.records.ban(player).await?.map(wire_ban);
    let (status, ticket, match_id) = match state.view().status(player) {
        None => ("idle", None, None),
        Some(PlayerStatus::Queued(ticket)) => ("queued", Some(ticket.0), None),
        Some(PlayerStatus::Proposed(ticket, found)) => ("proposed", Some(ticket.0), Some(found.0)),
        Some(PlayerStatus::InMatch(found)) => ("in_match", None, Some(found.0)),
    };
    Ok(AdminPlayer {
        profile,
        status: status.to_string(),
        ticket,
        match_id,
        ban,
    })
}

/// Runs an admin action for `operator` (refused with 403 for a read-only key) and writes it
/// to the audit log, and to the log under the `audit` target, with how it went; a refused
/// action is recorded with its error code. The answer names the audit record.
async fn audited(
    state: &AppState,
    operator: &Operator,
    action: &str,
    target: String,
    detail: &str,
    work: impl Future<Output = Result<&'static str, ApiError>>,
) -> Result<AdminDone, ApiError> {
    let outcome = match operator.require_admin() {
        Ok(()) => work.await,
        Err(refused) => Err(refused),
    };
    let record = AuditRecord {
        id: 0,
        at_ms: unix_ms(),
        operator: operator.name.clone(),
        action: action.to_owned(),
        target,
        outcome: outcome
            .as_ref()
            .map_or_else(|e| e.code(), |_| "done")
            .to_owned(),
        // Bounded: a refused ban's reason is the caller's, whatever its length.
        detail: detail.chars().take(MAX_BAN_REASON_CHARS).collect(),
    };
    tracing::info!(target: "audit", operator = %record.operator, action, target = %record.target,
        outcome = %record.outcome, detail, "operator action");
    let written = state.records.append_audit(&record).await;
    let status = outcome?;
    let audit_id = written.map_err(|error| {
        tracing::error!(%error, action, target = %record.target, "an operator action was done but not written to the audit log");
        ApiError::from(error)
    })?;
    Ok(AdminDone {
        status: status.to_owned(),
        audit_id,
    })
}

/// A page of the audit log, newest first.
pub async fn audit(state: &AppState, query: &AuditQuery) -> Result<AuditPage, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_AUDIT_PAGE).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("1 to {MAX_AUDIT_PAGE} records"),
        ));
    }
    let records = state.records.audit_page(query.before, limit).await?;
    let next_before = (records.len() == limit)
        .then(|| records.last().map(|r| r.id))
        .flatten();
    let entries = records
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            at_ms: r.at_ms,
            operator: r.operator,
            action: r.action,
            target: r.target,
            outcome: r.outcome,
            detail: r.detail,
        })
        .collect();
    Ok(AuditPage {
        entries,
        next_before,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_error_names_the_line_but_quotes_no_line_of_the_file() {
        let text = "[server]\njwt_secret = \"secret-x-0123456789abcdefghijklmnopqrstu\" oops\n";
        let error = crate::settings::SettingsError {
            path: Some("matchwright.toml".into()),
            error: Settings::from_toml_str(text).unwrap_err(),
        };
        let raw = error.to_string();
        assert!(
            raw.contains("secret-x"),
            "the loader quotes the line: {raw}"
        );
        let answer = invalid_config(&raw);
        let message = &answer.0.message;
        assert!(!message.contains("secret-x"), "{message}");
        assert!(
            message.contains("matchwright.toml") && message.contains("line 2"),
            "{message}"
        );
        assert!(
            message.len() > raw.lines().next().unwrap_or("").len(),
            "{message}"
        );
    }
}
