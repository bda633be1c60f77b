//! The `matchwright` command: `matchwright serve` runs the server; `matchwright sim ...` runs
//! the deterministic simulator (`matchwright_sim::cli`); `matchwright replay` and
//! `matchwright trace export` are the trace tools (`matchwright_replay::cli`, given the server's
//! config loader and the simulator's what-if);
//! `matchwright config check` prints the effective config (`matchwright_server::environment`).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use matchwright_replay::ReplayError;
use matchwright_replay::cli::{self as trace, Hooks, Progress, WhatIfRun};
use matchwright_replay::record::RecordOptions;
use matchwright_server::app::{self, ServeOptions};
use matchwright_server::environment::{self, Environment};
use matchwright_server::quic;
use matchwright_server::telemetry::{self, Telemetry};

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
    /// Load a running server: players queue, accept and play over HTTP and WebSocket (or QUIC
    /// with --quic); prints requests/s, latency per route, enqueue -> match-found latency and
    /// errors.
    Load(matchwright_load::LoadArgs),
    /// Simulate players around the matcher in virtual time: run, sweep or compare scenarios.
    #[command(subcommand)]
    Sim(matchwright_sim::cli::SimCommand),
    /// Re-run the matcher from recorded traces and check every tick's events (exit 0
    /// identical, 1 divergent with a diff, 2 bad input); `--config NEW.toml` compares another
    /// config on the same inputs; `--bless` re-records a trace after a deliberate change.
    Replay(trace::ReplayArgs),
    /// Trace tools: `trace export` turns a stopped server's journal into a trace.
    #[command(subcommand)]
    Trace(trace::TraceCommand),
    /// Serve the API of `serve` in front of a cluster's matcher partitions on NATS JetStream:
    /// commands go to the partitions' logs, answers and live events come from their events
    /// (docs/cluster.md).
    Gateway(GatewayArgs),
    /// Run one replica of a matcher partition on NATS JetStream: it follows the partition's
    /// log as a hot standby and leads it once it holds the lease (docs/cluster.md).
    Matcher(MatcherArgs),
    /// Cluster tools: `cluster export` writes a partition's log as a trace for `matchwright
    /// replay`.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Config tools: `config check [FILE]` validates a config with the environment's
    /// overrides and prints it, secrets redacted (exit 0 valid, 2 not).
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate FILE (none: the built-in defaults) with the MATCHWRIGHT_* environment variables
    /// applied, and print the effective config as TOML with secrets redacted. Exit code 0 when
    /// valid, 2 with the error when not.
    Check {
        /// The config file.
        file: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
struct MatcherArgs {
    /// The partition (its log is the JetStream stream `MW_<NAME>`).
    #[arg(long, value_name = "NAME")]
    partition: String,
    /// The NATS server (JetStream on).
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// This replica's name, unique in the cluster (1 to 128 bytes). Default: the host name,
    /// the process id and a random suffix.
    #[arg(long)]
    replica: Option<String>,
    /// The config file; every replica of a partition must be given the same one.
    #[arg(long)]
    config: Option<PathBuf>,
    /// How often the leader ticks, in milliseconds.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(10..=10_000))]
    tick_ms: u64,
    /// How long the leader's lease lasts without renewal, in milliseconds (a standby takes
    /// over after it).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(50..=60_000))]
    lease_ms: u64,
    /// A standby writes a snapshot to the object store every this many ticks (0: never; the
    /// leader writes one when no standby has for two intervals); the log is trimmed behind
    /// them.
    #[arg(long, default_value_t = 600)]
    snapshot_every_ticks: u64,
    /// Log lines as text or JSON (filter with RUST_LOG, default `info`).
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Serve `/healthz`, `/readyz` and `/metrics` on this address (e.g. 127.0.0.1:9470).
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
}

#[derive(Debug, clap::Args)]
struct GatewayArgs {
    /// The options `serve` takes (`--record` is refused: a gateway has no tick loop of its
    /// own). `--postgres` is the cluster's shared record: accounts, tokens, ratings, history,
    /// the same for every gateway.
    #[command(flatten)]
    serve: ServeArgs,
    /// The NATS server (JetStream on).
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// This gateway's name, unique in the cluster (its commands' message ids start with it).
    /// Default: the host name, the process id and a random suffix.
    #[arg(long)]
    name: Option<String>,
    /// Without a `[cluster]` map in the config: the one partition behind the gateway.
    #[arg(long, value_name = "NAME", default_value = "p1")]
    partition: String,
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Write a partition's log, from its newest snapshot to its last tick, as a trace that
    /// `matchwright replay` checks tick by tick (exit 0 written, 1 failed, 2 bad input).
    Export(ClusterExportArgs),
}

#[derive(Debug, clap::Args)]
struct ClusterExportArgs {
    /// The partition.
    #[arg(long, value_name = "NAME")]
    partition: String,
    /// The NATS server.
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// The partition's config file (the one its replicas run).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The trace file to write.
    #[arg(long)]
    out: PathBuf,
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
    /// Mirror to this Postgres (e.g. postgres://postgres@127.0.0.1:5432/test). A URL with a
    /// password shows in `ps`: prefer --postgres-file or MATCHWRIGHT_POSTGRES_URL(_FILE).
    #[arg(long, conflicts_with = "postgres_file")]
    postgres: Option<String>,
    /// Mirror to the Postgres whose URL this file holds (one trailing line break dropped).
    #[arg(long, value_name = "PATH")]
    postgres_file: Option<PathBuf>,
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

/// Log lines on stderr, filtered by `RUST_LOG`; with `telemetry`, the spans are exported too
/// (the OpenTelemetry layer has its own filter: `RUST_LOG` only filters the log lines).
fn init_logging(format: LogFormat, telemetry: Option<&Telemetry>) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{EnvFilter, Layer as _};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only for a person at a terminal: a file or a log collector gets plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let Some(telemetry) = telemetry else {
        // No exporter: the log lines alone, `RUST_LOG` filtering every span.
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(colour)
            .with_writer(std::io::stderr);
        let _ = match format {
            LogFormat::Text => builder.try_init(),
            LogFormat::Json => builder.json().flatten_event(true).try_init(),
        };
        return;
    };
    let lines = tracing_subscriber::fmt::layer()
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    let lines = match format {
        LogFormat::Text => lines.with_filter(filter).boxed(),
        LogFormat::Json => lines.json().flatten_event(true).with_filter(filter).boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(telemetry.layer())
        .with(lines)
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Commands::Serve(args) => serve(args, None),
        Commands::Gateway(args) => gateway(args),
        Commands::Load(args) => load(args),
        Commands::Replay(args) => {
            let hooks = Hooks {
                load_config: &load_matcher_config,
                what_if: &what_if,
            };
            finish(&trace::replay(&args, &hooks))
        }
        Commands::Trace(trace::TraceCommand::Export(args)) => finish(&trace::export(&args)),
        Commands::Config(ConfigCommand::Check { file }) => config_check(file.as_deref()),
        Commands::Matcher(args) => matcher(args),
        Commands::Cluster(ClusterCommand::Export(args)) => cluster_export(args),
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
fn finish(outcome: &trace::Outcome) -> ExitCode {
    if outcome.code == 2 {
        eprint!("{}", outcome.report);
    } else {
        print!("{}", outcome.report);
    }
    ExitCode::from(outcome.code)
}

/// `matchwright replay --config FILE`: the matcher's config from a server config file (or a
/// bare matcher config), read as the server reads its file.
fn load_matcher_config(path: &std::path::Path) -> Result<matchwright_ecs::Config, String> {
    matchwright_server::settings::Settings::load(path)
        .map(|settings| settings.matcher)
        .map_err(|error| error.to_string())
}

/// `matchwright replay --config FILE`: the simulator's what-if report.
fn what_if(
    path: &std::path::Path,
    config: matchwright_ecs::Config,
    out: &std::path::Path,
    progress: &mut Progress<'_>,
) -> Result<WhatIfRun, ReplayError> {
    let (result, table) = matchwright_sim::whatif::what_if(path, config, out, progress)?;
    Ok(WhatIfRun {
        ticks: result.ticks,
        commands: result.commands,
        span_s: result.span_s,
        table,
    })
}

/// The process's `MATCHWRIGHT_*` variables (`vars_os`: another program's non-UTF-8 variable
/// must not panic us).
fn environment() -> Result<Environment, String> {
    Environment::capture(std::env::vars_os())
}

/// `matchwright config check [FILE]`.
fn config_check(file: Option<&std::path::Path>) -> ExitCode {
    match environment().and_then(|environment| environment::check(&environment, file)) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("matchwright config check: {error}");
            ExitCode::from(2)
        }
    }
}

/// `matchwright matcher --partition NAME`: one replica of a partition, until Ctrl-C or
/// SIGTERM (a leader then gives its lease up).
fn matcher(args: MatcherArgs) -> ExitCode {
    init_logging(args.log_format, None);
    let settings = match partition_config(&args.partition, args.config.as_deref()) {
        Ok(found) => found,
        Err(error) => {
            eprintln!("matchwright matcher: {error}");
            return ExitCode::from(2);
        }
    };
    let (index, partitions) = settings
        .cluster
        .partitions
        .iter()
        .position(|entry| entry.name == args.partition)
        .map_or((0, 1), |index| (index, settings.cluster.partitions.len()));
    let fleet =
        matchwright_server::fleet::partition_fleet(&settings.effective_fleet(), index, partitions);
    let no_fleet = settings.fleet.servers.is_empty();
    if !settings.webhooks.endpoints.is_empty() {
        tracing::warn!("[webhooks] is for `serve`: a partition sends no webhooks");
    }
    let (config, map) = (settings.matcher, settings.cluster);
    let replica = args.replica.unwrap_or_else(default_replica_name);
    if let Err(error) = matchwright_cluster::lease::check_replica_name(&replica) {
        eprintln!("matchwright matcher: {error}");
        return ExitCode::from(2);
    }
    let mut options = matchwright_cluster::PartitionOptions::new(&args.partition, &replica, config);
    options.tick = std::time::Duration::from_millis(args.tick_ms);
    options.lease = std::time::Duration::from_millis(args.lease_ms);
    options.snapshot_every_ticks = args.snapshot_every_ticks;
    options.map = map;
    options.fleet = Some(fleet);
    // Two workers: the leader's lease is renewed by a task of its own while a tick runs.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("matchwright matcher: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        if let Some(address) = args.http {
            // The recorder before the partition's first metric (installed once, here).
            app::metrics_handle();
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|error| format!("cannot listen on {address}: {error}"))?;
            let status = Arc::clone(&options.status);
            tokio::spawn(matchwright_server::partition_ops::serve(
                listener,
                status,
                std::future::pending(),
            ));
        }
        let client = connect_nats(&args.nats).await?;
        if no_fleet {
            tracing::warn!("no [fleet] configured: the leader allocates sessions on the development fleet (127.0.0.1:7777 in every region)");
        }
        tracing::info!(partition = %options.partition, replica = %options.replica, nats = %args.nats, "matcher partition starting");
        matchwright_cluster::run_partition(client, options, shutdown_signal())
            .await
            .map_err(|error| error.to_string())
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("matchwright matcher: {error}");
            ExitCode::FAILURE
        }
    }
}

