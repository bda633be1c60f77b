//! A partition's log: one JetStream stream, `MW_<partition>`, holding the commands gateways
//! append (`mw.<partition>.cmd`, de-duplicated by message id within the stream's window) and
//! the tick messages its leader appends (`mw.<partition>.tick`). A tick is appended only with
//! the expected last sequence of the tick subject (`Nats-Expected-Last-Subject-Sequence`), so
//! a leader that missed another's tick (a deposed one) can never write: its append fails and
//! it steps down. (Each committed tick's events go to a stream of their own: `events`.)
//!
//! Everything that waits on the server has a timeout (the client's request timeout, and
//! [`LOG_TIMEOUT`] around what has none); a message is bounded by [`MAX_MESSAGE_BYTES`].

use std::time::Duration;

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::{Ordered, OrderedConfig};
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{self, LastRawMessageErrorKind, StorageType};
use async_nats::jetstream::{self, Context};
use futures_util::StreamExt as _;
use matchwright_ecs::Command;

use crate::message::{BadMessage, TickMessage, decode_command, encode_command};

/// The longest a message of the log may be (the server's default `max_payload` is 1 MiB); a
/// leader ends a tick's batch of commands before its message would pass it.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// The longest command a gateway may append: one command always fits a tick message.
pub const MAX_COMMAND_BYTES: usize = MAX_MESSAGE_BYTES - crate::replica::TICK_OVERHEAD_BYTES;

/// The most commands [`PartitionLog::append_commands`] sends at once.
pub const MAX_APPEND_BATCH: usize = 1024;

/// How long a log request may wait for the server.
pub const LOG_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the stream remembers a command's message id to drop a repeat.
pub const DEDUPLICATION_WINDOW: Duration = Duration::from_secs(120);

/// Why the log could not be used.
#[derive(Debug)]
pub enum LogError {
    /// The partition's name cannot name a stream.
    BadPartition(String),
    /// A name given (a replica's) is not usable.
    BadName(String),
    /// A command the log does not take (too large).
    Refused(String),
    /// The server could not be reached or refused the request.
    Server(String),
    /// A message of the log does not decode.
    Bad(BadMessage),
    /// The log skipped from one sequence to a later one: the messages between were trimmed
    /// (behind a snapshot) before this reader read them. Start over from the newest snapshot.
    Trimmed {
        /// The sequence expected next.
        expected: u64,
        /// The sequence read.
        got: u64,
    },
}

impl std::fmt::Display for LogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadPartition(name) => write!(
                f,
                "partition name `{name}`: use 1 to 64 letters, digits, `-` or `_`"
            ),
            Self::BadName(detail) | Self::Refused(detail) => f.write_str(detail),
            Self::Server(detail) => write!(f, "the log's NATS server: {detail}"),
            Self::Bad(bad) => write!(f, "{bad}"),
            Self::Trimmed { expected, got } => write!(
                f,
                "the log was trimmed behind this reader: it expected message {expected} and got {got}"
            ),
        }
    }
}

impl std::error::Error for LogError {}

fn server(what: &str, error: impl std::fmt::Display) -> LogError {
    LogError::Server(format!("{what}: {error}"))
}

/// Why a tick could not be appended.
#[derive(Debug)]
pub enum AppendError {
    /// Another tick was appended since the one expected: this leader is deposed.
    Deposed,
    /// The message is larger than [`MAX_MESSAGE_BYTES`].
    TooLarge(usize),
    /// The server could not be reached or refused it.
    Log(LogError),
}

