//! The hub that fans each committed tick's live events out to the players' sockets (the
//! `GET /v1/events` WebSockets and the QUIC event streams).
//!
//! The events are the wire's [`Event`]s (`matchwright_transport::wire`): one type, sent as
//! JSON on a WebSocket ([`Event::to_json`]) and as frames over QUIC. The tick loop turns the
//! core's events into them for the players they concern,
//! only after the tick committed, and hands them to the [`Hub`]. Each socket has a bounded
//! buffer (`server.socket_buffer`); a socket that falls that far behind is dropped (the
//! client reconnects and reads its state with `GET /v1/queue`), so a slow client never
//! holds the tick loop or grows memory. A player holds at most `server.max_sockets_per_player`
//! sockets, counted until the socket is really closed: a socket dropped for lagging keeps its
//! place until its pump has closed the connection (see [`Subscription`]'s `Drop`).
//!
//! Shutdown: [`Hub::close_all`] tells every pump to send its close frame and end.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use matchwright_ecs::PlayerId;
use matchwright_transport::wire::{self, Event};
use tokio::sync::mpsc;

/// A matcher rating in wire form (events, profiles, leaderboards, history).
pub fn rating(rating: matchwright_ecs::Rating) -> wire::Rating {
    wire::Rating::from_mu_sigma(rating.mu, rating.sigma)
}

/// A match's players, teams and roles in wire form (`role_of` gives a player's role, in a
/// role queue).
pub fn match_players<'a>(
    players: &[(PlayerId, u8)],
    role_of: impl Fn(PlayerId) -> Option<&'a str>,
) -> Vec<wire::MatchPlayer> {
    players
        .iter()
        .map(|(player, team)| wire::MatchPlayer {
            player_id: player.0,
            team: *team,
            role: role_of(*player).map(str::to_owned),
        })
        .collect()
}

struct Socket {
    id: u64,
    /// `None` once the socket fell behind: it gets no more events, but still counts against
    /// the player's limit until its [`Subscription`] is dropped (the connection is closed).
    sender: Option<mpsc::Sender<Arc<Event>>>,
}

/// Why a socket was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManySockets {
    /// The limit.
    pub limit: usize,
}

/// The sockets of every connected player.
pub struct Hub {
    sockets: Mutex<HashMap<PlayerId, Vec<Socket>>>,
    next_id: AtomicU64,
    buffer: usize,
    max_per_player: usize,
    closing: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("buffer", &self.buffer)
            .field("max_per_player", &self.max_per_player)
            .finish_non_exhaustive()
    }
}

/// A registered socket: messages for it arrive on `receiver`, which ends (`None`) when the
/// client lags. Dropping the subscription frees the player's socket slot: its owner drops it
/// only after closing the connection.
#[derive(Debug)]
pub struct Subscription {
    /// Events, shared between a player's sockets (each transport encodes its own form: JSON
    /// on the WebSocket, wire frames over QUIC).
    pub receiver: mpsc::Receiver<Arc<Event>>,
    id: u64,
    player: PlayerId,
    hub: Arc<Hub>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(self.player, self.id);
    }
}

impl Hub {
    /// A hub with `buffer` messages per socket and `max_per_player` sockets per player.
    pub fn new(buffer: usize, max_per_player: usize) -> Self {
        Self {
            sockets: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            buffer,
            max_per_player,
            closing: tokio::sync::watch::channel(false).0,
        }
    }

    /// Sockets open now (each until its subscription is dropped).
    pub fn open_sockets(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// Tells every socket's pump to close (the server is shutting down).
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }

    /// Becomes `true` when the server shuts down.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PlayerId, Vec<Socket>>> {
        // A panic while holding the lock leaves the map consistent (every change is one
        // insert or remove), so a poisoned lock is still usable.
        self.sockets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a socket for `player`.
    pub fn subscribe(self: &Arc<Self>, player: PlayerId) -> Result<Subscription, TooManySockets> {
        let mut sockets = self.lock();
        let list = sockets.entry(player).or_default();
        if list.len() >= self.max_per_player {
            return Err(TooManySockets {
                limit: self.max_per_player,
            });
        }
        let (sender, receiver) = mpsc::channel(self.buffer);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        list.push(Socket {
            id,
            sender: Some(sender),
        });
        metrics::gauge!("matchwright_event_sockets").increment(1.0);
        Ok(Subscription {
            receiver,
            id,
            player,
            hub: Arc::clone(self),
        })
    }

    /// Forgets a socket (its subscription was dropped).
    fn unsubscribe(&self, player: PlayerId, id: u64) {
        let mut sockets = self.lock();
        if let Some(list) = sockets.get_mut(&player) {
            let before = list.len();
            list.retain(|socket| socket.id != id);
            if list.len() < before {
                metrics::gauge!("matchwright_event_sockets").decrement(1.0);
            }
            if list.is_empty() {
                sockets.remove(&player);
            }
        }
    }

    /// Whether `player` has a socket that takes events (events for others are not built).
    pub fn is_connected(&self, player: PlayerId) -> bool {
        self.lock()
            .get(&player)
            .is_some_and(|list| list.iter().any(|socket| socket.sender.is_some()))
    }

    /// Sends `event` to every socket of `player`. A socket whose buffer is full gets no more
    /// events: its receiver ends, and its pump closes the connection.
    pub fn send(&self, player: PlayerId, event: &Event) {
        let mut sockets = self.lock();
        let Some(list) = sockets.get_mut(&player) else {
            return;
        };
        let shared = Arc::new(event.clone());
        for socket in list.iter_mut() {
            let Some(sender) = &socket.sender else {
                continue;
            };
            if let Err(mpsc::error::TrySendError::Full(_)) = sender.try_send(Arc::clone(&shared)) {
                tracing::info!(%player, "a live-event socket fell behind; closing it");
                metrics::counter!("matchwright_event_sockets_lagged_total").increment(1);
                socket.sender = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lagging_socket_ends_but_counts_until_it_is_closed() {
        let hub = Arc::new(Hub::new(2, 2));
        let mut slow = hub.subscribe(PlayerId(1)).unwrap();
        let mut fast = hub.subscribe(PlayerId(1)).unwrap();
        assert_eq!(
            hub.subscribe(PlayerId(1)).unwrap_err(),
            TooManySockets { limit: 2 }
        );
        let event = Event::Welcome { player_id: 1 };
        hub.send(PlayerId(1), &event);
        assert!(fast.receiver.try_recv().is_ok());
        hub.send(PlayerId(1), &event);
        assert!(fast.receiver.try_recv().is_ok());
        // The slow one holds two unread messages: the third ends it.
        hub.send(PlayerId(1), &event);
        assert!(fast.receiver.try_recv().is_ok());
        assert!(slow.receiver.try_recv().is_ok());
        assert!(slow.receiver.try_recv().is_ok());
        assert!(matches!(
            slow.receiver.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
        // Its connection is not closed yet (the subscription lives): no room.
        assert_eq!(
            hub.subscribe(PlayerId(1)).unwrap_err(),
            TooManySockets { limit: 2 }
        );
        drop(slow);
        let third = hub.subscribe(PlayerId(1)).unwrap();
        drop(fast);
        assert!(hub.is_connected(PlayerId(1)));
        drop(third);
        assert!(!hub.is_connected(PlayerId(1)));
    }

    #[test]
    fn close_all_reaches_every_socket() {
        let hub = Arc::new(Hub::new(2, 2));
        let closing = hub.closing();
        assert!(!*closing.borrow());
        hub.close_all();
        assert!(*closing.borrow());
    }
}
