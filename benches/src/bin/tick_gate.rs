//! The tick-latency gate: holds a steady queue of N tickets, runs at least 1,000 ticks,
//! records each tick in an HDR histogram, and fails (exit code 1) when the p99 is above the
//! budget, or when the matcher stopped matching (the tickets leaving the queue must mostly
//! leave in matches). Also measures a burst (N tickets arriving in one tick) and the heap bytes
//! per queued ticket.
//!
//! The budget that does not depend on the machine is `--p99-budget-x-reference`: the tick's
//! p99 as a multiple of the median of a fixed plain-Rust workload (`reference`) timed in the
//! same process between the ticks. A slower machine slows both; a slower tick only the tick.
//! `--slow-tick-factor` and `--slow-machine-factor` check the gate itself: they stretch the
//! measured ticks (and, for the machine, the reference too) by busy-waiting.
//!
//! `cargo run --release -p matchwright-benches --bin tick-gate -- --tickets 100000 --p99-budget-x-reference 3`

#![allow(clippy::print_stdout, clippy::print_stderr)] // A command-line tool: printing is its output.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use matchwright_benches::alloc::CountingAllocator;
use matchwright_benches::reference::Reference;
use matchwright_benches::{SteadyConfig, SteadyState};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator::new();

/// Hold a steady queue, time every tick, and fail above a p99 budget.
#[derive(Parser, Debug)]
#[command(name = "tick-gate", version)]
struct Args {
    /// Tickets held in the queues.
    #[arg(long, default_value_t = 100_000)]
    tickets: usize,
    /// Fail when the steady-state tick p99 is above this, in milliseconds.
    #[arg(long)]
    p99_budget_ms: Option<f64>,
    /// Fail when the warm burst tick (all N tickets arriving at once into a fresh matcher in a
    /// process that has run before) is above this, in milliseconds.
    #[arg(long)]
    burst_budget_ms: Option<f64>,
    /// Ticks recorded (at least 1,000).
    #[arg(long, default_value_t = 1_000)]
    ticks: u32,
    /// Ticks run before recording, to reach the steady state.
    #[arg(long, default_value_t = 200)]
    warmup_ticks: u32,
    /// Mean time a ticket waits, in milliseconds: the steady state replaces tick-ms/mean-wait-ms
    /// of the queue per tick (Little's law). Default: the seeds' target time to match, 30 s.
    #[arg(long, default_value_t = 30_000)]
    mean_wait_ms: u64,
    /// Virtual milliseconds per tick.
    #[arg(long, default_value_t = 100)]
    tick_ms: u64,
    /// Seed of the matcher and the population.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Fail when the steady-state tick p99 is above this many times the reference workload's
    /// median (measured in this process, every fifth tick).
    #[arg(long)]
    p99_budget_x_reference: Option<f64>,
    /// Fail unless at least this share of the tickets leaving the queue leave in matches.
    #[arg(long, default_value_t = 0.5)]
    min_matched_share: f64,
    /// Self-test: stretch every measured tick to this many times its time (a slower tick).
    #[arg(long, default_value_t = 1.0)]
    slow_tick_factor: f64,
    /// Self-test: stretch every measured tick and reference run to this many times their time
    /// (a slower machine).
    #[arg(long, default_value_t = 1.0)]
    slow_machine_factor: f64,
}