/// A partition's name, checked, its config and the cluster's partition map (the file's, or
/// the built-in defaults and no map); a partition the map does not list is refused.
fn partition_config(
    partition: &str,
    file: Option<&std::path::Path>,
) -> Result<matchwright_server::settings::Settings, String> {
    matchwright_cluster::log::check_partition_name(partition).map_err(|e| e.to_string())?;
    let Some(path) = file else {
        return Ok(matchwright_server::settings::Settings::default());
    };
    let settings =
        matchwright_server::settings::Settings::load(path).map_err(|error| error.to_string())?;
    settings.cluster.queues_of(partition)?;
    Ok(settings)
}

/// Connects to NATS, retrying for up to 10 s.
async fn connect_nats(url: &str) -> Result<async_nats::Client, String> {
    let connect = async_nats::ConnectOptions::new()
        .connection_timeout(std::time::Duration::from_secs(5))
        .retry_on_initial_connect()
        .connect(url);
    tokio::time::timeout(std::time::Duration::from_secs(10), connect)
        .await
        .map_err(|_| format!("no NATS server answered at {url} within 10 s"))?
        .map_err(|error| format!("NATS at {url}: {error}"))
}

/// `matchwright cluster export`.
fn cluster_export(args: ClusterExportArgs) -> ExitCode {
    let (config, map) = match partition_config(&args.partition, args.config.as_deref()) {
        Ok(settings) => (settings.matcher, settings.cluster),
        Err(error) => {
            eprintln!("matchwright cluster export: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("matchwright cluster export: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        let client = connect_nats(&args.nats).await?;
        matchwright_cluster::export::export_trace(client, &args.partition, &config, &map, &args.out)
            .await
            .map_err(|error| error.to_string())
    });
    match outcome {
        Ok(exported) => {
            println!(
                "wrote {}: {} ticks, {} commands, from tick {}",
                args.out.display(),
                exported.ticks,
                exported.commands,
                exported.base_tick
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("matchwright cluster export: {error}");
            ExitCode::FAILURE
        }
    }
}

/// A replica's default name: the host's name, the process id and a suffix from the clock, so
/// that two machines whose processes share an id (containers) do not share a name.
fn default_replica_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|host| host.trim().to_owned())
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "host".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!("{host}-{}-{nanos:08x}", std::process::id())
}

