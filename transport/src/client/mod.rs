//! The client SDK: one async API over QUIC ([`Client::connect_quic`]) or HTTP
//! ([`Client::connect_http`]). Both speak the [`crate::wire`] types: the QUIC client sends
//! them as frames, the HTTP client maps each request to its `/v1` route and reads the JSON
//! answers and the `/v1/events` WebSocket into the same types.
//!
//! After a login (or register, or authenticate) the client receives the player's live events;
//! take them once with [`Client::events`]. Events arriving before that wait in a buffer of
//! [`EVENT_BUFFER`]; a client that never reads them stops reading from the server, which then
//! drops its event stream (the stream ends with `events_lagged`).
//!
//! Many clients in one process (a load tool, a bot host) share a UDP socket
//! ([`QuicEndpoint`], [`Client::connect_quic_via`]) or an HTTP connection pool ([`HttpPool`],
//! [`Client::connect_http_via`]).

mod http;
mod quic;

pub use http::HttpPool;
pub use quic::QuicEndpoint;

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use tokio::sync::mpsc;

use crate::wire::{
    AvoidList, AvoidListUpdate, ChatRequest, Done, EnqueueRequest, Event, Explanation, HistoryPage,
    HistoryQuery, LeaderboardPage, LeaderboardQuery, LoginRequest, Party, PartyAck, PlayerRequest,
    Profile, ProfilePatch, QueueList, QueueStatus, ReadyRequest, RefreshRequest, RegisterRequest,
    Request, Response, Session, Tokens, WireError,
};

/// Events buffered before the application reads them.
pub const EVENT_BUFFER: usize = 1024;

/// Why a call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// The server refused the request (the same code and status over both transports).
    Server(WireError),
    /// The connection could not be made or was lost.
    Connection(String),
    /// The server sent something this client cannot read (another protocol version?).
    Protocol(String),
    /// A local misuse: events taken twice, a bad argument.
    Usage(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Server(error) => write!(f, "the server refused: {error}"),
            Self::Connection(why) => write!(f, "connection: {why}"),
            Self::Protocol(why) => write!(f, "protocol: {why}"),
            Self::Usage(why) => write!(f, "usage: {why}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl ClientError {
    /// The server's error code, when the server refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Server(error) => Some(&error.code),
            _ => None,
        }
    }
}

/// What a call returns.
pub type Result<T> = std::result::Result<T, ClientError>;

enum Backend {
    Quic(quic::QuicClient),
    Http(http::HttpClient),
}

/// A connection to a Matchwright server, over QUIC or HTTP.
pub struct Client {
    backend: Backend,
    events: Mutex<Option<mpsc::Receiver<Result<Event>>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("transport", &self.transport())
            .finish_non_exhaustive()
    }
}

/// A player's live events, in order. `None` once the server ended the stream.
#[derive(Debug)]
pub struct EventStream {
    receiver: mpsc::Receiver<Result<Event>>,
}

impl EventStream {
    /// The next event.
    pub async fn next(&mut self) -> Option<Result<Event>> {
        self.receiver.recv().await
    }
}

impl futures_util::Stream for EventStream {
    type Item = Result<Event>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.receiver.poll_recv(cx)
    }
}

macro_rules! expect {
    ($response:expr, $variant:ident) => {
        match $response {
            Response::$variant(value) => Ok(value),
            other => Err(ClientError::Protocol(format!(
                "expected {} in answer, got {other:?}",
                stringify!($variant)
            ))),
        }
    };
}

/// Pings as the wire carries them: region -> ms.
fn pings_of(pings: &[(&str, u16)]) -> std::collections::BTreeMap<String, u16> {
    pings
        .iter()
        .map(|(region, ping)| ((*region).to_string(), *ping))
        .collect()
}

impl Client {
    /// Connects over QUIC to `addr`, trusting only the certificate whose SHA-256 is
    /// `fingerprint` (64 hex digits, as `matchwright serve` prints it).
    pub async fn connect_quic(addr: SocketAddr, fingerprint: &str) -> Result<Self> {
        Self::quic(None, addr, fingerprint).await
    }

    /// As [`Client::connect_quic`], through a shared endpoint (one UDP socket for many
    /// clients: what a load tool or a bot host wants).
    pub async fn connect_quic_via(
        endpoint: &QuicEndpoint,
        addr: SocketAddr,
        fingerprint: &str,
    ) -> Result<Self> {
        Self::quic(Some(endpoint), addr, fingerprint).await
    }

    async fn quic(via: Option<&QuicEndpoint>, addr: SocketAddr, fingerprint: &str) -> Result<Self> {
        let (events_in, events) = mpsc::channel(EVENT_BUFFER);
        let backend = quic::QuicClient::connect(via, addr, fingerprint, events_in).await?;
        Ok(Self {
            backend: Backend::Quic(backend),
            events: Mutex::new(Some(events)),
        })
    }

