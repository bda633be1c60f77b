//! What-if: a trace's recorded inputs replayed under the config they were recorded with and
//! under another, and what players would have got under each, side by side: time to match,
//! quality, team gap, matches, abandons. Measured from the events alone (a trace knows
//! nothing of true skill, so the team gap here is by rating, as the matcher saw it).
//!
//! The two runs go in step, tick by tick, from one read of the trace. The inputs are replayed
//! as they were recorded, except that commands naming a match (accept, decline, the game
//! servers' ready, heartbeat and result) are carried over to the match their players are in
//! under the new config (`Translator`). Players do not otherwise react to the other config:
//! they queue, accept and leave when they did. The table counts the commands the new run
//! rejected, and those whose match has no counterpart there, so a reader sees how far the
//! recorded inputs stopped making sense.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use matchwright_ecs::event::{AbandonReason, BackfilledTicket, RemovalReason};
use matchwright_ecs::{Command, Config, Event, MatchId, Matcher, PlayerId, TicketId, TurnedAway};
use matchwright_replay::replayer::{divergence, starting_matcher};
use matchwright_replay::{ReplayError, TickFrame, TraceReader, hash_events};
use serde::Serialize;

use crate::metrics::{self, Dist, HighTail, LowTail, TtmSummary};
use crate::plot;

/// The finest bucket of the charts over time, in ms: a trace of a minute or less still has
/// points to draw.
const BUCKET_MS: u64 = 10_000;
/// Charts of traces of at least this many fine buckets use minutes.
const MINUTE_BUCKETS_FROM: u64 = 18;

/// One bucket of a run: matches, summed quality, summed wait of matched players in ms,
/// matched players.
type Minute = (u64, f64, f64, u64);

/// What one config gave, folded from its events.
#[derive(Clone, Debug)]
pub struct Outcome {
    ttm_ms: Dist,
    quality: Dist,
    team_gap: Dist,
    matches: u64,
    players_matched: u64,
    tickets_matched: u64,
    tickets_queued: u64,
    abandons: BTreeMap<String, u64>,
    rejected: u64,
    /// Commands for a recorded match with no counterpart in this run (not submitted).
    unmatched_commands: u64,
    start_ms: Option<u64>,
    /// Per 10 s since the trace's first tick: (matches, summed quality, summed wait of
    /// matched players in ms, matched players).
    per_bucket: BTreeMap<u64, Minute>,
    /// The last bucket seen (how long the trace is).
    last_bucket: u64,
    /// Per queue and check: anchors turned away (`TickReport::turned_away`, summed).
    turned_away: BTreeMap<String, BTreeMap<String, u64>>,
    /// Tickets matched at least once.
    first_matched: HashSet<TicketId>,
    /// Time to a ticket's first match, per player.
    first_ttm_ms: Dist,
    /// Sessions abandoned for want of a game server (allocation timed out or failed): under
    /// another config, a match whose players had no match at that time in the recording
    /// gets no server, and its tickets go back to the queue and match again.
    sessions_without_server: u64,
}

impl Default for Outcome {
    fn default() -> Self {
        Self {
            ttm_ms: metrics::ttm_dist(),
            quality: metrics::unit_dist(),
            team_gap: Dist::new(10_000.0, 10.0),
            matches: 0,
            players_matched: 0,
            tickets_matched: 0,
            tickets_queued: 0,
            abandons: BTreeMap::new(),
            rejected: 0,
            unmatched_commands: 0,
            start_ms: None,
            per_bucket: BTreeMap::new(),
            last_bucket: 0,
            turned_away: BTreeMap::new(),
            first_matched: HashSet::new(),
            first_ttm_ms: metrics::ttm_dist(),
            sessions_without_server: 0,
        }
    }
}

impl Outcome {
    /// Folds one tick's turned-away counts in.
    pub fn observe_turned_away(&mut self, turned: &[TurnedAway]) {
        for one in turned {
            *self
                .turned_away
                .entry(one.queue.to_string())
                .or_default()
                .entry(one.check.to_string())
                .or_default() += one.anchors;
        }
    }

