//! `matchwright sim ...`: the command line of the simulator, and what each command writes.
//!
//! - `run`: one scenario, one matcher: `report.json`, `scenario.toml` (the scenario as run),
//!   `queue_depth.csv`, and the charts `ttm`, `quality` and `queue_depth` (PNG and SVG).
//! - `sweep`: every combination of `--vary` values: `sweep.json`, `sweep.csv`, `sweep.md` (the
//!   table, ranked by the stated objective) and the `tradeoff` chart with the Pareto front.
//! - `compare`: our matcher and every baseline on the same population: `compare.json`,
//!   `compare.md` and the `compare` chart, plus each run's own outputs in a folder.

use std::fmt::Write as _;
use std::fs;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use matchwright_replay::{TickFrame, TraceHeader, TraceWriter};

use crate::engine::{self, MATCHERS};
use crate::metrics::Report;
use crate::plot::{self, Point};
use crate::scenario::{self, Scenario};
use crate::sweep::{self, Vary};
use crate::world::{RunOutput, World};

/// The simulator's commands.
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Runs one scenario with one matcher and writes its report and charts.
    Run(RunArgs),
    /// Runs a scenario once per combination of varied fields and ranks the settings.
    Sweep(SweepArgs),
    /// Runs our matcher and every baseline on one scenario, side by side.
    Compare(CompareArgs),
}

/// `sim run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario file (TOML; see sim/scenarios/).
    #[arg(long)]
    pub scenario: PathBuf,
    /// The seed (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The matcher: matchwright (ours, the default), fifo, pool4 or greedy-widening.
    #[arg(long, default_value = "matchwright")]
    pub matcher: String,
    /// Where to write the report and charts (default: sim-out/SCENARIO-MATCHER).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Changes one scenario field for this run: KEY=VALUE (TOML value), repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Writes the matcher's input stream, tick by tick, as a trace for the replay tool.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// With --record: keeps each tick's events in the trace, not only their hash (a divergent
    /// replay then shows a diff of them; the trace is larger).
    #[arg(long, requires = "record")]
    pub record_events: bool,
    /// No progress bar (for CI and scripts).
    #[arg(long)]
    pub quiet: bool,
}

/// `sim sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The scenario file.
    #[arg(long)]
    pub scenario: PathBuf,
    /// A field and its values: KEY=V1,V2,... (repeatable; every combination is run).
    #[arg(long, required = true, value_name = "KEY=V1,V2,...")]
    pub vary: Vec<String>,
    /// The seed (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The matcher to sweep.
    #[arg(long, default_value = "matchwright")]
    pub matcher: String,
    /// The least mean quality that counts as meeting the target, for the ranking.
    #[arg(long, default_value_t = 0.85)]
    pub min_quality: f64,
    /// Where to write (default: sim-out/SCENARIO-sweep).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Runs at once (default: the CPUs available).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `sim compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The scenario file.
    #[arg(long)]
    pub scenario: PathBuf,
    /// The seed (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Changes one scenario field for every run: KEY=VALUE, repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// The least mean quality that counts as meeting the target.
    #[arg(long, default_value_t = 0.85)]
    pub min_quality: f64,
    /// Where to write (default: sim-out/SCENARIO-compare).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Runs at once (default: the CPUs available).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs a simulator command; what it prints goes to `out`.
pub fn execute(command: SimCommand, out: &mut dyn std::io::Write) -> Result<(), String> {
    match command {
        SimCommand::Run(args) => run(args, out),
        SimCommand::Sweep(args) => sweep_command(args, out),
        SimCommand::Compare(args) => compare(args, out),
    }
}

fn load(path: &Path, sets: &[(String, String)]) -> Result<Scenario, String> {
    let text = fs::read_to_string(path)
        .map_err(|error| format!("cannot read scenario {}: {error}", path.display()))?;
    let mut table: toml::Table = text
        .parse()
        .map_err(|error: toml::de::Error| format!("{}: {error}", path.display()))?;
    for (key, value) in sets {
        scenario::set(&mut table, key, value)
            .map_err(|error| format!("{}: {error}", path.display()))?;
    }
    Scenario::from_table(table).map_err(|error| format!("{}: {error}", path.display()))
}