    /// Connects over HTTP to `base_url` (e.g. `http://127.0.0.1:8080`); events come over the
    /// `/v1/events` WebSocket once logged in.
    pub async fn connect_http(base_url: &str) -> Result<Self> {
        Self::connect_http_via(&HttpPool::unshared()?, base_url).await
    }

    /// As [`Client::connect_http`], through a shared connection pool (many clients, a bounded
    /// number of idle connections and a request timeout: what a load tool or a bot host
    /// wants).
    pub async fn connect_http_via(pool: &HttpPool, base_url: &str) -> Result<Self> {
        let (events_in, events) = mpsc::channel(EVENT_BUFFER);
        let backend = http::HttpClient::new(base_url, pool, events_in)?;
        Ok(Self {
            backend: Backend::Http(backend),
            events: Mutex::new(Some(events)),
        })
    }

    /// `quic` or `http`.
    pub fn transport(&self) -> &'static str {
        match self.backend {
            Backend::Quic(_) => "quic",
            Backend::Http(_) => "http",
        }
    }

    /// Sends one request and waits for its answer.
    pub async fn call(&self, request: Request) -> Result<Response> {
        match &self.backend {
            Backend::Quic(client) => client.call(request).await,
            Backend::Http(client) => client.call(request).await,
        }
    }

    /// The player's live events (once per client; they start with `Welcome` after login).
    pub fn events(&self) -> Result<EventStream> {
        let receiver = self
            .events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .ok_or_else(|| ClientError::Usage("the event stream was taken already".into()))?;
        Ok(EventStream { receiver })
    }

    /// Creates an account and logs in.
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        display_name: Option<&str>,
    ) -> Result<Tokens> {
        let request = Request::Register(RegisterRequest {
            username: username.into(),
            password: password.into(),
            display_name: display_name.map(Into::into),
        });
        expect!(self.call(request).await?, Tokens)
    }

    /// Logs in.
    pub async fn login(&self, username: &str, password: &str) -> Result<Tokens> {
        let request = Request::Login(LoginRequest {
            username: username.into(),
            password: password.into(),
        });
        expect!(self.call(request).await?, Tokens)
    }

    /// New tokens for a refresh token (from a login or the last refresh; it is spent). Like a
    /// login, it authenticates this client as the token's player.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens> {
        let request = Request::Refresh(RefreshRequest {
            refresh_token: refresh_token.into(),
        });
        expect!(self.call(request).await?, Tokens)
    }

    /// Logs out: revokes every token of the refresh token's login (access tokens already
    /// handed out live until they expire).
    pub async fn logout(&self, refresh_token: &str) -> Result<()> {
        let request = Request::Logout(RefreshRequest {
            refresh_token: refresh_token.into(),
        });
        match self.call(request).await? {
            Response::LoggedOut => Ok(()),
            other => Err(ClientError::Protocol(format!(
                "expected LoggedOut in answer, got {other:?}"
            ))),
        }
    }

    /// Authenticates with an access token from an earlier login; returns the player.
    pub async fn authenticate(&self, access_token: &str) -> Result<u64> {
        let request = Request::Authenticate {
            access_token: access_token.into(),
        };
        match self.call(request).await? {
            Response::Authenticated { player_id } => Ok(player_id),
            other => Err(ClientError::Protocol(format!(
                "expected Authenticated in answer, got {other:?}"
            ))),
        }
    }

    /// The queues, regions and season.
    pub async fn queues(&self) -> Result<QueueList> {
        expect!(self.call(Request::Queues).await?, Queues)
    }

    /// Joins `queue` with the round-trip time to each region (ms).
    pub async fn enqueue(&self, queue: &str, pings: &[(&str, u16)]) -> Result<QueueStatus> {
        self.enqueue_with(EnqueueRequest::new(queue, pings_of(pings)))
            .await
    }

    /// Joins a queue with everything [`EnqueueRequest`] carries: attributes, roles (most
    /// wanted first), a ping cap, and, for a party's leader, the other members' roles and
    /// attributes.
    ///
    /// ```no_run
    /// # use matchwright_transport::{Client, wire::{AttributeValue, EnqueueRequest}};
    /// # async fn queue(client: &Client) -> Result<(), matchwright_transport::ClientError> {
    /// let mut request = EnqueueRequest::new("ranked-roles", [("eu-west".to_string(), 30)].into());
    /// request.roles = vec!["tank".into(), "damage".into()];
    /// request.attributes.insert("platform".into(), AttributeValue::Text("pc".into()));
    /// client.enqueue_with(request).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn enqueue_with(&self, request: EnqueueRequest) -> Result<QueueStatus> {
        expect!(self.call(Request::Enqueue(request)).await?, QueueStatus)
    }

    /// Why the player's queued ticket has not matched yet (404 `not_queued` when there is
    /// none).
    pub async fn explain(&self) -> Result<Explanation> {
        expect!(self.call(Request::Explain).await?, Explanation)
    }

    /// The players this player will not be matched with.
    pub async fn avoid_list(&self) -> Result<AvoidList> {
        expect!(self.call(Request::AvoidList).await?, AvoidList)
    }

    /// Replaces the player's avoid list (empty clears it); answers the list as stored.
    pub async fn set_avoid_list(&self, players: &[u64]) -> Result<AvoidList> {
        let request = Request::SetAvoidList(AvoidListUpdate {
            players: players.to_vec(),
        });
        expect!(self.call(request).await?, AvoidList)
    }

    /// Where the player is.
    pub async fn queue_status(&self) -> Result<QueueStatus> {
        expect!(self.call(Request::QueueStatus).await?, QueueStatus)
    }

    /// Leaves the queue.
    pub async fn cancel(&self) -> Result<Done> {
        expect!(self.call(Request::Cancel).await?, Done)
    }

    /// Accepts a proposed match.
    pub async fn accept(&self, match_id: u64) -> Result<Done> {
        expect!(self.call(Request::Accept { match_id }).await?, Done)
    }

    /// Declines a proposed match.
    pub async fn decline(&self, match_id: u64) -> Result<Done> {
        expect!(self.call(Request::Decline { match_id }).await?, Done)
    }

    /// A match's session: the game server and the session token, once active.
    pub async fn session(&self, match_id: u64) -> Result<Session> {
        expect!(self.call(Request::Session { match_id }).await?, Session)
    }

    /// Creates a party led by the player.
    pub async fn create_party(&self) -> Result<Party> {
        expect!(self.call(Request::CreateParty).await?, Party)
    }

    /// The player's party.
    pub async fn my_party(&self) -> Result<Party> {
        expect!(self.call(Request::MyParty).await?, Party)
    }

    /// A party the player is in or invited to.
    pub async fn party(&self, party_id: u64) -> Result<Party> {
        expect!(self.call(Request::Party { party_id }).await?, Party)
    }

    /// Invites a player (leader only).
    pub async fn invite(&self, party_id: u64, player_id: u64) -> Result<PartyAck> {
        let request = Request::Invite {
            party_id,
            body: PlayerRequest { player_id },
        };
        expect!(self.call(request).await?, PartyAck)
    }

    /// Joins a party the player is invited to.
    pub async fn join(&self, party_id: u64) -> Result<Party> {
        expect!(self.call(Request::Join { party_id }).await?, Party)
    }

    /// Leaves a party.
    pub async fn leave_party(&self, party_id: u64) -> Result<PartyAck> {
        expect!(self.call(Request::LeaveParty { party_id }).await?, PartyAck)
    }

    /// Removes a member (leader only).
    pub async fn kick(&self, party_id: u64, player_id: u64) -> Result<PartyAck> {
        let request = Request::Kick {
            party_id,
            body: PlayerRequest { player_id },
        };
        expect!(self.call(request).await?, PartyAck)
    }

    /// Readies up (or not) with the player's own pings.
    pub async fn ready(&self, party_id: u64, ready: bool, pings: &[(&str, u16)]) -> Result<Party> {
        let request = Request::Ready {
            party_id,
            body: ReadyRequest {
                ready,
                pings: pings_of(pings),
            },
        };
        expect!(self.call(request).await?, Party)
    }

    /// Says something to the party.
    pub async fn chat(&self, party_id: u64, text: &str) -> Result<PartyAck> {
        let request = Request::Chat {
            party_id,
            body: ChatRequest { text: text.into() },
        };
        expect!(self.call(request).await?, PartyAck)
    }

    /// The player's profile and ratings.
    pub async fn profile(&self) -> Result<Profile> {
        expect!(self.call(Request::Profile).await?, Profile)
    }

    /// Changes the player's display name or preferred regions (the fields given).
    pub async fn update_profile(&self, patch: ProfilePatch) -> Result<Profile> {
        expect!(self.call(Request::UpdateProfile(patch)).await?, Profile)
    }

    /// A page of `season`'s leaderboard in `query.mode`, best first.
    pub async fn leaderboard(
        &self,
        season: &str,
        query: LeaderboardQuery,
    ) -> Result<LeaderboardPage> {
        let request = Request::Leaderboard {
            season: season.into(),
            query,
        };
        expect!(self.call(request).await?, Leaderboard)
    }

    /// A page of the player's rated matches, newest first.
    pub async fn history(&self, query: HistoryQuery) -> Result<HistoryPage> {
        expect!(self.call(Request::History(query)).await?, History)
    }

    /// Closes the connection (QUIC) or the event socket (HTTP).
    pub fn close(&self) {
        match &self.backend {
            Backend::Quic(client) => client.close(),
            Backend::Http(client) => client.close(),
        }
    }
}
