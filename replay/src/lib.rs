//! # matchwright-replay: the trace format
//!
//! A trace is the matcher's whole input, tick by tick, with a hash of what it answered: enough
//! to re-run the core and check it still answers the same, byte for byte. The simulator writes
//! traces (`matchwright sim run --record FILE`); the server and the replay tool come next.
//!
//! Layout, read and written as a stream (a trace never has to fit in memory):
//!
//! ```text
//! magic    8 bytes   "MWTRACE\0"
//! frame    header    TraceHeader (format version, matcher version, config, seed, source)
//! frame    tick      TickFrame, one per tick, in order
//! ...
//! frame:   length u32 LE | crc32 of payload u32 LE | payload (matchwright_ecs::codec encoding,
//!          which starts with its own format version byte)
//! ```
//!
//! Every read error names the byte offset and what was expected there.

use std::fmt;
use std::io::{self, Read, Write};

use matchwright_ecs::codec::{self, EventHasher};
use matchwright_ecs::{Command, Event};
use serde::{Deserialize, Serialize};

/// The first bytes of every trace.
pub const MAGIC: [u8; 8] = *b"MWTRACE\0";

/// The trace layout version this crate writes and reads.
pub const TRACE_FORMAT: u16 = 1;

/// The largest frame accepted: 256 MiB (a tick of 200,000 commands is far below).
pub const MAX_FRAME_BYTES: u32 = 256 << 20;

/// What a trace starts with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceHeader {
    /// The layout version ([`TRACE_FORMAT`]).
    pub trace_format: u16,
    /// The version of the matcher that recorded it (the crate version).
    pub matcher_version: String,
    /// The matcher config, as TOML.
    pub config_toml: String,
    /// The matcher's seed.
    pub seed: u64,
    /// Where the trace came from (`sim:<scenario>`, ...).
    pub source: String,
}

/// One tick: the commands applied, in order, and the hash of the events it produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TickFrame {
    /// The time the tick ran at.
    pub now_ms: u64,
    /// The commands submitted since the previous tick, in submission order.
    pub commands: Vec<Command>,
    /// `codec::EventHasher` over the tick's events.
    pub events_hash: [u8; 32],
    /// How many events the tick produced.
    pub events: u64,
}

impl TickFrame {
    /// A frame for a tick at `now_ms` that applied `commands` and produced `events`.
    pub fn new(now_ms: u64, commands: Vec<Command>, events: &[Event]) -> Self {
        let mut hasher = EventHasher::new();
        for event in events {
            hasher.add(event);
        }
        Self {
            now_ms,
            commands,
            events_hash: hasher.digest(),
            events: events.len() as u64,
        }
    }
}

/// A trace could not be written or read.
#[derive(Debug)]
pub enum TraceError {
    /// Reading or writing failed.
    Io(io::Error),
    /// The bytes are not what a trace holds at `offset`.
    Corrupt {
        /// Where, in bytes from the start.
        offset: u64,
        /// What was expected there, and what was found.
        what: String,
    },
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(error) => write!(f, "trace IO failed: {error}"),
            Self::Corrupt { offset, what } => write!(f, "trace corrupt at byte {offset}: {what}"),
        }
    }
}

impl std::error::Error for TraceError {}

impl From<io::Error> for TraceError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

/// Writes a trace.
pub struct TraceWriter<W: Write> {
    out: W,
    offset: u64,
}

impl<W: Write> TraceWriter<W> {
    /// Starts a trace: the magic and the header.
    pub fn new(mut out: W, header: &TraceHeader) -> Result<Self, TraceError> {
        out.write_all(&MAGIC)?;
        let mut writer = Self {
            out,
            offset: MAGIC.len() as u64,
        };
        writer.frame(header)?;
        Ok(writer)
    }

    /// Appends one tick.
    pub fn tick(&mut self, frame: &TickFrame) -> Result<(), TraceError> {
        self.frame(frame)
    }

    fn frame<T: Serialize>(&mut self, value: &T) -> Result<(), TraceError> {
        let payload = codec::encode(value);
        let length = u32::try_from(payload.len())
            .ok()
            .filter(|length| *length <= MAX_FRAME_BYTES)
            .ok_or_else(|| TraceError::Corrupt {
                offset: self.offset,
                what: format!(
                    "a frame of {} bytes is over the limit of {MAX_FRAME_BYTES}",
                    payload.len()
                ),
            })?;
        self.out.write_all(&length.to_le_bytes())?;
        self.out
            .write_all(&crc32fast::hash(&payload).to_le_bytes())?;
        self.out.write_all(&payload)?;
        self.offset += 8 + u64::from(length);
        Ok(())
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.offset
    }

