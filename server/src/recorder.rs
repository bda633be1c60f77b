//! Recording a partition's events in the cluster's shared record (a gateway started with
//! `--postgres`): matches, sessions, ratings and history, as `serve` keeps them in its store.
//!
//! A task per partition reads the partition's events stream from where Postgres says the
//! partition is recorded, and records each part in one transaction that moves that mark
//! (`matchwright_storage::shared`): a part at or below the mark is skipped. So every gateway
//! may record every partition at once, a gateway that dies mid-way leaves nothing half done,
//! and each rating update reaches Postgres exactly once. While Postgres is away the task
//! retries (the events wait in the stream, kept 15 minutes); ticks the stream no longer holds
//! when it comes back cannot be recorded, and are named in an error and counted
//! (`matchwright_record_lost_ticks_total`).

use std::sync::Arc;
use std::time::Duration;

use matchwright_cluster::events::{PartitionEvents, Position};
use matchwright_cluster::log::LogError;
use matchwright_cluster::message::EventBatch;
use matchwright_storage::shared::{EventsPart, Recorded, SharedRecord};
use tokio::sync::watch;

/// A reader silent this long is opened again (a restarted NATS forgets its consumers).
const SILENT_READER: Duration = Duration::from_secs(10);

/// The pause after a failure before reading on from the mark.
const RETRY: Duration = Duration::from_secs(1);

/// How long a part may stay locked by another recorder before this one starts over.
const CONTENDED_FOR: Duration = Duration::from_secs(30);

/// Records `partition`'s events until `stop`.
pub async fn record_partition(
    record: Arc<SharedRecord>,
    events: PartitionEvents,
    partition: String,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let outcome = tokio::select! {
            outcome = record_until_lost(&record, &events, &partition) => outcome,
            _ = stop.wait_for(|stop| *stop) => return,
        };
        if let Err(error) = outcome {
            tracing::warn!(%partition, %error, "recording the partition's events failed; retrying (nothing recorded is lost)");
        }
        tokio::select! {
            () = tokio::time::sleep(RETRY) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

/// Reads from the mark in Postgres and records each part after it, until a failure (`Err`)
/// or a silent reader (`Ok`: open it again).
async fn record_until_lost(
    record: &SharedRecord,
    events: &PartitionEvents,
    partition: &str,
) -> Result<(), String> {
    let mut at = match record
        .recorded_through(partition)
        .await
        .map_err(|e| e.to_string())?
    {
        Some((tick, part, last)) => Position::after_part(tick, part, last),
        None => Position::default(),
    };
    let mut reader = events
        .read_after(at.complete)
        .await
        .map_err(|e| e.to_string())?;
    loop {
        let batch = match tokio::time::timeout(SILENT_READER, reader.next()).await {
            Ok(Some(Ok(batch))) => batch,
            Ok(Some(Err(LogError::Trimmed { expected, got }))) => {
                // Ticks `expected..got` left the stream (or, a part missing inside tick
                // `got`, that tick): read on after them; recording the next moves the mark.
                let skip_to = if got > expected { got - 1 } else { got };
                lost(record, partition, expected.min(skip_to), skip_to).await;
                tokio::time::sleep(RETRY).await;
                reader = events
                    .read_after(skip_to)
                    .await
                    .map_err(|e| e.to_string())?;
                at = Position::after(skip_to);
                continue;
            }
            Ok(Some(Err(error))) => return Err(error.to_string()),
            Ok(None) | Err(_) => return Ok(()),
        };
        if at.has_read(&batch) {
            continue;
        }
        record_part(record, &batch).await?;
        at.read(&batch);
    }
}

/// Records one part (or finds it recorded by another gateway). Another gateway recording
/// it right now is asked about again shortly, for at most [`CONTENDED_FOR`].
async fn record_part(record: &SharedRecord, batch: &EventBatch) -> Result<(), String> {
    let part = EventsPart {
        partition: &batch.partition,
        tick: batch.tick,
        part: batch.part,
        last: batch.last,
        now_ms: batch.now_ms,
        events: &batch.events,
    };
    let started = std::time::Instant::now();
    let outcome = loop {
        match record.record_events(part).await {
            Ok(Recorded::Contended) if started.elapsed() < CONTENDED_FOR => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(Recorded::Contended) => {
                return Err(format!(
                    "the partition's mark stayed locked by another recorder for {CONTENDED_FOR:?}"
                ));
            }
            other => break other.map_err(|e| e.to_string())?,
        }
    };
    let labels = [("partition", batch.partition.clone())];
    match outcome {
        Recorded::Written => {
            metrics::counter!("matchwright_record_parts_total", &labels).increment(1);
            metrics::gauge!("matchwright_record_tick", &labels).set(batch.tick as f64);
        }
        Recorded::AlreadyThere => {
            metrics::counter!("matchwright_record_parts_skipped_total", &labels).increment(1);
        }
        Recorded::Contended | Recorded::Nothing => {}
    }
    Ok(())
}

/// Says that ticks `from..=to` left the stream before this gateway recorded them, unless
/// the record is past them (another gateway recorded them).
async fn lost(record: &SharedRecord, partition: &str, from: u64, to: u64) {
    if let Ok(Some((tick, _, _))) = record.recorded_through(partition).await
        && tick >= to
    {
        return;
    }
    let count = to.saturating_sub(from) + 1;
    tracing::error!(
        %partition,
        from,
        to,
        "the events of {count} ticks left the partition's events stream (kept 15 minutes) before any gateway recorded them: their matches, ratings and history are not in Postgres"
    );
    let labels = [("partition", partition.to_string())];
    metrics::counter!("matchwright_record_lost_ticks_total", &labels).increment(count);
}
