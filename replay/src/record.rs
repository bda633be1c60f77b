//! The recorder behind `matchwright serve --record DIR`: the tick loop's input stream, written
//! as rotating trace segments for `matchwright replay`. It lives beside the format and the
//! replayer because it needs nothing of the server's: the server's tick loop calls
//! [`Recorder::between_ticks`] and [`Recorder::tick`], and everything else is trace files.
//!
//! Each segment stands alone: its header carries the matcher's state before its first tick
//! (a snapshot taken between ticks on the tick thread), so any segment replays without the
//! ones before it. Frames go to a writer thread through a bounded queue, so the tick loop
//! never waits on the disk.
//!
//! Bounds, and what happens at them:
//! - The queue holds [`QUEUE_TICKS`] ticks. If the writer falls that far behind (a stalled
//!   disk), the tick that does not fit is not recorded: the segment ends at the last tick
//!   written (it still replays), a warning and `matchwright_record_ticks_dropped` (ticks not
//!   recorded) say so, and recording resumes in a new segment, with a fresh base, once the
//!   writer has caught up by half the queue.
//! - A segment is closed once it holds `segment_bytes`; the next starts at the next tick.
//! - At most `keep_segments` segments are kept in the directory; the oldest are deleted.
//! - A write error (disk full) stops recording, with an error in the log; serving goes on.
//!
//! Segments are named `trace-<recording start, Unix ms>-<first tick, 12 digits>.mwtrace`, so
//! they sort in order across runs (a fresh store starts again at tick 1); none is overwritten.

use std::fs;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use crate::{TickFrame, TraceHeader, TraceWriter};
use matchwright_ecs::{Command, Event, Matcher, TickRecord};

/// Ticks the writer may fall behind by.
pub const QUEUE_TICKS: usize = 4_096;

/// The smallest segment allowed.
pub const MIN_SEGMENT_BYTES: u64 = 64 << 10;

/// How to record.
#[derive(Clone, Debug)]
pub struct RecordOptions {
    /// The directory segments are written into (created if missing).
    pub dir: PathBuf,
    /// A segment is closed once it holds this many bytes.
    pub segment_bytes: u64,
    /// Segments kept; older ones are deleted.
    pub keep_segments: usize,
    /// Whether frames hold each tick's events, not only their hash.
    pub with_events: bool,
}

impl RecordOptions {
    /// Checks the options and makes the directory.
    pub fn prepare(&self) -> Result<(), String> {
        if self.segment_bytes < MIN_SEGMENT_BYTES {
            return Err(format!(
                "--record-segment-mb: a segment of {} bytes is under the least of 64 KiB",
                self.segment_bytes
            ));
        }
        if self.keep_segments == 0 {
            return Err("--record-keep: keep at least 1 segment".into());
        }
        fs::create_dir_all(&self.dir).map_err(|error| {
            format!(
                "--record: cannot create the directory {}: {error}",
                self.dir.display()
            )
        })
    }
}

enum Message {
    /// Close the open segment (if any) and open one for this header.
    Start {
        first_tick: u64,
        header: TraceHeader,
    },
    Tick(TickFrame),
}

