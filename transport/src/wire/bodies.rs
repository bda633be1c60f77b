//! Request and response bodies: the JSON bodies of the HTTP API and the payloads of the QUIC
//! [`super::Request`]s and [`super::Response`]s, one type for both. Grouped as the HTTP API
//! groups its routes; each says which routes carry it.
//!
//! Request bodies refuse unknown fields (a misspelt field is a 422 naming it, not a silently
//! ignored one).

// utoipa's derives qualify paths that the lint calls unnecessary.
#![cfg_attr(feature = "schema", allow(unused_qualifications))]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------------
// Accounts

/// `POST /v1/auth/register` ([`super::Request::Register`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// 3 to 32 characters: letters, digits, `_`, `-`, `.`. Unique.
    #[cfg_attr(
        feature = "schema",
        schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9_.-]{3,32}$")
    )]
    pub username: String,
    /// 8 to 128 characters.
    #[cfg_attr(feature = "schema", schema(min_length = 8, max_length = 128))]
    pub password: String,
    /// The name others see (default: the username). 1 to 32 characters.
    #[cfg_attr(feature = "schema", schema(min_length = 1, max_length = 32))]
    pub display_name: Option<String>,
}

/// `POST /v1/auth/login` ([`super::Request::Login`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The username.
    pub username: String,
    /// The password.
    pub password: String,
}

/// `POST /v1/auth/refresh` and `/v1/auth/logout` ([`super::Request::Refresh`],
/// [`super::Request::Logout`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    pub refresh_token: String,
}

/// Tokens for a player: the answer to register, login and refresh.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Tokens {
    /// The player.
    pub player_id: u64,
    /// The access token, good over both transports: `Authorization: Bearer ACCESS_TOKEN` over
    /// HTTP, [`super::Request::Authenticate`] over QUIC.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// Exchange it for new tokens at `POST /v1/auth/refresh` (once: it rotates).
    pub refresh_token: String,
    /// Seconds the refresh token lives.
    pub refresh_expires_in: u64,
}

// ---------------------------------------------------------------------------------------------
// Profile and ratings

/// A rating as clients see it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Rating {
    /// Estimated skill (MMR scale).
    pub mu: f64,
    /// Uncertainty.
    pub sigma: f64,
    /// `mu - 3 sigma`: the rating leaderboards rank by.
    pub conservative: f64,
}

impl Rating {
    /// The rating of `mu` and `sigma`, with its conservative value.
    pub fn from_mu_sigma(mu: f64, sigma: f64) -> Self {
        Self {
            mu,
            sigma,
            conservative: mu - 3.0 * sigma,
        }
    }
}

/// A rating in one game mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ModeRating {
    /// The game mode.
    pub mode: String,
    /// The season.
    pub season: String,
    /// The rating.
    pub rating: Rating,
    /// Rated games played.
    pub games: u64,
}

/// `GET /v1/profile/me`, and the answer to `PATCH /v1/profile/me`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Profile {
    /// The player.
    pub player_id: u64,
    /// The login name.
    pub username: String,
    /// The name others see.
    pub display_name: String,
    /// Preferred regions; when set, the player is only matched in these.
    pub regions: Vec<String>,
    /// When the account was created (Unix ms).
    pub created_at_ms: u64,
    /// The rating in every game mode this season (the initial rating where unplayed).
    pub ratings: Vec<ModeRating>,
}

/// `PATCH /v1/profile/me` ([`super::Request::UpdateProfile`]): the fields to change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// A new display name: 1 to 32 characters.
    #[cfg_attr(feature = "schema", schema(min_length = 1, max_length = 32))]
    pub display_name: Option<String>,
    /// New preferred regions (configured names; empty for all).
    pub regions: Option<Vec<String>>,
}

// ---------------------------------------------------------------------------------------------
// Queues and matches

/// `POST /v1/queue` ([`super::Request::Enqueue`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnqueueRequest {
    /// The queue, by name (as configured, e.g. `ranked-5v5`).
    pub queue: String,
    /// Round-trip time to each region you can play in, in ms (0 to 5000). Regions left out
    /// (or outside your profile's preferences) are never chosen for you.
    pub pings: BTreeMap<String, u16>,
    /// The highest ping you accept in any region, whatever the queue allows.
    pub max_ping_ms: Option<u16>,
}

