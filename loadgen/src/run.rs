//! One run, start to end: what the server offers (the queue to play, its regions and season,
//! from the SDK's `queues` over `--http`), setting the players up (not measured), the measured
//! window with its progress line, and winding down (the queued leave their queue, games in
//! progress get their results, so the next run does not find its players still in a session).

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use matchwright_transport::wire::{QueueInfo, QueueList};
use matchwright_transport::{Client, ClientError, HttpPool, QuicEndpoint};
use tokio::task::JoinSet;

use crate::LoadError;
use crate::cli::{self, LoadArgs};
use crate::game::GameServers;
use crate::player::{Dial, Player, Target, play};
use crate::report::{LoadReport, Measurements, report};

/// How long any one HTTP request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the load and returns its report (printed by [`crate::print_report`]).
pub async fn run(args: LoadArgs) -> Result<LoadReport, LoadError> {
    cli::check(&args)?;
    let server_key = cli::game_server_key(&args)?;
    let base = cli::http_base(&args)?;
    let target = Arc::new(target(&args, &base, server_key).await?);
    let players = set_up_players(&target, &args).await?;
    let seconds = measure(&target, players, &args).await;
    Ok(report(
        &target.measured,
        args.players,
        &target.queue,
        seconds,
    ))
}

/// The queue `--queue` or `--mode` names (the server's first without either), from the
/// server's listing.
async fn choose_queue(
    pool: &HttpPool,
    base: &str,
    args: &LoadArgs,
) -> Result<(QueueList, QueueInfo), LoadError> {
    let listed = match Client::connect_http_via(pool, base).await {
        Ok(client) => client.queues().await,
        Err(error) => Err(error),
    };
    let list = listed.map_err(|error| match error {
        ClientError::Connection(_) => {
            LoadError(format!("the server at {base} does not answer: {error}"))
        }
        _ => LoadError(format!("GET {base}/v1/queues: {error}")),
    })?;
    let chosen = list
        .queues
        .iter()
        .find(|queue| match (&args.queue, &args.mode) {
            (Some(name), _) => queue.name == *name,
            (None, Some(mode)) => queue.mode == *mode,
            (None, None) => true,
        });
    let Some(chosen) = chosen.cloned() else {
        let names: Vec<String> = list
            .queues
            .iter()
            .map(|queue| format!("{} (mode {})", queue.name, queue.mode))
            .collect();
        return Err(LoadError(format!(
            "no such queue or mode on the server; it runs {}",
            names.join(", ")
        )));
    };
    if list.regions.is_empty() {
        return Err(LoadError("the server lists no regions".into()));
    }
    Ok((list, chosen))
}

/// How players reach the server: QUIC with `--quic`, else HTTP through `pool`.
fn dial(args: &LoadArgs, pool: &HttpPool, base: &str) -> Result<Dial, LoadError> {
    let Some(addr) = args.quic else {
        return Ok(Dial::Http {
            pool: pool.clone(),
            base: base.to_string(),
        });
    };
    let endpoints = (0..args.quic_endpoints.max(1))
        .map(|_| QuicEndpoint::for_server(addr))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| LoadError(format!("--quic: {error}")))?;
    Ok(Dial::Quic {
        addr,
        fingerprint: cli::quic_fingerprint(args)?,
        endpoints,
    })
}

/// What the run shares, from the flags and the server's listing.
async fn target(args: &LoadArgs, base: &str, server_key: String) -> Result<Target, LoadError> {
    let pool = HttpPool::new(args.max_connections, REQUEST_TIMEOUT)
        .map_err(|error| LoadError(format!("cannot build the HTTP client: {error}")))?;
    let (list, chosen) = choose_queue(&pool, base, args).await?;
    let measured = Arc::new(Measurements::default());
    let game_servers = GameServers::new(
        base,
        server_key,
        args.max_connections,
        REQUEST_TIMEOUT,
        args.game_ms,
        Arc::clone(&measured),
    )?;
    Ok(Target {
        dial: dial(args, &pool, base)?,
        game_servers: Arc::new(game_servers),
        queue: chosen.name,
        mode: chosen.mode,
        season: list.season,
        regions: list.regions,
        acceptance: chosen.acceptance,
        game_ms: args.game_ms,
        think_ms: args.think_ms,
        measured,
        deadline: OnceLock::new(),
    })
}

/// Connects and logs in every player, `--setup-concurrency` at a time (not measured).
async fn set_up_players(target: &Arc<Target>, args: &LoadArgs) -> Result<Vec<Player>, LoadError> {
    let progress = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(args.players as u64)
    };
    progress.set_message("registering players and opening their event streams");
    let gate = Arc::new(tokio::sync::Semaphore::new(args.setup_concurrency.max(1)));
    let mut setups = JoinSet::new();
    for home in 0..args.players {
        let (target, gate, progress) = (Arc::clone(target), Arc::clone(&gate), progress.clone());
        let name = format!("{}{home}", args.prefix);
        setups.spawn(async move {
            let _permit = gate.acquire().await;
            let player = Player::connect(&target, &name, home).await;
            progress.inc(1);
            player
        });
    }
    let mut players = Vec::with_capacity(args.players);
    while let Some(joined) = setups.join_next().await {
        match joined {
            Ok(player) => players.push(player?),
            Err(error) => return Err(LoadError(format!("a setup task failed: {error}"))),
        }
    }
    progress.finish_and_clear();
    Ok(players)
}

/// The measured window: every player plays for `--duration`; then they wind down. Returns the
/// seconds measured.
async fn measure(target: &Arc<Target>, players: Vec<Player>, args: &LoadArgs) -> f64 {
    let started = Instant::now();
    let duration = Duration::from_secs(args.duration);
    let _ = target.deadline.set(started + duration);
    target.measured.measuring.store(true, Ordering::Relaxed);
    let mut tasks = JoinSet::new();
    for player in players {
        tasks.spawn(play(Arc::clone(target), player));
    }
    let ticker = (!args.quiet).then(|| {
        let measured = Arc::clone(&target.measured);
        tokio::spawn(progress(measured, started, duration))
    });
    tokio::time::sleep(duration).await;
    target.measured.measuring.store(false, Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    if let Some(ticker) = ticker {
        let _ = ticker.await;
    }
    wind_down(target, tasks, args.game_ms).await;
    seconds
}

/// The progress line: elapsed seconds, requests per second, matches and errors so far.
async fn progress(measured: Arc<Measurements>, started: Instant, duration: Duration) {
    let bar = indicatif::ProgressBar::new(duration.as_secs());
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let elapsed = started.elapsed().as_secs_f64().max(0.001);
        bar.set_position(started.elapsed().as_secs().min(duration.as_secs()));
        bar.set_message(format!(
            "{:.0} req/s, {} matches, {} errors",
            measured.requests.load(Ordering::Relaxed) as f64 / elapsed,
            measured.matches.load(Ordering::Relaxed),
            measured.errors.load(Ordering::Relaxed)
        ));
        if started.elapsed() >= duration {
            bar.finish_and_clear();
            return;
        }
    }
}

/// Players wind down: the queued leave the queue, and games in progress get their results (so
/// the next run does not find its players still in a session). Gives up after twice a game
/// and 10 s.
async fn wind_down(target: &Target, mut tasks: JoinSet<()>, game_ms: u64) {
    let limit = Duration::from_millis(game_ms.saturating_mul(2)) + Duration::from_secs(10);
    let wound_down = tokio::time::timeout(limit, async {
        while tasks.join_next().await.is_some() {}
        while !target.game_servers.all_posted() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    if wound_down.await.is_err() {
        tasks.abort_all();
    }
}
