//! The SDK's QUIC backend: one connection, one request stream (requests pipelined, answers
//! matched by id), and the server's event stream.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use quinn::crypto::rustls::QuicClientConfig;
use quinn::{Connection, Endpoint, RecvStream, SendStream, VarInt};
use tokio::sync::{mpsc, oneshot};

use super::{ClientError, Result};
use crate::codec::{self, LENGTH_BYTES};
use crate::quic::server::{Limits, close_code, transport_config, udp_socket};
use crate::quic::tls;
use crate::wire::{ClientMessage, Event, Request, Response, ServerMessage};

type Pending = Arc<Mutex<Option<HashMap<u64, oneshot::Sender<Result<Response>>>>>>;

/// A UDP socket many QUIC [`super::Client`]s share: one per process is plenty, and a load
/// tool with thousands of clients needs it (each endpoint holds its own socket and buffers).
#[derive(Clone, Debug)]
pub struct QuicEndpoint {
    endpoint: Endpoint,
}

impl QuicEndpoint {
    /// Binds a client endpoint on `local` (`0.0.0.0:0` for IPv4 servers, `[::]:0` for IPv6).
    /// Needs a tokio runtime.
    pub fn bind(local: SocketAddr) -> Result<Self> {
        let failed = |error: std::io::Error| {
            ClientError::Connection(format!("cannot open a UDP socket: {error}"))
        };
        let socket = udp_socket(local, Limits::default().socket_buffer_bytes).map_err(failed)?;
        let endpoint = Endpoint::new(
            quinn::EndpointConfig::default(),
            None,
            socket,
            Arc::new(quinn::TokioRuntime),
        )
        .map_err(failed)?;
        Ok(Self { endpoint })
    }

    /// A client endpoint on any local port of `server`'s address family.
    pub fn for_server(server: SocketAddr) -> Result<Self> {
        let local: SocketAddr = if server.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        Self::bind(local)
    }

    /// Closes every connection made through it.
    pub fn close(&self) {
        self.endpoint
            .close(VarInt::from_u32(close_code::DONE), b"client closed");
    }
}

pub(super) struct QuicClient {
    /// The endpoint, when this client made its own (it closes it with itself).
    own_endpoint: Option<QuicEndpoint>,
    connection: Connection,
    /// Whole frames to the writer task (a call cancelled mid-way never leaves half a frame).
    frames: mpsc::Sender<Vec<u8>>,
    pending: Pending,
    next_id: AtomicU64,
    max_frame: usize,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl QuicClient {
    pub(super) async fn connect(
        via: Option<&QuicEndpoint>,
        addr: SocketAddr,
        fingerprint: &str,
        events: mpsc::Sender<Result<Event>>,
    ) -> Result<Self> {
        let crypto = tls::client_crypto(fingerprint).map_err(ClientError::Usage)?;
        let crypto = QuicClientConfig::try_from(crypto)
            .map_err(|error| ClientError::Usage(format!("TLS cannot do QUIC: {error}")))?;
        let mut config = quinn::ClientConfig::new(Arc::new(crypto));
        config.transport_config(Arc::new(
            transport_config(&Limits::default(), false).map_err(ClientError::Usage)?,
        ));
        let own_endpoint = match via {
            Some(_) => None,
            None => Some(QuicEndpoint::for_server(addr)?),
        };
        let endpoint = via.or(own_endpoint.as_ref()).map(|shared| &shared.endpoint);
        let Some(endpoint) = endpoint else {
            return Err(ClientError::Usage("no QUIC endpoint".into()));
        };
        let connection = endpoint
            .connect_with(config, addr, "localhost")
            .map_err(|error| ClientError::Connection(format!("cannot connect to {addr}: {error}")))?
            .await
            .map_err(|error| {
                ClientError::Connection(format!("QUIC handshake with {addr}: {error}"))
            })?;
        let (send, recv) = connection
            .open_bi()
            .await
            .map_err(|error| ClientError::Connection(format!("cannot open a stream: {error}")))?;
        let pending: Pending = Arc::new(Mutex::new(Some(HashMap::new())));
        let max_frame = codec::MAX_FRAME_BYTES;
        let (frames, outgoing) = mpsc::channel(256);
        tokio::spawn(write_requests(send, outgoing));
        tokio::spawn(read_answers(
            recv,
            Arc::clone(&pending),
            READ_LIMIT,
            connection.clone(),
        ));
        tokio::spawn(read_events(connection.clone(), events, READ_LIMIT));
        Ok(Self {
            own_endpoint,
            connection,
            frames,
            pending,
            next_id: AtomicU64::new(1),
            max_frame,
        })
    }

    pub(super) async fn call(&self, request: Request) -> Result<Response> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let bytes = codec::frame(&ClientMessage { id, request }, self.max_frame)
            .map_err(|error| ClientError::Usage(error.to_string()))?;
        let (answer, answered) = oneshot::channel();
        match lock(&self.pending).as_mut() {
            Some(pending) => {
                pending.insert(id, answer);
            }
            None => {
                return Err(ClientError::Connection(
                    "the request stream is closed".into(),
                ));
            }
        }
        // If this call is dropped before its answer, its id is forgotten.
        let _forget = Forget {
            pending: &self.pending,
            id,
        };
        if self.frames.send(bytes).await.is_err() {
            return Err(ClientError::Connection(
                "the request stream is closed".into(),
            ));
        }
        answered.await.map_err(|_| {
            ClientError::Connection("the connection closed before the answer".into())
        })?
    }

