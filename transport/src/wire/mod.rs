//! The protocol's one set of messages. A game client sends a [`ClientMessage`] and is sent a
//! [`ServerMessage`] over QUIC; the HTTP API's request and response bodies are the very same
//! types as JSON (the `matchwright` server's handlers read and write them, and the SDK's HTTP
//! client reads its answers into them). bincode and JSON are two encodings of one type.
//!
//! - this module: the envelopes ([`ClientMessage`], [`Request`], [`ServerMessage`],
//!   [`Response`]) and the one error body, [`WireError`];
//! - [`bodies`]: request and response bodies, grouped as the HTTP API groups its routes;
//! - [`admin`]: the admin API's bodies (HTTP only);
//! - [`fleet`]: the fleet routes' bodies (game servers registering; HTTP only);
//! - [`event`]: the live events ([`Event`]), with their JSON form (`{"type": ...}`).
//!
//! A [`Request`] variant is its HTTP route: path parameters are named fields, a JSON body is
//! the route's body type (a tuple variant when the route has nothing else, `body` beside path
//! parameters), query parameters are `query`.
//!
//! Every enum is plain (externally tagged), so bincode can decode it: no `#[serde(tag)]`,
//! `untagged` or `flatten`, and no `skip_serializing_if` (bincode writes every field). The one
//! exception, [`AttributeValue`], picks its shape by format (untagged in JSON, a plain enum
//! in bincode; see [`attribute`]). Adding
//! a variant at the end is compatible with older servers (they answer `unknown_message`);
//! changing or reordering fields is a new [`crate::codec::PROTOCOL_VERSION`].
//!
//! With the `schema` feature, the bodies derive `utoipa::ToSchema` (the query types
//! `utoipa::IntoParams`), so the server's OpenAPI document describes these types; SDK users
//! leave it off and do not build utoipa.

pub mod admin;
pub mod attribute;
pub mod bodies;
pub mod event;
pub mod fleet;
pub mod webhook;

use serde::{Deserialize, Serialize};

pub use admin::*;
pub use attribute::AttributeValue;
pub use bodies::*;
pub use event::Event;
pub use fleet::*;
pub use webhook::*;

/// A frame from a client, on a bidirectional stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientMessage {
    /// Chosen by the client; the response carries it back. Ids may be reused once answered.
    pub id: u64,
    /// What is asked.
    pub request: Request,
}

/// Everything a game client asks, each the counterpart of one HTTP route (in comments).
/// Game-server routes have no variant: game servers speak HTTP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// `POST /v1/auth/register`: creates an account and authenticates the connection as it.
    Register(RegisterRequest),
    /// `POST /v1/auth/login`: logs in and authenticates the connection.
    Login(LoginRequest),
    /// Authenticates the connection with an access token (from a login over either
    /// transport); over HTTP the token goes in `Authorization: Bearer` on every request, and
    /// the SDK checks it with `GET /v1/profile/me`.
    Authenticate {
        /// The access token.
        access_token: String,
    },
    /// `GET /v1/queues`: the queues, regions and season.
    Queues,
    /// `POST /v1/queue`: joins a queue (solo, or the caller's party when the caller leads it).
    Enqueue(EnqueueRequest),
    /// `GET /v1/queue`: where the caller is.
    QueueStatus,
    /// `DELETE /v1/queue`: leaves the queue.
    Cancel,
    /// `POST /v1/match/{id}/accept`: accepts a proposed match.
    Accept {
        /// The match.
        match_id: u64,
    },
    /// `POST /v1/match/{id}/decline`: declines a proposed match.
    Decline {
        /// The match.
        match_id: u64,
    },
    /// `GET /v1/session/{match_id}`: the session of a match the caller plays in.
    Session {
        /// The match.
        match_id: u64,
    },
    /// `POST /v1/party`: creates a party led by the caller.
    CreateParty,
    /// `GET /v1/party`: the caller's party.
    MyParty,
    /// `GET /v1/party/{id}`: a party the caller is a member of or invited to.
    Party {
        /// The party.
        party_id: u64,
    },
    /// `POST /v1/party/{id}/invite`: invites a player (leader only).
    Invite {
        /// The party.
        party_id: u64,
        /// The player invited.
        body: PlayerRequest,
    },
    /// `POST /v1/party/{id}/join`: joins a party the caller is invited to.
    Join {
        /// The party.
        party_id: u64,
    },
    /// `POST /v1/party/{id}/leave`: leaves a party.
    LeaveParty {
        /// The party.
        party_id: u64,
    },
    /// `POST /v1/party/{id}/kick`: removes a member (leader only).
    Kick {
        /// The party.
        party_id: u64,
        /// The member removed.
        body: PlayerRequest,
    },
    /// `POST /v1/party/{id}/ready`: readies up (or not), with the member's own pings.
    Ready {
        /// The party.
        party_id: u64,
        /// Ready or not, and the pings.
        body: ReadyRequest,
    },
    /// `POST /v1/party/{id}/chat`: a chat line to the party.
    Chat {
        /// The party.
        party_id: u64,
        /// The line.
        body: ChatRequest,
    },
    /// `POST /v1/auth/refresh`: new tokens for a refresh token (it is spent); authenticates
    /// the connection as its player, like a login.
    Refresh(RefreshRequest),
    /// `POST /v1/auth/logout`: revokes every token of the refresh token's login.
    Logout(RefreshRequest),
    /// `GET /v1/profile/me`: the caller's profile and ratings.
    Profile,
    /// `PATCH /v1/profile/me`: changes the caller's display name or preferred regions.
    UpdateProfile(ProfilePatch),
    /// `GET /v1/leaderboard/{season}`: a page of a season's leaderboard in one mode.
    Leaderboard {
        /// The season.
        season: String,
        /// The mode and the page.
        query: LeaderboardQuery,
    },
    /// `GET /v1/matches/history`: a page of the caller's rated matches, newest first.
    History(HistoryQuery),
    /// `GET /v1/profile/avoid`: the players the caller will not be matched with.
    AvoidList,
    /// `PUT /v1/profile/avoid`: replaces the caller's avoid list.
    SetAvoidList(AvoidListUpdate),
    /// `GET /v1/queue/explain`: why the caller's queued ticket has not matched yet.
    Explain,
}

