//! A partition's events, for gateways: each committed tick's [`EventBatch`] (its events and
//! the outcome of every command it consumed) in a JetStream stream of its own,
//! `MW_<partition>_EVENTS` (subject `mw.<partition>.events`), so that a gateway answers its
//! clients' commands and updates its live view from it, and one that was away (or restarts)
//! reads on from where it was.
//!
//! - **Every tick, in order.** The leader publishes a tick's batch after the tick is in the
//!   log and before it runs the next one; if it cannot, it starts over (its next tick could not
//!   be appended either). A new leader publishes again the last tick it applied, so a leader
//!   that died between its append and its publication leaves no hole. Parts carry the message
//!   id `<tick>.<part>`: the stream drops a repeat within [`DEDUPLICATION_WINDOW`], and a
//!   reader skips anything it has read already.
//! - **Bounded.** Kept for [`EVENTS_MAX_AGE`] (a gateway builds its view from the newest
//!   snapshot, at most a few snapshot intervals old, and reads the events after it); a part is
//!   at most [`MAX_MESSAGE_BYTES`] (a larger batch is split).
//! - **A hole is said, not skipped.** A reader that finds a tick missing (the one case: a
//!   replica restored from a snapshot at exactly the tick its predecessor died without
//!   publishing) returns [`LogError::Trimmed`]; the gateway then rebuilds from a snapshot.

use std::time::Duration;

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::{Ordered, OrderedConfig};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{self, LastRawMessageErrorKind, StorageType};
use async_nats::jetstream::{self, Context};
use futures_util::StreamExt as _;

use crate::log::{DEDUPLICATION_WINDOW, LOG_TIMEOUT, LogError, MAX_MESSAGE_BYTES};
use crate::message::EventBatch;

/// How long a partition's events are kept.
pub const EVENTS_MAX_AGE: Duration = Duration::from_secs(15 * 60);

fn server(what: &str, error: impl std::fmt::Display) -> LogError {
    LogError::Server(format!("{what}: {error}"))
}

/// Where a partition's leader publishes each committed tick's events.
pub fn events_subject(partition: &str) -> String {
    format!("mw.{partition}.events")
}

/// A partition's events stream.
#[derive(Clone)]
pub struct PartitionEvents {
    jetstream: Context,
    stream: stream::Stream,
    partition: String,
}

impl PartitionEvents {
    /// The events stream of `partition`, created if it does not exist yet.
    pub async fn open(client: async_nats::Client, partition: &str) -> Result<Self, LogError> {
        crate::log::check_partition_name(partition)?;
        let jetstream = jetstream::new(client);
        let config = stream::Config {
            name: format!("MW_{partition}_EVENTS"),
            subjects: vec![events_subject(partition)],
            storage: StorageType::File,
            duplicate_window: DEDUPLICATION_WINDOW,
            max_age: EVENTS_MAX_AGE,
            max_message_size: MAX_MESSAGE_BYTES as i32,
            ..Default::default()
        };
        let stream = tokio::time::timeout(LOG_TIMEOUT, jetstream.get_or_create_stream(config))
            .await
            .map_err(|_| server("creating the events stream", "timed out"))?
            .map_err(|error| server("creating the events stream", error))?;
        Ok(Self {
            jetstream,
            stream,
            partition: partition.to_owned(),
        })
    }

    /// Publishes a tick's batch (in parts if it is larger than a message), all parts sent
    /// before their acknowledgements are awaited; returns once the stream holds them.
    pub async fn publish(&self, batch: EventBatch) -> Result<(), LogError> {
        let tick = batch.tick;
        let published = async {
            let mut acks = Vec::new();
            for part in batch.into_parts(MAX_MESSAGE_BYTES - 1024) {
                let message = PublishMessage::build()
                    .payload(part.encode().into())
                    .message_id(format!("{tick}.{}", part.part));
                let ack = self
                    .jetstream
                    .send_publish(events_subject(&self.partition), message)
                    .await
                    .map_err(|error| server("publishing events", error))?;
                acks.push(ack);
            }
            for ack in acks {
                ack.await
                    .map_err(|error| server("publishing events", error))?;
            }
            Ok(())
        };
        tokio::time::timeout(LOG_TIMEOUT, published)
            .await
            .map_err(|_| server("publishing events", "timed out"))?
    }

