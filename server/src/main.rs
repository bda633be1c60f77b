//! The `matchwright` command: `matchwright serve` runs the server; `matchwright sim ...` runs
//! the deterministic simulator (`matchwright_sim::cli`); `matchwright replay` and
//! `matchwright trace export` are the trace tools (`matchwright_server::trace`).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use matchwright_server::app::{self, ServeOptions};
use matchwright_server::quic;
use matchwright_server::record::RecordOptions;
use matchwright_server::settings::Settings;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Matchwright: a deterministic matchmaking server.
#[derive(Debug, Parser)]
#[command(name = "matchwright", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Run the server: HTTP API, tick loop, redb store (and a Postgres mirror if given).
    Serve(ServeArgs),
    /// Load a running server: players queue, accept and play over HTTP and WebSocket; prints
    /// requests/s, latency per route, enqueue -> match-found latency and errors.
    Load(matchwright_server::load::LoadArgs),
    /// Simulate players around the matcher in virtual time: run, sweep or compare scenarios.
    #[command(subcommand)]
    Sim(matchwright_sim::cli::SimCommand),
    /// Re-run the matcher from recorded traces and check every tick's events (exit 0
    /// identical, 1 divergent with a diff, 2 bad input); `--config NEW.toml` compares another
    /// config on the same inputs; `--bless` re-records a trace after a deliberate change.
    Replay(matchwright_server::trace::ReplayArgs),
    /// Trace tools: `trace export` turns a stopped server's journal into a trace.
    #[command(subcommand)]
    Trace(matchwright_server::trace::TraceCommand),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// The config file (TOML): the matcher's config plus [server] and [fleet]. Default: the
    /// built-in defaults (config/matchwright.toml lists them).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where the data lives (redb file, generated secrets).
    #[arg(long, default_value = "./matchwright-data")]
    data_dir: PathBuf,
    /// The HTTP address to listen on (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    /// The QUIC address for game clients (port 0 picks a free one; the address and the
    /// certificate's SHA-256 fingerprint are printed).
    #[arg(long, default_value = "127.0.0.1:4433")]
    quic: SocketAddr,
    /// Serve HTTP only.
    #[arg(long)]
    no_quic: bool,
    /// Mirror to this Postgres (e.g. postgres://postgres@127.0.0.1:5432/test).
    #[arg(long)]
    postgres: Option<String>,
    /// Log lines as text or JSON (filter with RUST_LOG, default `info`).
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Record every committed tick's input as trace segments in this directory, for
    /// `matchwright replay` (each segment replays on its own).
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
    /// With --record: a segment is closed at this size.
    #[arg(long, value_name = "MB", default_value_t = 256, requires = "record")]
    record_segment_mb: u64,
    /// With --record: segments kept; the oldest are deleted.
    #[arg(long, value_name = "N", default_value_t = 16, requires = "record")]
    record_keep: usize,
    /// With --record: keep each tick's events in the trace, not only their hash.
    #[arg(long, requires = "record")]
    record_events: bool,
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only for a person at a terminal: a file or a log collector gets plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Commands::Serve(args) => serve(args),
        Commands::Load(args) => load(args),
        Commands::Replay(args) => finish(&matchwright_server::trace::replay(&args)),
        Commands::Trace(matchwright_server::trace::TraceCommand::Export(args)) => {
            finish(&matchwright_server::trace::export(&args))
        }
        Commands::Sim(command) => {
            let mut stdout = std::io::stdout();
            match matchwright_sim::cli::execute(command, &mut stdout) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("matchwright sim: {error}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

/// Prints a trace tool's report (to stderr for bad input) and exits with its code.
fn finish(outcome: &matchwright_server::trace::Outcome) -> ExitCode {
    if outcome.code == 2 {
        eprint!("{}", outcome.report);
    } else {
        print!("{}", outcome.report);
    }
    ExitCode::from(outcome.code)
}

fn serve(args: ServeArgs) -> ExitCode {
    init_logging(args.log_format);
    let settings = match &args.config {
        Some(path) => match Settings::load(path) {
            Ok(settings) => settings,
            Err(error) => {
                eprintln!("matchwright: {error}");
                return ExitCode::from(2);
            }
        },
        None => Settings::default(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("matchwright-io")
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("matchwright: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        let started = app::start(ServeOptions {
            settings,
            data_dir: args.data_dir.clone(),
            postgres: args.postgres.clone(),
            record: args.record.clone().map(|dir| RecordOptions {
                dir,
                segment_bytes: args.record_segment_mb.saturating_mul(1 << 20),
                keep_segments: args.record_keep,
                with_events: args.record_events,
            }),
        })?;
        let listener = tokio::net::TcpListener::bind(args.http)
            .await
            .map_err(|error| format!("cannot listen on {}: {error}", args.http))?;
        let address = listener.local_addr().map_err(|error| error.to_string())?;
        let recovery = &started.recovery;
        println!(
            "matchwright: listening on http://{address} (data: {}, tick {}, {} tickets queued{})",
            args.data_dir.display(),
            recovery.last_tick,
            recovery.queued_tickets,
            if args.postgres.is_some() {
                ", mirroring to Postgres"
            } else {
                ""
            }
        );
        if let Some(file) = &started.secrets_file {
            println!(
                "matchwright: secrets (game-server key, session-token secret) in {}",
                file.display()
            );
        }
        let quic = if args.no_quic {
            None
        } else {
            let (identity, development) =
                quic::identity(&started.state.settings.quic, &args.data_dir)?;
            let server = quic::bind(args.quic, &identity, &started.state)?;
            println!(
                "matchwright: quic on {} (ALPN matchwright/1, certificate sha256 {}{})",
                server.local_addr()?,
                server.fingerprint(),
                if development {
                    ", a development certificate kept in the data directory"
                } else {
                    ""
                }
            );
            let close = server.closer();
            tokio::spawn(server.serve(Arc::new(quic::Bridge::new(started.state.clone()))));
            Some(close)
        };
        if let Some(dir) = &args.record {
            println!(
                "matchwright: recording trace segments in {} (replay with `matchwright replay {}`)",
                dir.display(),
                dir.display()
            );
        }
        let _ = std::io::stdout().flush();
        let outcome = app::serve(started, listener, shutdown_signal()).await;
        if let Some(close) = quic {
            close();
        }
        outcome
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("matchwright: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("stopping: finishing the current tick");
}

fn load(args: matchwright_server::load::LoadArgs) -> ExitCode {
    init_logging(LogFormat::Text);
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
    match runtime.block_on(matchwright_server::load::run(args)) {
        Ok(report) => {
            let mut stdout = std::io::stdout();
            if let Err(error) = matchwright_server::load::print_report(&report, &mut stdout) {
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
        Err(error) => {
            eprintln!("matchwright load: {error}");
            ExitCode::from(2)
        }
    }
}
