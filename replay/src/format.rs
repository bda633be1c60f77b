//! The trace file: its layout, writer and reader. Read and written as a stream: a trace never
//! has to fit in memory, and the reader holds one frame at a time.
//!
//! ```text
//! magic    8 bytes   "MWTRACE\0"
//! format   u16 LE    TRACE_FORMAT (outside any frame, so a newer layout is named, not misread)
//! frame    header    TraceHeader (matcher version, config, seed, source, base state)
//! frame    tick      TickFrame, one per tick, in order
//! ...
//! frame:   length u32 LE | crc32 of payload u32 LE | payload (matchwright_ecs::codec encoding,
//!          the one bincode module, which starts with its own format version byte)
//! ```
//!
//! Every read error names the byte offset and what was expected there; nothing here panics on
//! any input (a proptest feeds it damaged traces).

use std::fmt;
use std::io::{self, Read, Write};

use matchwright_ecs::codec;
use matchwright_ecs::{Event, Snapshot, TickRecord};
use serde::{Deserialize, Serialize};

/// The first bytes of every trace.
pub const MAGIC: [u8; 8] = *b"MWTRACE\0";

/// The trace layout version this crate writes. 1 had no tick numbers, no base state and no
/// events, and kept the version inside the header frame; 2 is 3 with the base state of an
/// older matcher snapshot (no held tickets in allocating matches, no region backoff).
pub const TRACE_FORMAT: u16 = 3;

/// The oldest layout this crate reads: a format-2 trace is read when it has no base state
/// (its tick frames are the same as format 3's), and refused with a clear error when it has
/// one.
pub const OLDEST_READABLE_FORMAT: u16 = 2;

/// Bytes before the header frame: the magic and the format version.
pub const PREAMBLE_BYTES: u64 = 10;

/// The largest frame accepted: 256 MiB (a tick of 200,000 commands, or the base state of a
/// million tickets, is far below). A writer refuses a larger frame rather than write a trace
/// no reader accepts.
pub const MAX_FRAME_BYTES: u32 = 256 << 20;

/// What a trace starts with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceHeader {
    /// The version of the matcher that recorded it (the crate version).
    pub matcher_version: String,
    /// The matcher config, as TOML.
    pub config_toml: String,
    /// The matcher's seed (used when there is no base state; a base state carries the
    /// generator's position).
    pub seed: u64,
    /// Where the trace came from (`sim:<scenario>`, `serve`, `journal:<path>`).
    pub source: String,
    /// The matcher's state before the first tick, when the trace does not start from an empty
    /// matcher (a server's segment, or a journal exported from a snapshot).
    pub base: Option<Snapshot>,
    /// Whether each tick frame holds its events, not only their hash.
    pub with_events: bool,
}

/// One tick: its tick record (commands in, the hash of the events out; the journal's type) and,
/// when the trace keeps them, the events. Its encoding is the record's fields followed by the
/// events, as in format 2.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TickFrame {
    /// The tick.
    pub record: TickRecord,
    /// The events themselves, when the trace is recorded with them.
    pub events: Option<Vec<Event>>,
}

impl TickFrame {
    /// A frame for `record`, which produced `events` (kept in the frame when `keep_events`).
    pub fn new(record: TickRecord, events: &[Event], keep_events: bool) -> Self {
        debug_assert_eq!(record.event_count, events.len() as u64);
        Self {
            record,
            events: keep_events.then(|| events.to_vec()),
        }
    }
}

/// The hash a tick frame keeps of its events (the journal's, `codec::hash_events`).
pub use matchwright_ecs::codec::hash_events;

/// A trace could not be written or read.
#[derive(Debug)]
pub enum TraceError {
    /// Reading or writing failed.
    Io(io::Error),
    /// A frame to write is over [`MAX_FRAME_BYTES`]; nothing of it was written.
    TooLarge {
        /// Where it would have started.
        offset: u64,
        /// Its size.
        bytes: usize,
    },
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
            Self::TooLarge { offset, bytes } => write!(
                f,
                "cannot write a trace frame of {bytes} bytes at byte {offset}: the limit is \
                 {MAX_FRAME_BYTES}; nothing of it was written"
            ),
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
    payload: Vec<u8>,
}

