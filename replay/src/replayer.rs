//! The replayer: re-runs the core from a trace, tick by tick, and checks that every tick's
//! events hash as recorded. Also re-runs a trace's inputs under another config (what-if), and
//! re-records a trace's expected events after a deliberate change (bless).
//!
//! The core is fed exactly what it was fed when recording: the base state (or an empty matcher
//! from the config and seed), then each tick's commands in submission order and the tick's
//! time. Nothing here reads a clock but the wall time the summary reports.

use std::fmt;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use matchwright_ecs::codec;
use matchwright_ecs::{Command, Config, Event, EventChain, Matcher, TickRecord};

use crate::diff::{self, event_line};
use crate::format::{TickFrame, TraceError, TraceHeader, TraceReader, TraceWriter, hash_events};

/// What a replay did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Ticks replayed.
    pub ticks: u64,
    /// Commands submitted.
    pub commands: u64,
    /// Events the matcher emitted.
    pub events: u64,
    /// Matches formed (`MatchFormed` events).
    pub matches: u64,
    /// Commands the matcher rejected (`Rejected` events).
    pub rejected: u64,
    /// The first and last tick replayed (0 when none).
    pub first_tick: u64,
    /// The last tick replayed.
    pub last_tick: u64,
    /// Matcher time of the base state (or 0) and of the last tick.
    pub from_ms: u64,
    /// Matcher time of the last tick.
    pub to_ms: u64,
    /// Bytes of trace read.
    pub bytes: u64,
    /// Wall time the replay took.
    pub elapsed: Duration,
    /// The chain of the replayed ticks' event hashes (`EventChain`): equal to the journal's
    /// and the simulator's for the same run.
    pub chain: EventChain,
}

impl Summary {
    /// Commands replayed per second of wall time.
    pub fn commands_per_second(&self) -> f64 {
        self.commands as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Matcher time the trace covers.
    pub fn span_ms(&self) -> u64 {
        self.to_ms.saturating_sub(self.from_ms)
    }
}

/// The first tick whose events differ from the recording.
#[derive(Clone, Debug, PartialEq)]
pub struct Divergence {
    /// The tick.
    pub tick: u64,
    /// Its time.
    pub now_ms: u64,
    /// Where its frame starts in the trace.
    pub frame_offset: u64,
    /// Ticks that replayed identically before it.
    pub ticks_before: u64,
    /// The recorded hash and count.
    pub expected_hash: [u8; 32],
    /// The recorded number of events.
    pub expected_count: u64,
    /// The replayed hash and count.
    pub actual_hash: [u8; 32],
    /// The replayed number of events.
    pub actual_count: u64,
    /// The tick's commands.
    pub commands: Vec<Command>,
    /// The recorded events, when the trace holds them.
    pub expected: Option<Vec<Event>>,
    /// The replayed events.
    pub actual: Vec<Event>,
}

/// At most this many commands and events are listed in a divergence report.
const LISTED: usize = 20;

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "tick {} diverged (matcher time {} ms, frame at byte {}; the {} ticks before it \
             replayed identically)",
            self.tick, self.now_ms, self.frame_offset, self.ticks_before
        )?;
        writeln!(
            f,
            "  recorded: {} events hashing {}",
            self.expected_count,
            codec::hex(&self.expected_hash)
        )?;
        writeln!(
            f,
            "  replayed: {} events hashing {}",
            self.actual_count,
            codec::hex(&self.actual_hash)
        )?;
        writeln!(f, "  the tick's commands ({}):", self.commands.len())?;
        for command in self.commands.iter().take(LISTED) {
            writeln!(f, "    {command:?}")?;
        }
        if self.commands.len() > LISTED {
            writeln!(f, "    ... and {} more", self.commands.len() - LISTED)?;
        }
        match &self.expected {
            Some(expected) => {
                writeln!(f, "  events, recorded (-) against replayed (+):")?;
                write!(f, "{}", diff::diff_events(expected, &self.actual))
            }
            None => {
                writeln!(
                    f,
                    "  the trace holds only the hash of this tick's events (record with events \
                     for a diff); the replayed events:"
                )?;
                for event in self.actual.iter().take(LISTED) {
                    writeln!(f, "  + {}", event_line(event))?;
                }
                if self.actual.len() > LISTED {
                    writeln!(f, "    ... and {} more", self.actual.len() - LISTED)?;
                }
                Ok(())
            }
        }
    }
}

