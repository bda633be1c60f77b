//! The partition process (`matchwright matcher --partition NAME`): one replica, following
//! its partition's log as a standby and, once it holds the lease, leading it.
//!
//! It starts from the newest snapshot (`snapshot`), if any, and reads the log after it. As a
//! standby it applies every tick message as it is appended (checking each tick's event hash)
//! and, every `snapshot_every_ticks`, writes a snapshot off its loop (a leader writes one only
//! when no standby has for two intervals). Every `lease / 5` it
//! looks at the lease; once it has read the log up to where it ended when the replica
//! started, and the lease is free or lapsed, it takes it, renews it, reads the log up to its
//! last tick and leads: every `tick` it admits the pending enqueues (`admission`: the
//! queue is this partition's, the players are claimed here), runs the pending commands,
//! appends the tick (expecting the last tick to be its own last), releases the claims of the
//! players the tick set free and publishes the tick's events and outcomes (`events`). After its first tick, a new
//! leader also releases again what the last ticks set free (its predecessor may have died
//! before). A leader that loses the lease, or whose last successful renewal (by a task of
//! its own, `renewal`, so that a long tick does not delay it) is a lease old, stops leading and
//! follows on; one whose append failed (its state is then ahead of the log) starts over from
//! the newest snapshot. NATS errors are retried (the process starts over after a pause); a
//! divergent tick or a broken log stops it.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use matchwright_ecs::{Command, Config, PlayerId, codec};

use crate::admission::Admission;
use crate::agreement::{agree_on_config, agree_on_map, config_hash, fresh_replica};
use crate::allocation::{Allocation, Fleet};
use crate::claims::Claims;
use crate::events::PartitionEvents;
use crate::explain::{ExplainAnswer, ExplainRequests};
use crate::lease::Lease;
use crate::log::{AppendError, LogError, LogItem, LogReader, MAX_APPEND_BATCH, PartitionLog};
use crate::partitions::ClusterSection;
use crate::renewal::Leadership;
use crate::replica::{Replica, ReplicaError};
use crate::snapshot::Snapshots;
use crate::status::PartitionStatus;

/// How long a new leader may take to read the log up to its last tick before it gives the
/// lease up (and tries again as a standby).
pub const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(30);

/// The pause before a replica starts over after a NATS error.
pub const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// A log silent for this long (or twenty leases, if longer) is taken for a lost reader (its
/// server restarted and forgot the reader's consumer): the replica starts over. A live
/// partition is never silent that long: its leader appends a tick every `tick`, and a
/// standby takes a dead leader's lease over after one lease.
pub const SILENT_LOG: Duration = Duration::from_secs(10);

/// How long a replica whose log seems silent waits for a message before it starts over.
const SILENCE_PROBE: Duration = Duration::from_millis(50);

/// What a partition process is given.
#[derive(Clone, Debug)]
pub struct PartitionOptions {
    /// The partition's name (its stream is `MW_<name>`).
    pub partition: String,
    /// This replica's name, unique in the cluster (the lease holds it).
    pub replica: String,
    /// The matcher's config for the partition.
    pub config: Config,
    /// How often the leader ticks.
    pub tick: Duration,
    /// How long a lease lasts without renewal.
    pub lease: Duration,
    /// A standby writes a snapshot every this many ticks (0: never).
    pub snapshot_every_ticks: u64,
    /// The cluster's partition map (empty: this partition runs every queue).
    pub map: ClusterSection,
    /// Where the process reports its role, tick and lag (`/readyz`, metrics).
    pub status: Arc<PartitionStatus>,
    /// The game servers the leader allocates its matches on (none: nobody allocates, and
    /// sessions wait for a `SessionReady` from elsewhere).
    pub fleet: Option<Fleet>,
}

impl PartitionOptions {
    /// The defaults: a tick every 100 ms, a lease of 500 ms, a snapshot every 600 ticks.
    pub fn new(partition: &str, replica: &str, config: Config) -> Self {
        Self {
            partition: partition.to_owned(),
            replica: replica.to_owned(),
            config,
            tick: Duration::from_millis(100),
            lease: Duration::from_millis(500),
            snapshot_every_ticks: 600,
            map: ClusterSection::default(),
            status: Arc::new(PartitionStatus::new(partition)),
            fleet: None,
        }
    }
}

