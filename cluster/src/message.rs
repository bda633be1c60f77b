//! What a partition's log holds, and what its leader publishes besides: one type per message,
//! each encoded through `matchwright_ecs::codec` (its format version byte first), so that the
//! log is read with the same decoder as the journal and traces.
//!
//! - A command message: one `Command`, as a gateway (or a test) appended it.
//! - A tick message: the leader's [`TickMessage`]: the tick's `TickRecord` (time, the commands
//!   it applied, its event count and hash), the log sequence of each of those commands, the
//!   enqueues it refused before running (another partition's queue, a player claimed by
//!   another partition: [`Refusal`]), and how far it consumed the log's commands. A partition's state is the fold of its tick
//!   messages with `TickRecord::apply`, the one function the journal, recovery and traces use.
//! - An event batch: the events of one committed tick and the outcome of each command it
//!   consumed, published on the partition's events stream for gateways (not in the log: they
//!   are the log's function).

use matchwright_ecs::{Command, Event, PlayerId, RejectReason, TickRecord, codec};
use serde::{Deserialize, Serialize};

/// The leader's record of one tick, appended to the log after the tick ran.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TickMessage {
    /// The tick: its number, time, commands (in the order applied), event count and hash.
    pub record: TickRecord,
    /// The log sequence of each command of `record.commands`, in the same order.
    pub command_seqs: Vec<u64>,
    /// Every command message of the log up to this sequence has been applied by this tick or
    /// an earlier one; the next tick starts after it.
    pub commands_through: u64,
    /// The commands it consumed without applying them, in log order (none of
    /// `command_seqs`).
    pub refused: Vec<Refused>,
    /// The replica that ran the tick (for operators and tests; not part of the state).
    pub leader: String,
}

/// A command a leader consumed without running it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Refused {
    /// Its log sequence.
    pub seq: u64,
    /// Why.
    pub reason: Refusal,
}

/// Why a leader refused an enqueue before its tick.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Refusal {
    /// The ticket's queue is run by another partition (or by none).
    WrongPartition {
        /// The queue.
        queue: String,
        /// The partition that runs it, if any.
        partition: Option<String>,
    },
    /// A player of the ticket holds a ticket in another partition.
    PlayerElsewhere {
        /// The player.
        player: PlayerId,
        /// The partition holding them.
        partition: String,
    },
    /// The claims could not be read or written (NATS unreachable): retry.
    ClaimsUnavailable {
        /// What failed.
        detail: String,
    },
}

impl Refusal {
    /// Its kind, for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::WrongPartition { .. } => "wrong_partition",
            Self::PlayerElsewhere { .. } => "player_elsewhere",
            Self::ClaimsUnavailable { .. } => "claims_unavailable",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::WrongPartition {
                queue,
                partition: Some(partition),
            } => write!(f, "queue `{queue}` is run by partition `{partition}`"),
            Self::WrongPartition {
                queue,
                partition: None,
            } => write!(f, "no partition runs queue `{queue}`"),
            Self::PlayerElsewhere { player, partition } => write!(
                f,
                "player {} already has a ticket or a match in partition `{partition}`",
                player.0
            ),
            Self::ClaimsUnavailable { detail } => {
                write!(f, "the one-ticket claims are unavailable: {detail}")
            }
        }
    }
}

/// The events of one committed tick, and what became of each command it consumed, as the
/// leader publishes them for gateways (`events`). A tick whose batch is larger than a message
/// is published in parts (`part` 0, 1, ...; the last has `last` set), each with a share of the
/// events, in order, and of the outcomes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventBatch {
    /// The partition.
    pub partition: String,
    /// The tick that emitted them.
    pub tick: u64,
    /// The tick's time (what rows recorded from it say).
    pub now_ms: u64,
    /// This part's place in the tick's batch, from 0.
    pub part: u32,
    /// Whether it is the tick's last part.
    pub last: bool,
    /// Every command message up to this log sequence has its outcome in this tick's batch or
    /// an earlier one.
    pub commands_through: u64,
    /// The log sequences of the commands the tick applied (those not in `rejected` took
    /// effect).
    pub applied: Vec<u64>,
    /// The applied commands the matcher rejected: log sequence and reason.
    pub rejected: Vec<(u64, RejectReason)>,
    /// The commands the leader refused before the tick.
    pub refused: Vec<Refused>,
    /// Its events, in order.
    pub events: Vec<Event>,
}

/// A message of the log that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadMessage {
    /// Its log sequence.
    pub seq: u64,
    /// What was wrong.
    pub detail: String,
}

impl std::fmt::Display for BadMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "log message {}: {}", self.seq, self.detail)
    }
}

