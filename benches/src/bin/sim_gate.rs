//! The simulator gate: runs a scenario (by default the 10,000-concurrent-player hour) with our
//! matcher and every baseline, prints the comparison, and fails (exit code 1) when:
//! - our run took more wall time than the budget (default 10 s for the simulated hour);
//! - our mean time to match is not under 30 s, or our mean quality is under 0.85 (the seeds'
//!   targets);
//! - a baseline dominates ours (faster and better at once).
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
    #[arg(long, default_value_t = 10.0)]
    wall_budget_s: f64,
    /// The least mean quality.
    #[arg(long, default_value_t = 0.85)]
    min_quality: f64,
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
            "{:<16} {:>8} {:>10} {:>10} {:>10} {:>9} {:>8} {:>9}",
            "matcher", "matches", "ttm mean", "ttm p90", "quality", "q p10", "wall s", "speed"
        );
        for report in &reports {
            println!(
                "{:<16} {:>8} {:>9.1}s {:>9.1}s {:>10.3} {:>9.3} {:>8.2} {:>8.0}x",
                report.matcher,
                report.matches,
                report.ttm_s.mean,
                report.ttm_s.p90,
                report.quality.mean,
                report.quality.p10,
                report.wall_s,
                report.speedup()
            );
        }
        let ours = &reports[0];
        for baseline in &reports[1..] {
            println!(
                "  vs {:<16} {}",
                baseline.matcher,
                if sweep::beats(ours, baseline) {
                    "ours beats it"
                } else if sweep::dominates(baseline, ours) {
                    "IT DOMINATES OURS"
                } else {
                    "a trade: neither is faster and better at once"
                }
            );
            if sweep::dominates(baseline, ours) {
                failures.push(format!(
                    "seed {seed}: {} is faster and better than ours",
                    baseline.matcher
                ));
            }
        }
        if ours.wall_s > args.wall_budget_s {
            failures.push(format!(
                "seed {seed}: our run took {:.2} s, over the budget of {} s",
                ours.wall_s, args.wall_budget_s
            ));
        }
        if !sweep::meets_targets(ours, args.min_quality) {
            failures.push(format!(
                "seed {seed}: mean time to match {:.1} s (target < 30 s), mean quality {:.3} (target >= {})",
                ours.ttm_s.mean, ours.quality.mean, args.min_quality
            ));
        }
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
