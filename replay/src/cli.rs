//! `matchwright replay` and `matchwright trace export`: the command-line side of the trace
//! tools, beside the format and the replayer it drives. This module finds the files, shows
//! progress, prints, and picks exit codes: 0 identical, 1 divergent, 2 bad input (an
//! unreadable or damaged trace, a bad config).
//!
//! Two things come from crates above this one, so the binary passes them in as [`Hooks`]:
//! reading a config file (the server's `Settings::load`, which takes a server config or a
//! bare matcher config) and the what-if report (`matchwright_sim::whatif`; the simulator
//! depends on this crate, so this crate cannot call it). The journal export reads the store
//! through `matchwright_storage::JournalExport`, which checks the journal's tick continuity
//! and hash chain as it reads.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use matchwright_ecs::{Config, Matcher};
use matchwright_storage::{ExportBase, JournalExport};

use crate::{
    Check, MATCHER_VERSION, ReplayError, Summary, TickFrame, TraceHeader, TraceReader, TraceWriter,
};

/// What the trace tools need from the crates above this one; the binary passes them in.
pub struct Hooks<'a> {
    /// Loads the matcher's config from a file given with `--config` (a server config file, or
    /// just a matcher config); the error is shown as it is.
    pub load_config: &'a dyn Fn(&Path) -> Result<Config, String>,
    /// The what-if report: replays the trace at the first path under its own config and under
    /// the given one, writes its files into the second path, calls the progress function per
    /// frame (with the pass's name), and returns its figures.
    pub what_if: &'a WhatIfFn<'a>,
}

/// The what-if report's signature (see [`Hooks::what_if`]).
pub type WhatIfFn<'a> =
    dyn Fn(&Path, Config, &Path, &mut Progress<'_>) -> Result<WhatIfRun, ReplayError> + 'a;

/// The what-if's progress: called per frame, with the pass's name.
pub type Progress<'a> = dyn FnMut(&str, &TickFrame) + 'a;

/// What a what-if run reports back, for the summary.
#[derive(Clone, Debug)]
pub struct WhatIfRun {
    /// Ticks replayed.
    pub ticks: u64,
    /// Commands replayed.
    pub commands: u64,
    /// Matcher time the trace covers, in seconds.
    pub span_s: f64,
    /// The comparison table, as printed.
    pub table: String,
}

impl std::fmt::Debug for Hooks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks").finish_non_exhaustive()
    }
}

/// `matchwright replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Trace files, or directories of them (`*.mwtrace` in name order: a server's segments).
    #[arg(required = true, value_name = "TRACE")]
    pub traces: Vec<PathBuf>,
    /// What-if: replays the same inputs under this config too (a server config file, or just a
    /// matcher config) and compares time to match, quality, team gap, matches and abandons.
    #[arg(long, value_name = "NEW.toml", conflicts_with = "bless")]
    pub config: Option<PathBuf>,
    /// Re-records each trace's expected events with this build, after a deliberate change of
    /// behaviour (the trace is rewritten in place, atomically).
    #[arg(long)]
    pub bless: bool,
    /// Where the what-if writes whatif.json and its charts (default:
    /// replay-out/TRACE-whatif; with several traces, DIR/TRACE-whatif for each).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// No progress bar (for CI and scripts).
    #[arg(long)]
    pub quiet: bool,
}

/// `matchwright trace ...`.
#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// Turns a server's journal into a trace: the oldest snapshot kept, then every journaled
    /// tick after it. The server must be stopped (the store is opened read-only).
    Export(ExportArgs),
}

/// `matchwright trace export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The server's data directory (holding matchwright.redb).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// The trace to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Re-runs the journal to keep each tick's events in the trace (checked against the
    /// journal's hashes as it goes), so a divergent replay shows a diff.
    #[arg(long)]
    pub events: bool,
}

/// An outcome and its exit code.
#[derive(Debug)]
pub struct Outcome {
    /// 0 identical, 1 divergent, 2 bad input.
    pub code: u8,
    /// What to print.
    pub report: String,
}

fn bad_input(report: String) -> Outcome {
    Outcome { code: 2, report }
}