    /// The stream's first and last sequences (0, 0 when it holds nothing).
    async fn bounds(&self) -> Result<(u64, u64), LogError> {
        let mut stream = self.stream.clone();
        let info = tokio::time::timeout(LOG_TIMEOUT, stream.info())
            .await
            .map_err(|_| server("reading the events stream", "timed out"))?
            .map_err(|error| server("reading the events stream", error))?;
        if info.state.messages == 0 {
            return Ok((0, 0));
        }
        Ok((info.state.first_sequence, info.state.last_sequence))
    }

    /// The tick of the message at `seq` (from its message id), if the stream holds it.
    async fn tick_at(&self, seq: u64) -> Result<Option<u64>, LogError> {
        let got = tokio::time::timeout(LOG_TIMEOUT, self.stream.get_raw_message(seq))
            .await
            .map_err(|_| server("reading the events stream", "timed out"))?;
        let Ok(message) = got else {
            return Ok(None);
        };
        let tick = message
            .headers
            .get("Nats-Msg-Id")
            .and_then(|id| id.as_str().split('.').next()?.parse().ok());
        Ok(tick)
    }

    /// The first sequence whose tick is after `tick` (a binary search over the message ids;
    /// the stream is in tick order), or the one after the last when there is none.
    async fn first_after(&self, tick: u64) -> Result<u64, LogError> {
        let (first, last) = self.bounds().await?;
        if last == 0 {
            return Ok(1);
        }
        let (mut low, mut high) = (first, last + 1);
        while low < high {
            let middle = low + (high - low) / 2;
            match self.tick_at(middle).await? {
                Some(found) if found <= tick => low = middle + 1,
                _ => high = middle,
            }
        }
        Ok(low)
    }

    /// The last tick whose events the stream holds (0: none).
    pub async fn last_tick(&self) -> Result<u64, LogError> {
        let last = tokio::time::timeout(
            LOG_TIMEOUT,
            self.stream
                .get_last_raw_message_by_subject(&events_subject(&self.partition)),
        )
        .await
        .map_err(|_| server("reading the last events", "timed out"))?;
        match last {
            Ok(message) => EventBatch::decode(&message.payload)
                .map(|batch| batch.tick)
                .map_err(LogError::Refused),
            Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(0),
            Err(error) => Err(server("reading the last events", error)),
        }
    }

    /// Reads the batches of the ticks after `tick`, in order, waiting for new ones.
    pub async fn read_after(&self, tick: u64) -> Result<EventsReader, LogError> {
        let start = self.first_after(tick).await?;
        let config = OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: start,
            },
            ..Default::default()
        };
        let consumer = tokio::time::timeout(LOG_TIMEOUT, self.stream.create_consumer(config))
            .await
            .map_err(|_| server("reading the events", "timed out"))?
            .map_err(|error| server("reading the events", error))?;
        let messages = tokio::time::timeout(LOG_TIMEOUT, consumer.messages())
            .await
            .map_err(|_| server("reading the events", "timed out"))?
            .map_err(|error| server("reading the events", error))?;
        Ok(EventsReader {
            messages,
            next: Next {
                tick: tick + 1,
                part: 0,
            },
        })
    }
}

/// Where a reader of a partition's events is (a gateway's view, a recorder): reopened, a
/// reader starts at the tick after `complete`, and the parts of a partly read tick come again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// The last tick whose every part has been taken.
    pub complete: u64,
    /// The last part taken of the tick after it, if only some of its parts have been.
    pub partial: Option<(u64, u32)>,
}

impl Position {
    /// At the end of `tick`.
    pub fn after(tick: u64) -> Self {
        Self {
            complete: tick,
            partial: None,
        }
    }

    /// Just after part `part` of `tick` (`last`: the tick's last part).
    pub fn after_part(tick: u64, part: u32, last: bool) -> Self {
        if last {
            Self::after(tick)
        } else {
            Self {
                complete: tick.saturating_sub(1),
                partial: Some((tick, part)),
            }
        }
    }

