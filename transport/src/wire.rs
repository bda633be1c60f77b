//! The wire protocol's messages: what a game client sends ([`ClientMessage`]) and what the
//! server sends back ([`ServerMessage`]). These are the wire's types, not the matcher's: the
//! server translates them (it adds the authenticated player, the ratings it looked up, the
//! time). Their field names match the HTTP API's JSON bodies, so the SDK's HTTP client reads
//! those bodies into the same types.
//!
//! Every enum is plain (externally tagged), so bincode can decode it. Adding a variant at the
//! end is compatible with older servers (they answer `unknown_message`); changing or
//! reordering fields is a new [`crate::codec::PROTOCOL_VERSION`].

use serde::{Deserialize, Serialize};

/// A frame from a client, on a bidirectional stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientMessage {
    /// Chosen by the client; the response carries it back. Ids may be reused once answered.
    pub id: u64,
    /// What is asked.
    pub request: Request,
}

/// Everything a game client asks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Creates an account and authenticates the connection as it.
    Register {
        /// 3 to 32 characters: letters, digits, `_`, `-`, `.`.
        username: String,
        /// 8 to 128 characters.
        password: String,
        /// The name others see (default: the username).
        display_name: Option<String>,
    },
    /// Logs in and authenticates the connection.
    Login {
        /// The username.
        username: String,
        /// The password.
        password: String,
    },
    /// Authenticates the connection with an access token (from a login over either transport).
    Authenticate {
        /// The access token.
        access_token: String,
    },
    /// The queues, regions and season.
    Queues,
    /// Joins a queue (solo, or the caller's party when the caller leads it).
    Enqueue(EnqueueRequest),
    /// Where the caller is.
    QueueStatus,
    /// Leaves the queue.
    Cancel,
    /// Accepts a proposed match.
    Accept {
        /// The match.
        match_id: u64,
    },
    /// Declines a proposed match.
    Decline {
        /// The match.
        match_id: u64,
    },
    /// The session of a match the caller plays in.
    Session {
        /// The match.
        match_id: u64,
    },
    /// Creates a party led by the caller.
    CreateParty,
    /// The caller's party.
    MyParty,
    /// A party the caller is a member of or invited to.
    Party {
        /// The party.
        party_id: u64,
    },
    /// Invites a player (leader only).
    Invite {
        /// The party.
        party_id: u64,
        /// The player.
        player_id: u64,
    },
    /// Joins a party the caller is invited to.
    Join {
        /// The party.
        party_id: u64,
    },
    /// Leaves a party.
    LeaveParty {
        /// The party.
        party_id: u64,
    },
    /// Removes a member (leader only).
    Kick {
        /// The party.
        party_id: u64,
        /// The member.
        player_id: u64,
    },
    /// Readies up (or not), with the member's own pings.
    Ready {
        /// The party.
        party_id: u64,
        /// Ready or not.
        ready: bool,
        /// Round-trip time to each region, ms.
        pings: Vec<(String, u16)>,
    },
    /// A chat line to the party.
    Chat {
        /// The party.
        party_id: u64,
        /// The line.
        text: String,
    },
}

impl Request {
    /// How many kinds of request this protocol version knows: a variant index at or above it
    /// is an unknown message kind.
    pub const KINDS: u32 = 19;

    /// Whether the request may be sent before the connection is authenticated.
    pub fn is_public(&self) -> bool {
        matches!(
            self,
            Self::Register { .. } | Self::Login { .. } | Self::Authenticate { .. } | Self::Queues
        )
    }

    /// A short name, for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Register { .. } => "register",
            Self::Login { .. } => "login",
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
        }
    }
}

/// Joining a queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnqueueRequest {
    /// The queue, by name.
    pub queue: String,
    /// Round-trip time to each region the player can play in, ms (0 to 5000).
    pub pings: Vec<(String, u16)>,
    /// The highest ping accepted in any region.
    pub max_ping_ms: Option<u16>,
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