/// Why a partition process stopped.
#[derive(Debug)]
pub enum RunError {
    /// The log, the lease or the config agreement failed for good.
    Log(LogError),
    /// The replica cannot go on (divergence, a broken log).
    Replica(ReplicaError),
    /// The config is not valid, or a snapshot does not fit it.
    Config(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Log(error) => write!(f, "{error}"),
            Self::Replica(error) => write!(f, "{error}"),
            Self::Config(error) => write!(f, "the config: {error}"),
        }
    }
}

impl std::error::Error for RunError {}

impl From<LogError> for RunError {
    fn from(error: LogError) -> Self {
        Self::Log(error)
    }
}

impl From<ReplicaError> for RunError {
    fn from(error: ReplicaError) -> Self {
        Self::Replica(error)
    }
}

impl RunError {
    /// Whether starting over may cure it: NATS unreachable or slow, or the log trimmed
    /// behind this replica.
    fn passes(&self) -> bool {
        matches!(
            self,
            Self::Log(LogError::Server(_) | LogError::Trimmed { .. })
                | Self::Replica(ReplicaError::Gap { .. })
        )
    }
}

/// What a partition process holds besides its replica.
struct Partition {
    client: async_nats::Client,
    log: PartitionLog,
    events: PartitionEvents,
    lease: Leadership,
    snapshots: Snapshots,
    admission: Admission,
    /// Players a new leader releases again after its first tick (see `take_over`).
    release_after_tick: Vec<PlayerId>,
    /// The leader's fleet (set when it takes over, if the partition has one).
    allocation: Option<Allocation>,
    options: PartitionOptions,
    hash: [u8; 32],
}