    /// Flushes and hands back the output.
    pub fn finish(mut self) -> Result<W, TraceError> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Reads a trace.
pub struct TraceReader<R: Read> {
    input: R,
    offset: u64,
    header: TraceHeader,
}

impl<R: Read> TraceReader<R> {
    /// Opens a trace: checks the magic and reads the header.
    pub fn new(mut input: R) -> Result<Self, TraceError> {
        let mut magic = [0u8; 8];
        read_exact_at(&mut input, &mut magic, 0, "the 8-byte magic \"MWTRACE\\0\"")?;
        if magic != MAGIC {
            return Err(TraceError::Corrupt {
                offset: 0,
                what: format!("expected the magic \"MWTRACE\\0\", found {magic:?}"),
            });
        }
        let mut reader = Self {
            input,
            offset: 8,
            header: TraceHeader {
                trace_format: 0,
                matcher_version: String::new(),
                config_toml: String::new(),
                seed: 0,
                source: String::new(),
            },
        };
        let at = reader.offset;
        let header: TraceHeader = reader.frame()?.ok_or_else(|| TraceError::Corrupt {
            offset: at,
            what: "expected the header frame, found the end of the file".into(),
        })?;
        if header.trace_format != TRACE_FORMAT {
            return Err(TraceError::Corrupt {
                offset: at,
                what: format!(
                    "trace format {} is not the supported format {TRACE_FORMAT}",
                    header.trace_format
                ),
            });
        }
        reader.header = header;
        Ok(reader)
    }

    /// The header.
    pub fn header(&self) -> &TraceHeader {
        &self.header
    }

    /// The next tick, or `None` at a clean end.
    pub fn next_tick(&mut self) -> Result<Option<TickFrame>, TraceError> {
        self.frame()
    }

    fn frame<T: serde::de::DeserializeOwned>(&mut self) -> Result<Option<T>, TraceError> {
        let start = self.offset;
        let mut prefix = [0u8; 8];
        let mut got = 0;
        while got < prefix.len() {
            match self.input.read(&mut prefix[got..]) {
                Ok(0) if got == 0 => return Ok(None),
                Ok(0) => {
                    return Err(TraceError::Corrupt {
                        offset: start + got as u64,
                        what: format!("expected an 8-byte frame prefix, the file ends after {got}"),
                    });
                }
                Ok(read) => got += read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error.into()),
            }
        }
        let length = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        let checksum = u32::from_le_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]);
        if length > MAX_FRAME_BYTES {
            return Err(TraceError::Corrupt {
                offset: start,
                what: format!("expected a frame length up to {MAX_FRAME_BYTES}, found {length}"),
            });
        }
        let mut payload = vec![0u8; length as usize];
        read_exact_at(
            &mut self.input,
            &mut payload,
            start + 8,
            &format!("a frame payload of {length} bytes"),
        )?;
        let actual = crc32fast::hash(&payload);
        if actual != checksum {
            return Err(TraceError::Corrupt {
                offset: start,
                what: format!(
                    "expected checksum {checksum:08x}, the payload hashes to {actual:08x}"
                ),
            });
        }
        let value = codec::decode(&payload).map_err(|error| TraceError::Corrupt {
            offset: start + 8,
            what: format!("the frame does not decode: {error}"),
        })?;
        self.offset = start + 8 + u64::from(length);
        Ok(Some(value))
    }
}

fn read_exact_at(
    input: &mut impl Read,
    buffer: &mut [u8],
    offset: u64,
    what: &str,
) -> Result<(), TraceError> {
    input.read_exact(buffer).map_err(|error| {
        if error.kind() == io::ErrorKind::UnexpectedEof {
            TraceError::Corrupt {
                offset,
                what: format!("expected {what}, the file ends first"),
            }
        } else {
            TraceError::Io(error)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use matchwright_ecs::TicketId;

    fn header() -> TraceHeader {
        TraceHeader {
            trace_format: TRACE_FORMAT,
            matcher_version: "0.1.0".into(),
            config_toml: "regions = [\"eu\"]".into(),
            seed: 7,
            source: "test".into(),
        }
    }

    fn trace() -> Vec<u8> {
        let mut writer = TraceWriter::new(Vec::new(), &header()).unwrap();
        for tick in 1..=3 {
            let frame = TickFrame::new(
                tick * 100,
                vec![Command::Cancel {
                    ticket: TicketId(tick),
                }],
                &[],
            );
            writer.tick(&frame).unwrap();
        }
        writer.finish().unwrap()
    }

    #[test]
    fn a_trace_reads_back_as_written() {
        let bytes = trace();
        let mut reader = TraceReader::new(bytes.as_slice()).unwrap();
        assert_eq!(reader.header(), &header());
        let mut ticks = Vec::new();
        while let Some(frame) = reader.next_tick().unwrap() {
            ticks.push(frame.now_ms);
            assert_eq!(frame.events_hash, EventHasher::new().digest());
        }
        assert_eq!(ticks, [100, 200, 300]);
    }

    #[test]
    fn damage_is_named_with_its_offset() {
        let bytes = trace();
        let error = TraceReader::new(&b"NOTATRACE"[..]).err().unwrap();
        assert!(error.to_string().contains("byte 0"), "{error}");

        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        let mut reader = TraceReader::new(flipped.as_slice()).unwrap();
        reader.next_tick().unwrap();
        reader.next_tick().unwrap();
        let error = reader.next_tick().unwrap_err().to_string();
        assert!(error.contains("checksum"), "{error}");

        let truncated = &bytes[..bytes.len() - 3];
        let mut reader = TraceReader::new(truncated).unwrap();
        reader.next_tick().unwrap();
        reader.next_tick().unwrap();
        let error = reader.next_tick().unwrap_err().to_string();
        assert!(error.contains("ends first"), "{error}");
    }
}
