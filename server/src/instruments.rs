//! Every metric the server exports, in one table: its name, kind and HELP text. The names
//! follow Prometheus' conventions: counters end in `_total`, units are in the name
//! (`_seconds`, `_bytes`, `_rows`), labels take bounded values only (routes as matched, a fixed
//! set of methods, queue names from the config, a fixed set of reasons).
//!
//! [`describe_all`] registers the HELP lines and sets the series that exist from the start to
//! zero (so dashboards and alerts see them before the first event); [`sample_process`] reads
//! the process' own figures (resident memory, descriptors, threads, CPU) when `/metrics` is
//! scraped. `matchwright_build_info` carries the version as labels.

/// A metric's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up; the name ends in `_total`.
    Counter,
    /// Goes up and down.
    Gauge,
    /// A distribution (buckets, sum, count).
    Histogram,
}

/// One metric.
#[derive(Clone, Copy, Debug)]
pub struct Instrument {
    /// Its name.
    pub name: &'static str,
    /// Its kind.
    pub kind: Kind,
    /// Its HELP text.
    pub help: &'static str,
    /// Whether it has labels (a series without labels is set to zero at start).
    pub labelled: bool,
}

const fn metric(name: &'static str, kind: Kind, labelled: bool, help: &'static str) -> Instrument {
    Instrument {
        name,
        kind,
        help,
        labelled,
    }
}

use Kind::{Counter, Gauge, Histogram};

