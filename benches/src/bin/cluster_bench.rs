//! Commands per second into matcher partitions on NATS JetStream (docs/cluster.md): starts a
//! `nats-server -js` of its own on a free port (or uses `--nats`), runs one leader per
//! partition in this process (`matchwright_cluster::run_partition`), appends `--commands`
//! enqueues per partition in pipelined batches, and reports how fast the log took them and
//! how fast the partitions' ticks applied them (until a tick has consumed the last one).
//! With `--standby`, each partition also runs a hot standby (in this process, so it shares
//! the machine with its leader): the bench samples how many ticks the standby trails its
//! leader every 5 ms while the load runs, and how long it takes to reach the leader's last
//! tick after the load.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use std::sync::Arc;

use clap::Parser;
use matchwright_cluster::status::PartitionStatus;
use matchwright_cluster::{PartitionLog, PartitionOptions, run_partition};
use matchwright_ecs::{Command, Config, EnqueueTicket, PlayerId, Rating, TicketId};

/// Commands per second into matcher partitions.
#[derive(Debug, Parser)]
struct Args {
    /// Commands appended to each partition.
    #[arg(long, default_value_t = 100_000)]
    commands: u64,
    /// Partitions, each with its own leader and appender.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=8))]
    partitions: u64,
    /// Commands per pipelined batch (at most 1,024).
    #[arg(long, default_value_t = 512)]
    batch: usize,
    /// A NATS server to use instead of starting one (its streams are left behind).
    #[arg(long)]
    nats: Option<String>,
    /// Run a hot standby per partition and report its lag behind the leader.
    #[arg(long)]
    standby: bool,
}

/// A partition's leader and standby statuses.
type Pair = (Arc<PartitionStatus>, Arc<PartitionStatus>);

