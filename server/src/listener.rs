//! The HTTP listener: accepts TCP connections under a total and a per-IP cap, serves each with
//! hyper (HTTP/1.1, with upgrades for the live-event WebSocket) under a header-read timeout,
//! and shuts down within a deadline.
//!
//! Bounds, and what happens at each:
//! - `server.max_connections` open connections, `server.max_connections_per_ip` from one
//!   address: a connection beyond either is closed right after `accept`, before any byte is
//!   read (metric `matchwright_http_connections_refused_total{reason}`). A WebSocket keeps its
//!   connection's slot until it is closed ([`ConnectionSlot`] travels with the upgrade).
//! - `server.header_timeout_ms`: a request head (every byte of it) must arrive within this
//!   time of the connection's start or of the previous response; otherwise hyper closes the
//!   connection. This closes slow-loris and idle keep-alive connections alike
//!   (`matchwright_http_connections_closed_total{reason="header_timeout"}`).
//! - `server.write_timeout_ms`: a write to the connection (an answer, a WebSocket frame) that
//!   makes no progress for this long fails, and the connection is closed: a client that sends
//!   requests and never reads the answers holds nothing for longer
//!   (`matchwright_http_connections_closed_total{reason="write_timeout"}`).
//! - A request head is read into at most [`MAX_HEAD_BYTES`]; a larger one gets 431 from hyper.
//! - Shutdown: stop accepting, ask open connections to finish their request and close, and
//!   after `server.shutdown_grace_ms` drop whatever is left.
//!
//! `accept` failing for lack of descriptors does not end the server: it waits 50 ms and goes on.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

use crate::settings::ServerSection;

/// The listener's bounds (from `[server]`).
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections from one IP address (0: no cap).
    pub max_per_ip: usize,
    /// Time to receive a request head.
    pub header_timeout: Duration,
    /// Time a write may make no progress.
    pub write_timeout: Duration,
    /// The listener's name in `matchwright_http_connections{listener}`.
    pub name: &'static str,
    /// Time open connections get to finish at shutdown.
    pub shutdown_grace: Duration,
}

impl ConnectionLimits {
    /// The limits `server` configures.
    pub fn of(server: &ServerSection) -> Self {
        Self {
            max_connections: server.max_connections,
            max_per_ip: server.max_connections_per_ip,
            header_timeout: Duration::from_millis(server.header_timeout_ms),
            write_timeout: Duration::from_millis(server.write_timeout_ms),
            name: "public",
            shutdown_grace: Duration::from_millis(server.shutdown_grace_ms),
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Counts open connections and admits new ones under the caps.
#[derive(Clone, Debug)]
struct Admission {
    counts: Arc<Mutex<Counts>>,
    limits: ConnectionLimits,
}

/// One open connection's place under the caps; released when the last clone is dropped (the
/// connection and, after an upgrade, its WebSocket are both closed).
#[derive(Clone, Debug)]
pub struct ConnectionSlot(#[allow(dead_code)] Arc<Admitted>);

#[derive(Debug)]
struct Admitted {
    counts: Arc<Mutex<Counts>>,
    ip: IpAddr,
    listener: &'static str,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        counts.total -= 1;
        if let Some(count) = counts.per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
        metrics::gauge!("matchwright_http_connections", "listener" => self.listener)
            .set(counts.total as f64);
    }
}

fn lock(counts: &Mutex<Counts>) -> std::sync::MutexGuard<'_, Counts> {
    // Every change is one counter step, so a poisoned lock still holds consistent counts.
    counts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Admission {
    fn new(limits: ConnectionLimits) -> Self {
        Self {
            counts: Arc::default(),
            limits,
        }
    }

    /// A slot for a connection from `ip`, or which cap refused it.
    fn admit(&self, ip: IpAddr) -> Result<ConnectionSlot, &'static str> {
        let mut counts = lock(&self.counts);
        if counts.total >= self.limits.max_connections {
            return Err("total");
        }
        let from_ip = counts.per_ip.get(&ip).copied().unwrap_or(0);
        if self.limits.max_per_ip > 0 && from_ip >= self.limits.max_per_ip {
            return Err("per_ip");
        }
        counts.total += 1;
        counts.per_ip.insert(ip, from_ip + 1);
        debug_assert!(counts.total > from_ip, "a per-IP count exceeds the total");
        metrics::gauge!("matchwright_http_connections", "listener" => self.limits.name)
            .set(counts.total as f64);
        Ok(ConnectionSlot(Arc::new(Admitted {
            counts: Arc::clone(&self.counts),
            ip,
            listener: self.limits.name,
        })))
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets open connections finish
/// for at most the grace period.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let admission = Admission::new(limits);
    let (stopping, stop_watch) = tokio::sync::watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors, or a connection reset before accept: wait a little and
                // go on (a tight loop would spin on EMFILE).
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let slot = match admission.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(reason) => {
                metrics::counter!("matchwright_http_connections_refused_total", "reason" => reason)
                    .increment(1);
                drop(stream);
                continue;
            }
        };
        let connection = serve_connection(stream, peer, slot, &router, &limits);
        connections.spawn(run_connection(connection, stop_watch.clone()));
    }
    drop(listener);
    stopping.send_replace(true);
    finish(connections, limits.shutdown_grace).await;
}

/// Runs one connection; once `stopping` turns true, it finishes its request and closes.
async fn run_connection<C>(connection: C, mut stopping: tokio::sync::watch::Receiver<bool>)
where
    C: Future<Output = Result<(), hyper::Error>> + Closable,
{
    let mut connection = std::pin::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        () = async { drop(stopping.wait_for(|stop| *stop).await) } => {
            connection.as_mut().close_when_idle();
            connection.await
        }
    };
    if let Err(error) = ended {
        record_close(&error);
    }
}