fn parse_sets(sets: &[String]) -> Result<Vec<(String, String)>, String> {
    sets.iter()
        .map(|set| {
            set.split_once('=')
                .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
                .ok_or_else(|| format!("`--set {set}`: expected KEY=VALUE"))
        })
        .collect()
}

fn check_matcher(name: &str) -> Result<(), String> {
    if MATCHERS.contains(&name) {
        Ok(())
    } else {
        Err(format!(
            "unknown matcher `{name}`; the matchers are {}",
            MATCHERS.join(", ")
        ))
    }
}

fn bar(quiet: bool, length: u64, prefix: String) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(prefix);
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// Runs `scenario` with `matcher`, telling `bar` how it goes; `record`, when given, receives
/// the trace.
pub fn simulate(
    scenario: &Scenario,
    matcher: &str,
    seed: u64,
    bar: &ProgressBar,
    record: Option<(&Path, bool)>,
) -> Result<RunOutput, String> {
    let engine = engine::build(matcher, &scenario.matcher, seed)?;
    let world = World::new(scenario, engine, seed);
    let started = std::time::Instant::now();
    let mut progress = |done: u64, _total: u64, now_ms: u64| {
        bar.set_position(done);
        let elapsed = started.elapsed().as_secs_f64().max(1e-9);
        bar.set_message(format!(
            "ticks · simulated {} · {:.0} ticks/s",
            clock(now_ms),
            done as f64 / elapsed
        ));
    };
    let Some((path, with_events)) = record else {
        return world.run(&mut progress, None);
    };
    if matcher != "matchwright" {
        return Err(format!(
            "--record traces the matcher core; `{matcher}` is a baseline outside it"
        ));
    }
    let file = fs::File::create(path)
        .map_err(|error| format!("cannot create trace {}: {error}", path.display()))?;
    let header = TraceHeader {
        matcher_version: matchwright_replay::MATCHER_VERSION.to_string(),
        config_toml: scenario.matcher.to_toml_string(),
        seed,
        source: format!("sim:{}", scenario.name),
        base: None,
        with_events,
    };
    let mut writer =
        Some(TraceWriter::new(BufWriter::new(file), &header).map_err(|error| error.to_string())?);
    let mut observer = |record: &matchwright_ecs::TickRecord, events: &[matchwright_ecs::Event]| {
        let frame = TickFrame::new(record.clone(), events, with_events);
        match writer.as_mut() {
            Some(writer) => writer.tick(&frame).map_err(|error| error.to_string()),
            None => Ok(()),
        }
    };
    let output = world.run(&mut progress, Some(&mut observer))?;
    if let Some(writer) = writer.take() {
        writer.finish().map_err(|error| error.to_string())?;
    }
    Ok(output)
}

fn clock(ms: u64) -> String {
    let seconds = ms / 1_000;
    format!(
        "{}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

fn create_dir(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))
}

fn write(path: &Path, contents: &str) -> Result<(), String> {
    fs::write(path, contents).map_err(|error| format!("cannot write {}: {error}", path.display()))
}