    /// Folds one tick's events in.
    pub fn observe(&mut self, frame: &TickFrame, events: &[Event]) {
        let start = *self.start_ms.get_or_insert(frame.record.now_ms);
        let bucket = frame.record.now_ms.saturating_sub(start) / BUCKET_MS;
        self.last_bucket = self.last_bucket.max(bucket);
        for event in events {
            match event {
                Event::MatchFormed { summary } => {
                    self.matches += 1;
                    self.quality.record(summary.quality);
                    let slot = self.per_bucket.entry(bucket).or_default();
                    slot.0 += 1;
                    slot.1 += summary.quality;
                    let mut means = Vec::with_capacity(summary.teams.len());
                    for team in &summary.teams {
                        let (mut sum, mut count) = (0.0, 0u64);
                        for ticket in team {
                            let players = ticket.players.len() as u64;
                            self.tickets_matched += 1;
                            self.ttm_ms.record_n(ticket.waited_ms as f64, players);
                            if self.first_matched.insert(ticket.ticket) {
                                self.first_ttm_ms.record_n(ticket.waited_ms as f64, players);
                            }
                            self.players_matched += players;
                            slot.2 += ticket.waited_ms as f64 * players as f64;
                            slot.3 += players;
                            for player in &ticket.players {
                                sum += player.rating.mu;
                                count += 1;
                            }
                        }
                        means.push(sum / count.max(1) as f64);
                    }
                    let high = means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let low = means.iter().copied().fold(f64::INFINITY, f64::min);
                    if high.is_finite() && low.is_finite() {
                        self.team_gap.record(high - low);
                    }
                }
                Event::TicketQueued { .. } => self.tickets_queued += 1,
                Event::TicketRemoved { reason, .. } => {
                    let name = match reason {
                        RemovalReason::Cancelled => "cancelled",
                        RemovalReason::Expired => "expired",
                        RemovalReason::Declined => "declined",
                        RemovalReason::AcceptanceTimedOut => "acceptance_timed_out",
                        RemovalReason::PartyChanged => "party_changed",
                    };
                    *self.abandons.entry(name.into()).or_default() += 1;
                }
                Event::Rejected { .. } => self.rejected += 1,
                Event::SessionAbandoned {
                    reason:
                        AbandonReason::AllocationTimedOut
                        | AbandonReason::AllocationFailed
                        | AbandonReason::Cancelled,
                    ..
                } => self.sessions_without_server += 1,
                _ => {}
            }
        }
    }

    /// The numbers the table shows.
    pub fn report(&self) -> OutcomeReport {
        let abandoned: u64 = self.abandons.values().sum();
        OutcomeReport {
            matches: self.matches,
            players_matched: self.players_matched,
            tickets_queued: self.tickets_queued,
            ttm_s: metrics::ttm_summary(&self.ttm_ms),
            tickets_first_matched: self.first_matched.len() as u64,
            first_match_ttm_s: metrics::ttm_summary(&self.first_ttm_ms),
            sessions_without_server: self.sessions_without_server,
            quality: LowTail {
                mean: metrics::round(self.quality.mean()),
                p10: self.quality.quantile(0.10),
            },
            team_gap_mmr: HighTail {
                mean: metrics::round(self.team_gap.mean()),
                p99: self.team_gap.quantile(0.99),
            },
            abandoned,
            abandon_rate: metrics::ratio(abandoned, abandoned + self.tickets_matched),
            abandons: self.abandons.clone(),
            rejected_commands: self.rejected,
            unmatched_commands: self.unmatched_commands,
            turned_away: self.turned_away.clone(),
        }
    }

    /// The charts' bucket, in seconds: a minute, or 10 s for a trace under 3 minutes.
    fn bucket_s(&self) -> u64 {
        if self.last_bucket + 1 >= MINUTE_BUCKETS_FROM {
            60
        } else {
            BUCKET_MS / 1_000
        }
    }