/// An error: the HTTP status it corresponds to, a stable code, a message for humans, and the
/// field at fault when there is one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    /// The HTTP status the same error gets over HTTP (400, 401, 403, 404, 409, 422, 429, 503).
    pub status: u16,
    /// A stable code (`not_authenticated`, `rate_limited`, `unknown_queue`, ...).
    pub code: String,
    /// What went wrong, for humans.
    pub message: String,
    /// The request field at fault.
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
    /// Register, login: the connection is now authenticated as `player_id`.
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
}

/// Tokens for a player (as `POST /v1/auth/login` returns them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    /// The player.
    pub player_id: u64,
    /// The access token (also good for HTTP: `Authorization: Bearer`).
    pub access_token: String,
    /// Seconds it lives.
    pub expires_in: u64,
    /// The refresh token (`POST /v1/auth/refresh`).
    pub refresh_token: String,
}

/// The queues this server runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueList {
    /// The regions matches are hosted in.
    pub regions: Vec<String>,
    /// The current season.
    pub season: String,
    /// The queues.
    pub queues: Vec<QueueInfo>,
}

/// One queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueInfo {
    /// Its name.
    pub name: String,
    /// Its game mode.
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

/// The windows a queued ticket is matched within now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Windows {
    /// The largest rating difference accepted.
    pub skill_mmr: f64,
    /// The highest ping accepted (ms).
    pub ping_ms: f64,
    /// The least match quality accepted.
    pub quality_floor: f64,
}

/// Where a player is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueStatus {
    /// `idle`, `queued`, `awaiting_acceptance` or `in_match`.
    pub status: String,
    /// The ticket.
    pub ticket_id: Option<u64>,
    /// The queue.
    pub queue: Option<String>,
    /// When the ticket started waiting (Unix ms).
    pub waiting_since_ms: Option<u64>,
    /// How long it has waited.
    pub waiting_ms: Option<u64>,
    /// The windows in force.
    pub windows: Option<Windows>,
    /// The match.
    pub match_id: Option<u64>,
    /// The match's state.
    pub match_state: Option<String>,
    /// The acceptance deadline (Unix ms).
    pub accept_by_ms: Option<u64>,
}

/// The answer to accept, decline and cancel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    /// `accepted`, `declined`, `cancelled`.
    pub status: String,
    /// The match concerned.
    pub match_id: Option<u64>,
}

/// A match's session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The match.
    pub match_id: u64,
    /// `awaiting_acceptance`, `allocating`, `active`, `ended`, `abandoned`, `cancelled`.
    pub state: String,
    /// The region.
    pub region: String,
    /// The caller's team.
    pub your_team: Option<u8>,
    /// Everyone.
    pub players: Vec<MatchPlayer>,
    /// The game server's address, once active.
    pub server: Option<String>,
    /// The caller's session token for the game server.
    pub session_token: Option<String>,
    /// When it expires (Unix ms).
    pub token_expires_at_ms: Option<u64>,
}

/// One player of a match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchPlayer {
    /// The player.
    pub player_id: u64,
    /// The team (0-based).
    pub team: u8,
}

/// A party.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// The party.
    pub party_id: u64,
    /// Its leader (0 once disbanded).
    pub leader_id: u64,
    /// `idle`, `queued`, `awaiting_acceptance`, `in_match` or `disbanded`.
    pub status: String,
    /// Members in joining order.
    pub members: Vec<PartyMember>,
    /// Invited, not yet joined.
    pub invited: Vec<u64>,
    /// Recent chat, oldest first.
    pub chat: Vec<ChatLine>,
}

/// A party member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyMember {
    /// The player.
    pub player_id: u64,
    /// Whether they lead.
    pub leader: bool,
    /// Whether they are ready.
    pub ready: bool,
}

