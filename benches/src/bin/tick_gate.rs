//! The tick-latency gate: holds a steady queue of N tickets, runs at least 1,000 ticks,
//! records each tick in an HDR histogram, and fails (exit code 1) when the p99 is above the
//! budget, or when the matcher stopped matching (the tickets leaving the queue must mostly
//! leave in matches). Also measures a burst (N tickets arriving in one tick) and the heap bytes
//! per queued ticket.
//!
//! The budget that does not depend on the machine is `--p99-budget-x-reference`: the tick's
//! p99 as a multiple of the median of a fixed plain-Rust workload (`reference`) timed in the
//! same process between the ticks. A slower machine slows both; a slower tick only the tick.
//! The recorded ticks are cut into `--blocks` consecutive blocks, each with its own p99 and
//! reference median, and the gate judges the median of the blocks' ratios: a burst of noise
//! from a neighbour on a shared machine spoils one or two blocks (of five by default), not
//! the verdict, while a tick that is slower throughout is slower in every block.
//! `--slow-tick-factor` and `--slow-machine-factor` check the gate itself: they stretch the
//! measured ticks (and, for the machine, the reference too) by busy-waiting.
//!
//! `--workload` picks the queues filled (`matchwright_benches::Workload`): the default config's
//! three (the gate), or all tickets in `ranked-5v5`, in `ranked-5v5` with match rules and roles,
//! or in a 100-player battle royale queue. `--rules` runs `ranked-5v5` plain and then with rules
//! and roles, one after the other in the same process with the same population and churn, and
//! fails when the rules' p99 is above `--rules-budget-x` (default 2) times the plain p99.
//!
//! `cargo run --release -p matchwright-benches --bin tick-gate -- --tickets 100000 --p99-budget-x-reference 3`

#![allow(clippy::print_stdout, clippy::print_stderr)] // A command-line tool: printing is its output.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use matchwright_benches::alloc::CountingAllocator;
use matchwright_benches::reference::Reference;
use matchwright_benches::{RuleChecks, SteadyConfig, SteadyState, StepReport, Workload};
use matchwright_ecs::EntityCounts;

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
    /// median (measured in this process, every fifth tick); judged on the median over the
    /// blocks (`--blocks`) of each block's ratio.
    #[arg(long)]
    p99_budget_x_reference: Option<f64>,
    /// Consecutive blocks the recorded ticks are cut into for `--p99-budget-x-reference`
    /// (1 to 16; each block needs at least 250 ticks). Default: 5, or as many as the recorded
    /// ticks fill (4 at the default 1,000 ticks).
    #[arg(long)]
    blocks: Option<u32>,
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
    /// The queues filled: the default config's three (`mixed`), or every ticket in
    /// `ranked-5v5` (`ranked`), in `ranked-5v5` with match rules and a role composition
    /// (`ranked-rules`), or in a 100-player battle royale queue of squads (`battle-royale`).
    #[arg(long, value_enum, default_value_t = WorkloadArg::Mixed, conflicts_with = "rules")]
    workload: WorkloadArg,
    /// Run `ranked` and then `ranked-rules` (same population, churn and seed), each as a whole
    /// gate run, and fail when the rules' p99 is above `--rules-budget-x` times the plain p99.
    #[arg(long)]
    rules: bool,
    /// With `--rules`: the largest accepted ratio of the rules' p99 to the plain p99.
    #[arg(long, default_value_t = 2.0)]
    rules_budget_x: f64,
    /// For a diagnosis: the checks the rules queue has, of `platform`, `languages`, `level`
    /// and `roles` (comma-separated; default all; `none` for none). The attributes are given
    /// either way.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "platform,languages,level,roles"
    )]
    rules_checks: Vec<String>,
}

impl Args {
    /// `--blocks`, or its default: 5, or fewer when the recorded ticks fill fewer blocks of 250.
    fn block_count(&self) -> u32 {
        self.blocks.unwrap_or((self.ticks / 250).clamp(1, 5))
    }
}

/// `--rules-checks`, parsed.
fn rule_checks(names: &[String]) -> Result<RuleChecks, String> {
    let mut checks = RuleChecks {
        platform: false,
        languages: false,
        level: false,
        roles: false,
    };
    for name in names {
        match name.as_str() {
            "platform" => checks.platform = true,
            "languages" => checks.languages = true,
            "level" => checks.level = true,
            "roles" => checks.roles = true,
            "none" | "" => {}
            other => return Err(format!("unknown check `{other}`")),
        }
    }
    Ok(checks)
}

/// `--workload`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum WorkloadArg {
    Mixed,
    Ranked,
    RankedRules,
    BattleRoyale,
}