/// `GET /v1/queues`: the queues this server runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct QueueList {
    /// The regions matches are hosted in (`pings` keys).
    pub regions: Vec<String>,
    /// The season ratings are kept under now.
    pub season: String,
    /// The queues.
    pub queues: Vec<QueueInfo>,
}

/// One queue, as clients see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct QueueInfo {
    /// Its name (`POST /v1/queue`'s `queue`).
    pub name: String,
    /// The game mode its ratings and leaderboard belong to.
    pub mode: String,
    /// Teams per match.
    pub teams: u8,
    /// Players per team.
    pub team_size: u8,
    /// The largest party it takes.
    pub max_party_size: u8,
    /// Whether players must accept a found match.
    pub acceptance: bool,
}

/// The windows a queued ticket is matched within now; they widen with waiting time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Windows {
    /// The largest rating difference accepted (MMR).
    pub skill_mmr: f64,
    /// The highest ping accepted (ms).
    pub ping_ms: f64,
    /// The least match quality accepted (0 to 1).
    pub quality_floor: f64,
}

/// Where the caller is: `GET /v1/queue`, and the answer to `POST /v1/queue`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct QueueStatus {
    /// `idle`, `queued`, `awaiting_acceptance` or `in_match`.
    pub status: String,
    /// The ticket, when queued or awaiting acceptance.
    pub ticket_id: Option<u64>,
    /// The queue.
    pub queue: Option<String>,
    /// When the ticket started waiting (Unix ms).
    pub waiting_since_ms: Option<u64>,
    /// How long it has waited.
    pub waiting_ms: Option<u64>,
    /// The windows in force.
    pub windows: Option<Windows>,
    /// The match, when awaiting acceptance or in a match.
    pub match_id: Option<u64>,
    /// The match's state: `awaiting_acceptance`, `allocating` or `active`.
    pub match_state: Option<String>,
    /// The acceptance deadline (Unix ms).
    pub accept_by_ms: Option<u64>,
}

impl QueueStatus {
    /// A player who is nowhere.
    pub fn idle() -> Self {
        Self {
            status: "idle".into(),
            ticket_id: None,
            queue: None,
            waiting_since_ms: None,
            waiting_ms: None,
            windows: None,
            match_id: None,
            match_state: None,
            accept_by_ms: None,
        }
    }
}

/// The answer to accept, decline and cancel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Done {
    /// What is now true: `accepted`, `declined`, `cancelled`.
    pub status: String,
    /// The match, if one is concerned.
    pub match_id: Option<u64>,
}

// ---------------------------------------------------------------------------------------------
// Sessions

/// `GET /v1/session/{match_id}`: a match's session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Session {
    /// The match.
    pub match_id: u64,
    /// `awaiting_acceptance`, `allocating`, `active`, or, once over, `ended`, `abandoned`,
    /// `cancelled`.
    pub state: String,
    /// The region.
    pub region: String,
    /// The caller's team.
    pub your_team: Option<u8>,
    /// Everyone, with their teams.
    pub players: Vec<MatchPlayer>,
    /// The game server's address, once active.
    pub server: Option<String>,
    /// The caller's session token for the game server (HS256 JWT signed with the session
    /// secret; the game server verifies it offline), once active.
    pub session_token: Option<String>,
    /// When the token expires (Unix ms).
    pub token_expires_at_ms: Option<u64>,
}

/// One player of a match, as clients see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct MatchPlayer {
    /// The player.
    pub player_id: u64,
    /// The team (0-based).
    pub team: u8,
}

// ---------------------------------------------------------------------------------------------
// Game servers (HTTP only: no request variant)

/// `POST /v1/server/session/{id}/result`: give exactly one of `winner`, `ranking` or
/// `placements`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResultRequest {
    /// The winning team (0-based); every other team shares second place.
    pub winner: Option<u8>,
    /// Every team, best first (0-based team indices).
    pub ranking: Option<Vec<u8>>,
    /// Each team's place in team order (1 = first; equal places are draws).
    pub placements: Option<Vec<u32>>,
}

/// `POST /v1/server/session/{id}/backfill`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BackfillRequest {
    /// Players wanted per team, in team order; all zeros withdraws the request.
    pub open_slots: Vec<u8>,
}

/// `POST /v1/server/session/{id}/leave`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LeaveRequest {
    /// The player who left the game.
    pub player_id: u64,
}