/// A replay could not finish.
#[derive(Debug)]
pub enum ReplayError {
    /// The trace is unreadable or damaged.
    Trace(TraceError),
    /// The trace's config (or the one given) does not load, or the base state does not restore
    /// under it.
    Setup(String),
    /// The matcher refused a tick or a command, or the trace skips a tick.
    Matcher {
        /// The tick.
        tick: u64,
        /// Where its frame starts.
        frame_offset: u64,
        /// What happened.
        detail: String,
    },
    /// A tick's events differ from the recording.
    Diverged(Box<Divergence>),
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Trace(error) => write!(f, "{error}"),
            Self::Setup(detail) => write!(f, "{detail}"),
            Self::Matcher {
                tick,
                frame_offset,
                detail,
            } => write!(f, "tick {tick} (frame at byte {frame_offset}): {detail}"),
            Self::Diverged(divergence) => write!(f, "{divergence}"),
        }
    }
}

impl std::error::Error for ReplayError {}

impl From<TraceError> for ReplayError {
    fn from(error: TraceError) -> Self {
        Self::Trace(error)
    }
}

/// How to replay.
#[derive(Clone, Debug, Default)]
pub enum Check {
    /// Under the trace's config, checking every tick's events against the recording.
    #[default]
    Verify,
    /// Under the trace's config, without checking (to re-record: bless).
    Rerun,
    /// Under another config (what-if): the same inputs, nothing checked.
    Config(Box<Config>),
}

/// The matcher a trace starts from: its base state (restored under `config`), or an empty
/// matcher from the config and seed.
pub fn starting_matcher(
    header: &TraceHeader,
    base: Option<&matchwright_ecs::Snapshot>,
    config: Option<Config>,
) -> Result<Matcher, ReplayError> {
    let which = if config.is_some() {
        "the new config"
    } else {
        "the trace's config"
    };
    let config = match config {
        Some(config) => config,
        None => Config::from_toml_str(&header.config_toml).map_err(|error| {
            ReplayError::Setup(format!("the trace's config does not load: {error}"))
        })?,
    };
    match base {
        Some(snapshot) => Matcher::restore(config, snapshot).map_err(|error| {
            ReplayError::Setup(format!(
                "the trace's base state does not restore under {which}: {error}"
            ))
        }),
        None => Matcher::new(config, header.seed)
            .map_err(|error| ReplayError::Setup(format!("the config is not valid: {error}"))),
    }
}