/// The tick loop's side of recording.
pub struct Recorder {
    sender: Option<SyncSender<Message>>,
    thread: Option<JoinHandle<()>>,
    /// Set by the writer when the open segment is full; the tick loop then starts another.
    rotate: Arc<AtomicBool>,
    /// Set by the writer after a write error: recording is over.
    failed: Arc<AtomicBool>,
    /// Messages in the queue (sent, not yet taken by the writer).
    queued: Arc<AtomicUsize>,
    /// The next tick begins a new segment (at start, after rotation, after a gap).
    needs_base: bool,
    /// Ticks not recorded in the current gap.
    skipped: u64,
    with_events: bool,
    source: String,
    seed: u64,
    dropped: u64,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("needs_base", &self.needs_base)
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Starts the writer thread. The first segment begins at the next tick recorded.
    pub fn start(options: RecordOptions, seed: u64) -> Result<Self, String> {
        options.prepare()?;
        let (sender, receiver) = sync_channel(QUEUE_TICKS);
        let rotate = Arc::new(AtomicBool::new(false));
        let failed = Arc::new(AtomicBool::new(false));
        let queued = Arc::new(AtomicUsize::new(0));
        let writer = SegmentWriter {
            options: options.clone(),
            run_ms: unix_ms(),
            queued: Arc::clone(&queued),
            rotate: Arc::clone(&rotate),
            failed: Arc::clone(&failed),
            open: None,
        };
        let thread = std::thread::Builder::new()
            .name("trace-writer".into())
            .spawn(move || writer.run(&receiver))
            .map_err(|error| format!("cannot start the trace writer: {error}"))?;
        Ok(Self {
            sender: Some(sender),
            thread: Some(thread),
            rotate,
            failed,
            queued,
            needs_base: true,
            skipped: 0,
            with_events: options.with_events,
            source: format!("serve:{}", options.dir.display()),
            seed,
            dropped: 0,
        })
    }

    /// Called between ticks, before any command of the next tick is submitted: starts a new
    /// segment from the matcher's state here when one is due.
    pub fn between_ticks(&mut self, matcher: &Matcher) {
        if self.failed.load(Ordering::Relaxed) || self.sender.is_none() {
            return;
        }
        if self.rotate.swap(false, Ordering::Relaxed) {
            self.needs_base = true;
        }
        if !self.needs_base {
            return;
        }
        // After a gap, wait until the writer has caught up by half the queue before paying
        // for a snapshot on the tick thread.
        if self.dropped > 0 && self.queued.load(Ordering::Relaxed) > QUEUE_TICKS / 2 {
            return;
        }
        let snapshot = match matcher.snapshot() {
            Ok(snapshot) => snapshot,
            Err(error) => {
                tracing::error!(%error, "recording: cannot snapshot the matcher; will retry");
                return;
            }
        };
        let first_tick = snapshot.ticks + 1;
        let header = TraceHeader {
            matcher_version: crate::MATCHER_VERSION.to_string(),
            config_toml: matcher.config().to_toml_string(),
            seed: self.seed,
            source: self.source.clone(),
            base: Some(snapshot),
            with_events: self.with_events,
        };
        if self.send(Message::Start { first_tick, header }) {
            if self.skipped > 0 {
                tracing::warn!(
                    skipped = self.skipped,
                    first_tick,
                    "recording: resumed in a new segment after a gap"
                );
                self.skipped = 0;
            }
            self.needs_base = false;
        }
    }

    /// Records a committed tick; `events_hash` is the hash the store journaled for `events`.
    pub fn tick(
        &mut self,
        tick: u64,
        now_ms: u64,
        commands: &[Command],
        events: &[Event],
        events_hash: [u8; 32],
    ) {
        if self.failed.load(Ordering::Relaxed) {
            return;
        }
        if self.needs_base {
            // In a gap: the next segment starts between ticks.
            if self.dropped > 0 {
                self.skipped += 1;
                metrics::counter!("matchwright_record_ticks_dropped_total").increment(1);
            }
            return;
        }
        let record = TickRecord {
            tick,
            now_ms,
            commands: commands.to_vec(),
            event_hash: events_hash,
            event_count: events.len() as u64,
        };
        let frame = TickFrame::new(record, events, self.with_events);
        if !self.send(Message::Tick(frame)) {
            self.needs_base = true;
            self.skipped += 1;
            metrics::counter!("matchwright_record_ticks_dropped_total").increment(1);
        }
    }