/// `matchwright gateway`: `serve`, with the partitions behind it in place of a tick loop.
fn gateway(args: GatewayArgs) -> ExitCode {
    if args.serve.record.is_some() {
        eprintln!(
            "matchwright gateway: --record is for `serve` (a gateway has no tick loop; record a partition with `cluster export`)"
        );
        return ExitCode::from(2);
    }
    let name = args.name.unwrap_or_else(default_replica_name);
    if let Err(error) = matchwright_cluster::log::check_partition_name(&args.partition) {
        eprintln!("matchwright gateway: {error}");
        return ExitCode::from(2);
    }
    let options = matchwright_server::gateway::GatewayOptions {
        nats: args.nats,
        name,
        partition: args.partition,
        record: None,
    };
    serve(args.serve, Some(options))
}

fn serve(
    args: ServeArgs,
    gateway: Option<matchwright_server::gateway::GatewayOptions>,
) -> ExitCode {
    let loaded = environment().and_then(|environment| {
        let postgres =
            environment.postgres_url(args.postgres.as_deref(), args.postgres_file.as_deref())?;
        let loaded = environment
            .load(args.config.as_deref())
            .map_err(|error| error.to_string())?;
        let unknown: Vec<String> = environment
            .unknown_variables()
            .into_iter()
            .map(str::to_owned)
            .collect();
        // The standard OTEL_* variables, read here only (the environment keeps MATCHWRIGHT_*).
        let traces =
            telemetry::endpoint(&loaded.settings.telemetry, |name| std::env::var(name).ok())?;
        Ok((loaded.settings, postgres, unknown, traces, environment))
    });
    let (settings, postgres, unknown, traces, environment) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("matchwright: {error}");
            return ExitCode::from(2);
        }
    };
    let mirroring = postgres.is_some();
    let gateway_of = gateway.as_ref().map(|options| options.nats.clone());
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
    // Off unless configured: then no exporter, no thread, no layer.
    let telemetry = match traces {
        Some(endpoint) => {
            match Telemetry::start(&settings.telemetry, &endpoint, runtime.handle().clone()) {
                Ok(telemetry) => Some((telemetry, endpoint)),
                Err(error) => {
                    eprintln!("matchwright: traces: {error}");
                    return ExitCode::from(2);
                }
            }
        }
        None => None,
    };
    init_logging(
        args.log_format,
        telemetry.as_ref().map(|(telemetry, _)| telemetry),
    );
    for name in unknown {
        tracing::warn!("environment variable {name} is not one matchwright reads; ignored");
    }
    if let Some((_, endpoint)) = &telemetry {
        tracing::info!(
            url = %endpoint.url,
            from = endpoint.source,
            "exporting traces over OTLP/HTTP"
        );
    }
    let outcome = runtime.block_on(async move {
        let started = match gateway {
            None => app::start(ServeOptions {
                settings,
                data_dir: args.data_dir.clone(),
                postgres,
                record: args.record.clone().map(|dir| RecordOptions {
                    dir,
                    segment_bytes: args.record_segment_mb.saturating_mul(1 << 20),
                    keep_segments: args.record_keep,
                    with_events: args.record_events,
                }),
                source: Some((args.config.clone(), environment)),
            })?,
            Some(mut options) => {
                // A gateway's Postgres is the cluster's shared record, not a mirror.
                options.record = postgres;
                if options.record.is_some() {
                    app::shared_record_secrets(&settings)?;
                }
                let client = connect_nats(&options.nats).await?;
                app::start_gateway(settings, args.data_dir.clone(), client, options).await?
            }
        };
        let listener = tokio::net::TcpListener::bind(args.http)
            .await
            .map_err(|error| format!("cannot listen on {}: {error}", args.http))?;
        let address = listener.local_addr().map_err(|error| error.to_string())?;
        announce(&args, &started, address, gateway_of.as_deref(), mirroring)?;
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
    // The last spans (the final tick's among them), sent while the runtime their requests run
    // on still runs; bounded by `telemetry::SHUTDOWN_TIMEOUT`.
    if let Some((telemetry, _)) = telemetry
        && let Err(error) = telemetry.shutdown()
    {
        tracing::warn!(%error, "traces: the last spans were not all sent");
    }
    // Tasks still running (a blocking hash, a stuck socket) do not hold the exit: the
    // listener's grace period has passed already.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("matchwright: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Says where the server listens and keeps its data (stdout: tests and scripts read it).
fn announce(
    args: &ServeArgs,
    started: &app::Started,
    address: SocketAddr,
    gateway_of: Option<&str>,
    mirroring: bool,
) -> Result<(), String> {
    let data = args.data_dir.display();
    let recovery = &started.recovery;
    match gateway_of {
        Some(nats) => println!(
            "matchwright: gateway listening on http://{address} (data: {data}, partitions on {nats})"
        ),
        None => println!(
            "matchwright: listening on http://{address} (data: {data}, tick {}, {} tickets queued{})",
            recovery.last_tick,
            recovery.queued_tickets,
            if mirroring {
                ", mirroring to Postgres"
            } else {
                ""
            }
        ),
    }
    if let Some(operations) = &started.operations {
        let address = operations.local_addr().map_err(|error| error.to_string())?;
        println!("matchwright: metrics and health on http://{address}");
    }
    if let Some(file) = &started.secrets_file {
        println!(
            "matchwright: secrets (game-server key, session-token secret) in {}",
            file.display()
        );
    }
    Ok(())
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

/// `matchwright load`: the load generator (`matchwright-load`), with the server's logging.
fn load(args: matchwright_load::LoadArgs) -> ExitCode {
    init_logging(LogFormat::Text, None);
    matchwright_load::main(args)
}