    pub(super) fn close(&self) {
        self.connection
            .close(VarInt::from_u32(close_code::DONE), b"client closed");
        if let Some(endpoint) = &self.own_endpoint {
            endpoint.close();
        }
    }
}

impl Drop for QuicClient {
    fn drop(&mut self) {
        // The reader tasks hold the connection: close it, or keep-alives would hold it open.
        self.close();
    }
}

/// The largest frame the client reads: the most a server may be configured to send.
const READ_LIMIT: usize = 16 << 20;

/// Removes a call's id from the pending map when the call ends, answered or not.
struct Forget<'a> {
    pending: &'a Pending,
    id: u64,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        if let Some(pending) = lock(self.pending).as_mut() {
            pending.remove(&self.id);
        }
    }
}

/// Writes whole request frames in order.
async fn write_requests(mut send: SendStream, mut frames: mpsc::Receiver<Vec<u8>>) {
    while let Some(bytes) = frames.recv().await {
        if send.write_all(&bytes).await.is_err() {
            return;
        }
    }
    let _ = send.finish();
}

/// Reads one frame body from `recv`; `Ok(None)` at a clean end.
async fn read_body(recv: &mut RecvStream, max: usize) -> Result<Option<Vec<u8>>> {
    let mut prefix = [0u8; LENGTH_BYTES];
    match recv.read_exact(&mut prefix).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(error) => return Err(ClientError::Connection(format!("reading: {error}"))),
    }
    let length = codec::body_length(prefix, max)
        .map_err(|error| ClientError::Protocol(error.to_string()))?;
    let mut body = vec![0u8; length];
    recv.read_exact(&mut body)
        .await
        .map_err(|error| ClientError::Connection(format!("reading: {error}")))?;
    Ok(Some(body))
}

async fn read_answers(mut recv: RecvStream, pending: Pending, max: usize, connection: Connection) {
    let failure = loop {
        let body = match read_body(&mut recv, max).await {
            Ok(Some(body)) => body,
            Ok(None) => {
                break ClientError::Connection("the server closed the request stream".into());
            }
            Err(error) => break error,
        };
        let message = match codec::decode_server(&body) {
            Ok(message) => message,
            Err(error) => break ClientError::Protocol(error.to_string()),
        };
        let (id, answer) = match message {
            ServerMessage::Response { id, response } => (id, Ok(response)),
            ServerMessage::Failed { id, error } => (id, Err(ClientError::Server(error))),
            ServerMessage::ProtocolError(error) => break ClientError::Server(error),
            ServerMessage::Event(_) => {
                break ClientError::Protocol("an event arrived on the request stream".into());
            }
        };
        let waiting = lock(&pending).as_mut().and_then(|map| map.remove(&id));
        if let Some(waiting) = waiting {
            let _ = waiting.send(answer);
        }
    };
    // Everyone still waiting learns why; later calls fail at once.
    let waiting = lock(&pending).take().unwrap_or_default();
    for (_, answer) in waiting {
        let _ = answer.send(Err(failure.clone()));
    }
    // Without its request stream the client can do nothing: let the connection go.
    connection.close(VarInt::from_u32(close_code::DONE), b"request stream ended");
}

async fn read_events(connection: Connection, events: mpsc::Sender<Result<Event>>, max: usize) {
    let Ok(mut recv) = connection.accept_uni().await else {
        return;
    };
    loop {
        let item = match read_body(&mut recv, max).await {
            Ok(Some(body)) => match codec::decode_server(&body) {
                Ok(ServerMessage::Event(event)) => Ok(event),
                Ok(ServerMessage::ProtocolError(error)) => Err(ClientError::Server(error)),
                Ok(other) => Err(ClientError::Protocol(format!(
                    "expected an event on the event stream, got {other:?}"
                ))),
                Err(error) => Err(ClientError::Protocol(error.to_string())),
            },
            Ok(None) => return,
            Err(error) => Err(error),
        };
        let last = item.is_err();
        if events.send(item).await.is_err() || last {
            return;
        }
    }
}
