//! The partition process (`matchwright matcher --partition NAME`): one replica, following
//! its partition's log as a standby and, once it holds the lease, leading it.
//!
//! As a standby it applies every tick message as it is appended (checking each tick's event
//! hash), and every `lease / 5` looks at the lease. When the lease is free or lapsed it takes
//! it, reads where the log's last tick is, applies the log up to it, and leads: every `tick`
//! it runs the pending commands, appends the tick (expecting the last tick to be its own
//! last), and publishes the tick's events. A leader whose append or renewal says another
//! leads, or whose append failed in a way that leaves its own state ahead of the log, starts
//! over as a standby from the beginning of the log (snapshots come later: issue 21 item 4).

use std::future::Future;
use std::time::{Duration, Instant};

use matchwright_ecs::Config;

use crate::agreement::{agree_on_config, config_hash, seed};
use crate::lease::Lease;
use crate::log::{AppendError, LogError, LogItem, LogReader, PartitionLog};
use crate::message::EventBatch;
use crate::replica::{Replica, ReplicaError};

/// How long a new leader may take to read the log up to its last tick before it gives up
/// the attempt (and tries again as a standby).
pub const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(30);

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
}

impl PartitionOptions {
    /// The defaults: a tick every 100 ms, a lease of 500 ms.
    pub fn new(partition: &str, replica: &str, config: Config) -> Self {
        Self {
            partition: partition.to_owned(),
            replica: replica.to_owned(),
            config,
            tick: Duration::from_millis(100),
            lease: Duration::from_millis(500),
        }
    }
}

