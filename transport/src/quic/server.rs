//! The QUIC server: TLS 1.3 with ALPN `matchwright/1`, requests on bidirectional streams with
//! correlated responses, live events on one unidirectional stream per authenticated
//! connection. It knows the wire, not the matcher: a [`Handler`] (the `matchwright` server)
//! answers each request and supplies each player's events.
//!
//! Per connection it bounds everything that grows:
//! - streams: at most `max_bidi_streams` open request streams; clients may open no
//!   unidirectional stream (QUIC flow control enforces both);
//! - frames: at most `max_frame_bytes`; a longer length prefix is refused before any of the
//!   frame is read;
//! - requests in flight: at most `max_in_flight`; then the server stops reading the stream
//!   until one is answered (backpressure, nothing is dropped);
//! - requests per second: a token bucket; a request over it is answered `rate_limited` (429).
//!
//! Bad input (garbage, a truncated or oversize frame, an unknown message kind, another protocol
//! version) gets a [`ServerMessage::ProtocolError`] frame, then the stream is closed; a request
//! before authentication gets a `not_authenticated` failure and its stream is closed. Other
//! streams and other connections carry on. An idle connection is closed after
//! `idle_timeout`; clients keep theirs alive with pings.

use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quinn::crypto::rustls::QuicServerConfig;
use quinn::{Connection, Endpoint, RecvStream, SendStream, VarInt};
use tokio::sync::{Semaphore, mpsc};

use crate::codec::{self, FrameError, LENGTH_BYTES};
use crate::quic::tls::{self, Identity};
use crate::wire::{ClientMessage, Event, Request, Response, ServerMessage, WireError};

/// QUIC application error codes (stream resets and connection closes).
pub mod close_code {
    /// Normal close.
    pub const DONE: u32 = 0;
    /// The peer sent something that is not the protocol.
    pub const PROTOCOL: u32 = 1;
    /// The server is shutting down.
    pub const SHUTDOWN: u32 = 2;
    /// Too many connections.
    pub const BUSY: u32 = 3;
}

/// What one connection may use.
#[derive(Clone, Debug)]
pub struct Limits {
    /// The largest frame accepted or sent.
    pub max_frame_bytes: usize,
    /// Request streams a connection may hold open at once.
    pub max_bidi_streams: u32,
    /// Requests of one connection being answered at once.
    pub max_in_flight: usize,
    /// Requests per second per connection (burst: one second's worth); 0 turns it off.
    pub requests_per_second: u32,
    /// Connections at once; more are refused.
    pub max_connections: usize,
    /// A connection silent this long is closed.
    pub idle_timeout: Duration,
    /// The clients' keep-alive ping interval (the server sends none: a silent client idles
    /// out).
    pub keep_alive: Duration,
    /// A connection that has not logged in this long after it opened is closed.
    pub login_timeout: Duration,
    /// The UDP socket's receive and send buffers (the kernel caps them at
    /// `net.core.rmem_max`/`wmem_max`). Every connection's packets pass this one socket: a
    /// small buffer drops packets in bursts, and QUIC's loss recovery turns drops into
    /// latency of hundreds of ms.
    pub socket_buffer_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: codec::MAX_FRAME_BYTES,
            max_bidi_streams: 4,
            max_in_flight: 64,
            requests_per_second: 200,
            max_connections: 20_000,
            idle_timeout: Duration::from_secs(30),
            keep_alive: Duration::from_secs(10),
            login_timeout: Duration::from_secs(30),
            socket_buffer_bytes: 4 << 20,
        }
    }
}

/// A player's live events, as the [`Handler`] supplies them.
pub trait EventFeed: Send + 'static {
    /// The next event; `None` when the feed ended (the player fell too far behind, or the
    /// server is shutting down): the event stream is then closed with `events_lagged`.
    fn next(&mut self) -> impl Future<Output = Option<Event>> + Send;
}

/// Answers requests: the `matchwright` server implements it over its API.
pub trait Handler: Send + Sync + 'static {
    /// The feed of a player's events.
    type Events: EventFeed;

    /// Answers `request` from `peer`, authenticated as `player` (None before authentication:
    /// then only [`Request::is_public`] requests reach here). A [`Response::Tokens`] or
    /// [`Response::Authenticated`] authenticates the connection as that player.
    fn handle(
        &self,
        peer: SocketAddr,
        player: Option<u64>,
        request: Request,
    ) -> impl Future<Output = Result<Response, WireError>> + Send;

    /// Registers for `player`'s events (called once the connection authenticates, before the
    /// authenticating response is sent, so no event after it is missed).
    fn subscribe(&self, player: u64) -> Result<Self::Events, WireError>;
}

