//! The tick loop: the one thread that owns the matcher and the store.
//!
//! Request handlers hand it commands through a bounded channel ([`TickHandle::submit`]) and
//! wait. Every `server.tick_interval_ms` it applies the commands gathered since the last tick
//! in one `Matcher::tick`, commits the tick (journal entry, derived state, outbox) in one redb
//! transaction, and only then answers the handlers, updates the live view, pushes live events
//! and asks the fleet for game servers (group commit: an answered command survives `kill -9`).
//!
//! Bounds: the channel holds `server.max_pending_commands` jobs; beyond it `submit` answers
//! 503 `busy` at once. The matcher bounds commands per tick itself (`TooManyCommands`, 503).
//! If a commit fails, the loop answers every waiting request with 503, marks the server not
//! ready and stops: the matcher has run ahead of the store, and a restart recovers exactly the
//! committed state.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use matchwright_ecs::{
    Command, CommandSeq, Event, Explanation, MatchId, Matcher, RejectReason, TicketId,
};
use matchwright_replay::record::Recorder;
use matchwright_storage::{MatchState, Store, TickInput};
use tokio::sync::{oneshot, watch};

use crate::clock::unix_ms;
use crate::error::{ApiError, rejected};
use crate::fleet::Allocator;
use crate::live::Live;
use crate::settings::{Secrets, Settings};
use crate::shared::Reply;
pub use crate::shared::{Applied, Health, Refusal, Shared};
use crate::telemetry;
use crate::view::View;

enum Job {
    Command {
        command: Command,
        reply: Reply,
        /// The request's span, for the tick's span to link to (only when traces are exported).
        origin: Option<telemetry::Origin>,
    },
    /// Why a ticket has not matched: answered between ticks, from the matcher as of the last
    /// tick (the matcher lives on the tick thread and is never copied).
    Explain {
        ticket: TicketId,
        reply: oneshot::Sender<Option<Explanation>>,
    },
}

/// The handlers' side of the tick loop: this process's (`serve`), or the partitions' behind
/// a gateway.
#[derive(Clone, Debug)]
pub struct TickHandle {
    door: Door,
}

#[derive(Clone, Debug)]
enum Door {
    Local(SyncSender<Job>),
    Cluster(Arc<crate::gateway::Gateway>),
}

impl TickHandle {
    /// The door to a cluster's partitions, through `gateway`.
    pub fn cluster(gateway: Arc<crate::gateway::Gateway>) -> Self {
        Self {
            door: Door::Cluster(gateway),
        }
    }

    /// Submits a command for the next tick and waits until that tick has committed. A command
    /// the matcher rejected comes back as the matching [`ApiError`]. When traces are exported,
    /// the current span (the request's) records the tick, and the tick's span links to it.
    pub async fn submit(&self, command: Command) -> Result<Applied, ApiError> {
        self.submit_with(command, rejected).await
    }

    /// As [`TickHandle::submit`], with the caller's own mapping of a rejection to an error
    /// (an enqueue names the party member at fault).
    pub async fn submit_with(
        &self,
        command: Command,
        map: impl FnOnce(&RejectReason) -> ApiError,
    ) -> Result<Applied, ApiError> {
        let sender = match &self.door {
            Door::Local(sender) => sender,
            Door::Cluster(gateway) => {
                return gateway
                    .submit(command)
                    .await
                    .map_err(|refusal| match refusal {
                        Refusal::Rejected(reason) => map(&reason),
                        Refusal::Error(error) => error,
                    });
            }
        };
        let (reply, answer) = oneshot::channel();
        let origin = telemetry::origin();
        let traced = origin.is_some();
        sender
            .try_send(Job::Command {
                command,
                reply,
                origin,
            })
            .map_err(|error| match error {
                TrySendError::Full(_) => ApiError::unavailable(
                    "busy",
                    "the server has more commands waiting than it takes; retry shortly",
                ),
                TrySendError::Disconnected(_) => {
                    ApiError::unavailable("stopping", "the server is stopping")
                }
            })?;
        let applied = answer
            .await
            .map_err(|_| ApiError::unavailable("stopping", "the server is stopping"))?
            .map_err(|refusal| match refusal {
                Refusal::Rejected(reason) => map(&reason),
                Refusal::Error(error) => error,
            })?;
        if traced {
            tracing::Span::current().record("tick", applied.tick);
        }
        Ok(applied)
    }

