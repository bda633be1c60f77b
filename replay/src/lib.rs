//! # matchwright-replay: traces, and re-running the core from them
//!
//! A trace is the matcher's whole input, tick by tick, with a hash of what it answered (and,
//! optionally, the answers themselves): enough to re-run the core and check it still answers
//! the same, byte for byte. The simulator (`matchwright sim run --record FILE`), the server
//! (`matchwright serve --record DIR`) and the journal export (`matchwright trace export`) all
//! write traces; `matchwright replay` reads them.
//!
//! - [`format`]: the file layout (versioned, framed, checksummed), its writer and reader.
//! - [`replayer`]: re-runs a trace and checks every tick ([`replay`]), re-runs its inputs
//!   under another config (what-if), and re-records it after a deliberate change ([`bless`]).
//! - [`diff`]: the readable diff of a divergent tick's events.
//! - [`record`]: the recorder behind `serve --record`: the server's committed ticks written as
//!   rotating trace segments by a writer thread, so the tick loop never waits on the disk.
//! - [`cli`]: `matchwright replay` and `matchwright trace export` (the journal of a stopped
//!   server, read through `matchwright_storage::JournalExport`). The server's binary parses
//!   them and calls in, passing what comes from above this crate ([`cli::Hooks`]: the config
//!   loader, the simulator's what-if).
//!
//! This crate is a shell around the core: it reads and writes files and reads the wall clock
//! (for the summary's timing and the segments' names). The core it drives sees only the
//! trace's times. It depends on the core and on `storage` (for the export), never on the
//! server or the simulator: both depend on it.

pub mod cli;
pub mod diff;
pub mod format;
pub mod record;
pub mod replayer;

pub use format::{
    MAGIC, MAX_FRAME_BYTES, TRACE_FORMAT, TickFrame, TraceError, TraceHeader, TraceReader,
    TraceWriter, hash_events,
};
pub use replayer::{Blessed, Check, Divergence, ReplayError, Summary, bless, replay};

/// The version of the matcher this build replays with (recorded in traces it writes).
pub const MATCHER_VERSION: &str = env!("CARGO_PKG_VERSION");
