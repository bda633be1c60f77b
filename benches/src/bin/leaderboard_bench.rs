//! Leaderboard benchmark: a season with N rated players (default 1,000,000, each with an
//! account) in one mode, then pages of 50 read the way `GET /v1/leaderboard/{season}` reads
//! them (`StoreHandle::leaderboard_page`: the index range scan plus a display-name lookup per
//! entry), from the top and from cursors at random depths. Prints p50/p95/p99/max and fails
//! (exit 1) if p95 exceeds `--p95-budget-ms`.
//!
//! `cargo run --release -p matchwright-benches --bin leaderboard-bench -- --players 1000000`

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use matchwright_ecs::{Config, PlayerId, Rating};
use matchwright_storage::leaderboard::{LeaderboardCursor, rank_key};
use matchwright_storage::{Account, RatingRecord, Store, StoreOptions};
use rand::RngExt as _;
use rand_chacha::rand_core::SeedableRng as _;

#[derive(Parser)]
#[command(about = "Matchwright leaderboard benchmark")]
struct Args {
    /// Rated players.
    #[arg(long, default_value_t = 1_000_000)]
    players: u64,
    /// Pages to read.
    #[arg(long, default_value_t = 5_000)]
    pages: usize,
    /// Entries per page.
    #[arg(long, default_value_t = 50)]
    page_size: usize,
    /// Fail if the p95 page time is above this.
    #[arg(long, default_value_t = 10.0)]
    p95_budget_ms: f64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(error) => {
            eprintln!("leaderboard-bench: no temporary directory: {error}");
            return ExitCode::FAILURE;
        }
    };
    let opened = match Store::open(
        dir.path().join("bench.redb"),
        Config::default(),
        1,
        StoreOptions::default(),
    ) {
        Ok(opened) => opened,
        Err(error) => {
            eprintln!("leaderboard-bench: {error}");
            return ExitCode::FAILURE;
        }
    };
    let handle = opened.store.handle();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let started = Instant::now();
    let mut ratings: Vec<(u64, PlayerId, Rating)> = Vec::with_capacity(args.players as usize);
    let chunk = 100_000_u64;
    let mut first = 1;
    while first <= args.players {
        let last = (first + chunk - 1).min(args.players);
        let mut accounts = Vec::with_capacity(chunk as usize);
        let mut rows = Vec::with_capacity(chunk as usize);
        for n in first..=last {
            let player = PlayerId(n);
            accounts.push(Account {
                player,
                username: format!("player{n}"),
                password_hash: String::new(),
                display_name: format!("Player {n}"),
                regions: Vec::new(),
                created_at_ms: 0,
            });
            let rating = Rating::new(
                rng.random_range(500.0..2_500.0),
                rng.random_range(40.0..500.0),
            );
            ratings.push((rank_key(rating), player, rating));
            rows.push((
                player,
                RatingRecord {
                    rating,
                    games: rng.random_range(1..500),
                    updated_at_ms: 0,
                },
            ));
        }
        if let Err(error) = handle
            .import_accounts(&accounts)
            .and_then(|()| handle.import_ratings("ranked", "bench", &rows))
        {
            eprintln!("leaderboard-bench: {error}");
            return ExitCode::FAILURE;
        }
        first = last + 1;
    }
    println!(
        "wrote {} accounts and ratings in {:.1} s",
        args.players,
        started.elapsed().as_secs_f64()
    );
    // Where each rank is, to start pages at random depths as a client's cursor would.
    ratings.sort_unstable_by_key(|(key, player, _)| (*key, player.0));
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
    let mut entries = 0_usize;
    for page in 0..args.pages {
        let after = if page % 10 == 0 {
            None
        } else {
            let index = rng.random_range(0..ratings.len());
            let (key, player, _) = ratings[index];
            Some(LeaderboardCursor {
                rank: index as u64 + 1,
                key,
                player: player.0,
            })
        };
        let started = Instant::now();
        let read = handle.leaderboard_page("bench", "ranked", after, args.page_size);
        let took = started.elapsed();
        match read {
            Ok(page) => entries += page.entries.len(),
            Err(error) => {
                eprintln!("leaderboard-bench: {error}");
                return ExitCode::FAILURE;
            }
        }
        let _ = histogram.record((took.as_micros() as u64).max(1));
    }
    let ms = |q: f64| Duration::from_micros(histogram.value_at_quantile(q)).as_secs_f64() * 1e3;
    println!(
        "{} pages of {} ({} entries) with {} rated players: p50 {:.3} ms, p95 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        args.pages,
        args.page_size,
        entries,
        args.players,
        ms(0.5),
        ms(0.95),
        ms(0.99),
        histogram.max() as f64 / 1e3
    );
    if ms(0.95) > args.p95_budget_ms {
        eprintln!(
            "FAIL: p95 {:.3} ms is over the budget of {} ms",
            ms(0.95),
            args.p95_budget_ms
        );
        return ExitCode::FAILURE;
    }
    println!("PASS: p95 within {} ms", args.p95_budget_ms);
    ExitCode::SUCCESS
}