    /// Why `ticket` has not matched yet, from the matcher as of its last tick; `None` when
    /// no live ticket has that id. Answered by the tick thread between ticks (through a
    /// gateway: by a replica of the ticket's partition).
    pub async fn explain(&self, ticket: TicketId) -> Result<Option<Explanation>, ApiError> {
        let sender = match &self.door {
            Door::Local(sender) => sender,
            Door::Cluster(gateway) => return gateway.explain(ticket).await,
        };
        let (reply, answer) = oneshot::channel();
        sender
            .try_send(Job::Explain { ticket, reply })
            .map_err(|error| match error {
                TrySendError::Full(_) => ApiError::unavailable(
                    "busy",
                    "the server has more work waiting than it takes; retry shortly",
                ),
                TrySendError::Disconnected(_) => {
                    ApiError::unavailable("stopping", "the server is stopping")
                }
            })?;
        answer
            .await
            .map_err(|_| ApiError::unavailable("stopping", "the server is stopping"))
    }
}

/// The loop's state. Runs on its own thread ([`TickLoop::spawn`]).
pub struct TickLoop {
    matcher: Matcher,
    store: Store,
    allocator: Box<dyn Allocator>,
    settings: Arc<Settings>,
    secrets: Secrets,
    shared: Shared,
    receiver: Receiver<Job>,
    /// Commands submitted for the next tick, in order, and who waits for each.
    commands: Vec<Command>,
    pending: Vec<(CommandSeq, Option<Reply>)>,
    events: Vec<Event>,
    last_prune: Instant,
    last_upkeep: Instant,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// `serve --record`: the committed ticks, as trace segments.
    recorder: Option<Recorder>,
    /// The requests of the next tick's commands, for its span to link to (when traces are
    /// exported; at most `telemetry::MAX_TICK_LINKS`).
    links: Vec<telemetry::Origin>,
}

impl std::fmt::Debug for TickLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TickLoop")
            .field("tick", &self.store.last_tick())
            .finish_non_exhaustive()
    }
}

/// The running loop: its thread, and how to stop it.
#[derive(Debug)]
pub struct Running {
    /// The thread; it returns when told to stop, or after a failed commit (with the error).
    pub thread: std::thread::JoinHandle<Result<(), String>>,
    /// Tells it to stop after committing what it has.
    pub stop: watch::Sender<bool>,
}

impl TickLoop {
    /// Builds the loop on a recovered matcher and its store: rebuilds the live view, adopts
    /// the sessions already running, and resolves sessions recovered mid-allocation.
    pub fn new(
        matcher: Matcher,
        store: Store,
        allocator: Box<dyn Allocator>,
        settings: Arc<Settings>,
        secrets: Secrets,
        shared: Shared,
        metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
        mut recorder: Option<Recorder>,
    ) -> Result<(Self, TickHandle), String> {
        // The first segment's base: the recovered state, before recovery submits anything.
        if let Some(recorder) = &mut recorder {
            recorder.between_ticks(&matcher);
        }
        let (sender, receiver) = sync_channel(settings.server.max_pending_commands);
        let mut tick_loop = Self {
            matcher,
            store,
            allocator,
            settings,
            secrets,
            shared,
            receiver,
            commands: Vec::new(),
            pending: Vec::new(),
            events: Vec::new(),
            last_prune: Instant::now(),
            last_upkeep: Instant::now(),
            metrics,
            recorder,
            links: Vec::new(),
        };
        tick_loop.recover()?;
        Ok((
            tick_loop,
            TickHandle {
                door: Door::Local(sender),
            },
        ))
    }