/// A chat line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatLine {
    /// Who said it.
    pub player_id: u64,
    /// Their display name then.
    pub display_name: String,
    /// What they said.
    pub text: String,
    /// When (Unix ms).
    pub at_ms: u64,
}

/// What a party call did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyAck {
    /// `invited`, `left`, `kicked`, `chat_sent`.
    pub status: String,
    /// The party.
    pub party_id: u64,
}

/// A rating.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rating {
    /// Estimated skill.
    pub mu: f64,
    /// Uncertainty.
    pub sigma: f64,
    /// `mu - 3 sigma`.
    pub conservative: f64,
}

/// A live event: the same events, with the same fields, as `GET /v1/events` sends as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// First on every event stream.
    Welcome {
        /// The authenticated player.
        player_id: u64,
    },
    /// The ticket entered its queue.
    Queued {
        /// The ticket.
        ticket_id: u64,
        /// The queue.
        queue: String,
        /// When it started waiting (Unix ms).
        waiting_since_ms: u64,
    },
    /// The ticket left its queue without a match.
    QueueLeft {
        /// The ticket.
        ticket_id: u64,
        /// `cancelled`, `expired`, `declined`, `acceptance_timed_out`, `party_changed`.
        reason: String,
        /// How long it waited.
        waited_ms: u64,
    },
    /// A match was found (`awaiting_acceptance`), or is on (`allocating`).
    MatchFound {
        /// The match.
        match_id: u64,
        /// `awaiting_acceptance` or `allocating`.
        state: String,
        /// The queue.
        queue: String,
        /// The game mode.
        mode: String,
        /// The region.
        region: String,
        /// Quality, 0 to 1.
        quality: f64,
        /// The receiver's team.
        your_team: u8,
        /// Everyone.
        players: Vec<MatchPlayer>,
        /// The acceptance deadline (Unix ms).
        accept_by_ms: Option<u64>,
    },
    /// A player accepted.
    MatchAccepted {
        /// The match.
        match_id: u64,
        /// Who.
        player_id: u64,
    },
    /// The proposed match will not be played.
    MatchCancelled {
        /// The match.
        match_id: u64,
        /// `declined`, `timed_out`, `allocation_failed`.
        reason: String,
        /// Who declined or did not answer.
        players: Vec<u64>,
    },
    /// Back in the queue with the waiting time.
    Requeued {
        /// The ticket.
        ticket_id: u64,
        /// The match that fell through.
        match_id: u64,
    },
    /// The game server is up.
    SessionReady {
        /// The match.
        match_id: u64,
        /// Its address.
        server: String,
        /// The session token.
        session_token: String,
        /// When it expires (Unix ms).
        token_expires_at_ms: u64,
    },
    /// The session is over.
    SessionEnded {
        /// The match.
        match_id: u64,
        /// Each team's place, when reported.
        placements: Option<Vec<u32>>,
    },
    /// The session was given up.
    SessionAbandoned {
        /// The match.
        match_id: u64,
        /// Why.
        reason: String,
    },
    /// The party changed.
    PartyUpdated {
        /// What changed.
        change: String,
        /// Who it concerns.
        player_id: u64,
        /// The party now.
        party: Party,
    },
    /// An invite to a party.
    PartyInvite {
        /// The party.
        party_id: u64,
        /// Its leader.
        from_player_id: u64,
        /// Their display name.
        from_display_name: String,
        /// When it expires (Unix ms).
        expires_at_ms: u64,
    },
    /// A chat line in the party.
    PartyChat {
        /// The party.
        party_id: u64,
        /// The line.
        line: ChatLine,
    },
    /// The rating changed after a result.
    RatingsChanged {
        /// The match.
        match_id: u64,
        /// The game mode.
        mode: String,
        /// Before.
        before: Rating,
        /// After.
        after: Rating,
    },
}

impl Event {
    /// Reads one event from the HTTP API's JSON form (`{"type": "match_found", ...}`).
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
