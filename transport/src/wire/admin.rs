//! The admin API's bodies (`/v1/admin/...`, HTTP only, for operators): what the queues,
//! tickets and matches look like to an operator, bans, the audit log, and the answer of an
//! action. No [`super::Request`] carries them: operators do not speak QUIC.

// utoipa's derives qualify paths that the lint calls unnecessary.
#![cfg_attr(feature = "schema", allow(unused_qualifications))]

use serde::{Deserialize, Serialize};

use super::Windows;

/// `GET /v1/admin/queues`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AdminQueues {
    /// Every configured queue, in the config's order.
    pub queues: Vec<AdminQueue>,
    /// When this was read (Unix ms); waits are measured to it.
    pub now_ms: u64,
}

/// One queue as an operator sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AdminQueue {
    /// Its name.
    pub name: String,
    /// Its game mode.
    pub mode: String,
    /// Tickets waiting (or awaiting acceptance of a proposed match).
    pub tickets: u64,
    /// Players in those tickets.
    pub players: u64,
    /// How long its tickets have waited so far (nothing when none waits).
    pub waited_ms: Option<WaitPercentiles>,
    /// The windows in force for a ticket that has waited the median wait (for a new ticket
    /// when none waits).
    pub windows: Windows,
    /// Matching minute by minute over the last ten minutes, the oldest first and the current
    /// minute last (a minute without matches is there with none), since the server started.
    pub recent: Vec<MinuteOfMatching>,
}

/// One minute of a queue's matching: `AdminQueue::recent`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct MinuteOfMatching {
    /// The minute's start (Unix ms, a multiple of 60,000).
    pub start_ms: u64,
    /// Matches formed in it (proposed, in a queue with acceptance).
    pub matches: u64,
    /// Tickets matched in it.
    pub tickets: u64,
    /// How long those tickets had waited (nothing in a minute without matches; from the
    /// first 4,096 tickets of a busier minute).
    pub time_to_match_ms: Option<WaitPercentiles>,
    /// The mean quality of its matches, 0 to 1.
    pub mean_quality: Option<f64>,
}

/// `GET /v1/admin/players/{id}`: a player as an operator sees them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AdminPlayer {
    /// Their profile (as `GET /v1/profile/me` shows it to them).
    pub profile: super::Profile,
    /// Where they are: `idle`, `queued`, `proposed` (in a match awaiting acceptance) or
    /// `in_match` (allocating or playing).
    pub status: String,
    /// Their live ticket.
    pub ticket: Option<u64>,
    /// Their live match.
    pub match_id: Option<u64>,
    /// Their ban, if banned.
    pub ban: Option<Ban>,
}

/// Percentiles of the waits of a queue's tickets, in ms (nearest rank).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct WaitPercentiles {
    /// The median.
    pub p50: u64,
    /// The 90th percentile.
    pub p90: u64,
    /// The 99th percentile.
    pub p99: u64,
    /// The longest.
    pub max: u64,
}

/// `GET /v1/admin/tickets` query parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "schema", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct AdminTicketQuery {
    /// Only this queue's tickets.
    pub queue: Option<String>,
    /// Only the ticket holding this player.
    pub player: Option<u64>,
    /// Tickets per answer, 1 to 500 (default 100): the longest waiting first.
    pub limit: Option<usize>,
}

/// `GET /v1/admin/tickets`: live tickets, the longest waiting first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AdminTickets {
    /// Up to `limit` of them.
    pub tickets: Vec<AdminTicket>,
    /// How many live tickets matched the query (more than `tickets` holds when cut).
    pub total: u64,
}

/// A live ticket: `GET /v1/admin/tickets/{id}` and each of `GET /v1/admin/tickets`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AdminTicket {
    /// The ticket.
    pub id: u64,
    /// Its queue.
    pub queue: String,
    /// Its players.
    pub players: Vec<u64>,
    /// When it started waiting (Unix ms).
    pub since_ms: u64,
    /// How long it has waited.
    pub waited_ms: u64,
    /// The proposed match it is in, awaiting acceptance (it still waits in its queue).
    pub proposed_in: Option<u64>,
}

/// `GET /v1/admin/matches`: the live matches (proposed, allocating or active).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AdminMatches {
    /// Up to 500 of them, the newest first.
    pub matches: Vec<AdminMatch>,
    /// How many are live.
    pub total: u64,
}

/// A live match: `GET /v1/admin/matches/{id}` and each of `GET /v1/admin/matches`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AdminMatch {
    /// The match.
    pub id: u64,
    /// Its queue.
    pub queue: String,
    /// `awaiting_acceptance`, `allocating` or `active`.
    pub stage: String,
    /// Its quality when formed, 0 to 1.
    pub quality: f64,
    /// When it formed (matcher time, Unix ms).
    pub formed_at_ms: u64,
    /// The game server's address, once active.
    pub server: Option<String>,
    /// Its players now.
    pub players: Vec<AdminMatchPlayer>,
}

/// A player of a live match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AdminMatchPlayer {
    /// The player.
    pub player: u64,
    /// Their team, from 0.
    pub team: u8,
    /// The role they play, in a role queue.
    pub role: Option<String>,
}

/// `POST /v1/admin/players/{id}/ban`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BanRequest {
    /// Why (shown to the player when refused), 1 to 500 characters.
    #[cfg_attr(feature = "schema", schema(min_length = 1, max_length = 500))]
    pub reason: String,
}

/// `PUT /v1/admin/players/{id}/ratings/{key}`: the rating to set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetRatingRequest {
    /// The skill estimate (MMR scale), -1000000 to 1000000.
    pub mu: f64,
    /// Its uncertainty, above 0 and at most 100000.
    pub sigma: f64,
}

/// A player's ban: `GET /v1/admin/players/{id}/ban` and the answer to banning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Ban {
    /// The player.
    pub player: u64,
    /// Why.
    pub reason: String,
    /// The operator who banned (their key's name).
    pub by: String,
    /// When (Unix ms).
    pub at_ms: u64,
}

/// What an admin action did: `status` names it (`cancelled`, `ended`, `banned`, `unbanned`),
/// `audit_id` is its record in the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AdminDone {
    /// What was done.
    pub status: String,
    /// Its number in the audit log.
    pub audit_id: u64,
}

/// `GET /v1/admin/audit` query parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "schema", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only records numbered below this (`next_before` of the previous page).
    pub before: Option<u64>,
    /// Records per page, 1 to 500 (default 100).
    pub limit: Option<usize>,
}

/// `GET /v1/admin/audit`: operators' actions, the newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AuditPage {
    /// The records.
    pub entries: Vec<AuditEntry>,
    /// `before` for the next page (nothing on the last one).
    pub next_before: Option<u64>,
}

/// One operator action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// Its number (increasing).
    pub id: u64,
    /// When (Unix ms).
    pub at_ms: u64,
    /// The operator (their key's name: `operator-` and 12 hex digits of the key's hash).
    pub operator: String,
    /// What they did: `cancel_ticket`, `cancel_match`, `end_session`, `ban_player`,
    /// `unban_player`.
    pub action: String,
    /// What they did it to (`ticket 7`, `session 3`, `player 12`).
    pub target: String,
    /// `done`, or the error code that refused it.
    pub outcome: String,
    /// Anything else the action carried (a ban's reason).
    pub detail: String,
}