/// The trace files `paths` name: files as given, directories as their `*.mwtrace` files.
pub fn trace_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        let meta = fs::metadata(path).map_err(|error| format!("{}: {error}", path.display()))?;
        if meta.is_dir() {
            let mut found: Vec<PathBuf> = fs::read_dir(path)
                .map_err(|error| format!("{}: {error}", path.display()))?
                .flatten()
                .map(|entry| entry.path())
                .filter(|file| file.extension().is_some_and(|ext| ext == "mwtrace"))
                .collect();
            if found.is_empty() {
                return Err(format!("{}: no .mwtrace files in it", path.display()));
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Counts the bytes read through it, for the progress bar.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.read.fetch_add(read as u64, Ordering::Relaxed);
        Ok(read)
    }
}

type TraceInput = TraceReader<Counting<BufReader<fs::File>>>;

fn open(path: &Path) -> Result<(TraceInput, u64, Arc<AtomicU64>), ReplayError> {
    let file = fs::File::open(path)
        .map_err(|error| ReplayError::Setup(format!("cannot open {}: {error}", path.display())))?;
    let length = file.metadata().map(|meta| meta.len()).unwrap_or(0);
    let read = Arc::new(AtomicU64::new(0));
    let reader = TraceReader::new(Counting {
        inner: BufReader::with_capacity(1 << 20, file),
        read: Arc::clone(&read),
    })?;
    Ok((reader, length, read))
}

fn bar(quiet: bool, length: u64, prefix: String) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {bytes}/{total_bytes} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(prefix);
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// Runs `matchwright replay`.
pub fn replay(args: &ReplayArgs, hooks: &Hooks<'_>) -> Outcome {
    let files = match trace_files(&args.traces) {
        Ok(files) => files,
        Err(error) => return bad_input(format!("matchwright replay: {error}\n")),
    };
    let config = match &args.config {
        Some(path) => match (hooks.load_config)(path) {
            Ok(config) => Some(config),
            Err(error) => return bad_input(format!("matchwright replay: {error}\n")),
        },
        None => None,
    };
    let mut code = 0;
    let mut report = String::new();
    for file in &files {
        let outcome = if args.bless {
            bless_one(file, args.quiet)
        } else if let Some(config) = &config {
            what_if_one(file, config.clone(), args, files.len() > 1, hooks)
        } else {
            verify_one(file, args.quiet)
        };
        code = code.max(outcome.code);
        report.push_str(&outcome.report);
    }
    if files.len() > 1 && !args.bless && config.is_none() {
        let _ = writeln!(
            report,
            "{} traces: {}",
            files.len(),
            match code {
                0 => "all identical",
                1 => "some diverged",
                _ => "some could not be replayed",
            }
        );
    }
    Outcome { code, report }
}

fn failure(file: &Path, ticks: u64, error: &ReplayError) -> Outcome {
    let code = if matches!(error, ReplayError::Diverged(_)) {
        1
    } else {
        2
    };
    let what = if code == 1 { "DIVERGED" } else { "FAILED" };
    let mut report = format!("{}: {what}\n", file.display());
    if !matches!(error, ReplayError::Diverged(_)) && ticks > 0 {
        let _ = writeln!(report, "  {ticks} ticks replayed identically before this:");
    }
    for line in error.to_string().lines() {
        let _ = writeln!(report, "  {line}");
    }
    Outcome { code, report }
}

fn verify_one(file: &Path, quiet: bool) -> Outcome {
    let (reader, length, read) = match open(file) {
        Ok(opened) => opened,
        Err(error) => return failure(file, 0, &error),
    };
    let header = summary_header(reader.header());
    let bar = bar(quiet, length, "replay".into());
    let mut ticks = 0u64;
    let result = crate::replay(reader, Check::Verify, |_, _| {
        ticks += 1;
        if ticks.is_multiple_of(4096) {
            bar.set_position(read.load(Ordering::Relaxed));
        }
        Ok(())
    });
    bar.finish_and_clear();
    match result {
        Ok(summary) => Outcome {
            code: 0,
            report: format!(
                "{}: identical\n  {header}\n{}",
                file.display(),
                describe(&summary)
            ),
        },
        Err(error) => failure(file, ticks, &error),
    }
}

