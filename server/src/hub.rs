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
//! sockets.

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

/// A match's players and teams in wire form.
pub fn match_players(players: &[(PlayerId, u8)]) -> Vec<wire::MatchPlayer> {
    players
        .iter()
        .map(|(player, team)| wire::MatchPlayer {
            player_id: player.0,
            team: *team,
        })
        .collect()
}

struct Socket {
    id: u64,
    sender: mpsc::Sender<Arc<Event>>,
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
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("buffer", &self.buffer)
            .field("max_per_player", &self.max_per_player)
            .finish_non_exhaustive()
    }
}

/// A registered socket: messages for it arrive on `receiver`; dropping the receiver (or the
/// hub dropping the sender, when the client lags) ends it.
#[derive(Debug)]
pub struct Subscription {
    /// Its id, for [`Hub::unsubscribe`].
    pub id: u64,
    /// Events, shared between a player's sockets (each transport encodes its own form: JSON
    /// on the WebSocket, wire frames over QUIC).
    pub receiver: mpsc::Receiver<Arc<Event>>,
}

impl Hub {
    /// A hub with `buffer` messages per socket and `max_per_player` sockets per player.
    pub fn new(buffer: usize, max_per_player: usize) -> Self {
        Self {
            sockets: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            buffer,
            max_per_player,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PlayerId, Vec<Socket>>> {
        // A panic while holding the lock leaves the map consistent (every change is one
        // insert or remove), so a poisoned lock is still usable.
        self.sockets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a socket for `player`.
    pub fn subscribe(&self, player: PlayerId) -> Result<Subscription, TooManySockets> {
        let mut sockets = self.lock();
        let list = sockets.entry(player).or_default();
        list.retain(|socket| !socket.sender.is_closed());
        if list.len() >= self.max_per_player {
            return Err(TooManySockets {
                limit: self.max_per_player,
            });
        }
        let (sender, receiver) = mpsc::channel(self.buffer);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        list.push(Socket { id, sender });
        metrics::gauge!("matchwright_event_sockets").increment(1.0);
        Ok(Subscription { id, receiver })
    }

    /// Forgets a socket.
    pub fn unsubscribe(&self, player: PlayerId, id: u64) {
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

    /// Whether `player` has a socket (events for others are not even built).
    pub fn is_connected(&self, player: PlayerId) -> bool {
        self.lock().contains_key(&player)
    }

    /// Sends `event` to every socket of `player`. A socket whose buffer is full is dropped.
    pub fn send(&self, player: PlayerId, event: &Event) {
        let mut sockets = self.lock();
        let Some(list) = sockets.get_mut(&player) else {
            return;
        };
        let shared = Arc::new(event.clone());
        list.retain(|socket| match socket.sender.try_send(Arc::clone(&shared)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::info!(%player, "dropping a live-event socket that fell behind");
                metrics::counter!("matchwright_event_sockets_dropped").increment(1);
                metrics::gauge!("matchwright_event_sockets").decrement(1.0);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                metrics::gauge!("matchwright_event_sockets").decrement(1.0);
                false
            }
        });
        if list.is_empty() {
            sockets.remove(&player);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lagging_socket_is_dropped_and_others_keep_receiving() {
        let hub = Hub::new(2, 2);
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
        // The slow one holds two unread messages: the third drops it.
        hub.send(PlayerId(1), &event);
        assert!(fast.receiver.try_recv().is_ok());
        assert!(slow.receiver.try_recv().is_ok());
        assert!(slow.receiver.try_recv().is_ok());
        assert!(matches!(
            slow.receiver.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
        // Room for another socket again.
        assert!(hub.subscribe(PlayerId(1)).is_ok());
        hub.unsubscribe(PlayerId(1), fast.id);
        assert!(hub.is_connected(PlayerId(1)));
    }
}