impl std::fmt::Display for AppendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Deposed => f.write_str("another leader appended a tick: this one is deposed"),
            Self::TooLarge(bytes) => write!(
                f,
                "a tick message of {bytes} bytes is above the log's bound of {MAX_MESSAGE_BYTES}"
            ),
            Self::Log(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for AppendError {}

/// One message of the log, decoded.
#[derive(Clone, Debug, PartialEq)]
pub enum LogItem {
    /// A command a gateway appended.
    Command {
        /// Its log sequence.
        seq: u64,
        /// The command, or why it does not decode: every replica skips such a message alike
        /// (a tick consumes it without applying it), so one bad message cannot stop a
        /// partition.
        command: Result<Command, BadMessage>,
        /// Its encoded size.
        bytes: usize,
    },
    /// A tick the leader appended.
    Tick {
        /// Its log sequence.
        seq: u64,
        /// The tick.
        message: TickMessage,
    },
}

/// A partition's log.
#[derive(Clone, Debug)]
pub struct PartitionLog {
    jetstream: Context,
    stream: stream::Stream,
    partition: String,
}

/// Whether a partition name can name a stream and subjects.
pub fn check_partition_name(name: &str) -> Result<(), LogError> {
    let fits = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if fits {
        Ok(())
    } else {
        Err(LogError::BadPartition(name.to_owned()))
    }
}

impl PartitionLog {
    /// The log of `partition`, creating its stream if it does not exist yet.
    pub async fn open(client: async_nats::Client, partition: &str) -> Result<Self, LogError> {
        check_partition_name(partition)?;
        let jetstream = jetstream::new(client);
        let config = stream::Config {
            name: format!("MW_{partition}"),
            subjects: vec![command_subject(partition), tick_subject(partition)],
            storage: StorageType::File,
            duplicate_window: DEDUPLICATION_WINDOW,
            max_message_size: MAX_MESSAGE_BYTES as i32,
            ..Default::default()
        };
        let stream = tokio::time::timeout(LOG_TIMEOUT, jetstream.get_or_create_stream(config))
            .await
            .map_err(|_| server("creating the stream", "timed out"))?
            .map_err(|error| server("creating the stream", error))?;
        Ok(Self {
            jetstream,
            stream,
            partition: partition.to_owned(),
        })
    }

    /// The partition's name.
    pub fn partition(&self) -> &str {
        &self.partition
    }

    /// Appends a command under a message id (a repeat of an id within
    /// [`DEDUPLICATION_WINDOW`] is dropped and answered with the first one's sequence).
    /// Returns its log sequence: from then on it is durable and will be applied by a tick.
    pub async fn append_command(&self, command: &Command, id: &str) -> Result<u64, LogError> {
        let seqs = self
            .append_commands(&[(command.clone(), id.to_owned())])
            .await?;
        seqs.first()
            .copied()
            .ok_or_else(|| server("appending a command", "no acknowledgement"))
    }

    /// Appends commands under their message ids, all sent before any acknowledgement is
    /// awaited (one round trip for the batch, not one per command); at most
    /// [`MAX_APPEND_BATCH`] at once. Returns their log sequences, in order.
    pub async fn append_commands(&self, batch: &[(Command, String)]) -> Result<Vec<u64>, LogError> {
        if batch.len() > MAX_APPEND_BATCH {
            return Err(LogError::Refused(format!(
                "a batch of {} commands is above the bound of {MAX_APPEND_BATCH}",
                batch.len()
            )));
        }
        let appended = async {
            let mut acks = Vec::with_capacity(batch.len());
            for (command, id) in batch {
                let payload = encode_command(command);
                if payload.len() > MAX_COMMAND_BYTES {
                    return Err(LogError::Refused(format!(
                        "a command of {} bytes is above the log's bound of {MAX_COMMAND_BYTES}",
                        payload.len()
                    )));
                }
                let message = PublishMessage::build()
                    .payload(payload.into())
                    .message_id(id);
                let ack = self
                    .jetstream
                    .send_publish(command_subject(&self.partition), message)
                    .await
                    .map_err(|error| server("appending a command", error))?;
                acks.push(ack);
            }
            let mut seqs = Vec::with_capacity(acks.len());
            for ack in acks {
                let ack = ack
                    .await
                    .map_err(|error| server("appending a command", error))?;
                seqs.push(ack.sequence);
            }
            Ok(seqs)
        };
        tokio::time::timeout(LOG_TIMEOUT, appended)
            .await
            .map_err(|_| server("appending commands", "timed out"))?
    }

    /// Appends a tick, expecting the last tick of the log to be at `after_tick_seq` (0: none
    /// yet). Returns the tick's log sequence.
    pub async fn append_tick(
        &self,
        message: &TickMessage,
        after_tick_seq: u64,
    ) -> Result<u64, AppendError> {
        let payload = message.encode();
        if payload.len() > MAX_MESSAGE_BYTES {
            return Err(AppendError::TooLarge(payload.len()));
        }
        let publish = PublishMessage::build()
            .payload(payload.into())
            .expected_last_subject_sequence(after_tick_seq);
        let appended = async {
            let ack = self
                .jetstream
                .send_publish(tick_subject(&self.partition), publish)
                .await
                .map_err(|error| AppendError::Log(server("appending a tick", error)))?;
            Ok(ack.await)
        };
        let acked = tokio::time::timeout(LOG_TIMEOUT, appended)
            .await
            .map_err(|_| AppendError::Log(server("appending a tick", "timed out")))??;
        match acked {
            Ok(ack) => Ok(ack.sequence),
            Err(error) if error.kind() == PublishErrorKind::WrongLastSequence => {
                Err(AppendError::Deposed)
            }
            Err(error) => Err(AppendError::Log(server("appending a tick", error))),
        }
    }

    /// The log sequence of the last tick appended (0: none yet).
    pub async fn last_tick_seq(&self) -> Result<u64, LogError> {
        Ok(self.last_tick().await?.map_or(0, |(seq, _)| seq))
    }

    /// The last tick appended and its log sequence, if any.
    pub async fn last_tick(&self) -> Result<Option<(u64, TickMessage)>, LogError> {
        let last = tokio::time::timeout(
            LOG_TIMEOUT,
            self.stream
                .get_last_raw_message_by_subject(&tick_subject(&self.partition)),
        )
        .await
        .map_err(|_| server("reading the last tick", "timed out"))?;
        match last {
            Ok(message) => TickMessage::decode(message.sequence, &message.payload)
                .map(|tick| Some((message.sequence, tick)))
                .map_err(LogError::Bad),
            Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(error) => Err(server("reading the last tick", error)),
        }
    }

    /// The first sequence the log still holds (1 until it is trimmed).
    pub async fn first_seq(&self) -> Result<u64, LogError> {
        let mut stream = self.stream.clone();
        let info = tokio::time::timeout(LOG_TIMEOUT, stream.info())
            .await
            .map_err(|_| server("reading the stream's state", "timed out"))?
            .map_err(|error| server("reading the stream's state", error))?;
        Ok(info.state.first_sequence)
    }

    /// Deletes the log's messages before sequence `seq` (behind a snapshot).
    pub async fn trim_below(&self, seq: u64) -> Result<(), LogError> {
        if seq <= 1 {
            return Ok(());
        }
        tokio::time::timeout(LOG_TIMEOUT, self.stream.purge().sequence(seq))
            .await
            .map_err(|_| server("trimming the log", "timed out"))?
            .map_err(|error| server("trimming the log", error))?;
        Ok(())
    }

    /// Reads the log in order from sequence `from` (1: the beginning).
    pub async fn read_from(&self, from: u64) -> Result<LogReader, LogError> {
        let config = OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: from.max(1),
            },
            ..Default::default()
        };
        let consumer = tokio::time::timeout(LOG_TIMEOUT, self.stream.create_consumer(config))
            .await
            .map_err(|_| server("reading the log", "timed out"))?
            .map_err(|error| server("reading the log", error))?;
        let messages = tokio::time::timeout(LOG_TIMEOUT, consumer.messages())
            .await
            .map_err(|_| server("reading the log", "timed out"))?
            .map_err(|error| server("reading the log", error))?;
        Ok(LogReader {
            messages,
            tick_subject: tick_subject(&self.partition),
            next_seq: from.max(1),
            behind: 0,
        })
    }
}