    fn send(&mut self, message: Message) -> bool {
        let Some(sender) = &self.sender else {
            return false;
        };
        match sender.try_send(message) {
            Ok(()) => {
                self.queued.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(_)) => {
                self.dropped += 1;
                if self.skipped == 0 {
                    tracing::warn!(
                        queue = QUEUE_TICKS,
                        "recording: the trace writer is behind; the segment ends here and a new \
                         one starts when it catches up"
                    );
                }
                false
            }
            Err(TrySendError::Disconnected(_)) => {
                self.sender = None;
                false
            }
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish what is queued and flush.
        self.sender = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct OpenSegment {
    path: PathBuf,
    writer: TraceWriter<BufWriter<fs::File>>,
    /// Whether this segment has asked for the next one (once: frames still queued for it
    /// after the tick loop started the next must not ask again).
    rotation_asked: bool,
}

struct SegmentWriter {
    options: RecordOptions,
    /// When recording started (Unix ms), in every segment's name.
    run_ms: u64,
    /// Messages queued and not yet taken (the tick loop looks before it snapshots).
    queued: Arc<AtomicUsize>,
    rotate: Arc<AtomicBool>,
    failed: Arc<AtomicBool>,
    open: Option<OpenSegment>,
}

impl SegmentWriter {
    fn run(mut self, receiver: &Receiver<Message>) {
        while let Ok(message) = receiver.recv() {
            let mut result = self.take(message);
            // Drain what else is queued, then flush once: a crash loses at most this batch.
            while result.is_ok() {
                match receiver.try_recv() {
                    Ok(message) => result = self.take(message),
                    Err(_) => break,
                }
            }
            if result.is_ok()
                && let Some(open) = &mut self.open
            {
                result = open
                    .writer
                    .flush()
                    .map_err(|error| format!("{}: {error}", open.path.display()));
            }
            if let Err(error) = result {
                tracing::error!(%error, "recording stopped: a trace segment could not be written");
                metrics::counter!("matchwright_record_failures_total").increment(1);
                self.failed.store(true, Ordering::Relaxed);
                self.open = None;
                // Keep draining so the tick loop never blocks; nothing more is written.
                while receiver.recv().is_ok() {}
                return;
            }
        }
        if let Some(open) = self.open.take()
            && let Err(error) = open.writer.finish()
        {
            tracing::error!(%error, path = %open.path.display(), "recording: the last segment did not flush");
        }
    }

    fn take(&mut self, message: Message) -> Result<(), String> {
        self.queued.fetch_sub(1, Ordering::Relaxed);
        match message {
            Message::Start { first_tick, header } => {
                if let Some(open) = self.open.take() {
                    open.writer
                        .finish()
                        .map_err(|error| format!("{}: {error}", open.path.display()))?;
                }
                // The run's start time first, so names sort in recording order across runs
                // (a fresh store starts again at tick 1); never overwrite a file.
                let path = self.options.dir.join(format!(
                    "trace-{:013}-{first_tick:012}.mwtrace",
                    self.run_ms
                ));
                let file = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .map_err(|error| format!("cannot create {}: {error}", path.display()))?;
                let writer = TraceWriter::new(BufWriter::with_capacity(1 << 20, file), &header)
                    .map_err(|error| format!("{}: {error}", path.display()))?;
                tracing::info!(path = %path.display(), first_tick, "recording: a new trace segment");
                prune_segments(&self.options.dir, self.options.keep_segments, &path);
                self.open = Some(OpenSegment {
                    path,
                    writer,
                    rotation_asked: false,
                });
                Ok(())
            }
            Message::Tick(frame) => {
                let Some(open) = &mut self.open else {
                    return Ok(());
                };
                open.writer
                    .tick(&frame)
                    .map_err(|error| format!("{}: {error}", open.path.display()))?;
                if !open.rotation_asked && open.writer.bytes() >= self.options.segment_bytes {
                    open.rotation_asked = true;
                    self.rotate.store(true, Ordering::Relaxed);
                }
                Ok(())
            }
        }
    }
}

/// Now, as Unix milliseconds: when recording started, in every segment's name (the same clock
/// as the server's `clock::unix_ms`).
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// The segments in `dir`, oldest first.
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("trace-") && name.ends_with(".mwtrace"))
        })
        .collect();
    found.sort();
    found
}