/// Busy-waits until `measured` has become `factor` times as long; returns the new length.
fn stretch(measured: Duration, factor: f64) -> Duration {
    if factor <= 1.0 {
        return measured;
    }
    let target = measured.mul_f64(factor);
    let started = std::time::Instant::now();
    while started.elapsed() < target - measured {
        std::hint::spin_loop();
    }
    target
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.ticks < 1_000 {
        eprintln!(
            "tick-gate: --ticks must be at least 1000 (got {})",
            args.ticks
        );
        return ExitCode::from(2);
    }
    let factors = [args.slow_tick_factor, args.slow_machine_factor];
    if factors
        .iter()
        .any(|factor| !factor.is_finite() || *factor < 1.0)
    {
        eprintln!("tick-gate: --slow-tick-factor and --slow-machine-factor are 1 or more");
        return ExitCode::from(2);
    }
    if args.tickets == 0 || args.tick_ms == 0 || args.mean_wait_ms < args.tick_ms {
        eprintln!(
            "tick-gate: --tickets and --tick-ms must be above 0, and --mean-wait-ms at least --tick-ms"
        );
        return ExitCode::from(2);
    }
    // Built first, so that its memory is in the baseline and not in the per-ticket figures.
    let mut reference = Reference::new(args.tickets);
    let baseline = ALLOCATOR.live_bytes();
    let steady = SteadyConfig {
        tickets: args.tickets,
        mean_wait_ms: args.mean_wait_ms,
        tick_ms: args.tick_ms,
        seed: args.seed,
        ..SteadyConfig::default()
    };
    let mut state = SteadyState::new(steady.clone());
    let churn = steady.churn();
    // The cold burst: the process's first tick, paying for first-touch page faults (on this
    // VM those vary several-fold from run to run).
    let burst = state.fill();
    let queued_after_burst = state.matcher.queued_tickets();
    // One more tick trims the burst's command buffer; few sessions exist yet.
    state.step();
    let queued_built = state.matcher.queued_tickets();
    let heap_built = ALLOCATOR.live_bytes().saturating_sub(baseline);

    let progress = ProgressBar::with_draw_target(
        Some(u64::from(args.warmup_ticks + args.ticks)),
        ProgressDrawTarget::stderr(),
    );
    progress.set_style(
        ProgressStyle::with_template("{prefix} [{bar:40}] {pos}/{len} ticks {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    progress.set_prefix("tick-gate");
    for _ in 0..args.warmup_ticks {
        state.step();
        progress.inc(1);
    }
    // Microseconds, 3 significant figures, up to an hour.
    let mut histogram =
        Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds");
    let mut reference_histogram =
        Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds");
    let (mut arrivals, mut matches, mut departures) = (0_u64, 0_u64, 0_u64);
    let mut matched_tickets = 0_u64;
    let mut heap_peak = 0;
    for index in 0..args.ticks {
        let step = state.step();
        let tick = stretch(
            stretch(step.tick, args.slow_tick_factor),
            args.slow_machine_factor,
        );
        histogram.saturating_record(tick.as_micros().max(1) as u64);
        if index % 5 == 0 {
            let run = stretch(reference.run(), args.slow_machine_factor);
            reference_histogram.saturating_record(run.as_micros().max(1) as u64);
        }
        arrivals += step.arrivals as u64;
        matches += step.matches;
        matched_tickets += step.matched_tickets as u64;
        departures += step.departures as u64;
        heap_peak = heap_peak.max(ALLOCATOR.live_bytes().saturating_sub(baseline));
        progress.inc(1);
    }
    progress.finish_and_clear();
    let queued = state.matcher.queued_tickets();
    let heap_steady = ALLOCATOR.live_bytes().saturating_sub(baseline);
    let counts = state.matcher.counts();
    let rejected = state.rejected();
    drop(state);
    // The warm burst: a fresh matcher in a process whose memory has been used before.
    let warm_burst = SteadyState::new(SteadyConfig {
        seed: args.seed.wrapping_add(1),
        ..steady
    })
    .fill();
    let ticks = f64::from(args.ticks);
    let p = |quantile: f64| histogram.value_at_quantile(quantile) as f64 / 1_000.0;
    let p99 = p(0.99);
    let reference_ms = reference_histogram.value_at_quantile(0.5) as f64 / 1_000.0;
    let ratio = p99 / reference_ms.max(1e-6);
    let matched_share = matched_tickets as f64 / departures.max(1) as f64;

    println!(
        "tick-gate: {} tickets held, {} ticks recorded after {} warm-up, {} ms per tick, mean wait {} ms: {:.2}% of the queue replaced per tick",
        args.tickets,
        args.ticks,
        args.warmup_ticks,
        args.tick_ms,
        args.mean_wait_ms,
        churn * 100.0
    );
    println!(
        "steady tick: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms, mean {:.3} ms",
        p(0.5),
        p99,
        histogram.max() as f64 / 1_000.0,
        histogram.mean() / 1_000.0
    );
    println!(
        "steady load: {:.0} arrivals, {:.0} departures, {:.1} matches per tick; {} tickets queued at the end; {} rejected commands",
        arrivals as f64 / ticks,
        departures as f64 / ticks,
        matches as f64 / ticks,
        queued,
        rejected
    );
    println!(
        "burst: {} tickets arriving in one tick: {:.1} ms warm, {:.1} ms cold (first tick of the process); {} matches formed, {} left queued",
        args.tickets,
        millis(warm_burst.tick),
        millis(burst.tick),
        burst.matches,
        queued_after_burst
    );
    println!(
        "memory: {:.0} bytes of heap per queued ticket once the queue is built ({:.1} MiB for {} tickets); {:.0} at the steady state, {} live sessions included ({:.1} MiB, peak {:.1} MiB)",
        heap_built as f64 / queued_built.max(1) as f64,
        heap_built as f64 / 1_048_576.0,
        queued_built,
        heap_steady as f64 / queued.max(1) as f64,
        counts.matches,
        heap_steady as f64 / 1_048_576.0,
        heap_peak as f64 / 1_048_576.0
    );

    println!(
        "reference workload: median {reference_ms:.3} ms over {} runs; steady tick p99 = {ratio:.2} x reference",
        reference_histogram.len()
    );
    println!(
        "matching: {:.1}% of the tickets that left the queue left in matches ({matched_tickets} of {departures})",
        matched_share * 100.0
    );
    println!("world at the end: {counts:?}");
    let mut failed = false;
    if matches == 0 || matched_share < args.min_matched_share {
        eprintln!(
            "tick-gate: FAIL: only {:.1}% of departures were matches (at least {:.0}% expected): the matcher is not matching",
            matched_share * 100.0,
            args.min_matched_share * 100.0
        );
        failed = true;
    }
    if let Some(budget) = args.p99_budget_x_reference {
        if ratio > budget {
            eprintln!(
                "tick-gate: FAIL: p99 {p99:.3} ms is {ratio:.2} x the reference ({reference_ms:.3} ms), above the budget of {budget} x"
            );
            failed = true;
        } else {
            println!(
                "tick-gate: PASS: p99 {p99:.3} ms is {ratio:.2} x the reference ({reference_ms:.3} ms), within the budget of {budget} x"
            );
        }
    }
    if rejected > 0 {
        eprintln!("tick-gate: FAIL: the matcher rejected {rejected} commands of a valid workload");
        failed = true;
    }
    if let Some(budget) = args.p99_budget_ms {
        if p99 > budget {
            eprintln!("tick-gate: FAIL: p99 {p99:.3} ms is above the budget of {budget} ms");
            failed = true;
        } else {
            println!("tick-gate: PASS: p99 {p99:.3} ms is within the budget of {budget} ms");
        }
    }
    if let Some(budget) = args.burst_budget_ms {
        let burst_ms = millis(warm_burst.tick);
        if burst_ms > budget {
            eprintln!(
                "tick-gate: FAIL: the burst took {burst_ms:.1} ms, above the budget of {budget} ms"
            );
            failed = true;
        } else {
            println!(
                "tick-gate: PASS: the burst took {burst_ms:.1} ms, within the budget of {budget} ms"
            );
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