    fn series(&self, value: impl Fn(&Minute) -> Option<f64>) -> Vec<(f64, f64)> {
        let width_s = self.bucket_s();
        let per = width_s * 1_000 / BUCKET_MS;
        let mut merged: BTreeMap<u64, Minute> = BTreeMap::new();
        for (bucket, slot) in &self.per_bucket {
            let wide = merged.entry(bucket / per).or_default();
            wide.0 += slot.0;
            wide.1 += slot.1;
            wide.2 += slot.2;
            wide.3 += slot.3;
        }
        merged
            .iter()
            .filter_map(|(bucket, slot)| value(slot).map(|v| ((*bucket * width_s) as f64, v)))
            .collect()
    }
}

/// One config's numbers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutcomeReport {
    /// Matches formed.
    pub matches: u64,
    /// Players matched.
    pub players_matched: u64,
    /// Tickets that entered a queue.
    pub tickets_queued: u64,
    /// Time to match per matched player, in seconds (every match a ticket is in).
    pub ttm_s: TtmSummary,
    /// Tickets matched at least once.
    pub tickets_first_matched: u64,
    /// Time to a ticket's first match, per player, in seconds: not counting a ticket again
    /// when its match got no game server and it matched anew.
    pub first_match_ttm_s: TtmSummary,
    /// Sessions abandoned for want of a game server (allocation timed out or failed). Under
    /// another config, a match whose players were in no match at that time in the recording
    /// gets no server (the recorded game servers answer recorded matches), so its tickets go
    /// back to the queue after `sessions.allocation_timeout_ms` and match again: every such
    /// round adds to `matches` and to `ttm_s`, not to `first_match_ttm_s`.
    pub sessions_without_server: u64,
    /// Match quality (draw probability by rating).
    pub quality: LowTail,
    /// Difference between the strongest and weakest team's mean rating, in MMR.
    pub team_gap_mmr: HighTail,
    /// Tickets that left their queue unmatched.
    pub abandoned: u64,
    /// Tickets that left unmatched over tickets that left (matched or not).
    pub abandon_rate: f64,
    /// Unmatched departures by reason.
    pub abandons: BTreeMap<String, u64>,
    /// Recorded commands the matcher rejected.
    pub rejected_commands: u64,
    /// Recorded commands for a match that has no counterpart under this config (its players
    /// are in no match here), so not submitted.
    pub unmatched_commands: u64,
    /// Per queue, per check (a rule's name, `block_list` or `roles`): anchors that found no
    /// match after the check turned candidates away, summed over the ticks.
    pub turned_away: BTreeMap<String, BTreeMap<String, u64>>,
}

/// The what-if's result, written as `whatif.json`.
#[derive(Clone, Debug, Serialize)]
pub struct WhatIf {
    /// The trace.
    pub trace: String,
    /// Ticks and commands replayed.
    pub ticks: u64,
    /// Commands replayed.
    pub commands: u64,
    /// Matcher time the trace covers, in seconds.
    pub span_s: f64,
    /// Under the config the trace was recorded with.
    pub recorded: OutcomeReport,
    /// Under the config given.
    pub candidate: OutcomeReport,
}