/// What a game-server call did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct SessionAck {
    /// The match.
    pub match_id: u64,
    /// `alive`, `ended`, `player_left`, `backfill_requested` or `backfill_cancelled`.
    pub status: String,
}

// ---------------------------------------------------------------------------------------------
// Parties

/// `POST /v1/party/{id}/invite` and `/kick`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PlayerRequest {
    /// The player invited or kicked.
    pub player_id: u64,
}

/// `POST /v1/party/{id}/ready`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReadyRequest {
    /// Ready (default) or not.
    #[serde(default = "yes")]
    pub ready: bool,
    /// Your round-trip time to each region you can play in (as for `POST /v1/queue`). When
    /// the leader queues the party, each member's own pings are used; a member who gave none
    /// is given the leader's.
    #[serde(default)]
    pub pings: BTreeMap<String, u16>,
}

fn yes() -> bool {
    true
}

/// `POST /v1/party/{id}/chat`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    /// The line (1 to `lobby.max_chat_chars` characters, 200 by default; no control
    /// characters).
    #[cfg_attr(feature = "schema", schema(min_length = 1))]
    pub text: String,
}

/// What a party call did: the answer to invite, leave, kick and chat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct PartyAck {
    /// `invited`, `left`, `kicked`, `chat_sent`.
    pub status: String,
    /// The party.
    pub party_id: u64,
}

/// A party, as clients see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Party {
    /// The party.
    pub party_id: u64,
    /// Its leader (0 once disbanded).
    pub leader_id: u64,
    /// Where the party is: `idle`, `queued`, `awaiting_acceptance` or `in_match` (as its
    /// leader is), or `disbanded`.
    pub status: String,
    /// Its members, in joining order.
    pub members: Vec<PartyMember>,
    /// Players invited and not yet joined.
    pub invited: Vec<u64>,
    /// Recent chat, oldest first.
    pub chat: Vec<ChatLine>,
}

impl Party {
    /// A party that no longer exists: no leader, no members.
    pub fn disbanded(party_id: u64) -> Self {
        Self {
            party_id,
            leader_id: 0,
            status: "disbanded".into(),
            members: Vec::new(),
            invited: Vec::new(),
            chat: Vec::new(),
        }
    }
}

/// One member of a party, as clients see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct PartyMember {
    /// The player.
    pub player_id: u64,
    /// Whether this member leads the party.
    pub leader: bool,
    /// Whether this member is ready to queue (the leader's queue request counts as ready).
    pub ready: bool,
}

/// One chat line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ChatLine {
    /// Who said it.
    pub player_id: u64,
    /// Their display name when they said it.
    pub display_name: String,
    /// What they said.
    pub text: String,
    /// When (Unix ms).
    pub at_ms: u64,
}

// ---------------------------------------------------------------------------------------------
// Leaderboards and history

/// `GET /v1/leaderboard/{season}` query parameters ([`super::Request::Leaderboard`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "schema", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct LeaderboardQuery {
    /// The game mode (as configured on the queues, e.g. `duel`).
    pub mode: String,
    /// Entries per page, 1 to 200 (default 50).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One ranked player.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct LeaderboardEntry {
    /// 1 is the best.
    pub rank: u64,
    /// The player.
    pub player_id: u64,
    /// The name others see.
    pub display_name: String,
    /// The rating (`conservative` is what ranks).
    pub rating: Rating,
    /// Rated games played this season in this mode.
    pub games: u64,
}

/// A leaderboard page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct LeaderboardPage {
    /// The season.
    pub season: String,
    /// The mode.
    pub mode: String,
    /// The entries, best first.
    pub entries: Vec<LeaderboardEntry>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /v1/matches/history` query parameters ([`super::Request::History`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "schema", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Matches per page, 1 to 200 (default 50).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One rated match of the caller's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct HistoryEntry {
    /// The match.
    pub match_id: u64,
    /// Its game mode.
    pub mode: String,
    /// The caller's team's place (1 = first), when known.
    pub placement: Option<u32>,
    /// The caller's rating before.
    pub before: Rating,
    /// And after.
    pub after: Rating,
    /// When the result came (Unix ms).
    pub at_ms: u64,
}

/// A page of match history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct HistoryPage {
    /// Newest first.
    pub matches: Vec<HistoryEntry>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Operations (HTTP only)

/// `GET /healthz` and `/readyz`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok` or `ready`.
    pub status: String,
    /// The last committed tick.
    pub tick: u64,
}