/// Writes one run's report, scenario, timeline and charts into `dir`.
pub fn write_run(dir: &Path, scenario: &Scenario, output: &RunOutput) -> Result<(), String> {
    create_dir(dir)?;
    let json = serde_json::to_string_pretty(&output.report).map_err(|error| error.to_string())?;
    write(&dir.join("report.json"), &(json + "\n"))?;
    write(&dir.join("scenario.toml"), &scenario.to_toml_string())?;
    let mut csv = String::from("at_s,online");
    for name in &output.queue_names {
        let _ = write!(csv, ",{name}");
    }
    csv.push('\n');
    for sample in &output.timeline {
        let _ = write!(csv, "{},{}", sample.at_s, sample.online);
        for queued in &sample.queued {
            let _ = write!(csv, ",{queued}");
        }
        csv.push('\n');
    }
    write(&dir.join("queue_depth.csv"), &csv)?;

    let title = |what: &str| format!("{what}: {} ({})", scenario.name, output.report.matcher);
    let ttm_upper = (output.ttm_ms.quantile(0.99) / 1_000.0).max(1.0);
    let width = (ttm_upper / 40.0).max(0.1);
    let bins: Vec<(f64, u64)> = output
        .ttm_ms
        .bins(ttm_upper * 1_000.0, 40)
        .into_iter()
        .map(|(start, count)| (start / 1_000.0, count))
        .collect();
    plot::histogram(
        &dir.join("ttm"),
        &title("time to match"),
        "seconds (last bar: p99 and beyond)",
        &bins,
        width,
    )?;
    let bins = output.quality.bins(1.0, 50);
    plot::histogram(
        &dir.join("quality"),
        &title("match quality"),
        "quality (draw probability)",
        &bins,
        0.02,
    )?;
    let series: Vec<(String, Vec<(f64, f64)>)> = output
        .queue_names
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let points = output
                .timeline
                .iter()
                .map(|sample| {
                    (
                        sample.at_s,
                        sample.queued.get(index).copied().unwrap_or(0) as f64,
                    )
                })
                .collect();
            (name.clone(), points)
        })
        .collect();
    plot::lines(
        &dir.join("queue_depth"),
        &title("players queued"),
        "players queued",
        &series,
    )
}

fn summary_line(report: &Report) -> String {
    format!(
        "{:<16} matches {:>7}  ttm mean {:>6.1}s p90 {:>6.1}s  quality mean {:.3} p10 {:.3}  gap {:>5.1}  fav {:.3}  abandon {:.3}  corr {:.3}  ping {:>5.1}ms  {:.1}s wall ({:.0}x)",
        report.matcher,
        report.matches,
        report.ttm_s.mean,
        report.ttm_s.p90,
        report.quality.mean,
        report.quality.p10,
        report.team_gap.mean,
        report.favourite_win_prob.mean,
        report.abandon_rate,
        report.rating_skill_corr,
        report.ping_ms.mean,
        report.wall_s,
        report.speedup(),
    )
}

/// What the report says of match rules, one line each: per queue, how often each rule turned
/// tickets away; the queues the matcher skipped, and why.
fn rules_lines(report: &Report) -> Vec<String> {
    let mut lines = Vec::new();
    for (queue, checks) in &report.turned_away {
        let counts: Vec<String> = checks
            .iter()
            .map(|(check, anchors)| format!("{check} {anchors}"))
            .collect();
        lines.push(format!(
            "turned away in {queue} (anchors left unmatched after the check turned candidates away): {}",
            counts.join(", ")
        ));
    }
    for (queue, roles) in &report.roles_played {
        let counts: Vec<String> = roles
            .iter()
            .map(|(role, count)| {
                format!(
                    "{role} {} ({:.0}% first choice)",
                    count.players,
                    100.0 * count.first_choice as f64 / count.players.max(1) as f64
                )
            })
            .collect();
        lines.push(format!("roles played in {queue}: {}", counts.join(", ")));
    }
    for (queue, why) in &report.skipped_queues {
        lines.push(format!(
            "{} skips queue {queue}: {why}; its tickets wait until their players give up",
            report.matcher
        ));
    }
    lines
}

/// The "Match rules" section of `compare.md` and `sweep.md`: per run (its label, the first
/// column's heading), the turned-away counts and the queues it skipped.
fn rules_section(first: &str, runs: &[(String, &Report)]) -> String {
    let mut section = String::new();
    if runs
        .iter()
        .all(|(_, r)| r.turned_away.is_empty() && r.skipped_queues.is_empty())
    {
        return section;
    }
    let _ = write!(
        section,
        "\n## Match rules\n\nTurned away: anchors that found no match after a check (a rule, `block_list` or `roles`) turned candidates away, summed over the ticks (Matchwright's matcher counts them; the baselines do not).\n\n| {first} | queue | check | turned away |\n|---|---|---|---:|\n",
    );
    for (label, report) in runs {
        for (queue, checks) in &report.turned_away {
            for (check, anchors) in checks {
                let _ = writeln!(section, "| {label} | {queue} | {check} | {anchors} |");
            }
        }
    }
    if runs.iter().any(|(_, r)| !r.skipped_queues.is_empty()) {
        section.push_str("\nSkipped queues: the baseline cannot keep their rules, so it forms no match there; its tickets wait until their players give up, and count as abandons in its row above.\n\n");
        for (label, report) in runs {
            for (queue, why) in &report.skipped_queues {
                let _ = writeln!(section, "- `{label}` skips `{queue}`: {why}");
            }
        }
    }
    section
}