impl Request {
    /// How many kinds of request this protocol version knows: a variant index at or above it
    /// is an unknown message kind.
    pub const KINDS: u32 = 28;

    /// Whether the request may be sent before the connection is authenticated.
    pub fn is_public(&self) -> bool {
        matches!(
            self,
            Self::Register(_)
                | Self::Login(_)
                | Self::Authenticate { .. }
                | Self::Queues
                | Self::Refresh(_)
                | Self::Logout(_)
        )
    }

    /// A short name, for logs and metrics (snake case, unique per kind).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Register(_) => "register",
            Self::Login(_) => "login",
            Self::Authenticate { .. } => "authenticate",
            Self::Queues => "queues",
            Self::Enqueue(_) => "enqueue",
            Self::QueueStatus => "queue_status",
            Self::Cancel => "cancel",
            Self::Accept { .. } => "accept",
            Self::Decline { .. } => "decline",
            Self::Session { .. } => "session",
            Self::CreateParty => "create_party",
            Self::MyParty => "my_party",
            Self::Party { .. } => "party",
            Self::Invite { .. } => "invite",
            Self::Join { .. } => "join",
            Self::LeaveParty { .. } => "leave_party",
            Self::Kick { .. } => "kick",
            Self::Ready { .. } => "ready",
            Self::Chat { .. } => "chat",
            Self::Refresh(_) => "refresh",
            Self::Logout(_) => "logout",
            Self::Profile => "profile",
            Self::UpdateProfile(_) => "update_profile",
            Self::Leaderboard { .. } => "leaderboard",
            Self::History(_) => "history",
            Self::AvoidList => "avoid_list",
            Self::SetAvoidList(_) => "set_avoid_list",
            Self::Explain => "explain",
        }
    }
}

/// A frame from the server: responses on the client's bidirectional stream, events on the
/// server's unidirectional stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ServerMessage {
    /// The answer to request `id`.
    Response {
        /// The request's id.
        id: u64,
        /// What it did.
        response: Response,
    },
    /// Request `id` was refused.
    Failed {
        /// The request's id.
        id: u64,
        /// Why.
        error: WireError,
    },
    /// The stream's input could not be read (garbage, a truncated or oversize frame, an unknown
    /// message kind, a wrong protocol version): the server closes the stream after this.
    ProtocolError(WireError),
    /// A live event (on the event stream).
    Event(Event),
}

/// Every error, over both transports: the HTTP status, a stable code, a message for people,
/// and the field at fault when there is one. Over HTTP it is the JSON body of every error
/// response, `{"status", "error", "message", "field"}` (`field` is `null` when no one field is
/// at fault).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct WireError {
    /// The HTTP status (400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503).
    pub status: u16,
    /// A stable, machine-readable code, e.g. `invalid_token`, `already_queued`,
    /// `rate_limited` (the JSON key is `error`).
    #[serde(rename = "error")]
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// The request field at fault, when there is one (e.g. `pings.eu-west`).
    pub field: Option<String>,
}

impl WireError {
    /// An error with no field.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            field: None,
        }
    }

    /// What an HTTP error answer says: its body read as a `WireError`, with the status line's
    /// status (the authority on the status). A body that is not one (a proxy's error page, a
    /// plain-text refusal) keeps the status, with the code `http_error` and the body's first
    /// 200 bytes as the message.
    pub fn from_http(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<Self>(body) {
            Ok(mut error) => {
                error.status = status;
                error
            }
            Err(_) => Self::new(
                status,
                "http_error",
                String::from_utf8_lossy(&body[..body.len().min(200)]),
            ),
        }
    }
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)?;
        if let Some(field) = &self.field {
            write!(f, " (field `{field}`)")?;
        }
        Ok(())
    }
}

impl std::error::Error for WireError {}

/// What a request did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Response {
    /// Register, login, refresh: the connection is now authenticated as `player_id`.
    Tokens(Tokens),
    /// Authenticate: the connection is now authenticated.
    Authenticated {
        /// The player.
        player_id: u64,
    },
    /// Queues.
    Queues(QueueList),
    /// Enqueue, queue status.
    QueueStatus(QueueStatus),
    /// Cancel, accept, decline.
    Done(Done),
    /// Session.
    Session(Session),
    /// Create party, my party, party, join, ready.
    Party(Party),
    /// Invite, leave, kick, chat.
    PartyAck(PartyAck),
    /// Profile, update profile.
    Profile(Profile),
    /// Logout (over HTTP: 204 No Content).
    LoggedOut,
    /// Leaderboard.
    Leaderboard(LeaderboardPage),
    /// History.
    History(HistoryPage),
    /// Avoid list, set avoid list.
    AvoidList(AvoidList),
    /// Explain.
    Explanation(Explanation),
}
