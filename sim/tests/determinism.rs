//! The simulator is deterministic: the same scenario and seed give the same event stream and
//! the same report (apart from `wall_s`); another seed gives another run; and a recorded trace
//! replays tick for tick through a fresh matcher.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use indicatif::ProgressBar;
use matchwright_ecs::Config;
use matchwright_replay::{Check, TraceReader, replay};
use matchwright_sim::cli::simulate;
use matchwright_sim::scenario::{self, Scenario};
use matchwright_sim::whatif;

fn scenario(file: &str, duration_s: u32) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    let mut table: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
    scenario::set(&mut table, "duration_s", &duration_s.to_string()).unwrap();
    Scenario::from_table(table).unwrap()
}

fn run(scenario: &Scenario, matcher: &str, seed: u64) -> matchwright_sim::metrics::Report {
    let mut report = simulate(scenario, matcher, seed, &ProgressBar::hidden(), None)
        .unwrap()
        .report;
    assert!(report.wall_s > 0.0);
    report.wall_s = 0.0;
    report
}

#[test]
fn the_same_seed_gives_the_same_run_and_another_seed_another() {
    let small = scenario("small-population.toml", 1_800);
    let one = run(&small, "matchwright", 7);
    let two = run(&small, "matchwright", 7);
    assert!(one.matches > 10, "the run formed matches: {}", one.matches);
    assert_eq!(one.event_chain.len(), 64);
    assert_eq!(one, two, "same scenario and seed, same report");
    let other = run(&small, "matchwright", 8);
    assert_ne!(one.event_chain, other.event_chain);
    assert_ne!(one, other);
}

#[test]
fn baselines_are_deterministic_too() {
    let busy = scenario("10k-concurrent.toml", 240);
    for matcher in ["fifo", "pool4", "greedy-widening"] {
        let one = run(&busy, matcher, 3);
        let two = run(&busy, matcher, 3);
        assert_eq!(one, two, "{matcher}");
        assert!(one.matches > 100, "{matcher}: {}", one.matches);
    }
}

/// Ten minutes of `small-population`, seed 5, recorded (with events or not) into a temporary
/// directory.
fn record_small(
    with_events: bool,
) -> (
    Scenario,
    tempfile::TempDir,
    std::path::PathBuf,
    matchwright_sim::world::RunOutput,
) {
    let small = scenario("small-population.toml", 600);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.mwtrace");
    let output = simulate(
        &small,
        "matchwright",
        5,
        &ProgressBar::hidden(),
        Some((&path, with_events)),
    )
    .unwrap();
    (small, dir, path, output)
}

#[test]
fn a_recorded_trace_replays_tick_for_tick() {
    let (small, _dir, path, output) = record_small(false);
    let file = std::fs::File::open(&path).unwrap();
    let reader = TraceReader::new(std::io::BufReader::new(file)).unwrap();
    assert_eq!(reader.header().seed, 5);
    assert_eq!(reader.header().source, "sim:small-population");
    assert!(!reader.header().with_events);
    let config = Config::from_toml_str(&reader.header().config_toml).unwrap();
    assert_eq!(config, small.matcher);
    let summary = replay(reader, Check::Verify, |_, _| Ok(())).unwrap();
    assert_eq!(summary.ticks, output.report.ticks);
    assert_eq!(summary.commands, output.report.commands);
    assert_eq!(summary.matches, output.report.matches);
}

