//! # matchwright-cluster: matcher partitions on NATS JetStream
//!
//! A partition's state is a pure function of its log (`ARCHITECTURE.md`, "Beyond one
//! machine"): a JetStream stream holding the commands gateways append and the tick messages
//! its leader appends, each tick message carrying the core's `TickRecord` (time, commands,
//! event hash). So a standby is a replay that never stops: it applies each tick as it is
//! appended and checks its events against the leader's hash, and it holds the leader's state
//! when it takes over. Leadership is a lease in JetStream KV taken by compare-and-set; the log
//! stays single-writer because a tick is appended only after the tick the leader expects, so a
//! deposed leader can never write.
//!
//! Files, one job each:
//! - `partitions`: the partition map (`[cluster]`): which partition runs which queue.
//! - `message`: the log's messages (commands, tick messages, refusals) and the event batches.
//! - `log`: the stream, appends (commands de-duplicated by id, ticks by expected sequence),
//!   reading in order.
//! - `lease`: the leader lease; `renewal`: a leader renews it from a task of its own.
//! - `agreement`: the config and map every process must share (and the partition's seed).
//! - `events`: each tick's events and command outcomes, in a stream of their own, for
//!   gateways.
//! - `claims`: one ticket per player in the cluster: a claim per player in KV.
//! - `ids`: player ids reserved in blocks, so that gateways never hand out one twice.
//! - `holds`: which players a tick set free (whose claims are released), without IO.
//! - `admission`: a leader's claims and refusals before a tick, its releases after.
//! - `sessions`: which matches wait for a game server and where sessions run, without IO;
//!   `allocation`: a leader asks the fleet for servers and logs the answers.
//! - `replica`: the replica without IO: a matcher fed the log in order.
//! - `snapshot`: snapshots in the object store, the newest marked in KV, the log trimmed
//!   behind them.
//! - `run`: the process: restore, follow, snapshot, take over, lead.
//! - `status`: the process's role, tick and lag, for `/readyz` and metrics.
//! - `export`: a partition's log as a trace for `matchwright replay`.
//!
//! Not yet here (issue 21): gateways, Postgres as the shared record.

pub mod admission;
pub mod agreement;
pub mod allocation;
pub mod claims;
pub mod events;
pub mod explain;
pub mod export;
pub mod holds;
pub mod ids;
pub mod lease;
pub mod log;
pub mod message;
pub mod partitions;
pub mod renewal;
pub mod replica;
pub mod run;
pub mod sessions;
pub mod snapshot;
pub mod status;

pub use log::{LogItem, PartitionLog};
pub use message::{EventBatch, TickMessage};
pub use run::{PartitionOptions, RunError, run_partition};

/// What the unit tests share.
#[cfg(test)]
mod test_support {
    use matchwright_ecs::{Command, EnqueueTicket, PlayerId, Rating, TicketId};

    /// A solo duel enqueue of player `id` (ticket `id`), at 1500, playing in every region.
    pub(crate) fn duelist(id: u64) -> Command {
        Command::Enqueue(EnqueueTicket::solo(
            TicketId(id),
            "duel-1v1",
            PlayerId(id),
            Rating::new(1500.0, 100.0),
            vec![30, 90, 200, 250],
        ))
    }
}