/// A bound QUIC endpoint, ready to [`QuicServer::serve`].
#[derive(Debug)]
pub struct QuicServer {
    endpoint: Endpoint,
    fingerprint: String,
    limits: Limits,
}

impl QuicServer {
    /// Binds `addr` (port 0 picks a free one) with `identity`. Needs a tokio runtime.
    pub fn bind(addr: SocketAddr, identity: &Identity, limits: Limits) -> Result<Self, String> {
        let crypto = QuicServerConfig::try_from(tls::server_crypto(identity)?)
            .map_err(|error| format!("the TLS config cannot serve QUIC: {error}"))?;
        let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        config.transport_config(Arc::new(transport_config(&limits, true)?));
        let socket = udp_socket(addr, limits.socket_buffer_bytes)
            .map_err(|error| format!("cannot listen for QUIC on {addr}: {error}"))?;
        let endpoint = Endpoint::new(
            quinn::EndpointConfig::default(),
            Some(config),
            socket,
            Arc::new(quinn::TokioRuntime),
        )
        .map_err(|error| format!("cannot listen for QUIC on {addr}: {error}"))?;
        Ok(Self {
            endpoint,
            fingerprint: identity.fingerprint(),
            limits,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> Result<SocketAddr, String> {
        self.endpoint
            .local_addr()
            .map_err(|error| format!("the QUIC socket has no address: {error}"))
    }

    /// The SHA-256 fingerprint of its certificate (what clients pin).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// A handle that closes the endpoint (every connection, with [`close_code::SHUTDOWN`]).
    pub fn closer(&self) -> impl Fn() + Send + Sync + 'static {
        let endpoint = self.endpoint.clone();
        move || endpoint.close(VarInt::from_u32(close_code::SHUTDOWN), b"shutting down")
    }

    /// Accepts connections until the endpoint is closed.
    pub async fn serve<H: Handler>(self, handler: Arc<H>) {
        let connections = Arc::new(AtomicUsize::new(0));
        let limits = Arc::new(self.limits);
        while let Some(incoming) = self.endpoint.accept().await {
            if connections.load(Ordering::Relaxed) >= limits.max_connections {
                metrics::counter!("matchwright_quic_connections_refused_total").increment(1);
                incoming.refuse();
                continue;
            }
            connections.fetch_add(1, Ordering::Relaxed);
            let handler = Arc::clone(&handler);
            let limits = Arc::clone(&limits);
            let connections = Arc::clone(&connections);
            tokio::spawn(async move {
                let peer = incoming.remote_address();
                match incoming.await {
                    Ok(connection) => {
                        metrics::gauge!("matchwright_quic_connections").increment(1.0);
                        serve_connection(connection, handler, limits).await;
                        metrics::gauge!("matchwright_quic_connections").decrement(1.0);
                    }
                    Err(error) => tracing::debug!(%peer, %error, "QUIC handshake failed"),
                }
                connections.fetch_sub(1, Ordering::Relaxed);
            });
        }
        self.endpoint.wait_idle().await;
    }
}

/// A UDP socket bound to `addr` with receive and send buffers of `buffer_bytes` (as far as
/// the kernel allows).
pub(crate) fn udp_socket(
    addr: SocketAddr,
    buffer_bytes: usize,
) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        // Dual-stack where the system allows; an IPv6-only system refuses, which is fine.
        let _ = socket.set_only_v6(false);
    }
    // Best effort: a smaller buffer than asked still works, just drops more in bursts.
    let _ = socket.set_recv_buffer_size(buffer_bytes);
    let _ = socket.set_send_buffer_size(buffer_bytes);
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// The transport parameters: idle timeout, keep-alive, stream limits.
pub(crate) fn transport_config(
    limits: &Limits,
    server: bool,
) -> Result<quinn::TransportConfig, String> {
    let mut config = quinn::TransportConfig::default();
    let idle = quinn::IdleTimeout::try_from(limits.idle_timeout)
        .map_err(|_| format!("the idle timeout {:?} is too long", limits.idle_timeout))?;
    config.max_idle_timeout(Some(idle));
    if server {
        // Clients open request streams; only the server opens unidirectional (event) streams.
        // The server sends no keep-alives of its own: a client that stops pinging goes idle
        // and is closed. Receive windows bound what one connection can make the server
        // buffer while it is not reading (its in-flight limit is reached): two frames per
        // stream, and no datagrams.
        let frame = limits.max_frame_bytes as u64;
        let stream_window = VarInt::from_u64(2 * frame).unwrap_or(VarInt::MAX);
        let connection_window =
            VarInt::from_u64(2 * frame * u64::from(limits.max_bidi_streams)).unwrap_or(VarInt::MAX);
        config
            .max_concurrent_bidi_streams(VarInt::from_u32(limits.max_bidi_streams))
            .max_concurrent_uni_streams(VarInt::from_u32(0))
            .stream_receive_window(stream_window)
            .receive_window(connection_window)
            .send_window((4 * frame).max(1 << 20))
            .datagram_receive_buffer_size(None);
    } else {
        config.keep_alive_interval(Some(limits.keep_alive));
        config
            .max_concurrent_bidi_streams(VarInt::from_u32(0))
            .max_concurrent_uni_streams(VarInt::from_u32(1));
    }
    Ok(config)
}

/// What one connection shares between its streams.
/// Where a connection is in logging in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Auth {
    Anonymous,
    /// A login was answered and its event stream is being opened.
    Opening,
    Player(u64),
}