/// Why a partition process stopped.
#[derive(Debug)]
pub enum RunError {
    /// The log, the lease or the config agreement failed.
    Log(LogError),
    /// The replica cannot go on (divergence, a broken log).
    Replica(ReplicaError),
    /// The config is not valid.
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

/// Whether a replica leads after a step of its loop, or must start over.
enum Next {
    Go,
    StartOver(String),
}

/// Runs the partition until `shutdown` resolves (a leader then gives its lease up).
pub async fn run_partition(
    client: async_nats::Client,
    options: PartitionOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let log = PartitionLog::open(client.clone(), &options.partition).await?;
    let hash = config_hash(&options.partition, &options.config);
    let jetstream = async_nats::jetstream::new(client);
    agree_on_config(&jetstream, &options.partition, &hash).await?;
    let mut lease = Lease::open(
        &jetstream,
        &options.partition,
        &options.replica,
        options.lease,
    )
    .await?;
    tokio::pin!(shutdown);
    loop {
        let mut replica = Replica::new(options.config.clone(), seed(&hash))
            .map_err(|error| RunError::Config(error.to_string()))?;
        let mut reader = log.read_from(1).await?;
        tracing::info!(partition = %options.partition, replica = %options.replica, "following the log");
        let reason = tokio::select! {
            reason = follow_and_lead(&log, &mut reader, &mut replica, &mut lease, &options) => reason?,
            () = &mut shutdown => {
                lease.release().await?;
                return Ok(());
            }
        };
        tracing::warn!(partition = %options.partition, %reason, "starting over as a standby");
    }
}

/// The replica's loop: follows the log, takes the lease when it lapses, leads. Returns why
/// the replica must start over.
async fn follow_and_lead(
    log: &PartitionLog,
    reader: &mut LogReader,
    replica: &mut Replica,
    lease: &mut Lease,
    options: &PartitionOptions,
) -> Result<String, RunError> {
    let mut look = tokio::time::interval(lease.check_every());
    look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tick = tokio::time::interval(options.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut leading = false;
    loop {
        tokio::select! {
            item = reader.next() => follow(replica, item)?,
            _ = look.tick() => {
                let next = if leading {
                    renew(lease).await?
                } else {
                    leading = take_over(log, reader, replica, lease).await?;
                    Next::Go
                };
                if let Next::StartOver(reason) = next {
                    return Ok(reason);
                }
            }
            _ = tick.tick(), if leading => {
                if let Next::StartOver(reason) = lead_one(log, replica, options).await? {
                    return Ok(reason);
                }
            }
        }
    }
}

/// Applies one message of the log.
fn follow(replica: &mut Replica, item: Option<Result<LogItem, LogError>>) -> Result<(), RunError> {
    match item {
        Some(Ok(LogItem::Command { seq, command })) => {
            let bytes = matchwright_ecs::codec::encode(&command).len();
            replica.on_command(seq, command, bytes)?;
        }
        Some(Ok(LogItem::Tick { seq, message })) => {
            replica.on_tick(seq, &message)?;
        }
        Some(Err(error)) => return Err(error.into()),
        None => return Err(LogError::Server("the log's reader ended".into()).into()),
    }
    Ok(())
}

/// A leader's renewal of its lease.
async fn renew(lease: &mut Lease) -> Result<Next, RunError> {
    match lease.renew(Instant::now()).await {
        Ok(true) => Ok(Next::Go),
        Ok(false) => Ok(Next::StartOver("another replica took the lease".into())),
        // NATS unreachable: the leader keeps its state; appends will fail meanwhile.
        Err(error) => {
            tracing::warn!(%error, "could not renew the lease");
            Ok(Next::Go)
        }
    }
}

/// A standby's look at the lease: takes it when it lapsed and catches up with the log's last
/// tick. Returns whether the replica now leads.
async fn take_over(
    log: &PartitionLog,
    reader: &mut LogReader,
    replica: &mut Replica,
    lease: &mut Lease,
) -> Result<bool, RunError> {
    match lease.try_take(Instant::now()).await {
        Ok(true) => {}
        Ok(false) => return Ok(false),
        Err(error) => {
            tracing::warn!(%error, "could not look at the lease");
            return Ok(false);
        }
    }
    let last = log.last_tick_seq().await?;
    let started = Instant::now();
    let caught_up = tokio::time::timeout(CATCH_UP_TIMEOUT, async {
        while replica.tick_seq() < last {
            follow(replica, reader.next().await)?;
        }
        Ok::<(), RunError>(())
    })
    .await;
    match caught_up {
        Ok(result) => result?,
        Err(_) => {
            tracing::warn!(last, "could not read the log up to its last tick in time");
            lease.release().await?;
            return Ok(false);
        }
    }
    tracing::info!(
        tick = replica.tick(),
        catch_up_ms = started.elapsed().as_millis() as u64,
        "leading"
    );
    Ok(true)
}

/// A leader's tick: runs it, appends it, publishes its events.
async fn lead_one(
    log: &PartitionLog,
    replica: &mut Replica,
    options: &PartitionOptions,
) -> Result<Next, RunError> {
    let after = replica.tick_seq();
    let message = replica.lead(unix_ms(), &options.replica)?;
    match log.append_tick(&message, after).await {
        Ok(seq) => {
            replica.appended(seq, &message)?;
            let batch = EventBatch {
                partition: options.partition.clone(),
                tick: message.record.tick,
                events: replica.events().to_vec(),
            };
            if let Err(error) = log.publish_events(&batch).await {
                tracing::warn!(%error, tick = batch.tick, "could not publish a tick's events");
            }
            Ok(Next::Go)
        }
        Err(AppendError::Deposed) => Ok(Next::StartOver("another leader appended a tick".into())),
        Err(AppendError::TooLarge(bytes)) => Err(RunError::Log(LogError::Server(format!(
            "tick {} would be a message of {bytes} bytes, above the log's bound",
            message.record.tick
        )))),
        // The tick ran here but is not in the log: this state is ahead of the log.
        Err(AppendError::Log(error)) => Ok(Next::StartOver(format!(
            "a tick could not be appended ({error})"
        ))),
    }
}

/// Now, as Unix milliseconds (the leader's clock; the matcher never goes back in time).
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}