fn default_out(scenario: &Scenario, what: &str) -> PathBuf {
    PathBuf::from("sim-out").join(format!("{}-{what}", scenario.name))
}

fn run(args: RunArgs, out: &mut dyn std::io::Write) -> Result<(), String> {
    check_matcher(&args.matcher)?;
    let scenario = load(&args.scenario, &parse_sets(&args.sets)?)?;
    let seed = args.seed.unwrap_or(scenario.seed);
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&scenario, &args.matcher));
    let ticks = scenario.duration_ms().div_ceil(scenario.tick_ms);
    let bar = bar(
        args.quiet,
        ticks,
        format!("{} {}", scenario.name, args.matcher),
    );
    let output = simulate(
        &scenario,
        &args.matcher,
        seed,
        &bar,
        args.record
            .as_deref()
            .map(|path| (path, args.record_events)),
    )?;
    bar.finish_and_clear();
    write_run(&dir, &scenario, &output)?;
    let _ = writeln!(out, "{}", summary_line(&output.report));
    for line in rules_lines(&output.report) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "event_chain {}", output.report.event_chain);
    let _ = writeln!(out, "wrote {}", dir.display());
    if let Some(record) = &args.record {
        let _ = writeln!(out, "recorded {}", record.display());
    }
    Ok(())
}

/// Runs `jobs` at a time; results come back in input order.
fn run_many(
    runs: &[(String, Scenario, String)],
    seed: Option<u64>,
    jobs: Option<usize>,
    quiet: bool,
) -> Result<Vec<RunOutput>, String> {
    let jobs = jobs
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1)
        .clamp(1, runs.len().max(1));
    let overall = bar(quiet, runs.len() as u64, "runs".into());
    overall.set_message("runs done");
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<RunOutput, String>>>> =
        Mutex::new((0..runs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some((label, scenario, matcher)) = runs.get(index) else {
                        break;
                    };
                    let seed = seed.unwrap_or(scenario.seed);
                    let result = simulate(scenario, matcher, seed, &ProgressBar::hidden(), None)
                        .map_err(|error| format!("{label}: {error}"));
                    if let Ok(mut results) = results.lock() {
                        results[index] = Some(result);
                    }
                    overall.inc(1);
                }
            });
        }
    });
    overall.finish_and_clear();
    results
        .into_inner()
        .map_err(|_| "a run panicked".to_string())?
        .into_iter()
        .map(|result| result.unwrap_or_else(|| Err("a run did not finish".into())))
        .collect()
}