impl std::error::Error for BadMessage {}

/// Encodes a command for the log.
pub fn encode_command(command: &Command) -> Vec<u8> {
    codec::encode(command)
}

/// Decodes a command message.
pub fn decode_command(seq: u64, bytes: &[u8]) -> Result<Command, BadMessage> {
    codec::decode(bytes).map_err(|error| BadMessage {
        seq,
        detail: format!("not a command: {error}"),
    })
}

impl TickMessage {
    /// Encodes it for the log.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes a tick message, checking that its commands and their sequences pair up and
    /// that every sequence is at most `commands_through` and increasing.
    pub fn decode(seq: u64, bytes: &[u8]) -> Result<Self, BadMessage> {
        let message: Self = codec::decode(bytes).map_err(|error| BadMessage {
            seq,
            detail: format!("not a tick message: {error}"),
        })?;
        let bad = |detail: String| BadMessage { seq, detail };
        if message.command_seqs.len() != message.record.commands.len() {
            return Err(bad(format!(
                "tick {} has {} commands but {} command sequences",
                message.record.tick,
                message.record.commands.len(),
                message.command_seqs.len()
            )));
        }
        let increasing = message
            .command_seqs
            .windows(2)
            .all(|pair| pair[0] < pair[1]);
        let within = message
            .command_seqs
            .last()
            .is_none_or(|last| *last <= message.commands_through);
        if !increasing || !within {
            return Err(bad(format!(
                "tick {}'s command sequences are not increasing up to {}",
                message.record.tick, message.commands_through
            )));
        }
        let refused_increasing = message
            .refused
            .windows(2)
            .all(|pair| pair[0].seq < pair[1].seq);
        let refused_within = message
            .refused
            .last()
            .is_none_or(|last| last.seq <= message.commands_through);
        let disjoint = message
            .refused
            .iter()
            .all(|refused| message.command_seqs.binary_search(&refused.seq).is_err());
        if !refused_increasing || !refused_within || !disjoint {
            return Err(bad(format!(
                "tick {}'s refused commands are not increasing up to {} apart from its applied ones",
                message.record.tick, message.commands_through
            )));
        }
        Ok(message)
    }
}

impl EventBatch {
    /// A part of a tick's batch with no events or outcomes (a quiet tick's, or a test's).
    pub fn empty(partition: &str, tick: u64, part: u32, last: bool) -> Self {
        Self {
            partition: partition.to_owned(),
            tick,
            now_ms: 0,
            part,
            last,
            commands_through: 0,
            applied: Vec::new(),
            rejected: Vec::new(),
            refused: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Encodes it for the events stream.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes an event batch.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        codec::decode(bytes).map_err(|error| format!("not an event batch: {error}"))
    }

    /// The batch as parts of at most `max_bytes` encoded each (halving the events and the
    /// outcomes until each part fits; one event larger than the bound is a part of its own,
    /// which the stream then refuses). Parts are numbered from 0 and the last is marked.
    pub fn into_parts(self, max_bytes: usize) -> Vec<Self> {
        let mut parts = Vec::new();
        split_into(self, max_bytes, &mut parts);
        let count = parts.len();
        for (index, part) in parts.iter_mut().enumerate() {
            part.part = index as u32;
            part.last = index + 1 == count;
        }
        parts
    }

    fn items(&self) -> usize {
        self.events.len() + self.applied.len() + self.rejected.len() + self.refused.len()
    }

    /// Splits off the second half of its events and outcomes (each list halved).
    fn split_off_half(&mut self) -> Self {
        Self {
            partition: self.partition.clone(),
            tick: self.tick,
            now_ms: self.now_ms,
            part: 0,
            last: false,
            commands_through: self.commands_through,
            applied: self.applied.split_off(self.applied.len() / 2),
            rejected: self.rejected.split_off(self.rejected.len() / 2),
            refused: self.refused.split_off(self.refused.len() / 2),
            events: self.events.split_off(self.events.len() / 2),
        }
    }
}

fn split_into(mut batch: EventBatch, max_bytes: usize, parts: &mut Vec<EventBatch>) {
    if batch.items() <= 1 || batch.encode().len() <= max_bytes {
        parts.push(batch);
        return;
    }
    let second = batch.split_off_half();
    split_into(batch, max_bytes, parts);
    split_into(second, max_bytes, parts);
}

#[cfg(test)]
mod tests {
    use super::*;
    use matchwright_ecs::{EnqueueTicket, PlayerId, Rating, TicketId};