impl WorkloadArg {
    fn workload(self, checks: RuleChecks) -> Workload {
        match self {
            Self::Mixed => Workload::Mixed,
            Self::Ranked => Workload::Ranked,
            Self::RankedRules => Workload::RankedRules(checks),
            Self::BattleRoyale => Workload::BattleRoyale,
        }
    }
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

/// Sums over the recorded ticks.
#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    arrivals: u64,
    departures: u64,
    matches: u64,
    matched_tickets: u64,
    matched_players: u64,
    matched_teams: u64,
    short_matches: u64,
    matched_wait_ms: u64,
    attempts: u64,
}

impl Totals {
    fn add(&mut self, step: &StepReport) {
        self.arrivals += step.arrivals as u64;
        self.departures += step.departures as u64;
        self.matches += step.matches;
        self.matched_tickets += step.matched_tickets as u64;
        self.matched_players += step.matched_players as u64;
        self.matched_teams += step.matched_teams as u64;
        self.short_matches += step.short_matches;
        self.matched_wait_ms += step.matched_wait_ms;
        self.attempts += step.attempts;
    }
}

/// One gate run of one workload.
struct Run {
    workload: Workload,
    /// Steady ticks, in microseconds.
    histogram: Histogram<u64>,
    /// Reference runs, in microseconds.
    reference: Histogram<u64>,
    /// Per block of consecutive ticks: its ticks and its reference runs, in microseconds.
    blocks: Vec<Block>,
    totals: Totals,
    burst: StepReport,
    warm_burst: StepReport,
    queued_after_burst: usize,
    queued_built: usize,
    heap_built: usize,
    queued: usize,
    heap_steady: usize,
    heap_peak: usize,
    counts: EntityCounts,
    rejected: u64,
    turned_away: Vec<(String, u64)>,
}

impl Run {
    fn p(&self, quantile: f64) -> f64 {
        self.histogram.value_at_quantile(quantile) as f64 / 1_000.0
    }

    fn p99(&self) -> f64 {
        self.p(0.99)
    }

    fn reference_ms(&self) -> f64 {
        self.reference.value_at_quantile(0.5) as f64 / 1_000.0
    }

    /// The median over the blocks of each block's p99 / reference median.
    fn ratio(&self) -> f64 {
        let mut ratios: Vec<f64> = self.blocks.iter().map(Block::ratio).collect();
        ratios.sort_by(f64::total_cmp);
        match ratios.len() {
            0 => self.p99() / self.reference_ms().max(1e-6),
            n if n % 2 == 1 => ratios[n / 2],
            n => (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0,
        }
    }

    fn matched_share(&self) -> f64 {
        self.totals.matched_tickets as f64 / self.totals.departures.max(1) as f64
    }
}

/// A block of consecutive recorded ticks with the reference runs timed among them.
struct Block {
    ticks: Histogram<u64>,
    reference: Histogram<u64>,
}

impl Block {
    fn new() -> Self {
        Block {
            ticks: microsecond_histogram(),
            reference: microsecond_histogram(),
        }
    }

    fn ratio(&self) -> f64 {
        let p99 = self.ticks.value_at_quantile(0.99) as f64;
        p99 / (self.reference.value_at_quantile(0.5) as f64).max(1.0)
    }
}

/// Microseconds, 3 significant figures, up to an hour.
fn microsecond_histogram() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds")
}