fn prune_segments(dir: &Path, keep: usize, open: &Path) {
    let found = segments(dir);
    let excess = found.len().saturating_sub(keep);
    for path in found[..excess].iter().filter(|path| *path != open) {
        match fs::remove_file(path) {
            Ok(()) => tracing::info!(path = %path.display(), "recording: deleted an old segment"),
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "recording: cannot delete an old segment");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{Check, TraceReader};
    use matchwright_ecs::TicketMember;
    use matchwright_ecs::{Config, EnqueueTicket, PlayerId, Rating, TicketId};

    fn enqueue(id: u64) -> Command {
        Command::Enqueue(EnqueueTicket {
            ticket: TicketId(id),
            queue: "duel-1v1".into(),
            party: None,
            members: vec![TicketMember {
                player: PlayerId(id),
                rating: Rating {
                    mu: 1500.0 + (id % 97) as f64 * 5.0,
                    sigma: 200.0,
                    volatility: 0.06,
                },
                pings_ms: vec![30, 90, 180, 200],
                attributes: Default::default(),
                roles: Vec::new(),
                avoid: Vec::new(),
            }],
            max_ping_ms: None,
            waiting_since_ms: None,
            attributes: Default::default(),
        })
    }

    #[test]
    fn segments_rotate_are_pruned_and_each_replays_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let options = RecordOptions {
            dir: dir.path().to_path_buf(),
            segment_bytes: MIN_SEGMENT_BYTES,
            keep_segments: 3,
            with_events: false,
        };
        let mut matcher = Matcher::new(Config::default(), 11).unwrap();
        let mut recorder = Recorder::start(options, 11).unwrap();
        recorder.between_ticks(&matcher);
        let mut next = 1;
        let ticks = 3_000;
        for tick in 1..=ticks {
            let commands: Vec<Command> = (0..3)
                .map(|_| {
                    next += 1;
                    enqueue(next)
                })
                .collect();
            for command in &commands {
                matcher.submit(command.clone()).unwrap();
            }
            let report = matcher.tick(tick * 50).unwrap();
            let events: Vec<Event> = matcher.drain_events().collect();
            let hash = crate::hash_events(&events);
            recorder.tick(report.tick, tick * 50, &commands, &events, hash);
            recorder.between_ticks(&matcher);
        }
        drop(recorder);
        let found = segments(dir.path());
        assert_eq!(found.len(), 3, "{found:?}");
        let mut last = 0;
        for path in &found {
            let file = fs::File::open(path).unwrap();
            let reader = TraceReader::new(std::io::BufReader::new(file)).unwrap();
            assert!(reader.header().base.is_some());
            let summary = crate::replay(reader, Check::Verify, |_, _| Ok(()))
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            if summary.ticks == 0 {
                // A segment opened after the last tick (the previous one was full): its base
                // is the final state, and nothing followed.
                assert_eq!(path, found.last().unwrap());
                assert_eq!(last, ticks);
                continue;
            }
            // Segments follow one another without a gap.
            if last > 0 {
                assert_eq!(summary.first_tick, last + 1, "{}", path.display());
            }
            last = summary.last_tick;
        }
        assert_eq!(last, ticks);
    }

    #[test]
    fn bad_options_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut options = RecordOptions {
            dir: dir.path().join("traces"),
            segment_bytes: 1_000,
            keep_segments: 1,
            with_events: false,
        };
        assert!(
            options
                .prepare()
                .unwrap_err()
                .contains("--record-segment-mb")
        );
        options.segment_bytes = MIN_SEGMENT_BYTES;
        options.keep_segments = 0;
        assert!(options.prepare().unwrap_err().contains("--record-keep"));
    }
}