fn summary_header(header: &TraceHeader) -> String {
    let note = if header.matcher_version == MATCHER_VERSION {
        String::new()
    } else {
        format!(" (this build is {MATCHER_VERSION})")
    };
    format!(
        "recorded by matcher {}{note} from {}{}{}",
        header.matcher_version,
        header.source,
        if header.base.is_some() {
            ", from a base state"
        } else {
            ""
        },
        if header.with_events {
            ", with events"
        } else {
            ""
        }
    )
}

/// The summary lines of a replay that finished.
pub fn describe(summary: &Summary) -> String {
    let span = summary.span_ms() / 1_000;
    format!(
        "  ticks {} ({}..{}), commands {}, events {}, matches {}, rejected {}\n  matcher time \
         {}:{:02}:{:02}, replayed in {:.2} s ({:.0} commands/s, {:.0} ticks/s), {:.1} MB\n",
        summary.ticks,
        summary.first_tick,
        summary.last_tick,
        summary.commands,
        summary.events,
        summary.matches,
        summary.rejected,
        span / 3600,
        span / 60 % 60,
        span % 60,
        summary.elapsed.as_secs_f64(),
        summary.commands_per_second(),
        summary.ticks as f64 / summary.elapsed.as_secs_f64().max(1e-9),
        summary.bytes as f64 / 1e6
    )
}

fn bless_one(file: &Path, quiet: bool) -> Outcome {
    let (reader, length, read) = match open(file) {
        Ok(opened) => opened,
        Err(error) => return failure(file, 0, &error),
    };
    let temporary = file.with_extension("mwtrace.blessing");
    let out = match fs::File::create(&temporary) {
        Ok(out) => BufWriter::new(out),
        Err(error) => {
            return bad_input(format!(
                "{}: FAILED\n  cannot create {}: {error}\n",
                file.display(),
                temporary.display()
            ));
        }
    };
    let bar = bar(quiet, length, "bless".into());
    let poll = Arc::clone(&read);
    let ticker = std::thread::spawn({
        let bar = bar.clone();
        move || {
            while !bar.is_finished() {
                bar.set_position(poll.load(Ordering::Relaxed));
                std::thread::sleep(Duration::from_millis(250));
            }
        }
    });
    let result = crate::bless(reader, out, MATCHER_VERSION);
    bar.finish_and_clear();
    let _ = ticker.join();
    let blessed = match result.map(|(blessed, out)| {
        out.into_inner()
            .map_err(|error| error.into_error().to_string())
            .and_then(|file| file.sync_all().map_err(|error| error.to_string()))
            .map(|()| blessed)
    }) {
        Ok(Ok(blessed)) => blessed,
        Ok(Err(error)) => {
            let _ = fs::remove_file(&temporary);
            return bad_input(format!("{}: FAILED\n  {error}\n", file.display()));
        }
        Err(error) => {
            let _ = fs::remove_file(&temporary);
            return failure(file, 0, &error);
        }
    };
    if let Err(error) = fs::rename(&temporary, file) {
        let _ = fs::remove_file(&temporary);
        return bad_input(format!(
            "{}: FAILED\n  cannot replace it: {error}\n",
            file.display()
        ));
    }
    let change = match blessed.first_changed {
        Some(tick) => format!(
            "{} of {} ticks re-recorded with new events, the first at tick {tick}",
            blessed.changed, blessed.ticks
        ),
        None => format!("{} ticks, none changed", blessed.ticks),
    };
    Outcome {
        code: 0,
        report: format!(
            "{}: blessed ({change}; recorded by matcher {}, now {MATCHER_VERSION})\n",
            file.display(),
            blessed.previous_version
        ),
    }
}