/// A connection that can be asked to finish its request and close.
trait Closable {
    fn close_when_idle(self: Pin<&mut Self>);
}

impl<I, S, B> Closable for hyper::server::conn::http1::UpgradeableConnection<I, S>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn close_when_idle(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// One connection: hyper over `stream`, each request carrying the peer address and the slot.
fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    slot: ConnectionSlot,
    router: &Router,
    limits: &ConnectionLimits,
) -> impl Future<Output = Result<(), hyper::Error>> + Closable + Send + 'static {
    let _ = stream.set_nodelay(true);
    let stream = WriteDeadline {
        inner: stream,
        limit: limits.write_timeout,
        stalled: None,
    };
    let service = router
        .clone()
        .map_request(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request.extensions_mut().insert(slot.clone());
            request.map(Body::new)
        });
    hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_header_size(MAX_HEAD_BYTES)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .with_upgrades()
}

/// Waits for open connections to end, at most `grace`, then drops the rest.
async fn finish(mut connections: JoinSet<()>, grace: Duration) {
    let open = connections.len();
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, drained).await.is_err() {
        tracing::warn!(
            open,
            grace_ms = grace.as_millis(),
            "connections still open at the end of the shutdown grace period; closing them"
        );
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

/// Counts a connection hyper ended with an error (a header or write timeout among them).
fn record_close(error: &hyper::Error) {
    let write_timed_out = std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<std::io::Error>())
        .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut);
    let reason = if error.is_timeout() {
        "header_timeout"
    } else if write_timed_out {
        "write_timeout"
    } else {
        "error"
    };
    metrics::counter!("matchwright_http_connections_closed_total", "reason" => reason).increment(1);
}

/// Descriptors kept apart from connections: the store, the data directory, QUIC, the
/// operations listener, logs.
const RESERVED_FDS: u64 = 256;

/// Raises the process' open-file limit to its hard limit (connections are descriptors) and
/// says, as a warning to log, when `max_connections` still does not fit under it: `accept`
/// would then fail for lack of descriptors before the cap refuses anyone.
#[cfg(unix)]
pub fn raise_open_file_limit(max_connections: usize) -> Option<String> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    let current = match setrlimit(Resource::Nofile, raised) {
        Ok(()) => limit.maximum,
        Err(_) => limit.current,
    };
    let needed = max_connections as u64 + RESERVED_FDS;
    match current {
        Some(open_files) if open_files < needed => Some(format!(
            "server.max_connections is {max_connections} but the process may open only \
             {open_files} files (hard limit); raise it (e.g. LimitNOFILE={needed} or \
             `ulimit -n {needed}`) or lower max_connections"
        )),
        _ => None,
    }
}

/// Not on this platform: nothing to raise.
#[cfg(not(unix))]
pub fn raise_open_file_limit(_max_connections: usize) -> Option<String> {
    None
}

/// The largest request head hyper reads (its read buffer): heads beyond it get 431.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// A stream whose writes must make progress: a write (or flush) still pending `limit` after
/// it first could not proceed fails with `TimedOut`, and hyper closes the connection.
struct WriteDeadline<S> {
    inner: S,
    limit: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> WriteDeadline<S> {
    /// After the inner write returned `Pending`: still waiting, or timed out.
    fn stall<T>(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<T>> {
        let limit = self.limit;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the peer did not read what it was sent",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progressed<T>(&mut self, ready: T) -> Poll<T> {
        self.stalled = None;
        Poll::Ready(ready)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(written) => self.progressed(written),
            Poll::Pending => self.stall(cx),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(written) => self.progressed(written),
            Poll::Pending => self.stall(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(flushed) => self.progressed(flushed),
            Poll::Pending => self.stall(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_ip: usize) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: total,
            max_per_ip: per_ip,
            header_timeout: Duration::from_secs(1),
            write_timeout: Duration::from_secs(1),
            name: "test",
            shutdown_grace: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_caps_count_open_connections_until_their_last_slot_is_dropped() {
        let admission = Admission::new(limits(3, 2));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = admission.admit(a).unwrap();
        let second = admission.admit(a).unwrap();
        assert_eq!(admission.admit(a).unwrap_err(), "per_ip");
        let third = admission.admit(b).unwrap();
        assert_eq!(admission.admit(b).unwrap_err(), "total");
        // A clone (the WebSocket's) keeps the slot after the connection's own is gone.
        let upgraded = first.clone();
        drop(first);
        assert_eq!(admission.admit(b).unwrap_err(), "total");
        drop(upgraded);
        let fourth = admission.admit(b).unwrap();
        drop((second, third, fourth));
        assert_eq!(lock(&admission.counts).total, 0);
        assert!(lock(&admission.counts).per_ip.is_empty());
    }

    #[test]
    fn no_per_ip_cap_when_it_is_zero() {
        let admission = Admission::new(limits(5, 0));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let slots: Vec<_> = (0..5).map(|_| admission.admit(ip).unwrap()).collect();
        assert_eq!(admission.admit(ip).unwrap_err(), "total");
        drop(slots);
    }
}