/// Every metric the server (and the crates it runs: storage, QUIC) exports.
pub const INSTRUMENTS: &[Instrument] = &[
    metric(
        "matchwright_build_info",
        Gauge,
        true,
        "Always 1; the version and protocol in labels",
    ),
    metric(
        "matchwright_tick_duration_seconds",
        Histogram,
        false,
        "Time to apply one tick's commands and run the matcher",
    ),
    metric(
        "matchwright_record_parts_total",
        Counter,
        true,
        "Parts of a partition's events this gateway recorded in the shared record, by partition",
    ),
    metric(
        "matchwright_record_parts_skipped_total",
        Counter,
        true,
        "Parts of a partition's events found recorded already (by another gateway), by partition",
    ),
    metric(
        "matchwright_record_tick",
        Gauge,
        true,
        "The last tick of a partition this gateway recorded in the shared record, by partition",
    ),
    metric(
        "matchwright_webhook_deliveries_total",
        Counter,
        true,
        "Webhook events delivered (answered 2xx), by endpoint",
    ),
    metric(
        "matchwright_webhook_failures_total",
        Counter,
        true,
        "Failed webhook delivery attempts (another status, no connection, no answer in time), by endpoint",
    ),
    metric(
        "matchwright_webhook_dead_letters_total",
        Counter,
        true,
        "Webhook events given up on (max_attempts, give_up_after_ms or max_pending), by endpoint",
    ),
    metric(
        "matchwright_ban_checks_unanswered_total",
        Counter,
        false,
        "Requests a gateway let through without knowing the player's ban: the shared record (Postgres) did not answer",
    ),
    metric(
        "matchwright_record_lost_ticks_total",
        Counter,
        true,
        "Ticks whose events left the partition's stream before any gateway recorded them, by partition",
    ),
    metric(
        "matchwright_partition_leader",
        Gauge,
        true,
        "Whether this replica leads its partition (1) or follows (0), by partition",
    ),
    metric(
        "matchwright_partition_tick",
        Gauge,
        true,
        "The partition's last tick this replica applied or led, by partition",
    ),
    metric(
        "matchwright_partition_lag_messages",
        Gauge,
        true,
        "Log messages after the last one this replica read, by partition",
    ),
    metric(
        "matchwright_partition_pending_commands",
        Gauge,
        true,
        "Commands in the log waiting for a tick, by partition",
    ),
    metric(
        "matchwright_partition_takeovers_total",
        Counter,
        true,
        "Times this replica took its partition's lead over, by partition",
    ),
    metric(
        "matchwright_partition_starts_total",
        Counter,
        true,
        "Times this replica started from the newest snapshot (the first start included), by partition",
    ),
    metric(
        "matchwright_partition_refused_total",
        Counter,
        true,
        "Enqueues the leader refused before its tick, by partition and reason (wrong_partition, player_elsewhere, claims_unavailable)",
    ),
    metric(
        "matchwright_partition_claims_released_total",
        Counter,
        true,
        "One-ticket claims the leader released, by partition",
    ),
    metric(
        "matchwright_ticks_late_total",
        Counter,
        false,
        "Ticks that started later than their interval",
    ),
    metric(
        "matchwright_store_commit_seconds",
        Histogram,
        false,
        "Time to commit one tick to the store (fsync included)",
    ),
    metric(
        "matchwright_store_ticks_committed_total",
        Counter,
        false,
        "Ticks committed to the store",
    ),
    metric(
        "matchwright_queue_depth",
        Gauge,
        true,
        "Tickets waiting, per queue",
    ),
    metric(
        "matchwright_queue_players",
        Gauge,
        true,
        "Players waiting, per queue",
    ),
    metric(
        "matchwright_matches_total",
        Counter,
        true,
        "Matches formed, per queue",
    ),
    metric(
        "matchwright_match_quality",
        Histogram,
        true,
        "Quality of the matches formed (0 to 1), per queue",
    ),
    metric(
        "matchwright_time_to_match_seconds",
        Histogram,
        true,
        "Time from enqueue to match, per queue",
    ),
    metric(
        "matchwright_live_matches",
        Gauge,
        false,
        "Matches formed and not yet ended",
    ),
    metric(
        "matchwright_sessions_hosted",
        Gauge,
        false,
        "Game-server slots in use",
    ),
    metric(
        "matchwright_allocation_failures_total",
        Counter,
        false,
        "Game-server allocations that failed",
    ),
    metric(
        "matchwright_mirror_lag_rows",
        Gauge,
        false,
        "Rows in the outbox waiting for the Postgres mirror",
    ),
    metric(
        "matchwright_outbox_rows",
        Gauge,
        false,
        "Rows in the store's outbox",
    ),
    metric(
        "matchwright_mirror_rows_total",
        Counter,
        false,
        "Rows written to the Postgres mirror",
    ),
    metric(
        "matchwright_record_ticks_dropped_total",
        Counter,
        false,
        "Ticks the trace recorder could not keep",
    ),
    metric(
        "matchwright_record_failures_total",
        Counter,
        false,
        "Trace segment writes that failed",
    ),
    metric(
        "matchwright_http_request_duration_seconds",
        Histogram,
        true,
        "HTTP request latency, by method, route and status",
    ),
    metric(
        "matchwright_http_connections",
        Gauge,
        true,
        "Open HTTP connections (WebSockets included), per listener (public, operations)",
    ),
    metric(
        "matchwright_http_connections_refused_total",
        Counter,
        true,
        "HTTP connections closed at accept, by the cap that refused them",
    ),
    metric(
        "matchwright_http_connections_closed_total",
        Counter,
        true,
        "HTTP connections the server closed, by reason",
    ),
    metric(
        "matchwright_rate_limited_total",
        Counter,
        true,
        "Requests refused with 429, by route class",
    ),
    metric(
        "matchwright_password_hash_refused_total",
        Counter,
        false,
        "Logins and registrations refused with 503: every hashing slot and queue place taken",
    ),
    metric(
        "matchwright_event_sockets",
        Gauge,
        false,
        "Open live-event sockets",
    ),
    metric(
        "matchwright_event_sockets_lagged_total",
        Counter,
        false,
        "Live-event sockets that fell too far behind",
    ),
    metric(
        "matchwright_event_sockets_closed_total",
        Counter,
        true,
        "Live-event WebSockets closed, by reason",
    ),
    metric(
        "matchwright_quic_connections",
        Gauge,
        false,
        "Open QUIC connections",
    ),
    metric(
        "matchwright_quic_connections_refused_total",
        Counter,
        false,
        "QUIC connections refused at the connection cap",
    ),
    metric(
        "matchwright_quic_requests_total",
        Counter,
        true,
        "QUIC requests, by request",
    ),
    metric(
        "matchwright_quic_rate_limited_total",
        Counter,
        false,
        "QUIC requests refused by a connection's rate limit",
    ),
    metric(
        "matchwright_quic_protocol_errors_total",
        Counter,
        true,
        "QUIC frames refused as protocol errors, by code",
    ),
    metric(
        "process_resident_memory_bytes",
        Gauge,
        false,
        "Resident memory",
    ),
    metric(
        "process_virtual_memory_bytes",
        Gauge,
        false,
        "Virtual memory",
    ),
    metric("process_open_fds", Gauge, false, "Open file descriptors"),
    metric("process_max_fds", Gauge, false, "The descriptor limit"),
    metric("process_threads", Gauge, false, "Threads"),
    metric(
        "process_cpu_seconds_total",
        Counter,
        false,
        "CPU time, user and system",
    ),
    metric(
        "process_start_time_seconds",
        Gauge,
        false,
        "Start time, seconds since the Unix epoch",
    ),
];

