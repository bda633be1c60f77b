//! # matchwright-load: `matchwright load`
//!
//! A load generator that drives a real server the way players and game servers do, and
//! measures it. It registers `--players` accounts (or logs them in when they exist), takes each
//! one's live events, and keeps every player cycling for `--duration` seconds: enqueue, wait
//! for `match_found` (accepting when the queue asks), wait for the session, play, glance at the
//! profile and the leaderboard, think, and queue again. It also acts as the game servers: about
//! `--game-ms` after a session starts it posts the result (with the game-server key), so
//! ratings, history and leaderboards move as they would in production. Think times and game
//! lengths vary from half to one and a half times their setting, and players start spread over
//! one cycle, so the load is steady rather than a herd moving in step.
//!
//! Players are clients of the SDK ([`matchwright_transport::Client`]), one player loop over
//! either transport: over HTTP by default (the `/v1` routes, events on the `/v1/events`
//! WebSocket, all players sharing one connection pool of `--max-connections` idle
//! connections), or over QUIC with `--quic ADDR` (one connection each, spread over
//! `--quic-endpoints` client sockets). The game servers' result posts are HTTP-only routes,
//! not in the player SDK: they go over `--http` through a small client of their own
//! (`game.rs`). The queue listing the run starts with is the SDK's `queues`, over `--http`.
//!
//! It reports, per route: requests, requests per second, p50/p99/max latency, and errors by
//! status (or `transport`, `protocol`); plus enqueue -> match-found latency (from sending the
//! enqueue to the `match_found` event), all in HdrHistograms. HTTP players' routes are named
//! `METHOD /path` (`POST /v1/queue`), QUIC players' `QUIC kind` (`QUIC enqueue`). Setup
//! (registration, which is argon2 on the server and slow by design) is not measured. A
//! progress line runs unless `--quiet`.
//!
//! Bounds: one task and one event stream (WebSocket or QUIC connection) per player; at most
//! `--max-connections` idle HTTP connections per pool; each histogram is fixed-size (1 µs to
//! 1 h, 3 significant digits); each request gives up after 30 s.
//!
//! The crate's files, one job each:
//! The crate's files, one job each, each using only those below it:
//! - this one: [`main`], the entry point `matchwright load` calls, and [`LoadError`];
//! - `run.rs`: one run ([`run`]): what the server offers, setting the players up, the measured
//!   window, winding down;
//! - `player.rs`: one player, connected through the SDK, and its loop; what players share;
//! - `game.rs`: the game servers' side, over HTTP;
//! - `cli.rs`: the flags ([`LoadArgs`]) and what they resolve to;
//! - `report.rs`: the measurements, the histograms and the report ([`LoadReport`],
//!   [`print_report`]);
//! - `pace.rs`: the jitter that keeps players out of step.

use std::process::ExitCode;

mod cli;
mod game;
mod pace;
mod player;
mod report;
mod run;

pub use cli::LoadArgs;
pub use report::{LoadReport, RouteReport, print_report};
pub use run::run;

/// Why `load` could not run.
#[derive(Debug)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

/// `matchwright load`: runs the load on a multi-threaded runtime and prints its report (and
/// writes it as JSON with `--json`). Exit status 0 when it ran, 1 when the report could not
/// be written, 2 when the run could not be made (bad flags, a server that does not answer).
#[allow(clippy::print_stderr)]
pub fn main(args: LoadArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("matchwright load: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let json = args.json.clone();
    let report = match runtime.block_on(run(args)) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("matchwright load: {error}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = print_report(&report, &mut std::io::stdout()) {
        eprintln!("matchwright load: cannot print the report: {error}");
        return ExitCode::FAILURE;
    }
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report).unwrap_or_default();
        if let Err(error) = std::fs::write(&path, text) {
            eprintln!("matchwright load: cannot write {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
