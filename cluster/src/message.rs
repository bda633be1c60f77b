//! What a partition's log holds, and what its leader publishes besides: one type per message,
//! each encoded through `matchwright_ecs::codec` (its format version byte first), so that the
//! log is read with the same decoder as the journal and traces.
//!
//! - A command message: one `Command`, as a gateway (or a test) appended it.
//! - A tick message: the leader's [`TickMessage`]: the tick's `TickRecord` (time, the commands
//!   it applied, its event count and hash), the log sequence of each of those commands, and
//!   how far it consumed the log's commands. A partition's state is the fold of its tick
//!   messages with `TickRecord::apply`, the one function the journal, recovery and traces use.
//! - An event batch: the events of one committed tick, published on the partition's events
//!   subject (not in the log: they are the log's function).

use matchwright_ecs::{Command, Event, TickRecord, codec};
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
    /// The replica that ran the tick (for operators and tests; not part of the state).
    pub leader: String,
}

/// The events of one committed tick, as the leader publishes them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventBatch {
    /// The partition.
    pub partition: String,
    /// The tick that emitted them.
    pub tick: u64,
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
        Ok(message)
    }
}

impl EventBatch {
    /// Encodes it for the events subject.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes an event batch.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        codec::decode(bytes).map_err(|error| format!("not an event batch: {error}"))
    }
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
    fn garbage_is_a_clear_error_not_a_panic() {
        let error = TickMessage::decode(4, b"\x02garbage").unwrap_err();
        assert_eq!(error.seq, 4);
        assert!(decode_command(5, &[]).is_err());
        assert!(EventBatch::decode(&[0xff, 1, 2]).is_err());
    }
}
