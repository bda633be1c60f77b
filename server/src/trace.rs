//! `matchwright replay` and `matchwright trace export`: the command-line side of the trace
//! tools. The format and the replayer live in `matchwright-replay`, the what-if report in
//! `matchwright_sim::whatif`; this module finds the files, prints, and picks exit codes:
//! 0 identical, 1 divergent, 2 bad input (an unreadable or damaged trace, a bad config).

use std::fmt::Write as _;
use std::fs;
use std::io::{BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use matchwright_ecs::Matcher;
use matchwright_replay::{
    Check, MATCHER_VERSION, ReplayError, Summary, TickFrame, TraceHeader, TraceReader, TraceWriter,
};
use matchwright_storage::JournalExport;

use crate::settings::Settings;

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
pub fn replay(args: &ReplayArgs) -> Outcome {
    let files = match trace_files(&args.traces) {
        Ok(files) => files,
        Err(error) => return bad_input(format!("matchwright replay: {error}\n")),
    };
    let config = match &args.config {
        Some(path) => match Settings::load(path) {
            Ok(settings) => Some(settings.matcher),
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
            what_if_one(file, config.clone(), args, files.len() > 1)
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
    let result = matchwright_replay::replay(reader, Check::Verify, |_, _| {
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
    let result = matchwright_replay::bless(reader, out, MATCHER_VERSION);
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
    config: matchwright_ecs::Config,
    args: &ReplayArgs,
    several: bool,
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
    let result = matchwright_sim::whatif::what_if(file, config, &out, |pass, frame: &TickFrame| {
        ticks += 1;
        if ticks.is_multiple_of(4096) {
            bar.set_message(format!("{pass}: tick {}", frame.record.tick));
        }
    });
    bar.finish_and_clear();
    match result {
        Ok((result, table)) => Outcome {
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
                out.display()
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

fn export_journal(args: &ExportArgs) -> Result<String, Outcome> {
    let store_path = args.data_dir.join("matchwright.redb");
    let fail = |error: String| bad_input(format!("matchwright trace export: {error}\n"));
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
    let temporary = args.out.with_extension("mwtrace.exporting");
    let file = fs::File::create(&temporary)
        .map_err(|error| fail(format!("cannot create {}: {error}", temporary.display())))?;
    let mut writer = TraceWriter::new(BufWriter::with_capacity(1 << 20, file), &header)
        .map_err(|error| fail(error.to_string()))?;
    drop(header);
    let (mut commands, mut last_tick) = (0u64, base.tick);
    let mut events = Vec::new();
    let walked = store.entries(base.tick, |entry| -> Result<(), Outcome> {
        commands += entry.record.commands.len() as u64;
        last_tick = entry.record.tick;
        // As journaled; with --events, re-run and checked against the journal's hash.
        let mut frame = TickFrame {
            record: entry.record,
            events: None,
        };
        if let Some(matcher) = &mut matcher {
            match frame.record.apply(matcher, &mut events) {
                Ok(()) => frame.events = Some(events.clone()),
                Err(error @ matchwright_ecs::ApplyError::Diverged { .. }) => {
                    return Err(Outcome {
                        code: 1,
                        report: format!(
                            "matchwright trace export: the journal does not replay under this \
                             build: tick {}: {error} (export without --events to keep the \
                             journal as it is)\n",
                            frame.record.tick,
                        ),
                    });
                }
                Err(error) => return Err(fail(format!("re-running the journal: {error}"))),
            }
        }
        writer.tick(&frame).map_err(|error| fail(error.to_string()))
    });
    let finished = match walked {
        Ok(ticks) => writer
            .finish()
            .map_err(|error| fail(error.to_string()))
            .and_then(|out| {
                out.into_inner()
                    .map_err(|error| fail(error.into_error().to_string()))
            })
            .and_then(|file| {
                file.sync_all()
                    .map_err(|error| fail(format!("{}: {error}", temporary.display())))
            })
            .map(|()| ticks),
        Err(Ok(error)) => Err(fail(error.to_string())),
        Err(Err(outcome)) => Err(outcome),
    };
    let ticks = match finished {
        Ok(ticks) => ticks,
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
        "{notes}exported ticks {}..{} ({ticks} ticks, {commands} commands{}) from {} to {} \
         ({:.1} MB)\n",
        base.tick + 1,
        last_tick,
        if args.events { ", with events" } else { "" },
        store_path.display(),
        args.out.display(),
        bytes as f64 / 1e6
    ))
}
