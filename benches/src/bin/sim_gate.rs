//! The simulator gate: runs a scenario (by default the 10,000-concurrent-player hour) with our
//! matcher and every baseline, prints the comparison, and fails (exit code 1) when:
//! - our run took more wall time than the budget (default 2.5 s for the simulated hour, about
//!   six times what it takes on a 2-core VM);
//! - our mean time to match is not under 30 s, or our mean quality is under 0.85 (the seeds'
//!   targets);
//! - our time to match p90, our abandon rate or our favourite's mean win probability by true
//!   skill (0.5 is a coin flip: perfectly fair) is above its bound;
//! - a baseline is at once faster and fairer by true skill than ours (mean time to match, mean
//!   favourite's win probability): quality, the rating-based score, is not the judge.
//!
//! How ours fares against each baseline by the simulator issue's rule (`sweep::beats`) is
//! printed, not enforced: `fifo` ignores skill and so is always faster.
//!
//! `cargo run --release -p matchwright-benches --bin sim-gate -- --seeds 1,2,3`

#![allow(clippy::print_stdout, clippy::print_stderr)] // A command-line tool: printing is its output.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use indicatif::ProgressBar;
use matchwright_sim::cli::simulate;
use matchwright_sim::engine::MATCHERS;
use matchwright_sim::metrics::Report;
use matchwright_sim::scenario::Scenario;
use matchwright_sim::sweep;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Run a scenario with every matcher and check ours against the targets.
#[derive(Parser, Debug)]
#[command(name = "sim-gate", version)]
struct Args {
    /// The scenario.
    #[arg(long, default_value = "sim/scenarios/10k-concurrent.toml")]
    scenario: PathBuf,
    /// Seeds to run (every one must pass), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    seeds: Vec<u64>,
    /// Fail when our run takes longer than this, in wall-clock seconds.
    #[arg(long, default_value_t = 2.5)]
    wall_budget_s: f64,
    /// The least mean quality.
    #[arg(long, default_value_t = 0.85)]
    min_quality: f64,
    /// The most time to match at the 90th percentile, in seconds.
    #[arg(long, default_value_t = 60.0)]
    max_ttm_p90_s: f64,
    /// The largest share of tickets that leave without a match.
    #[arg(long, default_value_t = 0.03)]
    max_abandon_rate: f64,
    /// The largest mean win probability of the favourite by true skill.
    #[arg(long, default_value_t = 0.66)]
    max_favourite_win: f64,
}

/// Faster and fairer at once: lower mean time to match and a favourite closer to a coin flip.
fn faster_and_fairer(a: &Report, b: &Report) -> bool {
    let (ta, fa, tb, fb) = (
        a.ttm_s.mean,
        a.favourite_win_prob.mean,
        b.ttm_s.mean,
        b.favourite_win_prob.mean,
    );
    ta <= tb && fa <= fb && (ta < tb || fa < fb)
}

/// Our run's bounds, each a failure message when broken.
fn bounds(ours: &Report, args: &Args) -> Vec<String> {
    let mut broken = Vec::new();
    if ours.wall_s > args.wall_budget_s {
        broken.push(format!(
            "our run took {:.2} s, over the budget of {} s",
            ours.wall_s, args.wall_budget_s
        ));
    }
    if !sweep::meets_targets(ours, args.min_quality) {
        broken.push(format!(
            "mean time to match {:.1} s (target < 30 s), mean quality {:.3} (target >= {})",
            ours.ttm_s.mean, ours.quality.mean, args.min_quality
        ));
    }
    for (what, value, bound) in [
        ("time to match p90 (s)", ours.ttm_s.p90, args.max_ttm_p90_s),
        ("abandon rate", ours.abandon_rate, args.max_abandon_rate),
        (
            "favourite's mean win probability",
            ours.favourite_win_prob.mean,
            args.max_favourite_win,
        ),
    ] {
        if value > bound {
            broken.push(format!("{what} {value:.3} is above its bound {bound}"));
        }
    }
    broken
}

fn main() -> ExitCode {
    let args = Args::parse();
    let scenario = match Scenario::load(&args.scenario) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("sim-gate: {}: {error}", args.scenario.display());
            return ExitCode::from(2);
        }
    };
    let mut failures = Vec::new();
    for seed in &args.seeds {
        let mut reports = Vec::new();
        for matcher in MATCHERS {
            match simulate(&scenario, matcher, *seed, &ProgressBar::hidden(), None) {
                Ok(output) => reports.push(output.report),
                Err(error) => {
                    eprintln!("sim-gate: {matcher}: {error}");
                    return ExitCode::from(2);
                }
            }
        }
        println!(
            "{} seed {seed}: {:.0} s simulated at {} ms ticks",
            scenario.name, scenario.duration_s, scenario.tick_ms
        );
        println!(
            "{:<16} {:>8} {:>10} {:>10} {:>10} {:>9} {:>9} {:>9} {:>8} {:>9}",
            "matcher",
            "matches",
            "ttm mean",
            "ttm p90",
            "quality",
            "q p10",
            "fav win",
            "abandons",
            "wall s",
            "speed"
        );
        for report in &reports {
            println!(
                "{:<16} {:>8} {:>9.1}s {:>9.1}s {:>10.3} {:>9.3} {:>9.3} {:>9.3} {:>8.2} {:>8.0}x",
                report.matcher,
                report.matches,
                report.ttm_s.mean,
                report.ttm_s.p90,
                report.quality.mean,
                report.quality.p10,
                report.favourite_win_prob.mean,
                report.abandon_rate,
                report.wall_s,
                report.speedup()
            );
        }
        let ours = &reports[0];
        for baseline in &reports[1..] {
            println!(
                "  vs {:<16} {}",
                baseline.matcher,
                if faster_and_fairer(baseline, ours) {
                    "IT IS FASTER AND FAIRER THAN OURS"
                } else if sweep::beats(ours, baseline) {
                    "ours beats it"
                } else {
                    "a trade: neither is faster and fairer at once"
                }
            );
            if faster_and_fairer(baseline, ours) {
                failures.push(format!(
                    "seed {seed}: {} is faster and fairer by true skill than ours",
                    baseline.matcher
                ));
            }
        }
        failures.extend(
            bounds(ours, &args)
                .into_iter()
                .map(|broken| format!("seed {seed}: {broken}")),
        );
    }
    if failures.is_empty() {
        println!("sim-gate: pass");
        ExitCode::SUCCESS
    } else {
        for failure in &failures {
            println!("sim-gate: FAIL: {failure}");
        }
        ExitCode::FAILURE
    }
}
