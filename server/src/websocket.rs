//! The live-event WebSocket's pump: moves a player's events from the hub to the socket, one
//! JSON text message each (starting with `welcome`), and closes the socket when it must.
//!
//! Bounds, and what happens at each:
//! - a write (an event, a ping, the close frame) that does not finish within
//!   `server.websocket_write_timeout_ms` closes the connection (a client that stopped reading
//!   holds no task, descriptor or kernel buffer for longer);
//! - a client that falls `server.socket_buffer` events behind gets close code 1008;
//! - a client that sends nothing, not even the pong to the server's ping (sent every half of
//!   `server.websocket_idle_timeout_ms`), for `websocket_idle_timeout_ms` is closed (1001);
//! - at shutdown every socket gets close code 1001 and ends.
//!
//! The player's socket slot (hub) and the connection's slot (listener) are released only after
//! the connection is dropped, so the caps count sockets until they are really closed.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use matchwright_transport::wire::Event;
use tokio::time::{Instant, timeout};

use crate::hub::Subscription;
use crate::listener::ConnectionSlot;

/// The pump's timeouts.
#[derive(Clone, Copy, Debug)]
pub struct SocketTimeouts {
    /// One write's time.
    pub write: Duration,
    /// Silence from the client before the socket is closed.
    pub idle: Duration,
}

/// Why a socket ended (the label of `matchwright_event_sockets_closed_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ended {
    /// The client closed it, or the connection broke.
    Client,
    /// It fell `socket_buffer` events behind.
    Lagging,
    /// A write did not finish in time.
    WriteTimeout,
    /// The client was silent for the idle timeout.
    Idle,
    /// The server is shutting down.
    Shutdown,
}

impl Ended {
    fn label(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Lagging => "lagging",
            Self::WriteTimeout => "write_timeout",
            Self::Idle => "idle",
            Self::Shutdown => "shutdown",
        }
    }

    /// The close frame to send, when the connection can still take one.
    fn close_frame(self) -> Option<CloseFrame> {
        let (code, reason) = match self {
            Self::Client | Self::WriteTimeout => return None,
            Self::Lagging => (
                close_code::POLICY,
                "events were not read fast enough; reconnect and GET /v1/queue",
            ),
            Self::Idle => (close_code::AWAY, "no message or pong for too long"),
            Self::Shutdown => (close_code::AWAY, "the server is shutting down"),
        };
        Some(CloseFrame {
            code,
            reason: reason.into(),
        })
    }
}

/// Runs the socket until it ends, then closes it and releases its slots.
pub async fn pump_events(
    mut socket: WebSocket,
    player_id: u64,
    mut subscription: Subscription,
    closing: tokio::sync::watch::Receiver<bool>,
    timeouts: SocketTimeouts,
    slot: Option<ConnectionSlot>,
) {
    let ended = run(&mut socket, player_id, &mut subscription, closing, timeouts).await;
    if let Some(frame) = ended.close_frame() {
        let _ = timeout(timeouts.write, socket.send(Message::Close(Some(frame)))).await;
    }
    drop(socket);
    drop(subscription);
    drop(slot);
    // Counted once the socket's places are free: a client that sees the count may reconnect.
    metrics::counter!("matchwright_event_sockets_closed_total", "reason" => ended.label())
        .increment(1);
}

/// Sends `message` within the write timeout.
async fn send(socket: &mut WebSocket, message: Message, write: Duration) -> Result<(), Ended> {
    match timeout(write, socket.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Ended::Client),
        Err(_) => Err(Ended::WriteTimeout),
    }
}

async fn run(
    socket: &mut WebSocket,
    player_id: u64,
    subscription: &mut Subscription,
    mut closing: tokio::sync::watch::Receiver<bool>,
    timeouts: SocketTimeouts,
) -> Ended {
    let welcome = Event::Welcome { player_id };
    if let Err(ended) = send(
        socket,
        Message::Text(welcome.to_json().into()),
        timeouts.write,
    )
    .await
    {
        return ended;
    }
    let mut heard = Instant::now();
    let mut ping = tokio::time::interval_at(heard + timeouts.idle / 2, timeouts.idle / 2);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if *closing.borrow_and_update() {
            return Ended::Shutdown;
        }
        let outcome = tokio::select! {
            next = subscription.receiver.recv() => match next {
                Some(event) => {
                    let text = Message::Text(event.to_json().into());
                    send(socket, text, timeouts.write).await
                }
                None => Err(Ended::Lagging),
            },
            incoming = socket.recv() => match incoming {
                None | Some(Err(_) | Ok(Message::Close(_))) => Err(Ended::Client),
                Some(Ok(_)) => {
                    heard = Instant::now();
                    Ok(())
                }
            },
            () = tokio::time::sleep_until(heard + timeouts.idle) => Err(Ended::Idle),
            _ = ping.tick() => send(socket, Message::Ping(Vec::new().into()), timeouts.write).await,
            changed = closing.changed() => match changed {
                Ok(()) => Ok(()),
                Err(_) => Err(Ended::Shutdown),
            },
        };
        if let Err(ended) = outcome {
            return ended;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_end_has_its_label_and_close_code() {
        assert_eq!(
            Ended::Lagging.close_frame().unwrap().code,
            close_code::POLICY
        );
        assert_eq!(
            Ended::Shutdown.close_frame().unwrap().code,
            close_code::AWAY
        );
        assert_eq!(Ended::Idle.close_frame().unwrap().code, close_code::AWAY);
        // A socket that does not take writes gets no close frame: it is dropped at once.
        assert!(Ended::WriteTimeout.close_frame().is_none());
        assert!(Ended::Client.close_frame().is_none());
        let labels = [
            Ended::Client,
            Ended::Lagging,
            Ended::WriteTimeout,
            Ended::Idle,
            Ended::Shutdown,
        ]
        .map(Ended::label);
        assert_eq!(
            labels,
            ["client", "lagging", "write_timeout", "idle", "shutdown"]
        );
    }
}