/// Labelled counters whose label values are known in advance, shown (at zero) from the start.
const LABELLED_FROM_START: &[(&str, &str, &[&str])] = &[
    (
        "matchwright_rate_limited_total",
        "class",
        &["read", "write", "auth", "game_server"],
    ),
    (
        "matchwright_http_connections_refused_total",
        "reason",
        &["total", "per_ip"],
    ),
    (
        "matchwright_http_connections_closed_total",
        "reason",
        &["header_timeout", "write_timeout", "error"],
    ),
    (
        "matchwright_event_sockets_closed_total",
        "reason",
        &["client", "lagging", "write_timeout", "idle", "shutdown"],
    ),
];

/// Registers every HELP line, `matchwright_build_info`, and zero for the unlabelled series.
pub fn describe_all() {
    for instrument in INSTRUMENTS {
        let (name, help) = (instrument.name, instrument.help);
        match instrument.kind {
            Counter => metrics::describe_counter!(name, help),
            Gauge => metrics::describe_gauge!(name, help),
            Histogram => metrics::describe_histogram!(name, help),
        }
        if !instrument.labelled && !instrument.name.starts_with("process_") {
            match instrument.kind {
                Counter => metrics::counter!(name).absolute(0),
                Gauge => metrics::gauge!(name).increment(0.0),
                Histogram => {}
            }
        }
    }
    for (name, label, values) in LABELLED_FROM_START {
        for value in *values {
            metrics::counter!(*name, *label => *value).absolute(0);
        }
    }
    metrics::gauge!("matchwright_http_connections", "listener" => "public").set(0.0);
    metrics::gauge!(
        "matchwright_build_info",
        "version" => env!("CARGO_PKG_VERSION"),
        "protocol" => matchwright_transport::codec::PROTOCOL_VERSION.to_string()
    )
    .set(1.0);
    process::record_start();
}

/// Samples the process' own figures (called when `/metrics` is scraped).
pub fn sample_process() {
    process::sample();
}

#[cfg(target_os = "linux")]
mod process {
    use std::sync::OnceLock;

    static START_S: OnceLock<f64> = OnceLock::new();
    /// Clock ticks per second of `/proc/self/stat`'s CPU times (100 on every Linux build
    /// Matchwright targets).
    const TICKS_PER_SECOND: f64 = 100.0;
    const PAGE_BYTES: f64 = 4096.0;

    pub(super) fn record_start() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64());
        let start = *START_S.get_or_init(|| now);
        metrics::gauge!("process_start_time_seconds").set(start);
    }

    pub(super) fn sample() {
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
            // Fields after the command name (which may hold spaces) start past its ')'.
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
            let field = |n: usize| fields.get(n).and_then(|v| v.parse::<f64>().ok());
            // `rest` starts at field 3 (state): utime is field 14, stime 15, threads 20,
            // vsize 23, rss 24 (in pages).
            if let (Some(user), Some(system)) = (field(11), field(12)) {
                metrics::counter!("process_cpu_seconds_total")
                    .absolute(((user + system) / TICKS_PER_SECOND) as u64);
            }
            if let Some(threads) = field(17) {
                metrics::gauge!("process_threads").set(threads);
            }
            if let Some(bytes) = field(20) {
                metrics::gauge!("process_virtual_memory_bytes").set(bytes);
            }
            if let Some(pages) = field(21) {
                metrics::gauge!("process_resident_memory_bytes").set(pages * PAGE_BYTES);
            }
        }
        if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
            metrics::gauge!("process_open_fds").set(entries.count() as f64);
        }
        if let Some(limit) = max_fds() {
            metrics::gauge!("process_max_fds").set(limit);
        }
    }

    fn max_fds() -> Option<f64> {
        let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
        let line = limits
            .lines()
            .find(|line| line.starts_with("Max open files"))?;
        line.split_whitespace().nth(3)?.parse().ok()
    }
}

#[cfg(not(target_os = "linux"))]
mod process {
    pub(super) fn record_start() {}
    pub(super) fn sample() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_conventions() {
        let mut names = std::collections::HashSet::new();
        for instrument in INSTRUMENTS {
            assert!(names.insert(instrument.name), "{} twice", instrument.name);
            assert!(
                !instrument.help.is_empty(),
                "{} has no HELP",
                instrument.name
            );
            let total = instrument.name.ends_with("_total");
            assert_eq!(
                total,
                instrument.kind == Counter,
                "{}: counters and only counters end in _total",
                instrument.name
            );
            assert!(
                instrument.name.starts_with("matchwright_")
                    || instrument.name.starts_with("process_"),
                "{}",
                instrument.name
            );
        }
    }
}
