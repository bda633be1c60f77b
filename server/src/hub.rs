//! Live events: what a player is told over `GET /v1/events`, and the hub that fans each
//! committed tick's events out to the players' sockets.
//!
//! The tick loop turns the core's events into [`LiveEvent`]s for the players they concern,
//! only after the tick committed, and hands them to the [`Hub`]. Each socket has a bounded
//! buffer (`server.socket_buffer`); a socket that falls that far behind is dropped (the
//! client reconnects and reads its state with `GET /v1/queue`), so a slow client never
//! holds the tick loop or grows memory. A player holds at most `server.max_sockets_per_player`
//! sockets.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use matchwright_ecs::PlayerId;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use utoipa::ToSchema;

/// A rating as clients see it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RatingBody {
    /// Estimated skill (MMR scale).
    pub mu: f64,
    /// Uncertainty.
    pub sigma: f64,
    /// `mu - 3 sigma`: the rating leaderboards rank by.
    pub conservative: f64,
}

impl From<matchwright_ecs::Rating> for RatingBody {
    fn from(rating: matchwright_ecs::Rating) -> Self {
        Self {
            mu: rating.mu,
            sigma: rating.sigma,
            conservative: rating.mu - 3.0 * rating.sigma,
        }
    }
}

/// One player of a match, as clients see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MatchPlayerBody {
    /// The player.
    pub player_id: u64,
    /// The team (0-based, in the order of `teams`).
    pub team: u8,
}

/// A message on `GET /v1/events` (one JSON text frame each), tagged by `type`.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// Sent first on every connection.
    Welcome {
        /// The authenticated player.
        player_id: u64,
    },
    /// Your ticket entered its queue.
    Queued {
        /// The ticket.
        ticket_id: u64,
        /// The queue.
        queue: String,
        /// When it started waiting (Unix ms).
        waiting_since_ms: u64,
    },
    /// Your ticket left its queue without a match.
    QueueLeft {
        /// The ticket.
        ticket_id: u64,
        /// `cancelled`, `expired`, `declined`, `acceptance_timed_out` or `party_changed`.
        reason: String,
        /// How long it waited.
        waited_ms: u64,
    },
    /// A match was found. In a queue with acceptance, `state` is `awaiting_acceptance` and every
    /// player must accept by `accept_by_ms`; then (or at once without acceptance) a second
    /// `match_found` with `state` `allocating` says the match is on.
    MatchFound {
        /// The match.
        match_id: u64,
        /// `awaiting_acceptance` or `allocating`.
        state: String,
        /// The queue.
        queue: String,
        /// The game mode.
        mode: String,
        /// The region it is hosted in.
        region: String,
        /// Its quality, 0 to 1.
        quality: f64,
        /// Your team.
        your_team: u8,
        /// Everyone, with their teams.
        players: Vec<MatchPlayerBody>,
        /// The acceptance deadline (Unix ms), when acceptance is needed.
        accept_by_ms: Option<u64>,
    },
    /// A player accepted the proposed match.
    MatchAccepted {
        /// The match.
        match_id: u64,
        /// Who accepted.
        player_id: u64,
    },
    /// The proposed match will not be played; your ticket is back in its queue (a `requeued`
    /// follows) unless you declined or did not answer.
    MatchCancelled {
        /// The match.
        match_id: u64,
        /// `declined`, `timed_out`, or (no game server came; `requeued` follows)
        /// `allocation_failed` or `allocation_timed_out`.
        reason: String,
        /// The players who declined or did not answer.
        players: Vec<u64>,
    },
    /// Your ticket is back in its queue with its waiting time.
    Requeued {
        /// The ticket.
        ticket_id: u64,
        /// The match that fell through.
        match_id: u64,
    },
    /// The game server is up: connect to `server` with `session_token`.
    SessionReady {
        /// The match.
        match_id: u64,
        /// The game server's address.
        server: String,
        /// Your session token (HS256 JWT) for the game server.
        session_token: String,
        /// When the token expires (Unix ms).
        token_expires_at_ms: u64,
    },
    /// The session is over.
    SessionEnded {
        /// The match.
        match_id: u64,
        /// Each team's place (1 = first), when a result was reported.
        placements: Option<Vec<u32>>,
    },
    /// The session was given up.
    SessionAbandoned {
        /// The match.
        match_id: u64,
        /// `heartbeat_timed_out` or `empty` (a session that never had its server is a
        /// `match_cancelled` instead).
        reason: String,
    },
    /// Your party changed: `change` is `created`, `joined`, `left`, `kicked`, `invited`,
    /// `ready`, `not_ready`, `queued` or `disbanded`, about `player_id`; `party` is the party
    /// as it is now (after a `left` or `kicked`, the player concerned is told too).
    PartyUpdated {
        /// What changed.
        change: String,
        /// Who it concerns.
        player_id: u64,
        /// The party now.
        party: crate::lobby::PartyBody,
    },
    /// You are invited to a party: `POST /v1/party/{party_id}/join` before `expires_at_ms`.
    PartyInvite {
        /// The party.
        party_id: u64,
        /// Who invited you (its leader).
        from_player_id: u64,
        /// Their display name.
        from_display_name: String,
        /// When the invite expires (Unix ms).
        expires_at_ms: u64,
    },
    /// A chat line in your party.
    PartyChat {
        /// The party.
        party_id: u64,
        /// The line.
        line: crate::lobby::ChatLine,
    },
    /// Your rating changed after a result.
    RatingsChanged {
        /// The match.
        match_id: u64,
        /// The game mode.
        mode: String,
        /// Before.
        before: RatingBody,
        /// After.
        after: RatingBody,
    },
}

struct Socket {
    id: u64,
    sender: mpsc::Sender<Arc<LiveEvent>>,
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
    pub receiver: mpsc::Receiver<Arc<LiveEvent>>,
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
    pub fn send(&self, player: PlayerId, event: &LiveEvent) {
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
        let event = LiveEvent::Welcome { player_id: 1 };
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