    fn recover(&mut self) -> Result<(), String> {
        let snapshot = self
            .matcher
            .snapshot()
            .map_err(|error| format!("cannot read the recovered matcher: {error}"))?;
        let rows = self
            .store
            .handle()
            .match_rows()
            .map_err(|error| error.to_string())?;
        let mut servers = HashMap::new();
        for row in &rows {
            if row.state == MatchState::Active
                && let Some(server) = &row.server
            {
                servers.insert(row.match_id, server.clone());
                self.allocator.adopt(row.match_id, server);
            }
        }
        *self.view_mut() = View::from_snapshot(&snapshot, &servers, self.matcher.config());
        // Sessions that were waiting for a game server when the server stopped: allocate now.
        // The matcher still holds their tickets: if no server is free, they go back to their
        // queues keeping their waiting time.
        let allocating: Vec<(MatchId, String, String)> = snapshot
            .matches
            .iter()
            .filter(|record| {
                matches!(
                    record.phase,
                    matchwright_ecs::snapshot::PhaseRecord::Allocating { .. }
                )
            })
            .map(|record| {
                let summary = &record.summary;
                (
                    record.id,
                    summary.region.to_string(),
                    summary.queue.to_string(),
                )
            })
            .collect();
        for (match_id, region, queue) in allocating {
            self.allocate(match_id, &region, &queue);
        }
        Ok(())
    }

    fn view_mut(&self) -> std::sync::RwLockWriteGuard<'_, View> {
        self.shared
            .view
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts the loop on its own thread.
    pub fn spawn(self) -> Result<Running, String> {
        let (stop, stopped) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("tick-loop".into())
            .spawn(move || self.run(&stopped))
            .map_err(|error| format!("cannot start the tick thread: {error}"))?;
        Ok(Running { thread, stop })
    }

    fn run(mut self, stopped: &watch::Receiver<bool>) -> Result<(), String> {
        let interval = Duration::from_millis(self.settings.server.tick_interval_ms);
        let mut next_tick = Instant::now() + interval;
        loop {
            let mut disconnected = false;
            loop {
                let now = Instant::now();
                if now >= next_tick || *stopped.borrow() {
                    break;
                }
                // Wake at least every 50 ms to notice a stop.
                let wait = (next_tick - now).min(Duration::from_millis(50));
                match self.receiver.recv_timeout(wait) {
                    Ok(job) => self.take(job),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => {
                        disconnected = true;
                        break;
                    }
                }
            }
            let stopping = disconnected || *stopped.borrow();
            if stopping {
                // Take what is already waiting, so every accepted request gets its answer.
                while let Ok(job) = self.receiver.try_recv() {
                    self.take(job);
                }
            }
            self.run_tick()?;
            if stopping {
                tracing::info!(tick = self.store.last_tick(), "tick loop stopped");
                return Ok(());
            }
            next_tick += interval;
            let now = Instant::now();
            if next_tick < now {
                // Fell behind (a slow tick or commit): start the next interval from now rather
                // than running a burst of ticks.
                metrics::counter!("matchwright_ticks_late_total").increment(1);
                next_tick = now + interval;
            }
        }
    }

    /// Takes a job: submits its command to the matcher for the next tick, or answers an
    /// explain at once.
    fn take(&mut self, job: Job) {
        let (command, reply, origin) = match job {
            Job::Command {
                command,
                reply,
                origin,
            } => (command, reply, origin),
            Job::Explain { ticket, reply } => {
                let _ = reply.send(self.matcher.explain(ticket));
                return;
            }
        };
        if let Err(backpressure) = self.store.admission() {
            let _ = reply.send(Err(Refusal::Error(ApiError::unavailable(
                "backpressure",
                backpressure.to_string(),
            ))));
            return;
        }
        if self.submit(command, Some(reply))
            && let Some(origin) = origin
            && self.links.len() < telemetry::MAX_TICK_LINKS
        {
            self.links.push(origin);
        }
    }

    /// Submits a command for the next tick; false when the matcher refused it (answered).
    fn submit(&mut self, command: Command, reply: Option<Reply>) -> bool {
        match self.matcher.submit(command.clone()) {
            Ok(seq) => {
                self.commands.push(command);
                self.pending.push((seq, reply));
                true
            }
            Err(error) => {
                if let Some(reply) = reply {
                    let _ = reply.send(Err(Refusal::Error(ApiError::unavailable(
                        "busy",
                        error.to_string(),
                    ))));
                }
                false
            }
        }
    }

