//! The body of a webhook delivery: one match or session event for a studio's backend
//! (`[webhooks]`, docs/webhooks.md). The same event always has the same `id`, also when it is
//! delivered again (delivery is at least once): receivers de-duplicate by it.

// utoipa's derives qualify paths that the lint calls unnecessary.
#![cfg_attr(feature = "schema", allow(unused_qualifications))]

use serde::{Deserialize, Serialize};

use super::{AdminMatchPlayer, Rating};

/// One event for a backend: the JSON body of a webhook delivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct BackendEvent {
    /// The idempotency key, e.g. `match_formed:42`: the same for every delivery of this
    /// event (also the `Matchwright-Delivery` header).
    pub id: String,
    /// When it happened (matcher time, Unix ms).
    pub at_ms: u64,
    /// What happened.
    pub event: BackendEventData,
}

/// What happened: `{"type": "match_formed", ...}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BackendEventData {
    /// A match is on (accepted by all, where acceptance is needed); a game server is being
    /// found for it.
    MatchFormed {
        /// The match.
        match_id: u64,
        /// Its queue.
        queue: String,
        /// Its game mode.
        mode: String,
        /// Its region.
        region: String,
        /// Its quality, 0 to 1.
        quality: f64,
        /// Its players, with their teams (and roles, in a role queue).
        players: Vec<AdminMatchPlayer>,
    },
    /// Players joined a running session (backfill).
    MatchBackfilled {
        /// The match.
        match_id: u64,
        /// The players who joined, with their teams.
        players: Vec<AdminMatchPlayer>,
    },
    /// The match's game server took it: its session is being played.
    SessionStarted {
        /// The match.
        match_id: u64,
        /// The game server's address.
        server: String,
    },
    /// The session ended.
    SessionEnded {
        /// The match.
        match_id: u64,
        /// Each team's placement (1 = first), when the game server posted a result.
        placements: Option<Vec<u32>>,
    },
    /// The session was given up: `allocation_failed`, `allocation_timed_out`,
    /// `heartbeat_timed_out`, `empty` or `cancelled`.
    SessionAbandoned {
        /// The match.
        match_id: u64,
        /// Why.
        reason: String,
    },
    /// Ratings changed after a result.
    RatingsChanged {
        /// The match.
        match_id: u64,
        /// The game mode.
        mode: String,
        /// Each player's change.
        changes: Vec<RatingChange>,
    },
}

impl BackendEventData {
    /// Its `type`, e.g. `match_formed` (also the `Matchwright-Event` header).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MatchFormed { .. } => "match_formed",
            Self::MatchBackfilled { .. } => "match_backfilled",
            Self::SessionStarted { .. } => "session_started",
            Self::SessionEnded { .. } => "session_ended",
            Self::SessionAbandoned { .. } => "session_abandoned",
            Self::RatingsChanged { .. } => "ratings_changed",
        }
    }

    /// Every `type`, for configs that pick some.
    pub const KINDS: &'static [&'static str] = &[
        "match_formed",
        "match_backfilled",
        "session_started",
        "session_ended",
        "session_abandoned",
        "ratings_changed",
    ];
}

/// One player's rating change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct RatingChange {
    /// The player.
    pub player: u64,
    /// The role the rating belongs to, in a queue rated per role.
    pub role: Option<String>,
    /// Before.
    pub before: Rating,
    /// After.
    pub after: Rating,
}

/// `GET /v1/admin/webhooks`: each endpoint's delivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct WebhookStatus {
    /// Events in the outbox not yet delivered everywhere.
    pub outbox_rows: u64,
    /// Each endpoint.
    pub endpoints: Vec<WebhookEndpointStatus>,
}

/// One endpoint's delivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct WebhookEndpointStatus {
    /// Its name (`[[webhooks.endpoints]] name`).
    pub name: String,
    /// Its URL.
    pub url: String,
    /// Events waiting for it.
    pub pending: u64,
    /// Events delivered since the server started.
    pub delivered: u64,
    /// Events given up on (dead letters), since the endpoint was first configured.
    pub dead_letters: u64,
    /// The last failure, if the last attempt failed.
    pub last_error: Option<String>,
}