/// The log, read in order. The stream has no limits and is only ever trimmed from its
/// start, so its sequences are contiguous: a reader that sees one skipped was overtaken by a
/// trim, and says so ([`LogError::Trimmed`]) rather than read on past the hole.
pub struct LogReader {
    messages: Ordered,
    tick_subject: String,
    next_seq: u64,
    behind: u64,
}

impl LogReader {
    /// How many messages the log held after the last one read, when it was delivered.
    pub fn behind(&self) -> u64 {
        self.behind
    }

    /// The next message (waits for one to be appended); `None` when the reader has ended.
    pub async fn next(&mut self) -> Option<Result<LogItem, LogError>> {
        let message = match self.messages.next().await? {
            Ok(message) => message,
            Err(error) => return Some(Err(server("reading the log", error))),
        };
        let seq = match message.info() {
            Ok(info) => {
                self.behind = info.pending;
                info.stream_sequence
            }
            Err(error) => return Some(Err(server("reading the log", error))),
        };
        if seq != self.next_seq {
            return Some(Err(LogError::Trimmed {
                expected: self.next_seq,
                got: seq,
            }));
        }
        self.next_seq = seq + 1;
        if message.subject.as_str() != self.tick_subject {
            return Some(Ok(LogItem::Command {
                seq,
                command: decode_command(seq, &message.payload),
                bytes: message.payload.len(),
            }));
        }
        let tick = TickMessage::decode(seq, &message.payload);
        Some(
            tick.map(|message| LogItem::Tick { seq, message })
                .map_err(LogError::Bad),
        )
    }
}

/// Where gateways append a partition's commands.
pub fn command_subject(partition: &str) -> String {
    format!("mw.{partition}.cmd")
}

/// Where a partition's leader appends its ticks.
pub fn tick_subject(partition: &str) -> String {
    format!("mw.{partition}.tick")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_are_checked() {
        assert!(check_partition_name("eu-west_1").is_ok());
        for bad in ["", "a.b", "a b", "a*", "a>", &"x".repeat(65)] {
            let error = check_partition_name(bad).unwrap_err();
            assert!(error.to_string().contains("partition name"), "{error}");
        }
    }
}
