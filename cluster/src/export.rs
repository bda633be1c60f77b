//! A partition's log as a trace for `matchwright replay` (`matchwright cluster export`): the
//! newest snapshot as the base state (or, before the first snapshot, the empty matcher with
//! the partition's seed), then every tick after it up to the log's last tick when the export
//! began, each tick message's `TickRecord` as a tick frame. The replayer then re-runs the
//! partition tick by tick and checks every tick's events against the leader's hash, and
//! what-ifs it like any other trace.

use std::io::BufWriter;
use std::path::Path;
use std::time::Duration;

use matchwright_ecs::Config;
use matchwright_replay::{MATCHER_VERSION, TickFrame, TraceHeader, TraceWriter};

use crate::agreement::{config_hash, fresh_replica, seed};
use crate::log::{LogError, LogItem, PartitionLog};
use crate::partitions::ClusterSection;
use crate::snapshot::Snapshots;

/// How long the export waits for the log's next message.
pub const EXPORT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What an export wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exported {
    /// The tick of the base state (0: the empty matcher).
    pub base_tick: u64,
    /// Ticks written.
    pub ticks: u64,
    /// Commands in them.
    pub commands: u64,
}

fn failed(what: &str, error: impl std::fmt::Display) -> LogError {
    LogError::Refused(format!("{what}: {error}"))
}

/// Writes the trace of `partition`'s log (run under `config`) to `out` (through a temporary
/// file beside it, renamed when complete).
pub async fn export_trace(
    client: async_nats::Client,
    partition: &str,
    config: &Config,
    map: &ClusterSection,
    out: &Path,
) -> Result<Exported, LogError> {
    let log = PartitionLog::open(client.clone(), partition).await?;
    let jetstream = async_nats::jetstream::new(client);
    let hash = config_hash(partition, config, map);
    let snapshots = Snapshots::open(&jetstream, partition).await?;
    let (base, from, base_tick) = match snapshots.newest().await? {
        // A mapped partition numbers its matches from its own base: the trace starts from
        // that fresh state, so the replayer numbers them alike.
        None if map.first_match_id(partition) != 0 => {
            let fresh = fresh_replica(partition, config, map)
                .map_err(|error| failed("the partition's fresh state", error))?;
            let state = fresh
                .matcher()
                .snapshot()
                .map_err(|error| failed("the partition's fresh state", error))?;
            (Some(state), 1, 0)
        }
        None => (None, 1, 0),
        Some((mark, _)) => {
            let snapshot = snapshots.load(&mark).await?;
            if snapshot.config_hash != hash {
                return Err(failed(
                    "the newest snapshot",
                    "was taken under another config than the one given",
                ));
            }
            (Some(snapshot.state), mark.read_from, snapshot.tick)
        }
    };
    let last = log.last_tick_seq().await?;
    let header = TraceHeader {
        matcher_version: MATCHER_VERSION.to_string(),
        config_toml: config.to_toml_string(),
        seed: seed(&hash),
        source: format!("cluster:{partition}"),
        base,
        with_events: false,
    };
    let temporary = out.with_extension("partial");
    let file = std::fs::File::create(&temporary)
        .map_err(|error| failed(&format!("creating {}", temporary.display()), error))?;
    let mut writer = TraceWriter::new(BufWriter::with_capacity(1 << 20, file), &header)
        .map_err(|error| failed("writing the trace", error))?;
    let mut exported = Exported {
        base_tick,
        ticks: 0,
        commands: 0,
    };
    let mut reader = log.read_from(from).await?;
    let mut seq = from.saturating_sub(1);
    while seq < last {
        let item = tokio::time::timeout(EXPORT_READ_TIMEOUT, reader.next())
            .await
            .map_err(|_| failed("reading the log", "timed out"))?
            .ok_or_else(|| failed("reading the log", "the reader ended"))??;
        let LogItem::Tick { seq: at, message } = item else {
            continue;
        };
        seq = at;
        if message.record.tick <= base_tick {
            continue;
        }
        if message.record.tick != base_tick + exported.ticks + 1 {
            return Err(failed(
                "the log",
                format!(
                    "has tick {} after tick {}",
                    message.record.tick,
                    base_tick + exported.ticks
                ),
            ));
        }
        exported.ticks += 1;
        exported.commands += message.record.commands.len() as u64;
        // The events are not in the log: the frame keeps their hash (in the record) only.
        let frame = TickFrame {
            record: message.record,
            events: None,
        };
        writer
            .tick(&frame)
            .map_err(|error| failed("writing the trace", error))?;
    }
    writer
        .finish()
        .map_err(|error| failed("writing the trace", error))?;
    std::fs::rename(&temporary, out)
        .map_err(|error| failed(&format!("renaming to {}", out.display()), error))?;
    Ok(exported)
}