/// Replays `path` under its own config (checking it, so the baseline is what really
/// happened) and, in step with it, under `config`; writes `whatif.json` and the charts into
/// `out`, and returns the comparison table.
pub fn what_if(
    path: &Path,
    config: Config,
    out: &Path,
    mut progress: impl FnMut(&str, &TickFrame),
) -> Result<(WhatIf, String), ReplayError> {
    let file = fs::File::open(path)
        .map_err(|error| ReplayError::Setup(format!("cannot open {}: {error}", path.display())))?;
    let mut reader = TraceReader::new(std::io::BufReader::with_capacity(1 << 20, file))?;
    let base = reader.take_base();
    let mut recorded_matcher = starting_matcher(reader.header(), base.as_ref(), None)?;
    let mut candidate_matcher = starting_matcher(reader.header(), base.as_ref(), Some(config))?;
    let mut translator = Translator::default();
    if let Some(base) = &base {
        translator.learn_base(base);
    }
    drop(base);
    let (from_ms, mut to_ms) = (recorded_matcher.now_ms(), recorded_matcher.now_ms());
    let (mut recorded, mut candidate) = (Outcome::default(), Outcome::default());
    let (mut ticks, mut commands) = (0u64, 0u64);
    let (mut recorded_events, mut candidate_events) = (Vec::new(), Vec::new());
    while let Some(mut frame) = reader.next_tick()? {
        let frame_offset = reader.frame_offset();
        progress("replaying both configs", &frame);
        // The same inputs under the new config, match ids translated by what the runs emitted
        // before this tick (a command cannot name a match its own tick forms; a result ends
        // its match within its tick, so the recorded side learns only after translating).
        let recorded_commands = std::mem::take(&mut frame.record.commands);
        let translated: Vec<Command> = recorded_commands
            .iter()
            .filter_map(|command| translator.translate(command))
            .collect();
        candidate.unmatched_commands += (recorded_commands.len() - translated.len()) as u64;
        frame.record.commands = recorded_commands;
        // The recording, checked.
        let recorded_turned = run_counted(
            &mut recorded_matcher,
            &frame,
            frame_offset,
            &mut recorded_events,
        )?;
        let recorded_hash = hash_events(&recorded_events);
        if let Some(divergence) =
            divergence(&frame, frame_offset, ticks, &recorded_events, recorded_hash)
        {
            return Err(ReplayError::Diverged(divergence));
        }
        translator.learn_recorded(&recorded_events);
        let recorded_commands = std::mem::replace(&mut frame.record.commands, translated);
        let candidate_turned = run_counted(
            &mut candidate_matcher,
            &frame,
            frame_offset,
            &mut candidate_events,
        )?;
        frame.record.commands = recorded_commands;
        translator.learn_candidate(&candidate_events);
        recorded.observe(&frame, &recorded_events);
        candidate.observe(&frame, &candidate_events);
        recorded.observe_turned_away(&recorded_turned);
        candidate.observe_turned_away(&candidate_turned);
        ticks += 1;
        commands += frame.record.commands.len() as u64;
        to_ms = frame.record.now_ms;
    }
    let result = WhatIf {
        trace: path.display().to_string(),
        ticks,
        commands,
        span_s: to_ms.saturating_sub(from_ms) as f64 / 1_000.0,
        recorded: recorded.report(),
        candidate: candidate.report(),
    };
    write_outputs(out, &result, &recorded, &candidate).map_err(ReplayError::Setup)?;
    let table = table(&result);
    Ok((result, table))
}

/// Runs one tick of a trace as `TickRecord::run` does (its commands, then the tick at its
/// time, its events into `events`), keeping the tick's turned-away counts.
fn run_counted(
    matcher: &mut Matcher,
    frame: &TickFrame,
    frame_offset: u64,
    events: &mut Vec<Event>,
) -> Result<Vec<TurnedAway>, ReplayError> {
    let record = &frame.record;
    let refused = |detail: String| ReplayError::Matcher {
        tick: record.tick,
        frame_offset,
        detail: format!("the matcher refused it: {detail}"),
    };
    for command in &record.commands {
        matcher
            .submit(command.clone())
            .map_err(|error| refused(format!("a command was refused: {error}")))?;
    }
    let report = matcher
        .tick(record.now_ms)
        .map_err(|error| refused(format!("the tick was refused: {error}")))?;
    events.clear();
    events.extend(matcher.drain_events());
    if report.tick != record.tick {
        return Err(refused(format!(
            "the trace records tick {}, the matcher ran tick {}",
            record.tick, report.tick
        )));
    }
    Ok(report.turned_away)
}