struct ConnectionState {
    peer: SocketAddr,
    connection: Connection,
    auth: Mutex<Auth>,
    rate: Option<governor::DefaultDirectRateLimiter>,
    in_flight: Arc<Semaphore>,
    limits: Arc<Limits>,
}

impl ConnectionState {
    fn auth(&self) -> std::sync::MutexGuard<'_, Auth> {
        self.auth
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn player(&self) -> Option<u64> {
        match *self.auth() {
            Auth::Player(player) => Some(player),
            Auth::Anonymous | Auth::Opening => None,
        }
    }
}

async fn serve_connection<H: Handler>(
    connection: Connection,
    handler: Arc<H>,
    limits: Arc<Limits>,
) {
    let rate = NonZeroU32::new(limits.requests_per_second)
        .map(|per_second| governor::RateLimiter::direct(governor::Quota::per_second(per_second)));
    let state = Arc::new(ConnectionState {
        peer: connection.remote_address(),
        connection: connection.clone(),
        auth: Mutex::new(Auth::Anonymous),
        rate,
        in_flight: Arc::new(Semaphore::new(limits.max_in_flight)),
        limits,
    });
    // A connection that never logs in does not hold a slot for long.
    let deadline = Arc::clone(&state);
    tokio::spawn(async move {
        tokio::select! {
            () = tokio::time::sleep(deadline.limits.login_timeout) => {
                if deadline.player().is_none() {
                    deadline.connection.close(
                        VarInt::from_u32(close_code::PROTOCOL),
                        b"not logged in in time",
                    );
                }
            }
            _ = deadline.connection.closed() => {}
        }
    });
    loop {
        match connection.accept_bi().await {
            Ok((send, recv)) => {
                let state = Arc::clone(&state);
                let handler = Arc::clone(&handler);
                tokio::spawn(serve_stream(send, recv, state, handler));
            }
            Err(error) => {
                tracing::debug!(peer = %state.peer, %error, "QUIC connection ended");
                return;
            }
        }
    }
}

/// Writes a stream's frames in order, and finishes the stream once every sender is gone: the
/// reader's (at the end of the stream, or on bad input) and those of requests still being
/// answered, so an answer under way is never cut off.
async fn write_frames(mut send: SendStream, mut frames: mpsc::Receiver<Vec<u8>>) {
    while let Some(bytes) = frames.recv().await {
        if send.write_all(&bytes).await.is_err() {
            return;
        }
    }
    let _ = send.finish();
}

/// Encodes `message` for the stream; a message over the frame limit becomes an error frame
/// (it is the server's own output, so this is a bug or an absurd stored value, not the
/// client's fault).
fn encode(message: &ServerMessage, max: usize) -> Vec<u8> {
    match codec::frame(message, max) {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(%error, "a server message is over the frame limit");
            let id = match message {
                ServerMessage::Response { id, .. } | ServerMessage::Failed { id, .. } => *id,
                _ => 0,
            };
            let fallback = ServerMessage::Failed {
                id,
                error: WireError::new(500, "response_too_large", error.to_string()),
            };
            codec::frame(&fallback, max).unwrap_or_default()
        }
    }
}