    /// One tick: run, commit, then answer, update the view, publish, allocate.
    fn run_tick(&mut self) -> Result<(), String> {
        let now_ms = unix_ms().max(self.matcher.now_ms());
        let started = Instant::now();
        let tick = self.store.last_tick() + 1;
        // A tick without commands has spans of their own target, which traces leave out.
        let idle = self.commands.is_empty();
        let span = if idle {
            tracing::info_span!(target: telemetry::IDLE_TARGET, "tick", tick, commands = 0_usize)
        } else {
            tracing::info_span!("tick", tick, commands = self.commands.len())
        };
        telemetry::link(&span, self.links.drain(..));
        let _entered = span.enter();
        let report = match self.matcher.tick(now_ms) {
            Ok(report) => report,
            Err(error) => return Err(self.fail(format!("the matcher refused a tick: {error}"))),
        };
        self.events.clear();
        self.events.extend(self.matcher.drain_events());
        let ran = started.elapsed();
        let commit_span = if idle {
            tracing::info_span!(target: telemetry::IDLE_TARGET, "commit", events = self.events.len())
        } else {
            tracing::info_span!("commit", events = self.events.len())
        };
        let commit = commit_span.in_scope(|| {
            self.store.commit_tick(
                TickInput {
                    tick: report.tick,
                    now_ms,
                    commands: &self.commands,
                    events: &self.events,
                },
                &self.matcher,
            )
        });
        drop(commit_span);
        let committed = started.elapsed();
        let commit = match commit {
            Ok(commit) => commit,
            Err(error) => {
                return Err(self.fail(format!("tick {} was not committed: {error}", report.tick)));
            }
        };
        matchwright_storage::store::record_commit_time(committed - ran);
        if let Some(recorder) = &mut self.recorder {
            recorder.tick(
                report.tick,
                now_ms,
                &self.commands,
                &self.events,
                commit.event_hash,
            );
            // Before answering and publishing, which may submit the next tick's commands.
            recorder.between_ticks(&self.matcher);
        }
        self.commands.clear();
        let answers = self.answers();
        self.publish(report.tick, now_ms);
        // Answered after the view is updated, so a client that reads its state right after
        // its command returns sees the command's effect.
        for (reply, answer) in answers {
            let _ = reply.send(answer);
        }
        self.observe(committed);
        self.shared
            .health
            .last_tick
            .store(report.tick, Ordering::Relaxed);
        self.shared
            .health
            .last_tick_ms
            .store(unix_ms(), Ordering::Relaxed);
        self.shared
            .health
            .set_not_ready(self.store.admission().err().map(|b| b.to_string()));
        if self.last_prune.elapsed() > Duration::from_secs(60) {
            self.last_prune = Instant::now();
            if let Err(error) = self.store.prune(now_ms) {
                return Err(self.fail(format!("pruning the journal failed: {error}")));
            }
        }
        if report.commands > 0 || report.matches > 0 {
            tracing::debug!(
                commands = report.commands,
                matches = report.matches,
                events = report.events,
                ms = committed.as_secs_f64() * 1e3,
                "tick committed"
            );
        }
        Ok(())
    }

    fn fail(&mut self, reason: String) -> String {
        tracing::error!(%reason, "the tick loop stops; restart the server to recover");
        self.shared.health.set_not_ready(Some(reason.clone()));
        for (_, reply) in self.pending.drain(..) {
            if let Some(reply) = reply {
                let _ = reply.send(Err(Refusal::Error(ApiError::unavailable(
                    "store_failed",
                    "the server could not store the change; nothing was applied",
                ))));
            }
        }
        reason
    }

    /// The answers to the requests of the committed tick (internal commands' rejections are
    /// logged here).
    fn answers(&mut self) -> Vec<(Reply, Result<Applied, Refusal>)> {
        let mut answers = Vec::with_capacity(self.pending.len());
        let mut rejections: HashMap<CommandSeq, &RejectReason> = HashMap::new();
        for event in &self.events {
            if let Event::Rejected { seq, reason } = event {
                rejections.insert(*seq, reason);
            }
        }
        let tick = self.store.last_tick();
        for (seq, reply) in self.pending.drain(..) {
            let answer = match rejections.get(&seq) {
                Some(reason) => Err(Refusal::Rejected((*reason).clone())),
                None => Ok(Applied { tick, seq }),
            };
            match reply {
                Some(reply) => answers.push((reply, answer)),
                None => {
                    if let Err(Refusal::Rejected(reason)) = answer {
                        tracing::warn!(%seq, error = %reason, "an internal command was rejected");
                    }
                }
            }
        }
        answers
    }