fn sweep_command(args: SweepArgs, out: &mut dyn std::io::Write) -> Result<(), String> {
    check_matcher(&args.matcher)?;
    let varies: Vec<Vary> = args
        .vary
        .iter()
        .map(|vary| sweep::parse_vary(vary))
        .collect::<Result<_, _>>()?;
    let base = load(&args.scenario, &[])?;
    let settings = sweep::combinations(&varies);
    let mut runs = Vec::with_capacity(settings.len());
    for setting in &settings {
        let scenario = load(&args.scenario, setting)?;
        let label = setting
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join(" ");
        runs.push((label, scenario, args.matcher.clone()));
    }
    let outputs = run_many(&runs, args.seed, args.jobs, args.quiet)?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&base, "sweep"));
    create_dir(&dir)?;
    let reports: Vec<&Report> = outputs.iter().map(|output| &output.report).collect();
    let front = sweep::pareto_front(&reports);
    let order = sweep::rank(&reports, args.min_quality);

    let mut json_rows = Vec::new();
    let mut csv = String::from(
        "setting,matches,ttm_mean_s,ttm_p90_s,quality_mean,quality_p10,team_gap_mean,favourite_win_prob_mean,abandon_rate,rating_skill_corr,meets_targets,pareto\n",
    );
    for (index, report) in reports.iter().enumerate() {
        let meets = sweep::meets_targets(report, args.min_quality);
        let on_front = front.contains(&index);
        let _ = writeln!(
            csv,
            "\"{}\",{},{},{},{},{},{},{},{},{},{},{}",
            runs[index].0.replace('"', "\"\""),
            report.matches,
            report.ttm_s.mean,
            report.ttm_s.p90,
            report.quality.mean,
            report.quality.p10,
            report.team_gap.mean,
            report.favourite_win_prob.mean,
            report.abandon_rate,
            report.rating_skill_corr,
            meets,
            on_front
        );
        json_rows.push(serde_json::json!({
            "setting": settings[index].iter().map(|(k, v)| (k.clone(), v.clone())).collect::<std::collections::BTreeMap<_, _>>(),
            "meets_targets": meets,
            "pareto": on_front,
            "report": report,
        }));
    }
    write(&dir.join("sweep.csv"), &csv)?;
    let json = serde_json::to_string_pretty(&json_rows).map_err(|error| error.to_string())?;
    write(&dir.join("sweep.json"), &(json + "\n"))?;

    let mut table = format!(
        "# Sweep: {} ({})\n\nObjective: settings that meet the targets (mean time to match < 30 s, mean quality >= {}) first, by lowest mean time to match; then the rest by highest mean quality. `*` marks the Pareto front (no other setting is faster and better at once).\n\n",
        base.name, args.matcher, args.min_quality
    );
    table.push_str(&markdown_header("setting"));
    for index in &order {
        let mark = if front.contains(index) { " *" } else { "" };
        table.push_str(&markdown_row(
            &format!("{}{mark}", runs[*index].0),
            reports[*index],
            args.min_quality,
        ));
    }
    let ranked: Vec<(String, &Report)> = order
        .iter()
        .map(|index| (runs[*index].0.clone(), reports[*index]))
        .collect();
    table.push_str(&rules_section("setting", &ranked));
    write(&dir.join("sweep.md"), &table)?;
    let points: Vec<Point> = reports
        .iter()
        .enumerate()
        .map(|(index, report)| Point {
            label: settings[index]
                .iter()
                .map(|(key, value)| {
                    let field = key.rsplit('.').next().unwrap_or(key);
                    format!("{field}={value}")
                })
                .collect::<Vec<_>>()
                .join(" "),
            ttm_s: report.ttm_s.mean,
            quality: report.quality.mean,
            highlight: front.contains(&index),
        })
        .collect();
    let line: Vec<(f64, f64)> = front
        .iter()
        .map(|index| (reports[*index].ttm_s.mean, reports[*index].quality.mean))
        .collect();
    plot::tradeoff(
        &dir.join("tradeoff"),
        &format!("sweep: {}", base.name),
        &points,
        &line,
    )?;
    let _ = write!(out, "{table}");
    let _ = writeln!(out, "\nwrote {}", dir.display());
    Ok(())
}

fn markdown_header(first: &str) -> String {
    format!(
        "| {first} | matches | ttm mean (s) | ttm p90 (s) | quality mean | quality p10 | team gap | favourite wins | abandon rate | rating/skill corr | ping (ms) | targets |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
    )
}

fn markdown_row(label: &str, report: &Report, min_quality: f64) -> String {
    format!(
        "| {label} | {} | {:.1} | {:.1} | {:.3} | {:.3} | {:.1} | {:.3} | {:.3} | {:.3} | {:.0} | {} |\n",
        report.matches,
        report.ttm_s.mean,
        report.ttm_s.p90,
        report.quality.mean,
        report.quality.p10,
        report.team_gap.mean,
        report.favourite_win_prob.mean,
        report.abandon_rate,
        report.rating_skill_corr,
        report.ping_ms.mean,
        if sweep::meets_targets(report, min_quality) {
            "met"
        } else {
            "missed"
        },
    )
}