/// Why no frame was read.
enum ReadFailure {
    /// The bytes are not a frame: answer with a protocol error.
    Frame(FrameError),
    /// The peer reset the stream or the connection is gone: nobody to answer.
    Gone,
}

impl From<FrameError> for ReadFailure {
    fn from(error: FrameError) -> Self {
        Self::Frame(error)
    }
}

/// Reads one frame body; `Ok(None)` at a clean end of stream (between frames).
async fn read_frame(recv: &mut RecvStream, max: usize) -> Result<Option<Vec<u8>>, ReadFailure> {
    let mut prefix = [0u8; LENGTH_BYTES];
    match recv.read_exact(&mut prefix).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(quinn::ReadExactError::FinishedEarly(got)) => {
            return Err(FrameError::Truncated {
                expected: LENGTH_BYTES,
                got,
            }
            .into());
        }
        Err(quinn::ReadExactError::ReadError(_)) => return Err(ReadFailure::Gone),
    }
    let length = codec::body_length(prefix, max)?;
    let mut body = vec![0u8; length];
    match recv.read_exact(&mut body).await {
        Ok(()) => Ok(Some(body)),
        Err(quinn::ReadExactError::FinishedEarly(got)) => Err(FrameError::Truncated {
            expected: LENGTH_BYTES + length,
            got: LENGTH_BYTES + got,
        }
        .into()),
        Err(quinn::ReadExactError::ReadError(_)) => Err(ReadFailure::Gone),
    }
}

async fn serve_stream<H: Handler>(
    send: SendStream,
    mut recv: RecvStream,
    state: Arc<ConnectionState>,
    handler: Arc<H>,
) {
    let max = state.limits.max_frame_bytes;
    let (out, frames) = mpsc::channel(state.limits.max_in_flight + 2);
    tokio::spawn(write_frames(send, frames));
    loop {
        let body = match read_frame(&mut recv, max).await {
            Ok(Some(body)) => body,
            Ok(None) | Err(ReadFailure::Gone) => break,
            Err(ReadFailure::Frame(error)) => {
                refuse_stream(&out, &mut recv, &state, error.to_wire()).await;
                return;
            }
        };
        let ClientMessage { id, request } = match codec::decode_client(&body) {
            Ok(message) => message,
            Err(error) => {
                refuse_stream(&out, &mut recv, &state, error.to_wire()).await;
                return;
            }
        };
        metrics::counter!("matchwright_quic_requests_total", "request" => request.name())
            .increment(1);
        let player = state.player();
        if player.is_none() && !request.is_public() {
            let error = WireError::new(
                401,
                "not_authenticated",
                format!(
                    "`{}` needs an authenticated connection: send Login, Register or Authenticate first",
                    request.name()
                ),
            );
            let failed = ServerMessage::Failed { id, error };
            let _ = out.send(encode(&failed, max)).await;
            let _ = recv.stop(VarInt::from_u32(close_code::PROTOCOL));
            return;
        }
        if let Some(rate) = &state.rate
            && rate.check().is_err()
        {
            metrics::counter!("matchwright_quic_rate_limited_total").increment(1);
            let error = WireError::new(
                429,
                "rate_limited",
                format!(
                    "over {} requests per second on this connection; slow down",
                    state.limits.requests_per_second
                ),
            );
            let failed = ServerMessage::Failed { id, error };
            if out.send(encode(&failed, max)).await.is_err() {
                return;
            }
            continue;
        }
        // Backpressure: stop reading until a request in flight is answered.
        let Ok(permit) = Arc::clone(&state.in_flight).acquire_owned().await else {
            return;
        };
        let state = Arc::clone(&state);
        let handler = Arc::clone(&handler);
        let out = out.clone();
        tokio::spawn(async move {
            let message = answer(&state, handler.as_ref(), player, id, request).await;
            let _ = out.send(encode(&message, max)).await;
            drop(permit);
        });
    }
}