    fn message(seqs: Vec<u64>, through: u64) -> TickMessage {
        let commands = seqs
            .iter()
            .map(|seq| {
                Command::Enqueue(EnqueueTicket::solo(
                    TicketId(*seq),
                    "duel-1v1",
                    PlayerId(*seq),
                    Rating::new(1500.0, 100.0),
                    vec![30],
                ))
            })
            .collect();
        TickMessage {
            record: TickRecord::of(1, 100, commands, &[]),
            command_seqs: seqs,
            commands_through: through,
            refused: Vec::new(),
            leader: "a".into(),
        }
    }

    #[test]
    fn a_tick_message_round_trips() {
        let sent = message(vec![1, 2, 5], 5);
        assert_eq!(TickMessage::decode(9, &sent.encode()), Ok(sent));
    }

    #[test]
    fn a_tick_message_whose_sequences_do_not_pair_up_is_refused() {
        let mut sent = message(vec![1, 2], 5);
        sent.command_seqs.pop();
        let error = TickMessage::decode(9, &sent.encode()).unwrap_err();
        assert!(error.detail.contains("1 command sequences"), "{error}");
        let beyond = message(vec![1, 7], 5);
        assert!(TickMessage::decode(9, &beyond.encode()).is_err());
        let backwards = message(vec![3, 2], 5);
        assert!(TickMessage::decode(9, &backwards.encode()).is_err());
    }

    #[test]
    fn refused_commands_round_trip_and_must_be_apart_from_applied_ones() {
        let refused = |seq| Refused {
            seq,
            reason: Refusal::PlayerElsewhere {
                player: PlayerId(seq),
                partition: "b".into(),
            },
        };
        let mut sent = message(vec![1, 3], 5);
        sent.refused = vec![refused(2), refused(4)];
        assert_eq!(TickMessage::decode(9, &sent.encode()), Ok(sent.clone()));
        sent.refused = vec![refused(3)];
        let error = TickMessage::decode(9, &sent.encode()).unwrap_err();
        assert!(error.detail.contains("refused"), "{error}");
        sent.refused = vec![refused(6)];
        assert!(
            TickMessage::decode(9, &sent.encode()).is_err(),
            "beyond commands_through"
        );
        sent.refused = vec![refused(4), refused(2)];
        assert!(TickMessage::decode(9, &sent.encode()).is_err(), "backwards");
    }

    #[test]
    fn a_large_batch_is_split_into_parts_that_fit_and_keep_every_item_in_order() {
        let events: Vec<Event> = (1..=4_000)
            .map(|id| Event::Rejected {
                seq: matchwright_ecs::CommandSeq(id),
                reason: RejectReason::UnknownQueue {
                    queue: format!("queue-{id}-{}", "x".repeat(200)),
                },
            })
            .collect();
        let batch = EventBatch {
            partition: "p1".into(),
            tick: 7,
            now_ms: 1_000,
            part: 0,
            last: true,
            commands_through: 9_000,
            applied: (1..=4_000).collect(),
            rejected: (1..=10)
                .map(|seq| (seq, RejectReason::EmptyTicket))
                .collect(),
            refused: Vec::new(),
            events: events.clone(),
        };
        let whole = batch.encode().len();
        let parts = batch.into_parts(100_000);
        assert!(
            parts.len() >= whole / 100_000,
            "{} parts for {whole} bytes",
            parts.len()
        );
        for (index, part) in parts.iter().enumerate() {
            assert!(part.encode().len() <= 100_000);
            assert_eq!(part.part as usize, index);
            assert_eq!(part.last, index + 1 == parts.len());
            assert_eq!((part.tick, part.commands_through), (7, 9_000));
            assert_eq!(EventBatch::decode(&part.encode()).as_ref(), Ok(part));
        }
        let rejoined: Vec<Event> = parts.iter().flat_map(|p| p.events.clone()).collect();
        assert_eq!(rejoined, events);
        let applied: Vec<u64> = parts.iter().flat_map(|p| p.applied.clone()).collect();
        assert_eq!(applied, (1..=4_000).collect::<Vec<u64>>());
        assert_eq!(parts.iter().map(|p| p.rejected.len()).sum::<usize>(), 10);
        let small = EventBatch {
            events: Vec::new(),
            applied: vec![1],
            rejected: Vec::new(),
            ..parts[0].clone()
        };
        let one = small.into_parts(100_000);
        assert_eq!(one.len(), 1);
        assert!(one[0].last && one[0].part == 0);
    }

    #[test]
    fn garbage_is_a_clear_error_not_a_panic() {
        let error = TickMessage::decode(4, b"\x02garbage").unwrap_err();
        assert_eq!(error.seq, 4);
        assert!(decode_command(5, &[]).is_err());
        assert!(EventBatch::decode(&[0xff, 1, 2]).is_err());
    }
}