fn compare(args: CompareArgs, out: &mut dyn std::io::Write) -> Result<(), String> {
    let scenario = load(&args.scenario, &parse_sets(&args.sets)?)?;
    let runs: Vec<(String, Scenario, String)> = MATCHERS
        .iter()
        .map(|matcher| (matcher.to_string(), scenario.clone(), matcher.to_string()))
        .collect();
    let outputs = run_many(&runs, args.seed, args.jobs, args.quiet)?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&scenario, "compare"));
    create_dir(&dir)?;
    for output in &outputs {
        write_run(&dir.join(&output.report.matcher), &scenario, output)?;
    }
    let ours = &outputs[0].report;
    let mut table = format!(
        "# Compare: {} (seed {})\n\n`matchwright` is our matcher with the scenario's `[matcher]` config; the others are the baselines of the seeds. \"ours beats it\": lower mean time to match at equal or better mean quality, or better mean quality at equal or lower time (equal: time within 5% or 0.5 s, quality within 0.005).\n\n",
        scenario.name, ours.seed
    );
    table.push_str(&markdown_header("matcher"));
    for output in &outputs {
        table.push_str(&markdown_row(
            &output.report.matcher,
            &output.report,
            args.min_quality,
        ));
    }
    table.push('\n');
    let mut json = serde_json::Map::new();
    for output in &outputs[1..] {
        let report = &output.report;
        let verdict = sweep::beats(ours, report);
        let skipped: Vec<&str> = report.skipped_queues.keys().map(String::as_str).collect();
        let every_queue_skipped = scenario
            .queues
            .iter()
            .all(|queue| report.skipped_queues.contains_key(&queue.name));
        if every_queue_skipped {
            let _ = writeln!(
                table,
                "- vs `{}`: not compared: it skips every queue of the scenario ({}; see Match rules)",
                report.matcher,
                skipped.join(", ")
            );
        } else {
            let _ = writeln!(
                table,
                "- vs `{}`: {} (time {:+.1} s, quality {:+.3}){}",
                report.matcher,
                if verdict {
                    "ours beats it"
                } else {
                    "ours does not beat it"
                },
                ours.ttm_s.mean - report.ttm_s.mean,
                ours.quality.mean - report.quality.mean,
                if skipped.is_empty() {
                    String::new()
                } else {
                    format!("; it skips {} (see Match rules)", skipped.join(", "))
                },
            );
        }
        json.insert(
            report.matcher.clone(),
            serde_json::json!({ "ours_beats_it": verdict, "report": report }),
        );
    }
    let _ = writeln!(
        table,
        "- targets (mean time to match < 30 s, mean quality >= {}): {}",
        args.min_quality,
        if sweep::meets_targets(ours, args.min_quality) {
            "met"
        } else {
            "missed"
        }
    );
    json.insert("matchwright".into(), serde_json::json!({ "meets_targets": sweep::meets_targets(ours, args.min_quality), "report": ours }));
    let runs: Vec<(String, &Report)> = outputs
        .iter()
        .map(|o| (o.report.matcher.clone(), &o.report))
        .collect();
    table.push_str(&rules_section("matcher", &runs));
    write(&dir.join("compare.md"), &table)?;
    let text = serde_json::to_string_pretty(&json).map_err(|error| error.to_string())?;
    write(&dir.join("compare.json"), &(text + "\n"))?;
    let points: Vec<Point> = outputs
        .iter()
        .map(|output| Point {
            label: output.report.matcher.clone(),
            ttm_s: output.report.ttm_s.mean,
            quality: output.report.quality.mean,
            highlight: output.report.matcher == "matchwright",
        })
        .collect();
    plot::tradeoff(
        &dir.join("compare"),
        &format!("matchers on {}", scenario.name),
        &points,
        &[],
    )?;
    let _ = write!(out, "{table}");
    let _ = writeln!(out, "\nwrote {}", dir.display());
    Ok(())
}