/// Runs the partition until `shutdown` resolves (a leader then gives its lease up).
pub async fn run_partition(
    client: async_nats::Client,
    options: PartitionOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let log = PartitionLog::open(client.clone(), &options.partition).await?;
    let hash = config_hash(&options.partition, &options.config, &options.map);
    let jetstream = async_nats::jetstream::new(client.clone());
    agree_on_map(&jetstream, &options.map).await?;
    agree_on_config(&jetstream, &options.partition, &hash).await?;
    let claims = Claims::open(&jetstream, &options.partition).await?;
    let admission = Admission::new(
        claims,
        options.map.clone(),
        &options.partition,
        options.config.clone(),
    )
    .map_err(RunError::Config)?;
    let lease = Lease::open(
        &jetstream,
        &options.partition,
        &options.replica,
        options.lease,
    )
    .await?;
    let snapshots = Snapshots::open(&jetstream, &options.partition).await?;
    let events = PartitionEvents::open(client.clone(), &options.partition).await?;
    let mut partition = Partition {
        client,
        log,
        events,
        lease: Leadership::new(lease),
        snapshots,
        admission,
        release_after_tick: Vec::new(),
        allocation: None,
        options,
        hash,
    };
    tokio::pin!(shutdown);
    loop {
        let outcome = tokio::select! {
            outcome = partition.start_and_run() => outcome,
            () = &mut shutdown => {
                partition.lease.release().await;
                return Ok(());
            }
        };
        // A replica that starts over or stops gives up its lease (if it holds it), so that
        // a standby need not wait it out.
        partition.lease.release().await;
        match outcome {
            Ok(reason) => tracing::warn!(%reason, "starting over"),
            Err(error) if error.passes() => {
                tracing::warn!(%error, "starting over after a pause");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(error) => return Err(error),
        }
    }
}

impl Partition {
    /// Starts from the newest snapshot and runs until the replica must start over (the
    /// reason) or stop (the error).
    async fn start_and_run(&mut self) -> Result<String, RunError> {
        let status = &self.options.status;
        status.set_leading(false);
        status.count("matchwright_partition_starts_total", 1);
        let (mut replica, from) = self.restore().await?;
        let mut reader = self.log.read_from(from).await?;
        let ready_at = self.log.last_tick_seq().await?;
        tracing::info!(
            partition = %self.options.partition,
            replica = %self.options.replica,
            from_tick = replica.tick(),
            "following the log"
        );
        self.follow_and_lead(&mut reader, &mut replica, ready_at)
            .await
    }

    /// The replica at the newest snapshot (or at the log's start) and where to read from.
    async fn restore(&self) -> Result<(Replica, u64), RunError> {
        let config = self.options.config.clone();
        let Some((mark, _)) = self.snapshots.newest().await? else {
            let replica = fresh_replica(&self.options.partition, &config, &self.options.map)
                .map_err(RunError::Config)?;
            return Ok((replica, 1));
        };
        let snapshot = self.snapshots.load(&mark).await?;
        if snapshot.config_hash != self.hash {
            return Err(RunError::Config(format!(
                "the snapshot of tick {} was taken under another config",
                snapshot.tick
            )));
        }
        let replica = Replica::restore(config, &snapshot).map_err(RunError::Config)?;
        Ok((replica, mark.read_from))
    }

    /// The replica's loop: follows the log, snapshots, takes the lease, leads. Returns why
    /// the replica must start over.
    async fn follow_and_lead(
        &mut self,
        reader: &mut LogReader,
        replica: &mut Replica,
        ready_at: u64,
    ) -> Result<String, RunError> {
        let mut look = tokio::time::interval(self.lease.check_every());
        look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut tick = tokio::time::interval(self.options.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut leading = false;
        let mut writing: Option<tokio::task::JoinHandle<()>> = None;
        let silent_after = self.silent_after();
        let mut last_read = Instant::now();
        // Explain requests, while this replica leads.
        let mut explains: Option<ExplainRequests> = None;
        loop {
            if leading != explains.is_some() {
                explains = if leading {
                    let partition = &self.options.partition;
                    Some(ExplainRequests::subscribe(self.client.clone(), partition).await?)
                } else {
                    None
                };
            }
            tokio::select! {
                item = reader.next() => {
                    last_read = Instant::now();
                    let behind = reader.behind();
                    self.read(replica, behind, item, &mut leading, &mut writing).await?;
                }
                _ = look.tick() => {
                    if last_read.elapsed() > silent_after {
                        // Nothing read for a while: unless a message waits (this loop was
                        // busy), the reader is lost.
                        let waiting = tokio::time::timeout(SILENCE_PROBE, reader.next()).await;
                        let Ok(item) = waiting else {
                            return Err(RunError::Log(LogError::Server(format!(
                                "the log has been silent for {} ms",
                                last_read.elapsed().as_millis()
                            ))));
                        };
                        last_read = Instant::now();
                        let behind = reader.behind();
                        self.read(replica, behind, item, &mut leading, &mut writing).await?;
                    }
                    let was_leading = leading;
                    leading = if leading {
                        self.keep_leading().await
                    } else if replica.tick_seq() >= ready_at {
                        let before = replica.tick_seq();
                        let leads = self.take_over(reader, replica).await?;
                        if leads || replica.tick_seq() != before {
                            // Its catch-up read the log (not counted above).
                            last_read = Instant::now();
                        }
                        leads
                    } else {
                        false
                    };
                    if leading != was_leading {
                        self.options.status.set_leading(leading);
                    }
                }
                request = next_explain(&mut explains), if explains.is_some() => {
                    let Some((ticket, reply)) = request else {
                        return Err(RunError::Log(LogError::Server(
                            "the explain requests' subscription ended".into(),
                        )));
                    };
                    let explained = replica.matcher().explain(ticket);
                    if let Some(explains) = &explains {
                        explains.answer(reply, ExplainAnswer::Explained(explained)).await;
                    }
                }
                _ = tick.tick(), if leading => {
                    if !self.keep_leading().await {
                        leading = false;
                        self.options.status.set_leading(false);
                        continue;
                    }
                    if let Some(reason) = self.lead_one(replica).await? {
                        return Ok(reason);
                    }
                    if self.no_standby_snapshots(replica).await {
                        self.maybe_snapshot(replica, &mut writing);
                    }
                }
            }
        }
    }

    /// One message read from the log: applied (a tick), or kept for a tick (a command). A
    /// leader that reads another's tick was deposed while it did not look: it follows on.
    async fn read(
        &mut self,
        replica: &mut Replica,
        behind: u64,
        item: Option<Result<LogItem, LogError>>,
        leading: &mut bool,
        writing: &mut Option<tokio::task::JoinHandle<()>>,
    ) -> Result<(), RunError> {
        let applied = follow(replica, item)?;
        if !applied {
            return Ok(());
        }
        // The status once per tick, not per command message (they come by the thousand).
        let status = &self.options.status;
        status.behind(behind);
        status.ticked(replica.tick(), unix_ms(), replica.pending());
        if *leading {
            tracing::warn!(tick = replica.tick(), "another replica ticks; following");
            self.lease.step_down().await;
            *leading = false;
            self.options.status.set_leading(false);
        } else {
            self.maybe_snapshot(replica, writing);
        }
        Ok(())
    }

    /// How long the log may be silent before the reader is taken for lost.
    fn silent_after(&self) -> Duration {
        SILENT_LOG.max(self.options.lease * 20)
    }

    /// A leader's look: whether it leads on (its renewals are fresh).
    async fn keep_leading(&mut self) -> bool {
        if self.lease.still_leads() {
            return true;
        }
        self.lease.step_down().await;
        false
    }

    /// A standby's look at the lease: takes it when it lapsed and catches up with the log's
    /// last tick. Returns whether the replica now leads.
    async fn take_over(
        &mut self,
        reader: &mut LogReader,
        replica: &mut Replica,
    ) -> Result<bool, RunError> {
        match self.lease.try_take().await {
            Ok(true) => {}
            Ok(false) => return Ok(false),
            Err(error) => {
                tracing::warn!(%error, "could not look at the lease");
                return Ok(false);
            }
        }
        let started = Instant::now();
        let caught_up = tokio::time::timeout(CATCH_UP_TIMEOUT, async {
            let last = self.log.last_tick_seq().await?;
            let silent_after = self.silent_after();
            while replica.tick_seq() < last {
                let item = tokio::time::timeout(silent_after, reader.next())
                    .await
                    .map_err(|_| LogError::Server("the log went silent during catch-up".into()))?;
                follow(replica, item)?;
            }
            Ok::<(), RunError>(())
        })
        .await;
        let leads = match caught_up {
            Ok(Ok(())) => self.lease.renew_once().await.unwrap_or(false),
            Ok(Err(error)) => {
                self.lease.release().await;
                return Err(error);
            }
            Err(_) => {
                tracing::warn!("could not read the log up to its last tick in time");
                false
            }
        };
        if !leads {
            self.lease.release().await;
            return Ok(false);
        }
        self.lease.start_renewing();
        // The last tick's events, again: its leader may have died before publishing them (a
        // repeat is dropped by the stream, or skipped by readers). After the renewals start:
        // a slow publication must not cost the lease.
        if let Some(batch) = replica.event_batch(&self.options.partition)
            && let Err(error) = self.events.publish(batch).await
        {
            self.lease.release().await;
            return Err(error.into());
        }
        if let Some(fleet) = &self.options.fleet {
            let (allocation, commands) = Allocation::take_over(fleet, replica.sessions());
            self.allocation = Some(allocation);
            self.append_allocations(commands).await;
        }
        tracing::info!(
            tick = replica.tick(),
            catch_up_ms = started.elapsed().as_millis() as u64,
            "leading"
        );
        // Released again after this leader's first tick (not before: the first tick comes
        // first), with that tick's own.
        self.release_after_tick = replica.recently_freed();
        self.options
            .status
            .count("matchwright_partition_takeovers_total", 1);
        Ok(true)
    }

    /// A leader's tick: runs it, appends it, publishes its events. Returns why the replica
    /// must start over, if it must.
    async fn lead_one(&mut self, replica: &mut Replica) -> Result<Option<String>, RunError> {
        let after = replica.tick_seq();
        let refusals = self.admission.refusals(&replica.next_enqueues()).await;
        let message = replica.lead(unix_ms(), &self.options.replica, &refusals)?;
        match self.log.append_tick(&message, after).await {
            Ok(seq) => {
                replica.appended(seq, &message)?;
                let mut freed = std::mem::take(&mut self.release_after_tick);
                freed.extend_from_slice(replica.freed());
                let released = self.admission.release(&freed).await;
                let status = &self.options.status;
                status.ticked(replica.tick(), unix_ms(), replica.pending());
                status.count("matchwright_partition_claims_released_total", released);
                // Counted by kind, once per tick (a tick may refuse thousands).
                let mut kinds: Vec<&'static str> =
                    message.refused.iter().map(|r| r.reason.kind()).collect();
                kinds.sort_unstable();
                for kind in kinds.chunk_by(|a, b| a == b) {
                    status.refused(kind[0], kind.len() as u64);
                }
            }
            Err(AppendError::Deposed) => {
                return Ok(Some("another leader appended a tick".into()));
            }
            Err(AppendError::TooLarge(bytes)) => {
                return Err(RunError::Log(LogError::Refused(format!(
                    "tick {} would be a message of {bytes} bytes, above the log's bound",
                    message.record.tick
                ))));
            }
            // The tick ran here but is not in the log: this state is ahead of the log.
            Err(AppendError::Log(error)) => {
                return Ok(Some(format!("a tick could not be appended ({error})")));
            }
        }
        // Before the next tick: a leader never runs past a tick whose events it did not
        // publish, so only the last tick's can be missing, and a new leader publishes it again.
        if let Some(batch) = replica.event_batch(&self.options.partition)
            && let Err(error) = self.events.publish(batch).await
        {
            return Ok(Some(format!(
                "the events of tick {} could not be published ({error})",
                message.record.tick
            )));
        }
        if let Some(allocation) = &mut self.allocation {
            let commands = allocation.after_tick(replica.events());
            self.append_allocations(commands).await;
        }
        Ok(None)
    }

    /// Appends a leader's allocation commands (the next tick applies them). One that cannot
    /// be appended leaves its match waiting until the matcher's allocation deadline.
    async fn append_allocations(&self, commands: Vec<(Command, String)>) {
        for batch in commands.chunks(MAX_APPEND_BATCH) {
            if let Err(error) = self.log.append_commands(batch).await {
                tracing::warn!(%error, matches = batch.len(), "could not log game-server allocations");
            }
        }
    }

    /// A leader's check, every third snapshot interval, that standbys write snapshots: when
    /// the newest is more than two intervals old (no standby runs), the leader writes one
    /// itself, so that a partition with one replica still trims its log. Its tick then waits
    /// for the export (the encoding and the upload are off its loop).
    async fn no_standby_snapshots(&self, replica: &Replica) -> bool {
        let every = self.options.snapshot_every_ticks;
        if every == 0 || !replica.tick().is_multiple_of(3 * every) {
            return false;
        }
        match self.snapshots.newest().await {
            Ok(newest) => newest.is_none_or(|(mark, _)| mark.tick + 2 * every < replica.tick()),
            Err(error) => {
                tracing::warn!(%error, "could not read the snapshot mark");
                false
            }
        }
    }

    /// A standby's snapshot every `snapshot_every_ticks`: exported here (the replica's state
    /// must not move meanwhile), encoded and stored by a task, one at a time.
    fn maybe_snapshot(&self, replica: &Replica, writing: &mut Option<tokio::task::JoinHandle<()>>) {
        let every = self.options.snapshot_every_ticks;
        if every == 0 || !replica.tick().is_multiple_of(every) {
            return;
        }
        if writing.as_ref().is_some_and(|task| !task.is_finished()) {
            return;
        }
        let snapshot = match replica.snapshot(self.hash) {
            Ok(snapshot) => snapshot,
            Err(error) => {
                tracing::warn!(%error, "could not export a snapshot");
                return;
            }
        };
        let at = (snapshot.tick, snapshot.tick_seq, snapshot.read_from);
        let (log, snapshots) = (self.log.clone(), self.snapshots.clone());
        let replica_name = self.options.replica.clone();
        *writing = Some(tokio::spawn(async move {
            let encoded = tokio::task::spawn_blocking(move || codec::encode(&snapshot)).await;
            let Ok(bytes) = encoded else {
                return;
            };
            match snapshots.save(&log, at, &replica_name, &bytes).await {
                Ok(newest) => {
                    tracing::info!(tick = at.0, bytes = bytes.len(), newest, "snapshot stored");
                }
                Err(error) => tracing::warn!(%error, tick = at.0, "could not store a snapshot"),
            }
        }));
    }
}

/// Applies one message of the log; returns whether it was a tick applied.
fn follow(
    replica: &mut Replica,
    item: Option<Result<LogItem, LogError>>,
) -> Result<bool, RunError> {
    match item {
        Some(Ok(LogItem::Command {
            seq,
            command,
            bytes,
        })) => {
            let command = command
                .inspect_err(|error| tracing::warn!(%error, "a command is skipped"))
                .ok();
            replica.on_command(seq, command, bytes)?;
            Ok(false)
        }
        Some(Ok(LogItem::Tick { seq, message })) => Ok(replica.on_tick(seq, &message)?),
        Some(Err(error)) => Err(error.into()),
        None => Err(LogError::Server("the log's reader ended".into()).into()),
    }
}

/// Now, as Unix milliseconds (the leader's clock; the matcher never goes back in time).
/// The next explain request, when subscribed (never otherwise: the branch is off then).
async fn next_explain(
    explains: &mut Option<ExplainRequests>,
) -> Option<(matchwright_ecs::TicketId, async_nats::Subject)> {
    match explains {
        Some(explains) => explains.next().await,
        None => std::future::pending().await,
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}