/// Replays a trace. `observe` sees every tick's frame (as recorded) and the events the
/// replay produced; it may stop the replay with an error of its own.
pub fn replay<R: Read>(
    mut reader: TraceReader<R>,
    check: Check,
    mut observe: impl FnMut(&TickFrame, &[Event]) -> Result<(), String>,
) -> Result<Summary, ReplayError> {
    let started = Instant::now();
    let base = reader.take_base();
    let has_base = base.is_some();
    let (config, verify) = match check {
        Check::Verify => (None, true),
        Check::Rerun => (None, false),
        Check::Config(config) => (Some(*config), false),
    };
    let mut matcher = starting_matcher(reader.header(), base.as_ref(), config)?;
    drop(base);
    let mut summary = Summary {
        from_ms: matcher.now_ms(),
        to_ms: matcher.now_ms(),
        ..Summary::default()
    };
    let mut events = Vec::new();
    while let Some(frame) = reader.next_tick()? {
        let frame_offset = reader.frame_offset();
        let report = run_tick(&mut matcher, &frame, frame_offset, &mut events)?;
        let events_hash = hash_events(&events);
        summary.chain.push(&events_hash);
        summary.ticks += 1;
        summary.commands += frame.record.commands.len() as u64;
        summary.events += events.len() as u64;
        for event in &events {
            match event {
                Event::MatchFormed { .. } => summary.matches += 1,
                Event::Rejected { .. } => summary.rejected += 1,
                _ => {}
            }
        }
        if summary.first_tick == 0 {
            summary.first_tick = report;
            if !has_base {
                // No base state: the span starts at the first tick (a server's clock is Unix
                // time, not time since 0).
                summary.from_ms = frame.record.now_ms;
            }
        }
        summary.last_tick = report;
        summary.to_ms = frame.record.now_ms;
        if verify
            && let Some(divergence) = divergence(
                &frame,
                frame_offset,
                summary.ticks - 1,
                &events,
                events_hash,
            )
        {
            return Err(ReplayError::Diverged(divergence));
        }
        observe(&frame, &events).map_err(|detail| ReplayError::Matcher {
            tick: frame.record.tick,
            frame_offset,
            detail,
        })?;
    }
    summary.bytes = reader.bytes();
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Checks a replayed tick's events (whose hash is `actual_hash`) against its frame: `None`
/// when they hash and count as recorded, else the divergence (copying the frame's commands and
/// the events, once).
pub fn divergence(
    frame: &TickFrame,
    frame_offset: u64,
    ticks_before: u64,
    events: &[Event],
    actual_hash: [u8; 32],
) -> Option<Box<Divergence>> {
    let record = &frame.record;
    if actual_hash == record.event_hash && events.len() as u64 == record.event_count {
        return None;
    }
    Some(Box::new(Divergence {
        tick: record.tick,
        now_ms: record.now_ms,
        frame_offset,
        ticks_before,
        expected_hash: record.event_hash,
        expected_count: record.event_count,
        actual_hash,
        actual_count: events.len() as u64,
        commands: record.commands.clone(),
        expected: frame.events.clone(),
        actual: events.to_vec(),
    }))
}

/// Runs one frame's tick record (`TickRecord::run`, the one function every shell applies a
/// tick with); `events` receives what the matcher emitted. Returns the tick number.
pub fn run_tick(
    matcher: &mut Matcher,
    frame: &TickFrame,
    frame_offset: u64,
    events: &mut Vec<Event>,
) -> Result<u64, ReplayError> {
    frame
        .record
        .run(matcher, events)
        .map_err(|error| ReplayError::Matcher {
            tick: frame.record.tick,
            frame_offset,
            detail: format!("the matcher refused it: {error}"),
        })?;
    Ok(frame.record.tick)
}

/// What blessing a trace changed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Blessed {
    /// Ticks re-recorded.
    pub ticks: u64,
    /// Ticks whose events changed.
    pub changed: u64,
    /// The first tick that changed.
    pub first_changed: Option<u64>,
    /// The matcher version the trace was recorded with before.
    pub previous_version: String,
}