impl<W: Write> TraceWriter<W> {
    /// Starts a trace: the magic, the format version and the header.
    pub fn new(mut out: W, header: &TraceHeader) -> Result<Self, TraceError> {
        out.write_all(&MAGIC)?;
        out.write_all(&TRACE_FORMAT.to_le_bytes())?;
        let mut writer = Self {
            out,
            offset: PREAMBLE_BYTES,
            payload: Vec::new(),
        };
        writer.frame(header)?;
        Ok(writer)
    }

    /// Appends one tick.
    pub fn tick(&mut self, frame: &TickFrame) -> Result<(), TraceError> {
        self.frame(frame)
    }

    fn frame<T: Serialize>(&mut self, value: &T) -> Result<(), TraceError> {
        self.payload.clear();
        self.payload.push(codec::FORMAT_VERSION);
        codec::encode_into(value, &mut self.payload);
        let length = u32::try_from(self.payload.len())
            .ok()
            .filter(|length| *length <= MAX_FRAME_BYTES)
            .ok_or(TraceError::TooLarge {
                offset: self.offset,
                bytes: self.payload.len(),
            })?;
        self.out.write_all(&length.to_le_bytes())?;
        self.out
            .write_all(&crc32fast::hash(&self.payload).to_le_bytes())?;
        self.out.write_all(&self.payload)?;
        self.offset += 8 + u64::from(length);
        // A burst (a base state) does not keep its buffer for the rest of the trace.
        if self.payload.capacity() > 1 << 20 {
            self.payload = Vec::new();
        }
        Ok(())
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.offset
    }

    /// Flushes what is buffered, keeping the writer.
    pub fn flush(&mut self) -> Result<(), TraceError> {
        self.out.flush()?;
        Ok(())
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
    frame_offset: u64,
    header: TraceHeader,
    payload: Vec<u8>,
}

impl<R: Read> TraceReader<R> {
    /// Opens a trace: checks the magic and the format version, and reads the header.
    pub fn new(mut input: R) -> Result<Self, TraceError> {
        let mut magic = [0u8; 8];
        read_exact_at(&mut input, &mut magic, 0, "the 8-byte magic \"MWTRACE\\0\"")?;
        if magic != MAGIC {
            return Err(TraceError::Corrupt {
                offset: 0,
                what: format!(
                    "expected the magic \"MWTRACE\\0\" (a Matchwright trace), found {:?}",
                    String::from_utf8_lossy(&magic)
                ),
            });
        }
        let mut format = [0u8; 2];
        read_exact_at(
            &mut input,
            &mut format,
            8,
            "the 2-byte trace format version",
        )?;
        let format = u16::from_le_bytes(format);
        if !(OLDEST_READABLE_FORMAT..=TRACE_FORMAT).contains(&format) {
            let why = if format > TRACE_FORMAT {
                "newer than this build reads: replay it with the Matchwright that wrote it, or a \
                 later one"
            } else {
                "older than this build reads: re-record it"
            };
            return Err(TraceError::Corrupt {
                offset: 8,
                what: format!("expected trace format {TRACE_FORMAT}, found {format} ({why})"),
            });
        }
        let mut reader = Self {
            input,
            offset: PREAMBLE_BYTES,
            frame_offset: PREAMBLE_BYTES,
            header: TraceHeader {
                matcher_version: String::new(),
                config_toml: String::new(),
                seed: 0,
                source: String::new(),
                base: None,
                with_events: false,
            },
            payload: Vec::new(),
        };
        let header = reader.frame("the header").map_err(|error| match error {
            TraceError::Corrupt { offset, what } if format < TRACE_FORMAT => TraceError::Corrupt {
                offset,
                what: format!(
                    "{what} (a format-{format} trace with a base state: this build reads its \
                     ticks but not its base; export the journal again, or replay it with the \
                     Matchwright that wrote it)"
                ),
            },
            other => other,
        })?;
        reader.header = header.ok_or(TraceError::Corrupt {
            offset: PREAMBLE_BYTES,
            what: "expected the header frame, the file ends first (a truncated trace)".into(),
        })?;
        if format < TRACE_FORMAT && reader.header.base.is_some() {
            return Err(TraceError::Corrupt {
                offset: PREAMBLE_BYTES,
                what: format!(
                    "a format-{format} trace with a base state: this build reads format \
                     {TRACE_FORMAT} base states only; export the journal again"
                ),
            });
        }
        Ok(reader)
    }

