//! The operators' live event stream (`GET /v1/admin/events`, server-sent events): every match
//! and session event of every committed tick, as the same `BackendEvent` JSON webhooks carry
//! (`backend_events::event_for_backends`), for dashboards and the console. Fed by the tick loop
//! after each commit (`serve`), or by a gateway as it reads each partition's event batches
//! (every partition's events, each partition's in order, once it has caught up with it).
//!
//! Bounds, and what happens at each: the channel keeps the newest `CHANNEL` events; a stream
//! that falls further behind gets a `lagged` event saying how many it missed, and goes on.
//! At most `MAX_STREAMS` streams at once; beyond, 503 `busy`. A comment every 15 s keeps
//! idle connections (and proxies) open; a client that stops reading is dropped by the
//! connection's own write timeout.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use matchwright_ecs::Event;
use tokio::sync::broadcast;

use crate::error::ApiError;

/// Events kept for streams that fall behind.
const CHANNEL: usize = 4_096;
/// Streams open at once, at most.
pub const MAX_STREAMS: usize = 32;

/// The stream's source, shared by the tick loop and the handlers.
#[derive(Debug)]
pub struct OperatorEvents {
    sender: broadcast::Sender<Arc<str>>,
    open: Arc<AtomicUsize>,
}

impl Default for OperatorEvents {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CHANNEL).0,
            open: Arc::new(AtomicUsize::new(0)),
        }
    }
}

/// Counts a stream open until it is dropped.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl OperatorEvents {
    /// Sends tick `tick`'s backend events to every open stream (nothing when none is open).
    pub fn publish(&self, tick: u64, now_ms: u64, events: &[Event]) {
        if self.sender.receiver_count() == 0 {
            return;
        }
        for event in events {
            let Some(backend) = crate::backend_events::event_for_backends(tick, now_ms, event)
            else {
                continue;
            };
            if let Ok(json) = serde_json::to_string(&backend) {
                let _ = self.sender.send(Arc::from(json));
            }
        }
    }

    /// A new stream, from the next event on; 503 `busy` beyond [`MAX_STREAMS`].
    pub fn subscribe(
        &self,
    ) -> Result<Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>> + use<>>, ApiError>
    {
        let open = self.open.fetch_add(1, Ordering::Relaxed);
        let slot = Slot(Arc::clone(&self.open));
        if open >= MAX_STREAMS {
            return Err(ApiError::unavailable(
                "busy",
                format!("{MAX_STREAMS} operator event streams are open already"),
            ));
        }
        let receiver = self.sender.subscribe();
        let stream = futures_util::stream::unfold((receiver, slot), |(mut receiver, slot)| async {
            let event = match receiver.recv().await {
                Ok(json) => SseEvent::default().data(&*json),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    SseEvent::default().data(format!("{{\"type\":\"lagged\",\"missed\":{missed}}}"))
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((Ok(event), (receiver, slot)))
        });
        Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
    }
}