/// Carries the recorded match ids in commands (accept, decline, game-server calls) over to
/// the candidate run's matches: a command for a recorded match goes to the candidate match
/// its player (or, for a game-server call, any of the recorded match's players) is in now.
/// Not one-to-one: two recorded matches whose players share a candidate match both map to it,
/// and a candidate match none of whose players had a recorded match gets no game-server
/// calls (its session times out). Memory: the matches live in each run, forgotten when they
/// end.
#[derive(Debug, Default)]
struct Translator {
    /// Recorded match -> its players.
    recorded: HashMap<MatchId, Vec<PlayerId>>,
    /// Player -> the candidate match the player is in.
    candidate_of: HashMap<PlayerId, MatchId>,
    /// Candidate match -> its players.
    candidate: HashMap<MatchId, Vec<PlayerId>>,
}

impl Translator {
    /// The matches already running in the base state: the same ids on both sides.
    fn learn_base(&mut self, base: &matchwright_ecs::Snapshot) {
        for record in &base.matches {
            let players: Vec<PlayerId> = record.teams.iter().flatten().copied().collect();
            for player in &players {
                self.candidate_of.insert(*player, record.id);
            }
            self.recorded.insert(record.id, players.clone());
            self.candidate.insert(record.id, players);
        }
    }

    fn learn_recorded(&mut self, events: &[Event]) {
        for event in events {
            match event {
                Event::MatchProposed { summary, .. } | Event::MatchFormed { summary } => {
                    self.recorded
                        .insert(summary.match_id, summary.players().collect());
                }
                Event::BackfillFilled {
                    match_id, tickets, ..
                } => {
                    if let Some(players) = self.recorded.get_mut(match_id) {
                        players.extend(backfilled(tickets));
                    }
                }
                Event::MatchCancelled { match_id, .. }
                | Event::SessionEnded { match_id, .. }
                | Event::SessionAbandoned { match_id, .. } => {
                    self.recorded.remove(match_id);
                }
                _ => {}
            }
        }
    }

