//! Match and session events as backends and operators see them: the one conversion from core
//! events to `BackendEvent` (the body of a webhook, a line of `GET /v1/admin/events`), with
//! each event's idempotency key, and the one name of each abandon reason (players' live
//! events use it too). Imports nothing of the server's, so every user can import it.

use matchwright_ecs::Event;
use matchwright_ecs::event::{AbandonReason, MatchedTicket};
use matchwright_transport::wire::{
    AdminMatchPlayer, BackendEvent, BackendEventData, Rating, RatingChange,
};

/// A core event as backends see it (a webhook's body, a line of the operators' stream), with
/// its idempotency key: `TYPE:MATCH` (a backfill's also names its tick, as a match may be
/// backfilled more than once). `None` for an event backends do not hear of.
pub fn event_for_backends(tick: u64, at_ms: u64, event: &Event) -> Option<BackendEvent> {
    let (event, suffix) = match event {
        Event::MatchFormed { summary } => {
            let players = summary
                .teams
                .iter()
                .enumerate()
                .flat_map(|(team, tickets)| players_of(tickets.iter(), team as u8))
                .collect();
            let event = BackendEventData::MatchFormed {
                match_id: summary.match_id.0,
                queue: summary.queue.to_string(),
                mode: summary.mode.to_string(),
                region: summary.region.to_string(),
                quality: summary.quality,
                players,
            };
            (event, None)
        }
        Event::BackfillFilled {
            match_id, tickets, ..
        } => {
            let players = tickets
                .iter()
                .flat_map(|t| players_of(std::iter::once(&t.ticket), t.team))
                .collect();
            let event = BackendEventData::MatchBackfilled {
                match_id: match_id.0,
                players,
            };
            (event, Some(tick))
        }
        other => (simple_event(other)?, None),
    };
    let match_id = match &event {
        BackendEventData::MatchFormed { match_id, .. }
        | BackendEventData::MatchBackfilled { match_id, .. }
        | BackendEventData::SessionStarted { match_id, .. }
        | BackendEventData::SessionEnded { match_id, .. }
        | BackendEventData::SessionAbandoned { match_id, .. }
        | BackendEventData::RatingsChanged { match_id, .. } => *match_id,
    };
    let id = match suffix {
        Some(tick) => format!("{}:{match_id}:{tick}", event.kind()),
        None => format!("{}:{match_id}", event.kind()),
    };
    Some(BackendEvent { id, at_ms, event })
}

/// The backend events that are one match id and a few fields.
fn simple_event(event: &Event) -> Option<BackendEventData> {
    Some(match event {
        Event::SessionActive { match_id, server } => BackendEventData::SessionStarted {
            match_id: match_id.0,
            server: server.clone(),
        },
        Event::SessionEnded {
            match_id,
            placements,
        } => BackendEventData::SessionEnded {
            match_id: match_id.0,
            placements: placements.clone(),
        },
        Event::SessionAbandoned { match_id, reason } => BackendEventData::SessionAbandoned {
            match_id: match_id.0,
            reason: abandon_reason(*reason).into(),
        },
        Event::RatingsUpdated {
            match_id,
            mode,
            updates,
        } => BackendEventData::RatingsChanged {
            match_id: match_id.0,
            mode: mode.clone(),
            changes: updates
                .iter()
                .map(|update| RatingChange {
                    player: update.player.0,
                    role: update.role.as_deref().map(str::to_owned),
                    before: Rating::from_mu_sigma(update.before.mu, update.before.sigma),
                    after: Rating::from_mu_sigma(update.after.mu, update.after.sigma),
                })
                .collect(),
        },
        _ => return None,
    })
}

/// The players of `tickets`, on `team`.
fn players_of<'a>(
    tickets: impl Iterator<Item = &'a MatchedTicket> + 'a,
    team: u8,
) -> impl Iterator<Item = AdminMatchPlayer> + 'a {
    tickets.flat_map(move |ticket| {
        ticket.players.iter().map(move |p| AdminMatchPlayer {
            player: p.player.0,
            team,
            role: p.role.as_deref().map(str::to_owned),
        })
    })
}

/// An abandon reason's name, as players' events and backends' webhooks give it.
pub fn abandon_reason(reason: AbandonReason) -> &'static str {
    match reason {
        AbandonReason::AllocationFailed => "allocation_failed",
        AbandonReason::AllocationTimedOut => "allocation_timed_out",
        AbandonReason::HeartbeatTimedOut => "heartbeat_timed_out",
        AbandonReason::Empty => "empty",
        AbandonReason::Cancelled => "cancelled",
    }
}
