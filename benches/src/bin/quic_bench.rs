//! `quic-bench`: requests per second over QUIC against a running `matchwright serve`, through
//! the client SDK.
//!
//! ```text
//! matchwright serve --config config/quic-bench.toml --data-dir /tmp/qb &
//! cargo run --release -p matchwright-benches --bin quic-bench -- \
//!     --quic 127.0.0.1:4433 --data-dir /tmp/qb --clients 200 --mode reads
//! ```
//!
//! Each client is one QUIC connection (spread over `--endpoints` client sockets) and one player (registered, or logged in when it
//! exists). Modes:
//! - `reads`: each client keeps `--in-flight` `QueueStatus` requests in flight (answered from
//!   the server's view, no tick);
//! - `commands`: each client alternates `CreateParty` and `LeaveParty`, two matcher commands
//!   that each wait for their tick's commit (group commit), one in flight per player, since a
//!   player's next command depends on the last.
//!
//! Prints answered requests per second, latency p50/p99/max (HdrHistogram) and errors by
//! code. Setup (registration: argon2, slow by design) is not measured.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use matchwright_transport::quic::tls::pinned_fingerprint;
use matchwright_transport::{Client, QuicEndpoint};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Mode {
    Reads,
    Commands,
}

/// Requests per second over QUIC.
#[derive(Debug, Parser)]
struct Args {
    /// The server's QUIC address.
    #[arg(long, default_value = "127.0.0.1:4433")]
    quic: SocketAddr,
    /// The certificate fingerprint (default: the development certificate in --data-dir).
    #[arg(long)]
    fingerprint: Option<String>,
    /// The server's data directory (for its development certificate).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Connections (one player each).
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// What to send.
    #[arg(long, value_enum, default_value = "reads")]
    mode: Mode,
    /// Requests in flight per connection (reads only).
    #[arg(long, default_value_t = 16)]
    in_flight: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Client UDP sockets the connections are spread over (each endpoint's packets are
    /// handled by one task; more spread the client's work over the cores).
    #[arg(long, default_value_t = 64)]
    endpoints: usize,
    /// Usernames are this prefix and a number.
    #[arg(long, default_value = "qb-")]
    prefix: String,
}

#[derive(Default)]
struct Totals {
    answered: AtomicU64,
    failed: AtomicU64,
}

fn fingerprint(args: &Args) -> Result<String, String> {
    pinned_fingerprint(args.fingerprint.as_deref(), args.data_dir.as_deref())
}

async fn connect(
    args: &Args,
    endpoint: &QuicEndpoint,
    pin: &str,
    index: usize,
) -> Result<Client, String> {
    let client = Client::connect_quic_via(endpoint, args.quic, pin)
        .await
        .map_err(|error| error.to_string())?;
    let name = format!("{}{index}", args.prefix);
    let password = "quic-bench-password";
    match client.register(&name, password, None).await {
        Ok(_) => {}
        Err(error) if error.code() == Some("username_taken") => {
            client
                .login(&name, password)
                .await
                .map_err(|error| error.to_string())?;
        }
        Err(error) => return Err(error.to_string()),
    }
    // Events are not read here: drop the stream so the server's buffer is not ours to fill.
    drop(client.events());
    // A party left over from an earlier run would refuse CreateParty.
    if let Ok(party) = client.my_party().await {
        let _ = client.leave_party(party.party_id).await;
    }
    Ok(client)
}

/// One request, timed; `true` if answered without error.
async fn timed(
    latencies: &std::sync::Mutex<Histogram<u64>>,
    totals: &Totals,
    call: impl Future<Output = bool>,
) {
    let started = Instant::now();
    let ok = call.await;
    let micros = (started.elapsed().as_micros() as u64).clamp(1, 60_000_000);
    if ok {
        totals.answered.fetch_add(1, Ordering::Relaxed);
    } else {
        totals.failed.fetch_add(1, Ordering::Relaxed);
    }
    let mut histogram = latencies
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let _ = histogram.record(micros);
}

async fn run(args: Args) -> Result<(), String> {
    let pin = fingerprint(&args)?;
    let args = Arc::new(args);
    let endpoints = (0..args.endpoints.max(1))
        .map(|_| QuicEndpoint::for_server(args.quic).map_err(|error| error.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    // Setup: connect and log in, 32 at a time.
    let gate = Arc::new(tokio::sync::Semaphore::new(32));
    let mut setups = tokio::task::JoinSet::new();
    for index in 0..args.clients {
        let (args, pin, gate) = (Arc::clone(&args), pin.clone(), Arc::clone(&gate));
        let endpoint = endpoints[index % endpoints.len()].clone();
        setups.spawn(async move {
            let _permit = gate.acquire().await;
            connect(&args, &endpoint, &pin, index).await
        });
    }
    let mut clients = Vec::with_capacity(args.clients);
    while let Some(joined) = setups.join_next().await {
        clients.push(Arc::new(joined.map_err(|error| error.to_string())??));
    }
    eprintln!(
        "{} clients connected; measuring {} s",
        clients.len(),
        args.duration
    );
    let latencies = Arc::new(std::sync::Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?,
    ));
    let totals = Arc::new(Totals::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = tokio::task::JoinSet::new();
    for client in &clients {
        let lanes = match args.mode {
            Mode::Reads => args.in_flight.max(1),
            Mode::Commands => 1,
        };
        for _ in 0..lanes {
            let (client, latencies, totals, stop) = (
                Arc::clone(client),
                Arc::clone(&latencies),
                Arc::clone(&totals),
                Arc::clone(&stop),
            );
            let mode = args.mode;
            tasks.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match mode {
                        Mode::Reads => {
                            timed(&latencies, &totals, async {
                                client.queue_status().await.is_ok()
                            })
                            .await;
                        }
                        Mode::Commands => {
                            let mut party = None;
                            timed(&latencies, &totals, async {
                                party = client.create_party().await.ok().map(|p| p.party_id);
                                party.is_some()
                            })
                            .await;
                            if let Some(party) = party {
                                timed(&latencies, &totals, async {
                                    client.leave_party(party).await.is_ok()
                                })
                                .await;
                            }
                        }
                    }
                }
            });
        }
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.duration)).await;
    let answered = totals.answered.load(Ordering::Relaxed);
    let failed = totals.failed.load(Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let histogram = latencies
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1e3;
    println!(
        "quic-bench {:?}: {} clients, {} answered in {seconds:.1} s = {:.0} req/s; {} failed; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        args.mode,
        clients.len(),
        answered,
        answered as f64 / seconds,
        failed,
        ms(0.5),
        ms(0.99),
        histogram.max() as f64 / 1e3
    );
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    for client in &clients {
        client.close();
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("quic-bench: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("quic-bench: {error}");
            std::process::ExitCode::from(2)
        }
    }
}