    /// Updates the view and pushes live events ([`Live::publish`]); then asks the fleet for
    /// servers for the matches formed. A match the fleet has no server for goes back to the
    /// matcher as `AllocationFailed`: the matcher puts its tickets back in their queues and
    /// backs off the region.
    fn publish(&mut self, tick: u64, now_ms: u64) {
        let live = Live {
            shared: &self.shared,
            settings: &self.settings,
            secrets: &self.secrets,
        };
        let fleet = live.publish(&self.events, now_ms);
        self.shared.operators.publish(tick, now_ms, &self.events);
        for match_id in fleet.released {
            self.allocator.release(match_id);
        }
        for (match_id, region, queue) in fleet.to_allocate {
            self.allocate(match_id, &region, &queue);
        }
    }

    /// Asks the fleet for a server: on success the session becomes active next tick; on
    /// failure the matcher is told next tick (its tickets go back to their queues).
    fn allocate(&mut self, match_id: MatchId, region: &str, queue: &str) {
        match self.allocator.allocate(match_id, region, queue) {
            Ok(server) => {
                self.submit(Command::SessionReady { match_id, server }, None);
            }
            Err(error) => {
                tracing::warn!(%match_id, %error, "no game server; the match's tickets go back to the queue");
                metrics::counter!("matchwright_allocation_failures_total").increment(1);
                self.submit(Command::AllocationFailed { match_id }, None);
            }
        }
    }

    /// Metrics of the committed tick.
    fn observe(&mut self, took: Duration) {
        metrics::histogram!("matchwright_tick_duration_seconds").record(took.as_secs_f64());
        for event in &self.events {
            let (summary, proposed) = match event {
                Event::MatchProposed { summary, .. } => (summary, true),
                Event::MatchFormed { summary } => (summary, false),
                _ => continue,
            };
            let queue = summary.queue.to_string();
            if !proposed {
                metrics::counter!("matchwright_matches_total", "queue" => queue.clone())
                    .increment(1);
            }
            // Time to match and quality once per match: at its proposal, or at its forming
            // in a queue without acceptance.
            let needs_acceptance = self
                .matcher
                .config()
                .queues
                .iter()
                .any(|q| q.name == *summary.queue && q.acceptance.is_some());
            if proposed || !needs_acceptance {
                metrics::histogram!("matchwright_match_quality", "queue" => queue.clone())
                    .record(summary.quality);
                for ticket in summary.tickets() {
                    metrics::histogram!("matchwright_time_to_match_seconds", "queue" => queue.clone())
                        .record(ticket.waited_ms as f64 / 1e3);
                }
            }
        }
        for stats in self.matcher.queue_stats() {
            metrics::gauge!("matchwright_queue_depth", "queue" => stats.name.clone())
                .set(stats.tickets as f64);
            metrics::gauge!("matchwright_queue_players", "queue" => stats.name)
                .set(stats.players as f64);
        }
        metrics::gauge!("matchwright_live_matches").set(self.matcher.live_matches() as f64);
        metrics::gauge!("matchwright_mirror_lag_rows").set(self.store.outbox_rows() as f64);
        metrics::gauge!("matchwright_sessions_hosted").set(self.allocator.in_use() as f64);
        if self.last_upkeep.elapsed() > Duration::from_secs(5) {
            self.last_upkeep = Instant::now();
            if let Some(handle) = &self.metrics {
                handle.run_upkeep();
            }
        }
    }
}

#[cfg(test)]
mod health_tests {
    use super::*;

    #[test]
    fn a_stopping_server_is_never_ready_again() {
        let health = Health::default();
        health.last_tick_ms.store(unix_ms(), Ordering::SeqCst);
        assert_eq!(health.not_ready(100), None);
        health.set_stopping();
        health.set_not_ready(None);
        assert_eq!(
            health.not_ready(100).as_deref(),
            Some("the server is shutting down")
        );
    }
}
