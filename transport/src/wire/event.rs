//! Live events: what a player is told, over QUIC as [`super::ServerMessage::Event`] frames on
//! the event stream, over HTTP as JSON text messages on the `GET /v1/events` WebSocket.
//!
//! One type, two encodings. bincode needs the plain (externally tagged) enum; the WebSocket
//! sends each event as its fields plus `"type": "<variant in snake_case>"`, e.g.
//! `{"type":"match_accepted","match_id":7,"player_id":1}`. [`Event::to_json`] writes that
//! form and [`Event::from_json`] reads it.

// utoipa's derives qualify paths that the lint calls unnecessary.
#![cfg_attr(feature = "schema", allow(unused_qualifications))]

use serde::{Deserialize, Serialize};

use super::{ChatLine, MatchPlayer, Party, Rating};

/// A live event. Its JSON form on `GET /v1/events` is the variant's fields plus `"type"`, the
/// variant's name in snake case (see [`Event::to_json`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Sent first on every event stream and WebSocket.
    Welcome {
        /// The authenticated player.
        player_id: u64,
    },
    /// Your ticket entered its queue.
    Queued {
        /// The ticket.
        ticket_id: u64,
        /// The queue.
        queue: String,
        /// When it started waiting (Unix ms).
        waiting_since_ms: u64,
    },
    /// Your ticket left its queue without a match.
    QueueLeft {
        /// The ticket.
        ticket_id: u64,
        /// `cancelled`, `expired`, `declined`, `acceptance_timed_out` or `party_changed`.
        reason: String,
        /// How long it waited.
        waited_ms: u64,
    },
    /// A match was found. In a queue with acceptance, `state` is `awaiting_acceptance` and every
    /// player must accept by `accept_by_ms`; then (or at once without acceptance) a second
    /// `match_found` with `state` `allocating` says the match is on. A player placed in a
    /// running session by backfill gets `state` `active`.
    MatchFound {
        /// The match.
        match_id: u64,
        /// `awaiting_acceptance`, `allocating` or `active`.
        state: String,
        /// The queue.
        queue: String,
        /// The game mode.
        mode: String,
        /// The region it is hosted in.
        region: String,
        /// Its quality, 0 to 1.
        quality: f64,
        /// Your team.
        your_team: u8,
        /// Everyone, with their teams.
        players: Vec<MatchPlayer>,
        /// The acceptance deadline (Unix ms), when acceptance is needed.
        accept_by_ms: Option<u64>,
    },
    /// A player accepted the proposed match.
    MatchAccepted {
        /// The match.
        match_id: u64,
        /// Who accepted.
        player_id: u64,
    },
    /// The proposed match will not be played; your ticket is back in its queue (a `requeued`
    /// follows) unless you declined or did not answer.
    MatchCancelled {
        /// The match.
        match_id: u64,
        /// `declined`, `timed_out`, `cancelled` (by an operator; `requeued` follows), or (no
        /// game server came; `requeued` follows) `allocation_failed` or `allocation_timed_out`.
        reason: String,
        /// The players who declined or did not answer.
        players: Vec<u64>,
    },
    /// Your ticket is back in its queue with its waiting time.
    Requeued {
        /// The ticket.
        ticket_id: u64,
        /// The match that fell through.
        match_id: u64,
    },
    /// The game server is up: connect to `server` with `session_token`.
    SessionReady {
        /// The match.
        match_id: u64,
        /// The game server's address.
        server: String,
        /// Your session token (HS256 JWT) for the game server.
        session_token: String,
        /// When the token expires (Unix ms).
        token_expires_at_ms: u64,
    },
    /// The session is over.
    SessionEnded {
        /// The match.
        match_id: u64,
        /// Each team's place (1 = first), when a result was reported.
        placements: Option<Vec<u32>>,
    },
    /// The session was given up.
    SessionAbandoned {
        /// The match.
        match_id: u64,
        /// `heartbeat_timed_out` or `empty` (a session that never had its server is a
        /// `match_cancelled` instead).
        reason: String,
    },
    /// Your party changed: `change` is `created`, `joined`, `left`, `kicked`, `invited`,
    /// `ready`, `not_ready`, `queued` or `disbanded`, about `player_id`; `party` is the party
    /// as it is now (after a `left` or `kicked`, the player concerned is told too).
    PartyUpdated {
        /// What changed.
        change: String,
        /// Who it concerns.
        player_id: u64,
        /// The party now.
        party: Party,
    },
    /// You are invited to a party: join it (`POST /v1/party/{party_id}/join`) before
    /// `expires_at_ms`.
    PartyInvite {
        /// The party.
        party_id: u64,
        /// Who invited you (its leader).
        from_player_id: u64,
        /// Their display name.
        from_display_name: String,
        /// When the invite expires (Unix ms).
        expires_at_ms: u64,
    },
    /// A chat line in your party.
    PartyChat {
        /// The party.
        party_id: u64,
        /// The line.
        line: ChatLine,
    },
    /// Your rating changed after a result.
    RatingsChanged {
        /// The match.
        match_id: u64,
        /// The game mode.
        mode: String,
        /// The role the rating belongs to, in a queue rated per role (the rating is then
        /// kept under `MODE:ROLE`, as profiles and leaderboards show it); `null` elsewhere.
        role: Option<String>,
        /// Before.
        before: Rating,
        /// After.
        after: Rating,
    },
}

impl Event {
    /// The event's JSON form on `GET /v1/events`: `{"type": "<variant>", ...its fields}`,
    /// with `type` first and the fields in their declared order.
    pub fn to_json(&self) -> String {
        // serde_json writes the plain enum as `{"<variant>":{<fields>}}` (a unit variant as
        // `"<variant>"`); the HTTP form is the same fields after a `type` key. Variant names
        // are snake-case identifiers, so they need no escaping. Serializing an event cannot
        // fail (its keys are all strings).
        let tagged = serde_json::to_string(self).unwrap_or_default();
        if let Some(name) = tagged
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
        {
            return format!("{{\"type\":\"{name}\"}}");
        }
        let split = tagged
            .strip_prefix("{\"")
            .and_then(|rest| rest.split_once("\":{"))
            .and_then(|(name, rest)| Some((name, rest.strip_suffix("}}")?)));
        match split {
            Some((name, "")) => format!("{{\"type\":\"{name}\"}}"),
            Some((name, fields)) => format!("{{\"type\":\"{name}\",{fields}}}"),
            None => tagged,
        }
    }

    /// Reads one event from its JSON form on `GET /v1/events` (`{"type": "match_found",
    /// ...}`): the inverse of [`Event::to_json`].
    pub fn from_json(text: &str) -> Result<Self, String> {
        let mut value: serde_json::Value =
            serde_json::from_str(text).map_err(|error| format!("not JSON: {error}"))?;
        let object = value
            .as_object_mut()
            .ok_or_else(|| "an event is a JSON object".to_string())?;
        let kind = match object.remove("type") {
            Some(serde_json::Value::String(kind)) => kind,
            _ => return Err("an event has a string `type`".into()),
        };
        let tagged = serde_json::json!({ kind: value });
        serde_json::from_value(tagged).map_err(|error| format!("not an event: {error}"))
    }
}