/// Samples, every 5 ms until `stop`, how many ticks each standby trails its leader.
async fn sample_lag(pairs: Vec<Pair>, stop: tokio::sync::watch::Receiver<bool>) -> Vec<u64> {
    let mut lags = Vec::new();
    while !*stop.borrow() {
        for (leader, standby) in &pairs {
            lags.push(leader.tick().saturating_sub(standby.tick()));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    lags
}

/// How long until every standby has applied its leader's last tick.
async fn catch_up(pairs: &[Pair]) -> Result<Duration, String> {
    let started = Instant::now();
    while pairs
        .iter()
        .any(|(leader, standby)| standby.tick() < leader.tick())
    {
        if started.elapsed() > Duration::from_secs(60) {
            return Err("a standby did not reach its leader within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(started.elapsed())
}

/// The lag report: percentiles of the samples (ticks behind) and the catch-up time.
fn lag_report(mut lags: Vec<u64>, caught_up: Duration, tick: Duration) -> String {
    lags.sort_unstable();
    let at = |q: f64| {
        lags.get(((lags.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0)
    };
    format!(
        "; standby lag over {} samples: p50 {} ticks, p99 {} ticks, max {} ticks (a tick is {} ms); \
         the standby reached the leader's last tick {:.1} ms after the load",
        lags.len(),
        at(0.5),
        at(0.99),
        lags.last().copied().unwrap_or(0),
        tick.as_millis(),
        caught_up.as_secs_f64() * 1e3
    )
}

/// The nats-server this bench started, stopped when it ends.
struct Nats(Option<Child>);

impl Drop for Nats {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn start_nats(store: &std::path::Path) -> Result<(Nats, String), String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|error| format!("no free port: {error}"))?
        .port();
    let child = Process::new("nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| {
            format!("cannot start nats-server (apt-get install nats-server): {error}")
        })?;
    Ok((Nats(Some(child)), format!("nats://127.0.0.1:{port}")))
}

fn enqueue(partition: u64, id: u64) -> (Command, String) {
    let ticket = partition * 1_000_000_000 + id;
    let command = Command::Enqueue(EnqueueTicket::solo(
        TicketId(ticket),
        "duel-1v1",
        PlayerId(ticket),
        Rating::new(1200.0 + (id % 60) as f64 * 10.0, 100.0),
        vec![30, 90, 200, 250],
    ));
    (command, format!("bench-{ticket}"))
}

/// Appends every command to one partition; returns when the log took them and the last seq.
async fn append(log: PartitionLog, partition: u64, args: &Args) -> Result<(Duration, u64), String> {
    let started = Instant::now();
    let mut last = 0;
    let mut id = 0;
    while id < args.commands {
        let size = (args.commands - id).min(args.batch as u64);
        let batch: Vec<(Command, String)> =
            (id..id + size).map(|i| enqueue(partition, i)).collect();
        let seqs = log
            .append_commands(&batch)
            .await
            .map_err(|e| e.to_string())?;
        last = seqs.last().copied().unwrap_or(last);
        id += size;
    }
    Ok((started.elapsed(), last))
}

/// Waits until a tick of the partition has consumed every command through `through`.
async fn applied(log: &PartitionLog, through: u64) -> Result<u64, String> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if let Some((_, tick)) = log.last_tick().await.map_err(|e| e.to_string())?
            && tick.commands_through >= through
        {
            return Ok(tick.record.tick);
        }
        if Instant::now() > deadline {
            return Err("the partition did not apply every command within 600 s".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn run(args: Args) -> Result<String, String> {
    let store = tempfile::tempdir().map_err(|error| error.to_string())?;
    let (_nats, url) = match &args.nats {
        Some(url) => (Nats(None), url.clone()),
        None => start_nats(store.path())?,
    };
    let client = connect(&url).await?;
    let mut logs = Vec::new();
    let mut pairs: Vec<Pair> = Vec::new();
    for partition in 0..args.partitions {
        let name = format!("bench{partition}");
        let options = PartitionOptions::new(&name, &format!("{name}-leader"), Config::default());
        let leader = Arc::clone(&options.status);
        tokio::spawn(run_partition(
            client.clone(),
            options,
            std::future::pending(),
        ));
        let log = PartitionLog::open(client.clone(), &name)
            .await
            .map_err(|e| e.to_string())?;
        applied(&log, 0).await?; // the leader ticks
        if args.standby {
            let options =
                PartitionOptions::new(&name, &format!("{name}-standby"), Config::default());
            pairs.push((leader, Arc::clone(&options.status)));
            tokio::spawn(run_partition(
                client.clone(),
                options,
                std::future::pending(),
            ));
        }
        logs.push(log);
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let sampler = tokio::spawn(sample_lag(pairs.clone(), stopped));
    let started = Instant::now();
    let appends = logs.iter().enumerate().map(|(partition, log)| {
        let (log, args) = (log.clone(), &args);
        async move { append(log, partition as u64, args).await }
    });
    let appended = futures_join(appends).await?;
    let took = started.elapsed();
    let mut ticks = 0;
    for (log, (_, last)) in logs.iter().zip(&appended) {
        ticks += applied(log, *last).await?;
    }
    let all = started.elapsed();
    let _ = stop.send(true);
    let lags = sampler.await.map_err(|e| e.to_string())?;
    let standby = if args.standby {
        let caught_up = catch_up(&pairs).await?;
        lag_report(lags, caught_up, Duration::from_millis(100))
    } else {
        String::new()
    };
    let total = (args.commands * args.partitions) as f64;
    Ok(format!(
        "cluster-bench: {} commands into {} partition(s), batches of {}: appended in {:.2} s \
         ({:.0} commands/s), applied by {} ticks in {:.2} s ({:.0} commands/s)",
        total,
        args.partitions,
        args.batch,
        took.as_secs_f64(),
        total / took.as_secs_f64(),
        ticks,
        all.as_secs_f64(),
        total / all.as_secs_f64()
    ) + &standby)
}

/// Runs the futures concurrently and collects their results in order.
async fn futures_join<F, T>(futures: impl Iterator<Item = F>) -> Result<Vec<T>, String>
where
    F: Future<Output = Result<T, String>>,
{
    let pinned: Vec<_> = futures.map(Box::pin).collect();
    let mut results = Vec::new();
    for result in futures_util::future::join_all(pinned).await {
        results.push(result?);
    }
    Ok(results)
}

async fn connect(url: &str) -> Result<async_nats::Client, String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match async_nats::connect(url).await {
            Ok(client) => return Ok(client),
            Err(error) if Instant::now() > deadline => {
                return Err(format!("NATS at {url}: {error}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cluster-bench: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(report) => {
            println!("{report}");
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("cluster-bench: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
