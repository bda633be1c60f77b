//! What a run measures and how it is reported: [`Measurements`] (per-route HdrHistograms and
//! errors, enqueue -> match-found latency, counters), filled by [`timed`] around every call,
//! and the report built from them ([`LoadReport`]), printed as a table by [`print_report`] or
//! written as JSON.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use matchwright_transport::ClientError;
use serde::Serialize;

/// The slowest latency a histogram holds: 1 h, in µs.
const LATENCY_MAX_US: u64 = 3_600_000_000;

/// Locks a mutex; a panic elsewhere while holding it leaves plain counters and maps that are
/// still usable, so a poisoned lock is taken as it is.
pub(crate) fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 1 h at 3 significant digits: fixed size, never resizes.
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3)
        .expect("1 us .. 1 h at 3 digits is a valid histogram")
}

fn micros(took: Duration) -> u64 {
    u64::try_from(took.as_micros())
        .unwrap_or(LATENCY_MAX_US)
        .clamp(1, LATENCY_MAX_US)
}

#[derive(Default)]
struct RouteStats {
    latency: Option<Histogram<u64>>,
    errors: BTreeMap<String, u64>,
    /// The first error seen per status, to say what went wrong.
    samples: BTreeMap<String, String>,
}

/// Everything measured, shared by the players' tasks and the game servers. Only calls made
/// while `measuring` is on count (setup and wind-down do not).
#[derive(Default)]
pub(crate) struct Measurements {
    routes: Mutex<BTreeMap<&'static str, RouteStats>>,
    match_found: Mutex<Option<Histogram<u64>>>,
    pub(crate) requests: AtomicU64,
    pub(crate) errors: AtomicU64,
    /// Matches whose session started (one result scheduled each).
    pub(crate) matches: AtomicU64,
    /// Results the game servers posted and the server took.
    pub(crate) results: AtomicU64,
    pub(crate) measuring: AtomicBool,
}

/// Why a call counts as failed: the key it is counted under (the status, `transport`,
/// `protocol` or `usage`) and what it said. `None` for a success, or a refusal whose status
/// is in `expected` (an answer, not a failure).
fn failure<T>(answer: &Result<T, ClientError>, expected: &[u16]) -> Option<(String, String)> {
    match answer {
        Ok(_) => None,
        Err(ClientError::Server(error)) if expected.contains(&error.status) => None,
        Err(ClientError::Server(error)) => Some((
            error.status.to_string(),
            serde_json::to_string(error).unwrap_or_else(|_| error.to_string()),
        )),
        Err(ClientError::Connection(why)) => Some(("transport".into(), why.clone())),
        Err(ClientError::Protocol(why)) => Some(("protocol".into(), why.clone())),
        Err(ClientError::Usage(why)) => Some(("usage".into(), why.clone())),
    }
}

/// Times `call` and records it under `route`, where statuses in `expected` are answers, not
/// failures (a player leaving the queue at the end of the run may just have been matched:
/// 409). Returns the call's answer.
pub(crate) async fn timed<T>(
    measured: &Measurements,
    route: &'static str,
    expected: &[u16],
    call: impl Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    let started = Instant::now();
    let answer = call.await;
    measured.record(route, started.elapsed(), failure(&answer, expected));
    answer
}

impl Measurements {
    fn record(&self, route: &'static str, took: Duration, failed: Option<(String, String)>) {
        if !self.measuring.load(Ordering::Relaxed) {
            return;
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut routes = locked(&self.routes);
        let stats = routes.entry(route).or_default();
        let _ = stats
            .latency
            .get_or_insert_with(histogram)
            .record(micros(took));
        if let Some((key, sample)) = failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
            *stats.errors.entry(key.clone()).or_default() += 1;
            stats.samples.entry(key).or_insert(sample);
        }
    }

    /// One enqueue -> match-found latency.
    pub(crate) fn record_match_found(&self, took: Duration) {
        if !self.measuring.load(Ordering::Relaxed) {
            return;
        }
        let mut found = locked(&self.match_found);
        let _ = found.get_or_insert_with(histogram).record(micros(took));
    }
}