#[test]
fn a_what_if_compares_the_recorded_config_with_another_on_the_same_inputs() {
    let (small, dir, path, output) = record_small(true);
    // A stricter quality floor: better matches, found later.
    let mut stricter = small.matcher.clone();
    for queue in &mut stricter.queues {
        queue.quality_floor = matchwright_ecs::Curve::Linear {
            start: 0.6,
            end: 0.6,
            over_ms: 1,
        };
    }
    let out = dir.path().join("whatif");
    let (result, table) = whatif::what_if(&path, stricter, &out, |_, _| {}).unwrap();
    assert_eq!(result.recorded.matches, output.report.matches);
    assert_eq!(
        result.recorded.players_matched,
        output.report.players_matched
    );
    assert!(
        result.candidate.quality.p10 > result.recorded.quality.p10,
        "{table}"
    );
    assert!(
        result.candidate.ttm_s.mean > result.recorded.ttm_s.mean,
        "{table}"
    );
    // The recording's own run rejects nothing the simulator sent.
    assert_eq!(result.recorded.rejected_commands, 0, "{table}");
    assert_eq!(result.recorded.unmatched_commands, 0, "{table}");
    for row in [
        "time to match p99 (s)",
        "quality mean",
        "team gap mean (MMR)",
        "abandons",
        "matches",
        "commands without a match",
    ] {
        assert!(table.contains(row), "{row} missing from\n{table}");
    }
    // Under its own config, the what-if is the recording, number for number.
    let (same, table) = whatif::what_if(
        &path,
        small.matcher.clone(),
        &dir.path().join("same"),
        |_, _| {},
    )
    .unwrap();
    assert_eq!(same.candidate, same.recorded, "{table}");
    for file in [
        "whatif.json",
        "matches.png",
        "ttm.png",
        "quality.png",
        "ttm-recorded.png",
        "ttm-new.png",
    ] {
        assert!(out.join(file).exists(), "{file} not written");
    }
}

#[test]
fn a_baseline_cannot_be_recorded() {
    let small = scenario("small-population.toml", 60);
    let dir = tempfile::tempdir().unwrap();
    let error = simulate(
        &small,
        "fifo",
        1,
        &ProgressBar::hidden(),
        Some((&dir.path().join("x"), false)),
    )
    .err()
    .unwrap();
    assert!(error.contains("baseline"), "{error}");
}

/// Arrivals follow their spikes: with no hourly logins and nobody online at the start, a run
/// that ends before its spike sees no ticket, one that lasts through it sees hundreds; and a
/// skill mixture changes the population the run draws.
#[test]
fn arrival_spikes_and_skill_mixtures_shape_the_population() {
    let with = |duration_s: u32, extra: &[(&str, &str)]| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join("small-population.toml");
        let mut table: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
        scenario::set(&mut table, "duration_s", &duration_s.to_string()).unwrap();
        scenario::set(&mut table, "arrivals.initial_online", "0").unwrap();
        scenario::set(&mut table, "arrivals.logins_per_hour", "[0.0]").unwrap();
        let spike = "[{ at_s = 300.0, for_s = 300.0, logins_per_hour = 6000.0 }]";
        scenario::set(&mut table, "arrivals.spikes", spike).unwrap();
        for (key, value) in extra {
            scenario::set(&mut table, key, value).unwrap();
        }
        Scenario::from_table(table).unwrap()
    };
    let before = run(&with(290, &[]), "matchwright", 1);
    assert_eq!(before.tickets, 0, "no login before the spike");
    let through = run(&with(900, &[]), "matchwright", 1);
    assert!(through.tickets > 100, "{} tickets", through.tickets);
    assert!(through.matches > 10, "{} matches", through.matches);
    // Players come online only while the spike lasts (300 s to 600 s): before it nobody is
    // online, and after it the count only falls (it grows at logins alone).
    let output = simulate(
        &with(900, &[]),
        "matchwright",
        1,
        &ProgressBar::hidden(),
        None,
    )
    .unwrap();
    let online = |at: f64| {
        let sample = output.timeline.iter().find(|s| s.at_s >= at).unwrap();
        sample.online
    };
    assert_eq!(online(290.0), 0);
    assert!(online(600.0) > 100, "{} online at 600 s", online(600.0));
    let after: Vec<u64> = (output.timeline.iter())
        .filter(|sample| sample.at_s >= 610.0)
        .map(|sample| sample.online)
        .collect();
    assert!(after.len() > 20, "{} samples after the spike", after.len());
    assert!(
        after.windows(2).all(|pair| pair[1] <= pair[0]),
        "nobody logs in after the spike: {after:?}"
    );
    let bimodal = "[{ share = 0.5, mean = 2500.0, sd = 100.0 }]";
    let mixed = run(
        &with(900, &[("population.skill_mixture", bimodal)]),
        "matchwright",
        1,
    );
    assert_ne!(
        mixed.event_chain, through.event_chain,
        "the mixture is drawn"
    );
}
