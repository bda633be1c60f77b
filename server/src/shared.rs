//! What request handlers share with whatever applies their commands (the tick loop of
//! `serve`, or a gateway's partitions): the live view, the hub, readiness and the lobby
//! ([`Shared`], [`Health`]), and what became of a command ([`Applied`], [`Refusal`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use matchwright_ecs::{CommandSeq, RejectReason};
use tokio::sync::oneshot;

use crate::clock::unix_ms;
use crate::error::ApiError;
use crate::hub::Hub;
use crate::view::View;

/// What a committed command did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The tick that applied it.
    pub tick: u64,
    /// Its sequence number: the matcher's (through a gateway, the partition log's).
    pub seq: CommandSeq,
}

/// Why a command was not applied: the matcher rejected it (the caller maps the reason to its
/// error, [`crate::error::rejected`] by default), or the server could not take it.
#[derive(Clone, Debug)]
pub enum Refusal {
    /// The matcher's rejection.
    Rejected(RejectReason),
    /// Busy, stopping, a failed store.
    Error(ApiError),
}

pub(crate) type Reply = oneshot::Sender<Result<Applied, Refusal>>;

/// What readiness depends on, written by the tick loop (or a gateway).
#[derive(Debug, Default)]
pub struct Health {
    /// When the last tick committed (Unix ms; 0 before the first).
    pub last_tick_ms: AtomicU64,
    /// The last committed tick.
    pub last_tick: AtomicU64,
    /// Why the server is not ready, if it is not (a failed commit, a full outbox).
    pub not_ready: Mutex<Option<String>>,
    /// Set once shutdown starts: not ready from then on, whatever the tick loop says.
    pub stopping: AtomicBool,
}

impl Health {
    /// From now on the server is shutting down: never ready again.
    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    pub(crate) fn set_not_ready(&self, reason: Option<String>) {
        *self
            .not_ready
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = reason;
    }

    /// Why the server is not ready now, if it is not.
    pub fn not_ready(&self, tick_interval_ms: u64) -> Option<String> {
        if self.stopping.load(Ordering::SeqCst) {
            return Some("the server is shutting down".into());
        }
        if let Some(reason) = self
            .not_ready
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
        {
            return Some(reason);
        }
        let last = self.last_tick_ms.load(Ordering::Relaxed);
        let stale_after = (tick_interval_ms * 20).max(2_000);
        if last == 0 {
            Some("the tick loop has not ticked yet".into())
        } else if unix_ms().saturating_sub(last) > stale_after {
            Some(format!(
                "the tick loop has not ticked for {} ms",
                unix_ms() - last
            ))
        } else {
            None
        }
    }
}

/// Everything the tick loop (or a gateway) shares with the handlers.
#[derive(Clone, Debug)]
pub struct Shared {
    /// The live view.
    pub view: Arc<RwLock<View>>,
    /// Live-event sockets.
    pub hub: Arc<Hub>,
    /// Readiness.
    pub health: Arc<Health>,
    /// Parties' invites, ready checks and chat.
    pub lobby: Arc<crate::lobby::Lobby>,
    /// The operators' live event stream.
    pub operators: Arc<crate::operator_events::OperatorEvents>,
}