/// Sends a protocol error, then closes both directions of the stream.
async fn refuse_stream(
    out: &mpsc::Sender<Vec<u8>>,
    recv: &mut RecvStream,
    state: &ConnectionState,
    error: WireError,
) {
    metrics::counter!("matchwright_quic_protocol_errors_total", "code" => error.code.clone())
        .increment(1);
    tracing::info!(peer = %state.peer, code = %error.code, message = %error.message, "closing a QUIC stream on bad input");
    let message = ServerMessage::ProtocolError(error);
    let _ = out
        .send(encode(&message, state.limits.max_frame_bytes))
        .await;
    let _ = recv.stop(VarInt::from_u32(close_code::PROTOCOL));
}

/// Answers one request; authenticates the connection on a login.
async fn answer<H: Handler>(
    state: &ConnectionState,
    handler: &H,
    player: Option<u64>,
    id: u64,
    request: Request,
) -> ServerMessage {
    let result = handler.handle(state.peer, player, request).await;
    let result = match result {
        Ok(response @ (Response::Tokens(_) | Response::Authenticated { .. })) => {
            let player = match &response {
                Response::Tokens(tokens) => tokens.player_id,
                Response::Authenticated { player_id } => *player_id,
                _ => unreachable!("matched above"),
            };
            authenticate(state, handler, player)
                .await
                .map(|()| response)
        }
        other => other,
    };
    match result {
        Ok(response) => ServerMessage::Response { id, response },
        Err(error) => ServerMessage::Failed { id, error },
    }
}

/// Marks the connection as `player`'s and opens its event stream (once). The connection is
/// claimed before the stream is opened, so two logins in flight cannot both open one.
async fn authenticate<H: Handler>(
    state: &ConnectionState,
    handler: &H,
    player: u64,
) -> Result<(), WireError> {
    {
        let mut auth = state.auth();
        match *auth {
            Auth::Player(existing) if existing == player => return Ok(()),
            Auth::Player(existing) => {
                return Err(WireError::new(
                    409,
                    "already_authenticated",
                    format!(
                        "this connection is player {existing}'s; open another connection for player {player}"
                    ),
                ));
            }
            Auth::Opening => {
                return Err(WireError::new(
                    409,
                    "login_in_progress",
                    "another login on this connection is being completed; send one login at a time",
                ));
            }
            Auth::Anonymous => *auth = Auth::Opening,
        }
    }
    match open_events(state, handler, player).await {
        Ok(()) => {
            *state.auth() = Auth::Player(player);
            Ok(())
        }
        Err(error) => {
            *state.auth() = Auth::Anonymous;
            Err(error)
        }
    }
}

/// Subscribes to `player`'s events and opens the event stream with its `Welcome`.
async fn open_events<H: Handler>(
    state: &ConnectionState,
    handler: &H,
    player: u64,
) -> Result<(), WireError> {
    let closed = |error: &dyn std::fmt::Display| {
        WireError::new(
            503,
            "connection_closed",
            format!("cannot open the event stream: {error}"),
        )
    };
    let feed = handler.subscribe(player)?;
    let mut events = state
        .connection
        .open_uni()
        .await
        .map_err(|error| closed(&error))?;
    let max = state.limits.max_frame_bytes;
    let welcome = encode(
        &ServerMessage::Event(Event::Welcome { player_id: player }),
        max,
    );
    events
        .write_all(&welcome)
        .await
        .map_err(|error| closed(&error))?;
    tokio::spawn(pump_events(events, feed, max, state.connection.clone()));
    Ok(())
}

/// Writes the player's events until the feed ends or the connection goes (then the feed is
/// dropped, which unsubscribes it: a gone client holds no subscription).
async fn pump_events<F: EventFeed>(
    mut events: SendStream,
    mut feed: F,
    max: usize,
    connection: Connection,
) {
    loop {
        let next = tokio::select! {
            next = feed.next() => next,
            _ = connection.closed() => return,
        };
        match next {
            Some(event) => {
                // An event over the frame limit (a party's chat of long lines under a small
                // limit) is skipped, not turned into an error on the event stream.
                let bytes = match codec::frame(&ServerMessage::Event(event), max) {
                    Ok(bytes) => bytes,
                    Err(error) => {
                        tracing::warn!(%error, "skipping an event over the frame limit");
                        continue;
                    }
                };
                if events.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            None => {
                let lagged = ServerMessage::ProtocolError(WireError::new(
                    409,
                    "events_lagged",
                    "events were not read fast enough; reconnect and ask for QueueStatus",
                ));
                let _ = events.write_all(&encode(&lagged, max)).await;
                let _ = events.finish();
                return;
            }
        }
    }
}