/// Builds the workload's queue, runs the warm-up and the recorded ticks, then the warm burst.
fn measure(args: &Args, workload: Workload, reference: &mut Reference) -> Run {
    let baseline = ALLOCATOR.live_bytes();
    let steady = SteadyConfig {
        tickets: args.tickets,
        mean_wait_ms: args.mean_wait_ms,
        tick_ms: args.tick_ms,
        seed: args.seed,
        workload,
        ..SteadyConfig::default()
    };
    let mut state = SteadyState::new(steady.clone());
    // The burst: in the first run, the process's first tick, paying for first-touch page
    // faults (on this VM those vary several-fold from run to run).
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
    state.reset_turned_away();
    let mut histogram = microsecond_histogram();
    let mut reference_histogram = microsecond_histogram();
    let mut blocks: Vec<Block> = (0..args.block_count()).map(|_| Block::new()).collect();
    let mut totals = Totals::default();
    let mut heap_peak = 0;
    for index in 0..args.ticks {
        let step = state.step();
        let tick = stretch(
            stretch(step.tick, args.slow_tick_factor),
            args.slow_machine_factor,
        );
        let block = &mut blocks
            [(u64::from(index) * u64::from(args.block_count()) / u64::from(args.ticks)) as usize];
        let tick_us = tick.as_micros().max(1) as u64;
        histogram.saturating_record(tick_us);
        block.ticks.saturating_record(tick_us);
        if index % 5 == 0 {
            let run = stretch(reference.run(), args.slow_machine_factor);
            let run_us = run.as_micros().max(1) as u64;
            reference_histogram.saturating_record(run_us);
            block.reference.saturating_record(run_us);
        }
        totals.add(&step);
        heap_peak = heap_peak.max(ALLOCATOR.live_bytes().saturating_sub(baseline));
        progress.inc(1);
    }
    progress.finish_and_clear();
    let queued = state.matcher.queued_tickets();
    let heap_steady = ALLOCATOR.live_bytes().saturating_sub(baseline);
    let counts = state.matcher.counts();
    let rejected = state.rejected();
    let turned_away = state
        .turned_away()
        .iter()
        .map(|(check, anchors)| (check.clone(), *anchors))
        .collect();
    drop(state);
    // The warm burst: a fresh matcher in a process whose memory has been used before.
    let warm_burst = SteadyState::new(SteadyConfig {
        seed: args.seed.wrapping_add(1),
        ..steady
    })
    .fill();
    Run {
        workload,
        histogram,
        reference: reference_histogram,
        blocks,
        totals,
        burst,
        warm_burst,
        queued_after_burst,
        queued_built,
        heap_built,
        queued,
        heap_steady,
        heap_peak,
        counts,
        rejected,
        turned_away,
    }
}

/// Prints a run's figures; `first` says whether its burst was the process's first tick.
fn print_run(args: &Args, run: &Run, first: bool) {
    let ticks = f64::from(args.ticks);
    let totals = &run.totals;
    let steady = SteadyConfig {
        mean_wait_ms: args.mean_wait_ms,
        tick_ms: args.tick_ms,
        ..SteadyConfig::default()
    };
    let checks = match run.workload {
        Workload::RankedRules(checks) if checks != RuleChecks::ALL => {
            format!(" (checks: {})", checks.names())
        }
        _ => String::new(),
    };
    println!(
        "tick-gate: {} tickets held in {}{checks}, {} ticks recorded after {} warm-up, {} ms per tick, mean wait {} ms: {:.2}% of the queue replaced per tick",
        args.tickets,
        run.workload.name(),
        args.ticks,
        args.warmup_ticks,
        args.tick_ms,
        args.mean_wait_ms,
        steady.churn() * 100.0
    );
    println!(
        "steady tick: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms, mean {:.3} ms",
        run.p(0.5),
        run.p99(),
        run.histogram.max() as f64 / 1_000.0,
        run.histogram.mean() / 1_000.0
    );
    println!(
        "steady load: {:.0} arrivals, {:.0} departures, {:.1} matches per tick; {} tickets queued at the end; {} rejected commands",
        totals.arrivals as f64 / ticks,
        totals.departures as f64 / ticks,
        totals.matches as f64 / ticks,
        run.queued,
        run.rejected
    );
    let matches = totals.matches.max(1) as f64;
    println!(
        "matches: {:.2} per tick, {:.1} players and {:.1} teams each on average, {:.1}% short of full; matched tickets waited {:.1} s on average; {:.0} anchors tried per tick",
        totals.matches as f64 / ticks,
        totals.matched_players as f64 / matches,
        totals.matched_teams as f64 / matches,
        totals.short_matches as f64 / matches * 100.0,
        totals.matched_wait_ms as f64 / totals.matched_tickets.max(1) as f64 / 1_000.0,
        totals.attempts as f64 / ticks
    );
    println!(
        "burst: {} tickets arriving in one tick: {:.1} ms warm, {:.1} ms {}; {} matches formed, {} left queued",
        args.tickets,
        millis(run.warm_burst.tick),
        millis(run.burst.tick),
        if first {
            "cold (first tick of the process)"
        } else {
            "at this run's start"
        },
        run.burst.matches,
        run.queued_after_burst
    );
    println!(
        "memory: {:.0} bytes of heap per queued ticket once the queue is built ({:.1} MiB for {} tickets); {:.0} at the steady state, {} live sessions included ({:.1} MiB, peak {:.1} MiB)",
        run.heap_built as f64 / run.queued_built.max(1) as f64,
        run.heap_built as f64 / 1_048_576.0,
        run.queued_built,
        run.heap_steady as f64 / run.queued.max(1) as f64,
        run.counts.matches,
        run.heap_steady as f64 / 1_048_576.0,
        run.heap_peak as f64 / 1_048_576.0
    );
    let block_ratios: Vec<String> = run
        .blocks
        .iter()
        .map(|block| format!("{:.2}", block.ratio()))
        .collect();
    println!(
        "reference workload: median {:.3} ms over {} runs; steady tick p99 = {:.2} x reference over the whole run; by block of {} ticks: {} (median {:.2})",
        run.reference_ms(),
        run.reference.len(),
        run.p99() / run.reference_ms().max(1e-6),
        args.ticks / args.block_count().max(1),
        block_ratios.join(", "),
        run.ratio()
    );
    println!(
        "matching: {:.1}% of the tickets that left the queue left in matches ({} of {})",
        run.matched_share() * 100.0,
        totals.matched_tickets,
        totals.departures
    );
    if !run.turned_away.is_empty() {
        let checks: Vec<String> = run
            .turned_away
            .iter()
            .map(|(check, anchors)| format!("{check} {:.1}", *anchors as f64 / ticks))
            .collect();
        println!(
            "anchors that found no match after a check turned candidates away, per tick: {}",
            checks.join(", ")
        );
    }
    println!("world at the end: {:?}", run.counts);
}