    /// The header.
    pub fn header(&self) -> &TraceHeader {
        &self.header
    }

    /// Takes the base state out of the header (it can be large; the replayer needs it once).
    pub fn take_base(&mut self) -> Option<Snapshot> {
        self.header.base.take()
    }

    /// The next tick, or `None` at a clean end.
    pub fn next_tick(&mut self) -> Result<Option<TickFrame>, TraceError> {
        self.frame("a tick frame")
    }

    /// Where the last frame read starts, in bytes from the start of the file.
    pub fn frame_offset(&self) -> u64 {
        self.frame_offset
    }

    /// Bytes read so far.
    pub fn bytes(&self) -> u64 {
        self.offset
    }

    fn frame<T: serde::de::DeserializeOwned>(
        &mut self,
        expected: &str,
    ) -> Result<Option<T>, TraceError> {
        let start = self.offset;
        let mut prefix = [0u8; 8];
        let mut got = 0;
        while got < prefix.len() {
            match self.input.read(&mut prefix[got..]) {
                Ok(0) if got == 0 => return Ok(None),
                Ok(0) => {
                    return Err(TraceError::Corrupt {
                        offset: start + got as u64,
                        what: format!(
                            "expected the 8-byte prefix of {expected}, the file ends after {got} \
                             (a truncated trace)"
                        ),
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
                what: format!(
                    "expected {expected} of at most {MAX_FRAME_BYTES} bytes, its prefix says \
                     {length}"
                ),
            });
        }
        // Grown as bytes arrive, so a damaged length cannot make us allocate 256 MiB up front
        // for a file far shorter.
        self.payload.clear();
        let read = (&mut self.input)
            .take(u64::from(length))
            .read_to_end(&mut self.payload)?;
        if read < length as usize {
            return Err(TraceError::Corrupt {
                offset: start + 8 + read as u64,
                what: format!(
                    "expected {expected} of {length} bytes (frame at byte {start}), the file ends \
                     after {read} (a truncated trace)"
                ),
            });
        }
        let actual = crc32fast::hash(&self.payload);
        if actual != checksum {
            return Err(TraceError::Corrupt {
                offset: start,
                what: format!(
                    "expected {expected} with checksum {checksum:08x}, its {length} bytes hash to \
                     {actual:08x} (the file is damaged)"
                ),
            });
        }
        let value = codec::decode(&self.payload).map_err(|error| TraceError::Corrupt {
            offset: start + 8,
            what: format!("expected {expected}, the frame does not decode: {error}"),
        })?;
        if self.payload.capacity() > 1 << 20 {
            self.payload = Vec::new();
        }
        self.frame_offset = start;
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
    use matchwright_ecs::codec::EventHasher;
    use matchwright_ecs::{Command, TicketId};
    use proptest::prelude::*;

    fn header() -> TraceHeader {
        TraceHeader {
            matcher_version: "0.1.0".into(),
            config_toml: "regions = [\"eu\"]".into(),
            seed: 7,
            source: "test".into(),
            base: None,
            with_events: false,
        }
    }

    fn trace() -> Vec<u8> {
        let mut writer = TraceWriter::new(Vec::new(), &header()).unwrap();
        for tick in 1..=3 {
            let commands = vec![Command::Cancel {
                ticket: TicketId(tick),
            }];
            let frame = TickFrame::new(TickRecord::of(tick, tick * 100, commands, &[]), &[], false);
            writer.tick(&frame).unwrap();
        }
        writer.finish().unwrap()
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<TickFrame>, TraceError> {
        let mut reader = TraceReader::new(bytes)?;
        let mut frames = Vec::new();
        while let Some(frame) = reader.next_tick()? {
            frames.push(frame);
        }
        Ok(frames)
    }

    #[test]
    fn a_trace_reads_back_as_written() {
        let bytes = trace();
        let mut reader = TraceReader::new(bytes.as_slice()).unwrap();
        assert_eq!(reader.header(), &header());
        let mut ticks = Vec::new();
        while let Some(frame) = reader.next_tick().unwrap() {
            ticks.push((frame.record.tick, frame.record.now_ms));
            assert_eq!(frame.record.event_hash, EventHasher::new().digest());
            assert_eq!(frame.events, None);
        }
        assert_eq!(ticks, [(1, 100), (2, 200), (3, 300)]);
        assert_eq!(reader.bytes(), bytes.len() as u64);
    }

    #[test]
    fn a_wrong_magic_is_named_at_byte_0() {
        let error = TraceReader::new(&b"NOTATRACE!"[..])
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("byte 0"), "{error}");
        assert!(error.contains("expected the magic"), "{error}");
        let error = TraceReader::new(&b"MW"[..]).err().unwrap().to_string();
        assert!(
            error.contains("byte 0") && error.contains("ends first"),
            "{error}"
        );
    }

    #[test]
    fn a_newer_format_is_named_at_byte_8() {
        let mut bytes = trace();
        bytes[8..10].copy_from_slice(&(TRACE_FORMAT + 1).to_le_bytes());
        let error = TraceReader::new(bytes.as_slice())
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("byte 8"), "{error}");
        let found = TRACE_FORMAT + 1;
        assert!(
            error.contains(&format!(
                "expected trace format {TRACE_FORMAT}, found {found}"
            )),
            "{error}"
        );
        assert!(error.contains("newer"), "{error}");
    }

    #[test]
    fn a_format_2_trace_reads_without_a_base_and_is_refused_with_one() {
        let mut bytes = trace();
        bytes[8..10].copy_from_slice(&2_u16.to_le_bytes());
        let mut reader = TraceReader::new(bytes.as_slice()).unwrap();
        assert_eq!(reader.next_tick().unwrap().unwrap().record.tick, 1);
        let mut header = header();
        header.base = Some(
            matchwright_ecs::Matcher::new(Default::default(), 1)
                .unwrap()
                .snapshot()
                .unwrap(),
        );
        let mut with_base = TraceWriter::new(Vec::new(), &header)
            .unwrap()
            .finish()
            .unwrap();
        with_base[8..10].copy_from_slice(&2_u16.to_le_bytes());
        let error = TraceReader::new(with_base.as_slice())
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains("format-2 trace with a base state"),
            "{error}"
        );
    }

    #[test]
    fn a_checksum_mismatch_names_the_frame() {
        let bytes = trace();
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        let mut reader = TraceReader::new(flipped.as_slice()).unwrap();
        reader.next_tick().unwrap();
        reader.next_tick().unwrap();
        let third = reader.bytes();
        let error = reader.next_tick().unwrap_err().to_string();
        assert!(error.contains(&format!("byte {third}")), "{error}");
        assert!(error.contains("checksum"), "{error}");
    }

    #[test]
    fn truncation_is_named_wherever_it_cuts() {
        let bytes = trace();
        for cut in 0..bytes.len() {
            match read_all(&bytes[..cut]) {
                Err(TraceError::Corrupt { offset, what }) => {
                    assert!(offset <= cut as u64, "cut {cut}: offset {offset}: {what}");
                    assert!(
                        what.contains("ends") || what.contains("truncated"),
                        "cut {cut}: {what}"
                    );
                }
                Ok(frames) => {
                    // A cut exactly between frames is a clean, shorter trace.
                    assert!(frames.len() < 3, "cut {cut}");
                }
                Err(other) => panic!("cut {cut}: {other}"),
            }
        }
    }

    #[test]
    fn a_frame_over_the_limit_is_refused_from_its_prefix() {
        let mut bytes = trace();
        let at = PREAMBLE_BYTES as usize;
        bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let error = TraceReader::new(bytes.as_slice())
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("byte 10"), "{error}");
        assert!(error.contains("at most"), "{error}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn damaged_traces_give_errors_never_panics(
            at in 0usize..400,
            byte in any::<u8>(),
            cut in 0usize..400,
        ) {
            let mut bytes = trace();
            let at = at % bytes.len();
            bytes[at] = byte;
            let cut = cut.min(bytes.len());
            let _ = read_all(&bytes[..cut]);
        }

        #[test]
        fn arbitrary_bytes_give_errors_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(&TRACE_FORMAT.to_le_bytes());
            bytes.extend_from_slice(&tail);
            let _ = read_all(&bytes);
        }
    }
}