    /// Whether `batch` was taken already.
    pub fn has_read(&self, batch: &EventBatch) -> bool {
        batch.tick <= self.complete
            || self
                .partial
                .is_some_and(|partial| (batch.tick, batch.part) <= partial)
    }

    /// Takes `batch` (the next part).
    pub fn read(&mut self, batch: &EventBatch) {
        if batch.last {
            *self = Self::after(batch.tick);
        } else {
            self.partial = Some((batch.tick, batch.part));
        }
    }
}

/// The part a reader reads next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Next {
    tick: u64,
    part: u32,
}

/// A partition's batches in order: each tick's parts once, from the tick asked for on.
pub struct EventsReader {
    messages: Ordered,
    next: Next,
}

impl EventsReader {
    /// The next part (waits for one); `None` when the reader has ended. A part read already
    /// is skipped; a missing tick or part is [`LogError::Trimmed`].
    pub async fn next(&mut self) -> Option<Result<EventBatch, LogError>> {
        loop {
            let message = match self.messages.next().await? {
                Ok(message) => message,
                Err(error) => return Some(Err(server("reading the events", error))),
            };
            let batch = match EventBatch::decode(&message.payload) {
                Ok(batch) => batch,
                Err(error) => return Some(Err(LogError::Refused(error))),
            };
            match self.place(&batch) {
                Placed::Old => continue,
                Placed::Hole => {
                    return Some(Err(LogError::Trimmed {
                        expected: self.next.tick,
                        got: batch.tick,
                    }));
                }
                Placed::Next => {
                    self.next = if batch.last {
                        Next {
                            tick: batch.tick + 1,
                            part: 0,
                        }
                    } else {
                        Next {
                            tick: batch.tick,
                            part: batch.part + 1,
                        }
                    };
                    return Some(Ok(batch));
                }
            }
        }
    }

    fn place(&self, batch: &EventBatch) -> Placed {
        place(self.next, batch)
    }
}

/// Where `batch` stands against the part a reader expects next.
fn place(next: Next, batch: &EventBatch) -> Placed {
    let at = (batch.tick, batch.part);
    match at.cmp(&(next.tick, next.part)) {
        std::cmp::Ordering::Less => Placed::Old,
        std::cmp::Ordering::Equal => Placed::Next,
        std::cmp::Ordering::Greater => Placed::Hole,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Placed {
    Old,
    Next,
    Hole,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(tick: u64, part: u32) -> EventBatch {
        EventBatch::empty("p", tick, part, false)
    }

    #[test]
    fn a_reader_opened_again_skips_the_parts_it_took() {
        let part = |tick, part, last| EventBatch::empty("p", tick, part, last);
        let mut at = Position::after(4);
        assert!(at.has_read(&part(4, 0, true)));
        assert!(!at.has_read(&part(5, 0, false)));
        at.read(&part(5, 0, false));
        at.read(&part(5, 1, false));
        // Opened again from tick 4: tick 5's first parts come again.
        assert!(at.has_read(&part(5, 0, false)));
        assert!(at.has_read(&part(5, 1, false)));
        assert!(!at.has_read(&part(5, 2, true)));
        assert_eq!(at, Position::after_part(5, 1, false));
        at.read(&part(5, 2, true));
        assert_eq!(at, Position::after(5));
        assert_eq!(Position::after_part(5, 2, true), Position::after(5));
        assert!(at.has_read(&part(5, 2, true)));
        assert!(!at.has_read(&part(6, 0, true)));
    }

    #[test]
    fn a_reader_takes_the_next_part_skips_repeats_and_names_a_hole() {
        let next = Next { tick: 5, part: 1 };
        assert_eq!(place(next, &part(5, 1)), Placed::Next);
        assert_eq!(place(next, &part(5, 0)), Placed::Old, "a repeat");
        assert_eq!(place(next, &part(4, 3)), Placed::Old, "a republished tick");
        assert_eq!(place(next, &part(5, 2)), Placed::Hole, "a part missing");
        assert_eq!(
            place(next, &part(6, 0)),
            Placed::Hole,
            "the rest of tick 5 missing"
        );
    }
}