    fn learn_candidate(&mut self, events: &[Event]) {
        for event in events {
            match event {
                Event::MatchProposed { summary, .. } | Event::MatchFormed { summary } => {
                    let players: Vec<PlayerId> = summary.players().collect();
                    for player in &players {
                        self.candidate_of.insert(*player, summary.match_id);
                    }
                    self.candidate.insert(summary.match_id, players);
                }
                Event::BackfillFilled {
                    match_id, tickets, ..
                } => {
                    for player in backfilled(tickets) {
                        self.candidate_of.insert(player, *match_id);
                        self.candidate.entry(*match_id).or_default().push(player);
                    }
                }
                Event::PlayerLeftSession { match_id, player }
                    if self.candidate_of.get(player) == Some(match_id) =>
                {
                    self.candidate_of.remove(player);
                }
                Event::MatchCancelled { match_id, .. }
                | Event::SessionEnded { match_id, .. }
                | Event::SessionAbandoned { match_id, .. } => {
                    for player in self.candidate.remove(match_id).unwrap_or_default() {
                        if self.candidate_of.get(&player) == Some(match_id) {
                            self.candidate_of.remove(&player);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// The command for the candidate run, or `None` when its match has no counterpart there,
    /// or when it is a config reload: the candidate keeps the config under test.
    fn translate(&self, command: &Command) -> Option<Command> {
        let player_match = |player: &PlayerId| self.candidate_of.get(player).copied();
        let session_match = |recorded: &MatchId| {
            self.recorded
                .get(recorded)?
                .iter()
                .find_map(|player| self.candidate_of.get(player).copied())
        };
        let mut command = command.clone();
        match &mut command {
            Command::AcceptMatch { match_id, player }
            | Command::DeclineMatch { match_id, player }
            | Command::LeaveSession { match_id, player } => *match_id = player_match(player)?,
            Command::SessionReady { match_id, .. }
            | Command::AllocationFailed { match_id }
            | Command::Heartbeat { match_id }
            | Command::ReportResult { match_id, .. }
            | Command::EndSession { match_id }
            | Command::RequestBackfill { match_id, .. }
            | Command::CancelBackfill { match_id }
            | Command::CancelMatch { match_id } => *match_id = session_match(match_id)?,
            Command::ReloadConfig { .. } => return None,
            _ => {}
        }
        Some(command)
    }
}

fn backfilled(tickets: &[BackfilledTicket]) -> impl Iterator<Item = PlayerId> + '_ {
    tickets
        .iter()
        .flat_map(|ticket| ticket.ticket.players.iter().map(|player| player.player))
}

fn write_outputs(
    out: &Path,
    result: &WhatIf,
    recorded: &Outcome,
    candidate: &Outcome,
) -> Result<(), String> {
    fs::create_dir_all(out).map_err(|error| format!("cannot create {}: {error}", out.display()))?;
    let json = serde_json::to_string_pretty(result).map_err(|error| error.to_string())?;
    fs::write(out.join("whatif.json"), json + "\n").map_err(|error| {
        format!(
            "cannot write {}: {error}",
            out.join("whatif.json").display()
        )
    })?;
    let both = |value: &dyn Fn(&Minute) -> Option<f64>| {
        vec![
            ("recorded config".to_string(), recorded.series(value)),
            ("new config".to_string(), candidate.series(value)),
        ]
    };
    let each = match recorded.bucket_s().max(candidate.bucket_s()) {
        60 => "minute".to_string(),
        seconds => format!("{seconds} s"),
    };
    plot::lines(
        &out.join("matches"),
        &format!("Matches formed per {each}"),
        "matches",
        &both(&|slot| Some(slot.0 as f64)),
    )?;
    plot::lines(
        &out.join("ttm"),
        &format!("Mean time to match of players matched each {each}"),
        "seconds",
        &both(&|slot| (slot.3 > 0).then(|| slot.2 / slot.3 as f64 / 1_000.0)),
    )?;
    plot::lines(
        &out.join("quality"),
        &format!("Mean quality of matches formed each {each}"),
        "quality",
        &both(&|slot| (slot.0 > 0).then(|| slot.1 / slot.0 as f64)),
    )?;
    for (name, outcome) in [("recorded", recorded), ("new", candidate)] {
        let upper = outcome.ttm_ms.quantile(0.99).max(1_000.0);
        let width = upper / 40.0;
        let bins: Vec<(f64, u64)> = outcome
            .ttm_ms
            .bins(upper, 40)
            .into_iter()
            .map(|(start, count)| (start / 1_000.0, count))
            .collect();
        plot::histogram(
            &out.join(format!("ttm-{name}")),
            &format!("Time to match, {name} config"),
            "seconds",
            &bins,
            width / 1_000.0,
        )?;
    }
    Ok(())
}

/// The comparison as a table: one row per measure, the change in the last column.
pub fn table(result: &WhatIf) -> String {
    let (a, b) = (&result.recorded, &result.candidate);
    let rows: Vec<(&str, f64, f64, usize)> = vec![
        ("matches", a.matches as f64, b.matches as f64, 0),
        (
            "players matched",
            a.players_matched as f64,
            b.players_matched as f64,
            0,
        ),
        ("time to match mean (s)", a.ttm_s.mean, b.ttm_s.mean, 2),
        ("time to match p50 (s)", a.ttm_s.p50, b.ttm_s.p50, 2),
        ("time to match p90 (s)", a.ttm_s.p90, b.ttm_s.p90, 2),
        ("time to match p99 (s)", a.ttm_s.p99, b.ttm_s.p99, 2),
        (
            "tickets matched",
            a.tickets_first_matched as f64,
            b.tickets_first_matched as f64,
            0,
        ),
        (
            "time to first match mean (s)",
            a.first_match_ttm_s.mean,
            b.first_match_ttm_s.mean,
            2,
        ),
        (
            "time to first match p90 (s)",
            a.first_match_ttm_s.p90,
            b.first_match_ttm_s.p90,
            2,
        ),
        ("quality mean", a.quality.mean, b.quality.mean, 3),
        ("quality p10", a.quality.p10, b.quality.p10, 3),
        (
            "team gap mean (MMR)",
            a.team_gap_mmr.mean,
            b.team_gap_mmr.mean,
            1,
        ),
        (
            "team gap p99 (MMR)",
            a.team_gap_mmr.p99,
            b.team_gap_mmr.p99,
            1,
        ),
        ("abandons", a.abandoned as f64, b.abandoned as f64, 0),
        ("abandon rate", a.abandon_rate, b.abandon_rate, 3),
        (
            "rejected commands",
            a.rejected_commands as f64,
            b.rejected_commands as f64,
            0,
        ),
        (
            "commands without a match",
            a.unmatched_commands as f64,
            b.unmatched_commands as f64,
            0,
        ),
        (
            "sessions with no server",
            a.sessions_without_server as f64,
            b.sessions_without_server as f64,
            0,
        ),
    ];
    // Per rule: how often it turned a ticket away under each config.
    let mut checks: Vec<(String, f64, f64)> = Vec::new();
    let count = |report: &OutcomeReport, queue: &str, check: &str| {
        report
            .turned_away
            .get(queue)
            .and_then(|checks| checks.get(check))
            .copied()
            .unwrap_or(0) as f64
    };
    let mut names: Vec<(&str, &str)> = [a, b]
        .iter()
        .flat_map(|report| {
            report.turned_away.iter().flat_map(|(queue, checks)| {
                checks
                    .keys()
                    .map(move |check| (queue.as_str(), check.as_str()))
            })
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    for (queue, check) in names {
        checks.push((
            format!("turned away: {check} ({queue})"),
            count(a, queue, check),
            count(b, queue, check),
        ));
    }
    let mut rows: Vec<(String, f64, f64, usize)> = rows
        .into_iter()
        .map(|(name, before, after, digits)| (name.to_string(), before, after, digits))
        .collect();
    rows.extend(
        checks
            .into_iter()
            .map(|(name, before, after)| (name, before, after, 0)),
    );
    let width = rows
        .iter()
        .map(|row| row.0.len())
        .max()
        .unwrap_or(24)
        .max(24);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$} {:>14} {:>14} {:>14}",
        "measure", "recorded", "new config", "change"
    );
    for (name, before, after, digits) in rows {
        let change = after - before;
        let relative = if before.abs() > f64::EPSILON {
            format!(" ({:+.1}%)", change / before * 100.0)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{name:<width$} {before:>14.digits$} {after:>14.digits$} {:>14}",
            format!("{change:+.digits$}{relative}")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_config_translates_to_itself() {
        // A command for a match both runs know keeps its id; one for an unknown match is
        // dropped.
        let mut translator = Translator::default();
        let (id, player) = (MatchId(4), PlayerId(9));
        translator.recorded.insert(id, vec![player]);
        translator.candidate.insert(id, vec![player]);
        translator.candidate_of.insert(player, id);
        let heartbeat = Command::Heartbeat { match_id: id };
        assert_eq!(translator.translate(&heartbeat), Some(heartbeat.clone()));
        let accept = Command::AcceptMatch {
            match_id: id,
            player,
        };
        assert_eq!(translator.translate(&accept), Some(accept.clone()));
        let unknown = Command::Heartbeat {
            match_id: MatchId(5),
        };
        assert_eq!(translator.translate(&unknown), None);
    }

    #[test]
    fn charts_of_a_short_trace_have_points_and_a_long_one_has_minutes() {
        let mut short = Outcome::default();
        for bucket in 0..6 {
            short.per_bucket.insert(bucket, (1, 0.9, 1_000.0, 2));
            short.last_bucket = bucket;
        }
        let points = short.series(|slot| Some(slot.0 as f64));
        assert_eq!(points.len(), 6, "a minute of trace: six 10 s points");
        assert_eq!(points[1], (10.0, 1.0));
        let mut long = Outcome::default();
        for bucket in 0..30 {
            long.per_bucket.insert(bucket, (1, 0.9, 1_000.0, 2));
            long.last_bucket = bucket;
        }
        let points = long.series(|slot| Some(slot.0 as f64));
        assert_eq!(points.len(), 5, "five minutes: one point a minute");
        assert_eq!(points[1], (60.0, 6.0));
    }
}