/// Checks a run against the budgets given; prints each verdict; true when it failed.
fn gate(args: &Args, run: &Run) -> bool {
    let mut failed = false;
    let (p99, ratio, reference_ms) = (run.p99(), run.ratio(), run.reference_ms());
    let matched_share = run.matched_share();
    if run.totals.matches == 0 || matched_share < args.min_matched_share {
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
                "tick-gate: FAIL: p99 {p99:.3} ms; the blocks' median p99 is {ratio:.2} x the reference ({reference_ms:.3} ms), above the budget of {budget} x"
            );
            failed = true;
        } else {
            println!(
                "tick-gate: PASS: p99 {p99:.3} ms; the blocks' median p99 is {ratio:.2} x the reference ({reference_ms:.3} ms), within the budget of {budget} x"
            );
        }
    }
    if run.rejected > 0 {
        eprintln!(
            "tick-gate: FAIL: the matcher rejected {} commands of a valid workload",
            run.rejected
        );
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
        let burst_ms = millis(run.warm_burst.tick);
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
    failed
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
    let blocks = args.block_count();
    if !(1..=16).contains(&blocks) || args.ticks / blocks < 250 {
        eprintln!(
            "tick-gate: --blocks must be 1 to 16 with at least 250 ticks each (got {} blocks of {} ticks)",
            blocks,
            args.ticks / blocks.max(1)
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
    if !args.rules_budget_x.is_finite() || args.rules_budget_x <= 0.0 {
        eprintln!("tick-gate: --rules-budget-x must be above 0");
        return ExitCode::from(2);
    }
    let checks = match rule_checks(&args.rules_checks) {
        Ok(checks) => checks,
        Err(error) => {
            eprintln!("tick-gate: --rules-checks: {error}");
            return ExitCode::from(2);
        }
    };
    // Built first, so that its memory is in the baseline and not in the per-ticket figures.
    let mut reference = Reference::new(args.tickets);
    let workloads = if args.rules {
        vec![Workload::Ranked, Workload::RankedRules(checks)]
    } else {
        vec![args.workload.workload(checks)]
    };
    let mut failed = false;
    let mut runs = Vec::new();
    for (index, workload) in workloads.into_iter().enumerate() {
        let run = measure(&args, workload, &mut reference);
        if index > 0 {
            println!();
        }
        print_run(&args, &run, index == 0);
        failed |= gate(&args, &run);
        runs.push(run);
    }
    if let [plain, rules] = &runs[..] {
        let (plain_p99, rules_p99) = (plain.p99(), rules.p99());
        let ratio = rules_p99 / plain_p99.max(1e-6);
        let budget = args.rules_budget_x;
        println!();
        println!(
            "rules: steady tick p99 {plain_p99:.3} ms plain, {rules_p99:.3} ms with rules and roles: {ratio:.2} x (reference medians {:.3} and {:.3} ms)",
            plain.reference_ms(),
            rules.reference_ms()
        );
        let per_tick = |run: &Run| run.totals.matched_tickets as f64 / f64::from(args.ticks);
        println!(
            "rules: tickets matched per tick {:.0} plain, {:.0} with rules and roles (anchors tried per tick {:.0} and {:.0})",
            per_tick(plain),
            per_tick(rules),
            plain.totals.attempts as f64 / f64::from(args.ticks),
            rules.totals.attempts as f64 / f64::from(args.ticks)
        );
        if ratio > budget {
            eprintln!(
                "tick-gate: FAIL: with rules and roles the p99 is {ratio:.2} x the plain queue's, above the budget of {budget} x"
            );
            failed = true;
        } else {
            println!(
                "tick-gate: PASS: with rules and roles the p99 is {ratio:.2} x the plain queue's, within the budget of {budget} x"
            );
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
