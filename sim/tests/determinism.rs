//! The simulator is deterministic: the same scenario and seed give the same event stream and
//! the same report (apart from `wall_s`); another seed gives another run; and a recorded trace
//! replays tick for tick through a fresh matcher.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use indicatif::ProgressBar;
use matchwright_ecs::codec::EventHasher;
use matchwright_ecs::{Config, Matcher};
use matchwright_replay::TraceReader;
use matchwright_sim::cli::simulate;
use matchwright_sim::scenario::{self, Scenario};

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
    assert_eq!(one.events_sha256.len(), 64);
    assert_eq!(one, two, "same scenario and seed, same report");
    let other = run(&small, "matchwright", 8);
    assert_ne!(one.events_sha256, other.events_sha256);
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

#[test]
fn a_recorded_trace_replays_tick_for_tick() {
    let small = scenario("small-population.toml", 600);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.trace");
    let output = simulate(
        &small,
        "matchwright",
        5,
        &ProgressBar::hidden(),
        Some(&path),
    )
    .unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let mut reader = TraceReader::new(std::io::BufReader::new(file)).unwrap();
    assert_eq!(reader.header().seed, 5);
    assert_eq!(reader.header().source, "sim:small-population");
    let config = Config::from_toml_str(&reader.header().config_toml).unwrap();
    assert_eq!(config, small.matcher);
    let mut matcher = Matcher::new(config, reader.header().seed).unwrap();
    let (mut ticks, mut commands) = (0u64, 0u64);
    while let Some(frame) = reader.next_tick().unwrap() {
        for command in frame.commands {
            matcher.submit(command).unwrap();
            commands += 1;
        }
        matcher.tick(frame.now_ms).unwrap();
        let mut hasher = EventHasher::new();
        for event in matcher.drain_events() {
            hasher.add(&event);
        }
        assert_eq!(
            hasher.digest(),
            frame.events_hash,
            "tick at {} ms diverged",
            frame.now_ms
        );
        ticks += 1;
    }
    assert_eq!(ticks, output.report.ticks);
    assert_eq!(commands, output.report.commands);
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
        Some(&dir.path().join("x")),
    )
    .err()
    .unwrap();
    assert!(error.contains("baseline"), "{error}");
}