/// One route's line of the report.
#[derive(Clone, Debug, Serialize)]
pub struct RouteReport {
    /// `METHOD /path` (ids as `{id}`) over HTTP, `QUIC kind` over QUIC.
    pub route: String,
    /// Requests sent.
    pub requests: u64,
    /// Per second of the measured window.
    pub per_second: f64,
    /// Latency percentiles (ms).
    pub p50_ms: f64,
    /// 99th percentile (ms).
    pub p99_ms: f64,
    /// Slowest (ms).
    pub max_ms: f64,
    /// Failed requests by status (or `transport`: no answer; `protocol`: an unreadable one).
    pub errors: BTreeMap<String, u64>,
    /// The first error per status: the server's error body, or what went wrong.
    pub error_samples: BTreeMap<String, String>,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct LoadReport {
    /// Players driven.
    pub players: usize,
    /// The queue played.
    pub queue: String,
    /// Seconds measured.
    pub seconds: f64,
    /// Every route, then `all`.
    pub routes: Vec<RouteReport>,
    /// Enqueue -> match found (ms): samples, p50, p99, max.
    pub match_found_samples: u64,
    /// Median.
    pub match_found_p50_ms: f64,
    /// 99th percentile.
    pub match_found_p99_ms: f64,
    /// Slowest.
    pub match_found_max_ms: f64,
    /// Matches seen forming.
    pub matches: u64,
    /// Results posted as the game servers.
    pub results_posted: u64,
    /// Failed requests (any route).
    pub errors: u64,
}

fn millis(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1e3
}

fn route_line(
    route: String,
    latency: &Histogram<u64>,
    seconds: f64,
    errors: BTreeMap<String, u64>,
    error_samples: BTreeMap<String, String>,
) -> RouteReport {
    RouteReport {
        route,
        requests: latency.len(),
        per_second: latency.len() as f64 / seconds,
        p50_ms: millis(latency, 0.5),
        p99_ms: millis(latency, 0.99),
        max_ms: latency.max() as f64 / 1e3,
        errors,
        error_samples,
    }
}

/// The report of what was measured over `seconds`.
pub(crate) fn report(
    measured: &Measurements,
    players: usize,
    queue: &str,
    seconds: f64,
) -> LoadReport {
    let routes = locked(&measured.routes);
    let mut all = histogram();
    let mut all_errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut lines = Vec::new();
    for (route, stats) in routes.iter() {
        let Some(latency) = &stats.latency else {
            continue;
        };
        let _ = all.add(latency);
        for (status, count) in &stats.errors {
            *all_errors.entry(status.clone()).or_default() += count;
        }
        let (errors, samples) = (stats.errors.clone(), stats.samples.clone());
        lines.push(route_line(
            route.to_string(),
            latency,
            seconds,
            errors,
            samples,
        ));
    }
    lines.push(route_line(
        "all".into(),
        &all,
        seconds,
        all_errors,
        BTreeMap::new(),
    ));
    let found = locked(&measured.match_found);
    let empty = histogram();
    let found = found.as_ref().unwrap_or(&empty);
    LoadReport {
        players,
        queue: queue.to_string(),
        seconds,
        routes: lines,
        match_found_samples: found.len(),
        match_found_p50_ms: millis(found, 0.5),
        match_found_p99_ms: millis(found, 0.99),
        match_found_max_ms: found.max() as f64 / 1e3,
        matches: measured.matches.load(Ordering::Relaxed),
        results_posted: measured.results.load(Ordering::Relaxed),
        errors: measured.errors.load(Ordering::Relaxed),
    }
}

/// Prints the report as a table.
pub fn print_report(report: &LoadReport, out: &mut impl std::io::Write) -> std::io::Result<()> {
    writeln!(
        out,
        "matchwright load: {} players on {} for {:.1} s",
        report.players, report.queue, report.seconds
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| route | requests | req/s | p50 ms | p99 ms | max ms | errors |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---|")?;
    for line in &report.routes {
        writeln!(
            out,
            "| {} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {} |",
            line.route,
            line.requests,
            line.per_second,
            line.p50_ms,
            line.p99_ms,
            line.max_ms,
            error_counts(&line.errors)
        )?;
    }
    for line in &report.routes {
        for (status, body) in &line.error_samples {
            writeln!(out, "first {status} on {}: {body}", line.route)?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "enqueue -> match found: {} samples, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        report.match_found_samples,
        report.match_found_p50_ms,
        report.match_found_p99_ms,
        report.match_found_max_ms
    )?;
    writeln!(
        out,
        "matches started: {}, results posted: {}, failed requests: {}",
        report.matches, report.results_posted, report.errors
    )?;
    out.flush()
}

/// `409: 2, transport: 1`, or `-` when none failed.
fn error_counts(errors: &BTreeMap<String, u64>) -> String {
    if errors.is_empty() {
        return "-".to_string();
    }
    errors
        .iter()
        .map(|(status, count)| format!("{status}: {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use matchwright_transport::wire::WireError;

    fn refused(status: u16) -> Result<(), ClientError> {
        Err(ClientError::Server(WireError::new(
            status,
            "already_queued",
            "no",
        )))
    }

    #[test]
    fn expected_statuses_are_answers_and_other_failures_count_by_status() {
        assert_eq!(failure(&Ok::<(), ClientError>(()), &[]), None);
        assert_eq!(failure(&refused(409), &[404, 409]), None);
        let (key, sample) = failure(&refused(409), &[]).unwrap();
        assert_eq!(key, "409");
        assert!(sample.contains(r#""error":"already_queued""#), "{sample}");
        let lost: Result<(), ClientError> = Err(ClientError::Connection("reset".into()));
        assert_eq!(
            failure(&lost, &[409]).unwrap(),
            ("transport".into(), "reset".into())
        );
    }

    #[test]
    fn only_the_measured_window_is_reported() {
        let measured = Measurements::default();
        measured.record("GET /v1/queue", Duration::from_millis(5), None);
        measured.measuring.store(true, Ordering::Relaxed);
        measured.record("GET /v1/queue", Duration::from_millis(3), None);
        let slow_down = Some(("429".to_string(), "slow down".to_string()));
        measured.record("GET /v1/queue", Duration::from_millis(7), slow_down);
        measured.record_match_found(Duration::from_millis(40));
        let report = report(&measured, 2, "duel-1v1", 2.0);
        let routes: Vec<&str> = report
            .routes
            .iter()
            .map(|line| line.route.as_str())
            .collect();
        assert_eq!(routes, ["GET /v1/queue", "all"]);
        assert_eq!(report.routes[0].requests, 2);
        assert_eq!(report.routes[1].errors, BTreeMap::from([("429".into(), 1)]));
        assert_eq!((report.errors, report.match_found_samples), (1, 1));
        let mut printed = Vec::new();
        print_report(&report, &mut printed).unwrap();
        let text = String::from_utf8(printed).unwrap();
        assert!(text.contains("| GET /v1/queue | 2 | 1.0 |"), "{text}");
        assert!(
            text.contains("first 429 on GET /v1/queue: slow down"),
            "{text}"
        );
        assert!(text.contains("enqueue -> match found: 1 samples"), "{text}");
    }
}
