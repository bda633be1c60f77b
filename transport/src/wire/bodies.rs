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

use super::AttributeValue;

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

/// `GET /v1/profile/avoid`, and the answer to `PUT /v1/profile/avoid`: the players the caller
/// will not be matched with (honoured both ways, as each queue's `block_lists` says).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", schema(example = json!({"players": [17, 42], "limit": 100})))]
pub struct AvoidList {
    /// The players avoided, in ascending id order.
    pub players: Vec<u64>,
    /// The most players the list may hold (the matcher's `limits.max_avoid_list`).
    pub limit: u16,
}

/// `PUT /v1/profile/avoid` ([`super::Request::SetAvoidList`]): the whole new list (it
/// replaces the old one; an empty list clears it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", schema(example = json!({"players": [17, 42]})))]
#[serde(deny_unknown_fields)]
pub struct AvoidListUpdate {
    /// Player ids (existing accounts, not the caller's own; repeats count once), at most
    /// `limits.max_avoid_list` of them.
    pub players: Vec<u64>,
}

// ---------------------------------------------------------------------------------------------
// Queues and matches

/// `POST /v1/queue` ([`super::Request::Enqueue`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "schema",
    schema(example = json!({
        "queue": "ranked-roles",
        "pings": {"eu-west": 30, "us-east": 95},
        "max_ping_ms": null,
        "attributes": {"platform": "pc", "languages": ["en", "de"]},
        "roles": ["tank", "damage"],
        "members": {"42": {"attributes": {"platform": "console"}, "roles": ["support"]}}
    }))
)]
#[serde(deny_unknown_fields)]
pub struct EnqueueRequest {
    /// The queue, by name (as configured, e.g. `ranked-5v5`).
    pub queue: String,
    /// Round-trip time to each region you can play in, in ms (0 to 5000). Regions left out
    /// (or outside your profile's preferences) are never chosen for you.
    pub pings: BTreeMap<String, u16>,
    /// The highest ping you accept in any region, whatever the queue allows.
    pub max_ping_ms: Option<u16>,
    /// Your attributes, by name: a string, a number or an array of strings, each of the type
    /// the queue declares (see its `attributes`). For a party, they are the whole ticket's: every
    /// member has them unless `members` gives that member its own value of that attribute.
    /// An attribute the queue does not declare, or of another type, is 422 naming
    /// `attributes.NAME`.
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeValue>,
    /// The roles you accept, most wanted first (role queues only, where at least one is
    /// needed; names as in the queue's `composition`).
    #[serde(default)]
    pub roles: Vec<String>,
    /// A party leader's choices for the other members, keyed by player id: each member's own
    /// `roles` (needed in a role queue) and `attributes` (over the ticket's). Members left out
    /// give none. Only a party's leader gives it; an id not in the party is 422.
    #[serde(default)]
    pub members: BTreeMap<u64, MemberChoices>,
}

impl EnqueueRequest {
    /// A request to join `queue` with `pings`, and nothing else.
    pub fn new(queue: impl Into<String>, pings: BTreeMap<String, u16>) -> Self {
        Self {
            queue: queue.into(),
            pings,
            max_ping_ms: None,
            attributes: BTreeMap::new(),
            roles: Vec::new(),
            members: BTreeMap::new(),
        }
    }
}

/// One party member's roles and attributes, in [`EnqueueRequest::members`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "schema",
    schema(example = json!({"attributes": {"platform": "console"}, "roles": ["support"]}))
)]
#[serde(deny_unknown_fields)]
pub struct MemberChoices {
    /// The member's own attributes (over the ticket's, attribute by attribute).
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeValue>,
    /// The roles the member accepts, most wanted first.
    #[serde(default)]
    pub roles: Vec<String>,
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
    /// The attributes its tickets carry (`POST /v1/queue`'s `attributes`, per member or per
    /// ticket); empty for a queue without attributes. Any other attribute is refused.
    #[serde(default)]
    pub attributes: Vec<QueueAttribute>,
    /// A role queue's composition of each team (`POST /v1/queue`'s `roles` name these);
    /// empty for a queue without roles.
    #[serde(default)]
    pub roles: Vec<QueueRole>,
}

/// An attribute a queue's tickets carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct QueueAttribute {
    /// Its name.
    pub name: String,
    /// `text`, `number` or `list` (of texts).
    pub kind: String,
    /// Whether every member must give it (the queue has no default for it).
    pub required: bool,
}