fn what_if_one(
    file: &Path,
    config: Config,
    args: &ReplayArgs,
    several: bool,
    hooks: &Hooks<'_>,
) -> Outcome {
    let stem = file.file_stem().map_or_else(
        || "trace".into(),
        |stem| stem.to_string_lossy().into_owned(),
    );
    // One directory per trace, so the segments of a directory do not overwrite each other.
    let out = match &args.out {
        Some(out) if several => out.join(format!("{stem}-whatif")),
        Some(out) => out.clone(),
        None => PathBuf::from("replay-out").join(format!("{stem}-whatif")),
    };
    let bar = bar(args.quiet, 0, "what-if".into());
    bar.set_style(
        ProgressStyle::with_template("{prefix} {spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let mut ticks = 0u64;
    let result = (hooks.what_if)(file, config, &out, &mut |pass, frame: &TickFrame| {
        ticks += 1;
        if ticks.is_multiple_of(4096) {
            bar.set_message(format!("{pass}: tick {}", frame.record.tick));
        }
    });
    bar.finish_and_clear();
    match result {
        Ok(result) => Outcome {
            code: 0,
            report: format!(
                "{}: what-if over {} ticks, {} commands, {:.0} s of matcher time\n\n{table}\n\
                 (the recorded inputs replayed as they were, with match ids carried over to \
                 the new config's matches; players do not otherwise react to it)\nwrote {}/whatif.json and charts (matches, ttm, quality, \
                 ttm-recorded, ttm-new)\n",
                file.display(),
                result.ticks,
                result.commands,
                result.span_s,
                out.display(),
                table = result.table,
            ),
        },
        Err(error) => failure(file, 0, &error),
    }
}

/// Runs `matchwright trace export`.
pub fn export(args: &ExportArgs) -> Outcome {
    match export_journal(args) {
        Ok(report) => Outcome { code: 0, report },
        Err(outcome) => outcome,
    }
}

fn export_failure(error: String) -> Outcome {
    bad_input(format!("matchwright trace export: {error}\n"))
}

/// What an export wrote.
struct Exported {
    /// The first tick (the one after the base snapshot's).
    first_tick: u64,
    /// Journal entries walked.
    ticks: u64,
    /// Commands in them.
    commands: u64,
    /// The last tick written.
    last_tick: u64,
}

fn export_journal(args: &ExportArgs) -> Result<String, Outcome> {
    let store_path = args.data_dir.join("matchwright.redb");
    let fail = |error: String| export_failure(error);
    let store = JournalExport::open(&store_path).map_err(|error| fail(error.to_string()))?;
    let base = store.base().map_err(|error| fail(error.to_string()))?;
    let mut notes = String::new();
    if let Some(oldest) = base.other_config_from {
        let _ = writeln!(
            notes,
            "note: the journal from tick {oldest} to tick {} ran under an earlier config and \
             is left out; the trace starts at tick {}",
            base.tick,
            base.tick + 1
        );
    }
    let temporary = args.out.with_extension("mwtrace.exporting");
    let written = write_trace(&store, base, &store_path, &temporary, args);
    let exported = match written {
        Ok(exported) => exported,
        Err(outcome) => {
            let _ = fs::remove_file(&temporary);
            return Err(outcome);
        }
    };
    fs::rename(&temporary, &args.out).map_err(|error| {
        let _ = fs::remove_file(&temporary);
        fail(format!("cannot write {}: {error}", args.out.display()))
    })?;
    let bytes = fs::metadata(&args.out).map_or(0, |meta| meta.len());
    Ok(format!(
        "{notes}exported ticks {}..{} ({} ticks, {} commands{}) from {} to {} ({:.1} MB)\n",
        exported.first_tick,
        exported.last_tick,
        exported.ticks,
        exported.commands,
        if args.events { ", with events" } else { "" },
        store_path.display(),
        args.out.display(),
        bytes as f64 / 1e6
    ))
}

/// Writes the trace of the journal after `base` to `temporary`, synced.
fn write_trace(
    store: &JournalExport,
    base: ExportBase,
    store_path: &Path,
    temporary: &Path,
    args: &ExportArgs,
) -> Result<Exported, Outcome> {
    let fail = |error: String| export_failure(error);
    let mut matcher = if args.events {
        Some(
            Matcher::restore(base.config.clone(), &base.state)
                .map_err(|error| fail(format!("the base snapshot does not restore: {error}")))?,
        )
    } else {
        None
    };
    let header = TraceHeader {
        matcher_version: MATCHER_VERSION.to_string(),
        config_toml: base.config.to_toml_string(),
        seed: 0,
        source: format!("journal:{}", store_path.display()),
        base: Some(base.state),
        with_events: args.events,
    };
    let file = fs::File::create(temporary)
        .map_err(|error| fail(format!("cannot create {}: {error}", temporary.display())))?;
    let mut writer = TraceWriter::new(BufWriter::with_capacity(1 << 20, file), &header)
        .map_err(|error| fail(error.to_string()))?;
    drop(header);
    let (mut commands, mut last_tick) = (0u64, base.tick);
    let (base_tick, base_chain) = (base.tick, base.chain);
    let mut events = Vec::new();
    let walked = store.entries(base_tick, base_chain, |entry| -> Result<(), Outcome> {
        commands += entry.record.commands.len() as u64;
        last_tick = entry.record.tick;
        let frame = export_frame(entry.record, matcher.as_mut(), &mut events)?;
        writer.tick(&frame).map_err(|error| fail(error.to_string()))
    });
    let ticks = match walked {
        Ok(ticks) => ticks,
        Err(Ok(error)) => return Err(fail(error.to_string())),
        Err(Err(outcome)) => return Err(outcome),
    };
    let out = writer.finish().map_err(|error| fail(error.to_string()))?;
    let file = out
        .into_inner()
        .map_err(|error| fail(error.into_error().to_string()))?;
    file.sync_all()
        .map_err(|error| fail(format!("{}: {error}", temporary.display())))?;
    Ok(Exported {
        first_tick: base_tick + 1,
        ticks,
        commands,
        last_tick,
    })
}

/// One journaled tick as a trace frame: as journaled; with `--events` (a `matcher`), re-run
/// and checked against the journal's hash, with its events kept.
fn export_frame(
    record: matchwright_ecs::TickRecord,
    matcher: Option<&mut Matcher>,
    events: &mut Vec<matchwright_ecs::Event>,
) -> Result<TickFrame, Outcome> {
    let mut frame = TickFrame {
        record,
        events: None,
    };
    let Some(matcher) = matcher else {
        return Ok(frame);
    };
    match frame.record.apply(matcher, events) {
        Ok(()) => frame.events = Some(events.clone()),
        Err(error @ matchwright_ecs::ApplyError::Diverged { .. }) => {
            return Err(Outcome {
                code: 1,
                report: format!(
                    "matchwright trace export: the journal does not replay under this build: \
                     tick {}: {error} (export without --events to keep the journal as it is)\n",
                    frame.record.tick,
                ),
            });
        }
        Err(error) => {
            return Err(export_failure(format!("re-running the journal: {error}")));
        }
    }
    Ok(frame)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::cell::Cell;

    use matchwright_ecs::{Command, EnqueueTicket, Event, PlayerId, Rating, TicketId};
    use matchwright_storage::{Store, StoreOptions, TickInput};

    use super::*;

    /// A stopped server's data directory: a store of `ticks` ticks, one player queued in each.
    fn data_dir(dir: &Path, ticks: u64) -> PathBuf {
        let data = dir.join("data");
        fs::create_dir_all(&data).unwrap();
        let opened = Store::open(
            data.join("matchwright.redb"),
            Config::default(),
            3,
            StoreOptions::default(),
        )
        .unwrap();
        let (mut store, mut matcher) = (opened.store, opened.matcher);
        for tick in 1..=ticks {
            let commands = vec![Command::Enqueue(EnqueueTicket::solo(
                TicketId(tick),
                "duel-1v1",
                PlayerId(tick),
                Rating::new(1500.0 + tick as f64, 100.0),
                vec![30, 90, 200, 250],
            ))];
            matcher.submit(commands[0].clone()).unwrap();
            let report = matcher.tick(tick * 100).unwrap();
            let events: Vec<Event> = matcher.drain_events().collect();
            let input = TickInput {
                tick: report.tick,
                now_ms: tick * 100,
                commands: &commands,
                events: &events,
            };
            store.commit_tick(input, &matcher).unwrap();
        }
        data
    }

    fn export_args(data_dir: PathBuf, out: PathBuf) -> ExportArgs {
        ExportArgs {
            data_dir,
            out,
            events: true,
        }
    }

    fn replay_args(trace: &Path, config: Option<PathBuf>) -> ReplayArgs {
        ReplayArgs {
            traces: vec![trace.to_path_buf()],
            config,
            bless: false,
            out: None,
            quiet: true,
        }
    }

    fn no_config(_: &Path) -> Result<Config, String> {
        Err("no config expected".into())
    }

    fn no_what_if(
        _: &Path,
        _: Config,
        _: &Path,
        _: &mut Progress<'_>,
    ) -> Result<WhatIfRun, ReplayError> {
        Err(ReplayError::Setup("no what-if expected".into()))
    }

    #[test]
    fn an_exported_journal_replays_identically() {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("journal.mwtrace");
        let exported = export(&export_args(data_dir(dir.path(), 12), trace.clone()));
        assert_eq!(exported.code, 0, "{}", exported.report);
        assert!(
            exported
                .report
                .contains("exported ticks 1..12 (12 ticks, 12 commands, with events)"),
            "{}",
            exported.report
        );
        let hooks = Hooks {
            load_config: &no_config,
            what_if: &no_what_if,
        };
        let replayed = replay(&replay_args(&trace, None), &hooks);
        assert_eq!(replayed.code, 0, "{}", replayed.report);
        assert!(replayed.report.contains("identical"), "{}", replayed.report);
    }

    #[test]
    fn a_what_if_goes_through_the_hooks_given() {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("journal.mwtrace");
        let exported = export(&export_args(data_dir(dir.path(), 5), trace.clone()));
        assert_eq!(exported.code, 0, "{}", exported.report);
        let asked = Cell::new(false);
        let load_config = |path: &Path| {
            assert!(path.ends_with("new.toml"));
            asked.set(true);
            Ok(Config::default())
        };
        let what_if = |_: &Path,
                       _: Config,
                       out: &Path,
                       progress: &mut Progress<'_>|
         -> Result<WhatIfRun, ReplayError> {
            assert!(out.ends_with("journal-whatif"));
            let _ = progress;
            Ok(WhatIfRun {
                ticks: 5,
                commands: 5,
                span_s: 0.5,
                table: "THE TABLE".into(),
            })
        };
        let hooks = Hooks {
            load_config: &load_config,
            what_if: &what_if,
        };
        let outcome = replay(&replay_args(&trace, Some("new.toml".into())), &hooks);
        assert!(asked.get());
        assert_eq!(outcome.code, 0, "{}", outcome.report);
        assert!(outcome.report.contains("what-if over 5 ticks, 5 commands"));
        assert!(outcome.report.contains("THE TABLE"));

        // A config that does not load is bad input, in the hook's words.
        let hooks = Hooks {
            load_config: &no_config,
            what_if: &no_what_if,
        };
        let outcome = replay(&replay_args(&trace, Some("new.toml".into())), &hooks);
        assert_eq!(outcome.code, 2);
        assert_eq!(outcome.report, "matchwright replay: no config expected\n");
    }

    #[test]
    fn a_damaged_journal_is_bad_input_and_leaves_no_trace_behind() {
        let dir = tempfile::tempdir().unwrap();
        let data = data_dir(dir.path(), 6);
        {
            let db = redb::Database::open(data.join("matchwright.redb")).unwrap();
            let txn = db.begin_write().unwrap();
            let journal: redb::TableDefinition<'_, u64, &[u8]> =
                redb::TableDefinition::new("journal");
            txn.open_table(journal).unwrap().remove(4).unwrap();
            txn.commit().unwrap();
        }
        let trace = dir.path().join("journal.mwtrace");
        let outcome = export(&export_args(data, trace.clone()));
        assert_eq!(outcome.code, 2, "{}", outcome.report);
        assert!(
            outcome
                .report
                .contains("is damaged: journal entry 5 follows tick 3"),
            "{}",
            outcome.report
        );
        assert!(!trace.exists());
        assert!(!trace.with_extension("mwtrace.exporting").exists());
    }
}