/// Re-records a trace under the current code: the same header (with `matcher_version`) and
/// inputs, each tick's expected events replaced by what the matcher now emits. For a
/// deliberate change of behaviour; the caller writes `out` beside the trace and renames it
/// over, so a failure leaves the trace as it was.
pub fn bless<R: Read, W: Write>(
    mut reader: TraceReader<R>,
    out: W,
    matcher_version: &str,
) -> Result<(Blessed, W), ReplayError> {
    let mut header = reader.header().clone();
    let previous_version = std::mem::replace(&mut header.matcher_version, matcher_version.into());
    let mut writer = TraceWriter::new(out, &header)?;
    let mut matcher = starting_matcher(&header, header.base.as_ref(), None)?;
    header.base = None;
    drop(reader.take_base());
    let mut blessed = Blessed {
        previous_version,
        ..Blessed::default()
    };
    let mut events = Vec::new();
    while let Some(frame) = reader.next_tick()? {
        let frame_offset = reader.frame_offset();
        run_tick(&mut matcher, &frame, frame_offset, &mut events)?;
        let old = frame.record;
        let (tick, changed) = (old.tick, old.event_hash);
        let fresh = TickFrame::new(
            TickRecord::of(old.tick, old.now_ms, old.commands, &events),
            &events,
            header.with_events,
        );
        if fresh.record.event_hash != changed || fresh.record.event_count != old.event_count {
            blessed.changed += 1;
            blessed.first_changed.get_or_insert(tick);
        }
        writer.tick(&fresh)?;
        blessed.ticks += 1;
    }
    Ok((blessed, writer.finish()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::TraceHeader;
    use matchwright_ecs::TicketMember;
    use matchwright_ecs::{EnqueueTicket, PlayerId, Rating, TicketId};

    const CONFIG: &str = r#"
regions = ["eu"]

[[queues]]
name = "duel"
mode = "duel"
teams = 2
team_size = 1
max_party_size = 1
"#;

    fn config() -> Config {
        Config::from_toml_str(CONFIG).unwrap()
    }

    fn enqueue(id: u64, mu: f64) -> Command {
        Command::Enqueue(EnqueueTicket {
            ticket: TicketId(id),
            queue: "duel".into(),
            party: None,
            members: vec![TicketMember {
                player: PlayerId(id),
                rating: Rating {
                    mu,
                    sigma: 100.0,
                    volatility: 0.06,
                },
                pings_ms: vec![30],
                attributes: Default::default(),
                roles: Vec::new(),
                avoid: Vec::new(),
            }],
            max_ping_ms: None,
            waiting_since_ms: None,
            attributes: Default::default(),
        })
    }

    /// Records a trace by running the matcher: 20 ticks, two players queued every other tick.
    fn record(config: &Config, with_events: bool) -> Vec<u8> {
        let header = TraceHeader {
            matcher_version: "test".into(),
            config_toml: config.to_toml_string(),
            seed: 3,
            source: "test".into(),
            base: None,
            with_events,
        };
        let mut matcher = Matcher::new(config.clone(), 3).unwrap();
        let mut writer = TraceWriter::new(Vec::new(), &header).unwrap();
        for tick in 1..=20u64 {
            let commands = if tick % 2 == 1 {
                vec![enqueue(tick, 1500.0), enqueue(tick + 100, 1510.0)]
            } else {
                Vec::new()
            };
            for command in &commands {
                matcher.submit(command.clone()).unwrap();
            }
            let report = matcher.tick(tick * 100).unwrap();
            let events: Vec<Event> = matcher.drain_events().collect();
            writer
                .tick(&TickFrame::new(
                    TickRecord::of(report.tick, tick * 100, commands, &events),
                    &events,
                    with_events,
                ))
                .unwrap();
        }
        writer.finish().unwrap()
    }

    fn verify(bytes: &[u8]) -> Result<Summary, ReplayError> {
        replay(TraceReader::new(bytes).unwrap(), Check::Verify, |_, _| {
            Ok(())
        })
    }

    #[test]
    fn without_a_base_the_span_starts_at_the_first_tick_and_the_chain_is_the_records() {
        // Ticks at 100..=2000 ms: 1.9 s of matcher time, whatever the clock's origin.
        let summary = verify(&record(&config(), false)).unwrap();
        assert_eq!((summary.from_ms, summary.to_ms), (100, 2_000));
        assert_eq!(summary.span_ms(), 1_900);
        let mut chain = EventChain::default();
        let bytes = record(&config(), false);
        let mut reader = TraceReader::new(bytes.as_slice()).unwrap();
        while let Some(frame) = reader.next_tick().unwrap() {
            chain.push(&frame.record.event_hash);
        }
        assert_eq!(summary.chain, chain);
    }

    #[test]
    fn a_recorded_run_replays_identically() {
        let summary = verify(&record(&config(), false)).unwrap();
        assert_eq!(summary.ticks, 20);
        assert_eq!(summary.commands, 20);
        assert_eq!((summary.first_tick, summary.last_tick), (1, 20));
        assert!(summary.matches >= 5, "{summary:?}");
    }

    /// A trace whose header names one config and whose ticks were recorded under another (2v2
    /// duels): as if the matcher's behaviour had changed since it was recorded.
    fn stale_trace(with_events: bool) -> Vec<u8> {
        let mut recorded_under = config();
        recorded_under.queues[0].team_size = 2;
        let bytes = record(&recorded_under, with_events);
        let mut reader = TraceReader::new(bytes.as_slice()).unwrap();
        let mut header = reader.header().clone();
        header.config_toml = config().to_toml_string();
        let mut writer = TraceWriter::new(Vec::new(), &header).unwrap();
        while let Some(frame) = reader.next_tick().unwrap() {
            writer.tick(&frame).unwrap();
        }
        writer.finish().unwrap()
    }

    /// The replay of a stale trace diverges at the first tick the change shows in.
    fn changed_behaviour(with_events: bool) -> Divergence {
        match verify(&stale_trace(with_events)) {
            Err(ReplayError::Diverged(divergence)) => *divergence,
            other => panic!("expected a divergence, got {other:?}"),
        }
    }

    #[test]
    fn a_change_of_behaviour_names_the_first_divergent_tick_with_a_diff() {
        let divergence = changed_behaviour(true);
        // Duels form at tick 1; 2v2 needed tick 3's players too.
        assert_eq!(divergence.tick, 1);
        assert_eq!(divergence.ticks_before, 0);
        let report = divergence.to_string();
        assert!(report.contains("tick 1 diverged"), "{report}");
        assert!(
            report.contains("recorded (-) against replayed (+)"),
            "{report}"
        );
        assert!(report.contains("  + MatchFormed"), "{report}");
        assert!(report.contains("Enqueue(EnqueueTicket"), "{report}");
    }

    #[test]
    fn without_recorded_events_the_replayed_ones_are_listed() {
        let report = changed_behaviour(false).to_string();
        assert!(report.contains("holds only the hash"), "{report}");
        assert!(report.contains("  + MatchFormed"), "{report}");
    }

    #[test]
    fn a_missing_tick_is_named() {
        let bytes = record(&config(), false);
        let mut reader = TraceReader::new(bytes.as_slice()).unwrap();
        let mut writer = TraceWriter::new(Vec::new(), reader.header()).unwrap();
        while let Some(frame) = reader.next_tick().unwrap() {
            if frame.record.tick != 4 {
                writer.tick(&frame).unwrap();
            }
        }
        let error = verify(&writer.finish().unwrap()).unwrap_err().to_string();
        assert!(error.contains("a tick is missing"), "{error}");
        assert!(error.starts_with("tick 5 (frame at byte"), "{error}");
    }

    #[test]
    fn blessing_rerecords_the_expected_events() {
        let stale = stale_trace(true);
        let (blessed, fresh) = bless(
            TraceReader::new(stale.as_slice()).unwrap(),
            Vec::new(),
            "next",
        )
        .unwrap();
        assert_eq!(blessed.ticks, 20);
        assert_eq!(blessed.first_changed, Some(1));
        assert_eq!(blessed.previous_version, "test");
        let summary = verify(&fresh).unwrap();
        assert_eq!(summary.ticks, 20);
        assert_eq!(
            TraceReader::new(fresh.as_slice())
                .unwrap()
                .header()
                .matcher_version,
            "next"
        );
        // Blessing an up-to-date trace changes nothing.
        let (again, _) = bless(
            TraceReader::new(fresh.as_slice()).unwrap(),
            Vec::new(),
            "next",
        )
        .unwrap();
        assert_eq!(again.changed, 0);
    }

    #[test]
    fn a_what_if_runs_the_same_inputs_under_another_config() {
        let bytes = record(&config(), false);
        let mut other = config();
        other.queues[0].team_size = 2;
        let mut seen = 0;
        let summary = replay(
            TraceReader::new(bytes.as_slice()).unwrap(),
            Check::Config(Box::new(other)),
            |frame, _| {
                seen += frame.record.commands.len();
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, 20);
        assert_eq!(summary.commands, 20);
        let baseline = verify(&bytes).unwrap();
        assert!(
            summary.matches < baseline.matches,
            "{summary:?} {baseline:?}"
        );
    }
}