/// One role of a role queue's team composition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct QueueRole {
    /// The role's name.
    pub role: String,
    /// Players of the role in each team.
    pub count: u8,
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

/// `GET /v1/queue/explain` (the caller's ticket) and `GET /v1/admin/tickets/{id}/explain`
/// (any ticket, for operators): why a queued ticket has not matched yet. The matcher looks at
/// up to `limits.max_explain_scan` tickets of its queue, nearest rating first, and reports
/// each check: how many of them pass it against this ticket, whether it blocks, and when its
/// bound relaxes. As of the last tick; times are Unix ms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "schema",
    schema(example = json!({
        "ticket_id": 7, "players": [7], "queue": "duel-1v1", "proposed": false,
        "waited_ms": 12000, "next_try_at_ms": 1767312012500_u64, "queued_tickets": 2,
        "scanned": 1, "players_needed": 1, "compatible_players": 0,
        "checks": [
            {"name": "skill_window", "kind": "skill_window", "binding": true, "passing": 1,
             "blocking": false, "value": 130.0,
             "relaxes": {"at_ms": 1767312060000_u64, "value": 350.0}, "optional_at_ms": null},
            {"name": "latency", "kind": "latency", "binding": true, "passing": 1,
             "blocking": false, "value": 80.0, "relaxes": null, "optional_at_ms": null},
            {"name": "same-platform", "kind": "equal", "binding": true, "passing": 0,
             "blocking": true, "value": null, "relaxes": null, "optional_at_ms": null}
        ]
    }))
)]
pub struct Explanation {
    /// The ticket.
    pub ticket_id: u64,
    /// Its players.
    pub players: Vec<u64>,
    /// Its queue.
    pub queue: String,
    /// Whether it waits in a proposed match (awaiting acceptance) rather than its queue.
    pub proposed: bool,
    /// How long it has waited.
    pub waited_ms: u64,
    /// When it is next tried as the anchor of a match (others may pick it before); `null`
    /// when it is due now or not in its queue.
    pub next_try_at_ms: Option<u64>,
    /// Tickets in its queue, itself included.
    pub queued_tickets: u64,
    /// Tickets looked at, nearest rating first (fewer than the queue beyond
    /// `limits.max_explain_scan`).
    pub scanned: u64,
    /// Other players a match with it needs, at least.
    pub players_needed: u64,
    /// Players in the scanned tickets that pass every check against it.
    pub compatible_players: u64,
    /// Each check, in order: `skill_window`, `latency`, `block_list` (when the queue keeps
    /// avoided players out of the whole match), then the queue's rules in config order.
    pub checks: Vec<ExplainCheck>,
}

/// One check of an [`Explanation`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ExplainCheck {
    /// The rule's name, or the built-in check's (`skill_window`, `latency`, `block_list`).
    pub name: String,
    /// The kind: `skill_window`, `latency`, `block_list`, `equal`, `overlap`, `distance` or
    /// `party_skill_spread`.
    pub kind: String,
    /// Whether it binds the ticket now (a rule with `optional_after_ms` stops binding).
    pub binding: bool,
    /// Scanned tickets that pass it against this one.
    pub passing: u64,
    /// Whether it keeps the ticket from matching: the tickets passing every check hold too
    /// few players, and this check turns away one that passes all the others (or it rules
    /// the ticket out alone, as `party_skill_spread` can).
    pub blocking: bool,
    /// The ticket's own bound now: window (MMR), ping limit (ms), values to share, largest
    /// spread; `null` for checks without one.
    pub value: Option<f64>,
    /// When the bound next relaxes, and to what.
    pub relaxes: Option<Relaxation>,
    /// When the check stops binding the ticket (`optional_after_ms`), Unix ms.
    pub optional_at_ms: Option<u64>,
}

/// A future value of a check's bound.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Relaxation {
    /// When, Unix ms.
    pub at_ms: u64,
    /// The bound from then.
    pub value: f64,
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
#[cfg_attr(
    feature = "schema",
    schema(example = json!({"player_id": 7, "team": 0, "role": "tank"}))
)]
pub struct MatchPlayer {
    /// The player.
    pub player_id: u64,
    /// The team (0-based).
    pub team: u8,
    /// The role the player plays, in a role queue (`null` elsewhere).
    pub role: Option<String>,
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
