//! Match rules in the simulator:
//!
//! - the shipped rule examples (`config/examples/*.toml`) load as an operator's config file
//!   (`Config::from_operator_toml`, as `serve --config` and `replay --config` read them) and
//!   are exactly the queues of their scenarios (`sim/scenarios/*.toml`);
//! - each rules scenario runs with every match held to its queue's rules by the simulator's
//!   own check and to the core's invariant (a broken one fails the run), and counts how often
//!   each rule turned tickets away; the same seed gives the same run;
//! - every rule kind, scope and party aggregation, and avoid lists across teams, hold on a
//!   queue that has them all;
//! - the baselines keep the simple rules (avoid lists, `equal` across the match) and skip the
//!   queues with the others, saying why;
//! - a trace of a rules scenario replays under another rule set, and the what-if reports the
//!   difference, per rule too;
//! - a match that breaks a rule stops the run.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use indicatif::ProgressBar;
use matchwright_ecs::Config;
use matchwright_sim::cli::simulate;
use matchwright_sim::metrics::Report;
use matchwright_sim::scenario::{self, Scenario};
use matchwright_sim::whatif;

/// Each example: its config file, its scenario, its queue.
const EXAMPLES: [(&str, &str, &str); 4] = [
    ("role-5v5.toml", "role-queue.toml", "role-5v5"),
    ("crossplay.toml", "crossplay.toml", "crossplay-5v5"),
    ("battle-royale.toml", "battle-royale.toml", "br-squads"),
    ("languages.toml", "languages.toml", "languages-3v3"),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn scenario_table(file: &str, duration_s: u32) -> toml::Table {
    let path = root().join("sim/scenarios").join(file);
    let mut table: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
    scenario::set(&mut table, "duration_s", &duration_s.to_string()).unwrap();
    table
}

fn scenario(file: &str, duration_s: u32) -> Scenario {
    Scenario::from_table(scenario_table(file, duration_s)).unwrap()
}

fn run(scenario: &Scenario, matcher: &str, seed: u64) -> Report {
    let mut report = simulate(scenario, matcher, seed, &ProgressBar::hidden(), None)
        .unwrap_or_else(|error| panic!("{} with {matcher}: {error}", scenario.name))
        .report;
    report.wall_s = 0.0;
    report
}

#[test]
fn the_rule_examples_load_and_are_their_scenarios_queues() {
    let shipped = Config::default();
    for (example, scenario_file, queue) in EXAMPLES {
        let text = std::fs::read_to_string(root().join("config/examples").join(example)).unwrap();
        let config = Config::from_operator_toml(text.parse().unwrap())
            .unwrap_or_else(|error| panic!("{example}: {error}"));
        // The shipped queues, and the example's after them.
        assert_eq!(config.queues.len(), shipped.queues.len() + 1, "{example}");
        assert_eq!(config.queues[..shipped.queues.len()], shipped.queues[..]);
        let added = &config.queues[config.queue_index(queue).unwrap()];
        assert!(added.has_rules() || added.flexible.is_some(), "{example}");
        let scenario = scenario(scenario_file, 60);
        let simulated = &scenario.matcher.queues[scenario.matcher.queue_index(queue).unwrap()];
        assert_eq!(
            added, simulated,
            "{example} and sim/scenarios/{scenario_file} must hold the same queue"
        );
    }
}

#[test]
fn every_rules_scenario_keeps_its_rules_and_counts_what_they_turn_away() {
    for (_, file, queue) in EXAMPLES {
        // Long enough for each rule to bite (avoid lists meet seldom), and for role games
        // to end and be rated.
        let duration = if file == "role-queue.toml" { 1800 } else { 300 };
        let scenario = scenario(file, duration);
        let report = run(&scenario, "matchwright", 1);
        assert!(report.matches > 5, "{file}: {} matches", report.matches);
        assert!(report.rejected.is_empty(), "{file}: {:?}", report.rejected);
        let turned = report.turned_away.get(queue);
        match file {
            "role-queue.toml" => {
                let turned = turned.unwrap();
                assert!(turned.contains_key("roles"), "{turned:?}");
                assert!(turned.contains_key("block_list"), "{turned:?}");
                // Rated per role: ratings in several roles moved, and still follow skill.
                assert!(
                    report.rating_skill_corr > 0.5,
                    "{}",
                    report.rating_skill_corr
                );
                // Every role was played, mostly by players who chose it first.
                let roles = &report.roles_played[queue];
                assert_eq!(roles.len(), 3, "{roles:?}");
                let players: u64 = roles.values().map(|r| r.players).sum();
                assert_eq!(players, report.players_matched);
                let first: u64 = roles.values().map(|r| r.first_choice).sum();
                assert!(first * 2 > players, "{roles:?}");
            }
            "crossplay.toml" => assert!(turned.unwrap()["same-platform"] > 0),
            "languages.toml" => assert!(turned.unwrap()["shared-language"] > 0),
            _ => {
                // No rules, flexible lobbies: some full, some smaller, none under 15 players.
                assert!(turned.is_none());
                let lobby = report.players_matched as f64 / report.matches as f64;
                assert!((15.0..100.0).contains(&lobby), "mean lobby {lobby}");
            }
        }
    }
    let role = scenario("role-queue.toml", 300);
    let one = run(&role, "matchwright", 4);
    assert_eq!(one, run(&role, "matchwright", 4), "same seed, same run");
    assert_ne!(one.event_chain, run(&role, "matchwright", 5).event_chain);
}

/// Every rule kind at once on one 3v3 queue, avoid lists kept off opposing teams: the core
/// forms matches, and every one of them passes the simulator's own check (the run would fail
/// otherwise).
#[test]
fn every_rule_kind_is_kept() {
    let mut table = scenario_table("languages.toml", 600);
    let extra: toml::Table = r#"
[[population.attributes]]
kind = "text"
name = "platform"
values = [["pc", 0.6], ["console", 0.4]]
party_same = 0.8

[[population.attributes]]
kind = "number"
name = "level"
normal = { mean = 50.0, sd = 15.0 }
clamp = [1.0, 100.0]
integer = true
party_same = 0.7
party_sd = 5.0

[population.avoid]
share = 0.2
size = [1, 6]
skill_within = 150.0
"#
    .parse()
    .unwrap();
    let population = table.get_mut("population").unwrap().as_table_mut().unwrap();
    population.insert(
        "attributes".into(),
        toml::Value::Array(
            population["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .chain(extra["population"]["attributes"].as_array().unwrap())
                .cloned()
                .collect(),
        ),
    );
    population.insert("avoid".into(), extra["population"]["avoid"].clone());
    for (key, value) in [
        ("block_lists", r#""opposing_teams""#),
        (
            "attributes",
            r#"[{ kind = "list", name = "languages", default = ["en"] }, { kind = "text", name = "platform" }, { kind = "number", name = "level" }]"#,
        ),
        (
            "rules",
            r#"[
                { kind = "overlap", name = "shared-language", attribute = "languages", party = "union", optional_after_ms = 90000 },
                { kind = "equal", name = "platform-per-team", attribute = "platform", scope = "team", optional_after_ms = 40000 },
                { kind = "distance", name = "level-spread", attribute = "level", max = { kind = "linear", start = 20.0, end = 60.0, over_ms = 60000 }, party = "all" },
                { kind = "distance", name = "level-teams", attribute = "level", scope = "team", max = { kind = "linear", start = 5.0, end = 20.0, over_ms = 30000 }, party = "mean" },
                { kind = "party_skill_spread", name = "party-spread", max = { kind = "linear", start = 150.0, end = 600.0, over_ms = 60000 }, optional_after_ms = 120000 },
            ]"#,
        ),
    ] {
        scenario::set(
            &mut table,
            &format!("matcher.queues.languages-3v3.{key}"),
            value,
        )
        .unwrap();
    }
    let scenario = Scenario::from_table(table).unwrap();
    let report = run(&scenario, "matchwright", 3);
    assert!(report.matches > 20, "{} matches", report.matches);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let turned = &report.turned_away["languages-3v3"];
    // (Avoid lists across teams are kept when teams are split, which counts nothing.)
    for rule in [
        "shared-language",
        "platform-per-team",
        "level-spread",
        "party-spread",
    ] {
        assert!(turned.contains_key(rule), "{rule}: {turned:?}");
    }
}

#[test]
fn baselines_keep_the_simple_rules_and_skip_the_rest() {
    // Platform equality and avoid lists: kept, so the baselines match (each match checked).
    let mut table = scenario_table("crossplay.toml", 300);
    scenario::set(
        &mut table,
        "population.avoid",
        "{ share = 0.2, size = [1, 4] }",
    )
    .unwrap();
    let crossplay = Scenario::from_table(table).unwrap();
    for matcher in ["fifo", "pool4", "greedy-widening"] {
        let report = run(&crossplay, matcher, 1);
        assert!(report.matches > 5, "{matcher}: {}", report.matches);
        assert!(report.skipped_queues.is_empty(), "{matcher}");
        assert!(report.turned_away.is_empty(), "{matcher}");
    }
    // Roles, flexible lobbies, overlap: skipped, with the reason.
    for (file, queue, why) in [
        ("role-queue.toml", "role-5v5", "role queue"),
        ("battle-royale.toml", "br-squads", "flexible"),
        ("languages.toml", "languages-3v3", "shared-language"),
    ] {
        let report = run(&scenario(file, 120), "greedy-widening", 1);
        assert_eq!(report.matches, 0, "{file}");
        assert!(report.skipped_queues[queue].contains(why), "{file}");
    }
}

/// A trace of `crossplay` replayed with the platform rule relaxed after 10 s instead of 45 s:
/// matches come sooner, the rule turns fewer tickets away, and the table says so.
#[test]
fn a_rules_trace_replays_under_another_rule_set() {
    let crossplay = scenario("crossplay.toml", 900);
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("crossplay.mwtrace");
    let output = simulate(
        &crossplay,
        "matchwright",
        1,
        &ProgressBar::hidden(),
        Some((&trace, false)),
    )
    .unwrap();
    let example = std::fs::read_to_string(root().join("config/examples/crossplay.toml")).unwrap();
    let relaxed = example.replace("optional_after_ms = 45000", "optional_after_ms = 10000");
    assert_ne!(relaxed, example);
    let config = Config::from_operator_toml(relaxed.parse().unwrap()).unwrap();
    let (result, table) =
        whatif::what_if(&trace, config, &dir.path().join("whatif"), |_, _| {}).unwrap();
    assert_eq!(result.recorded.matches, output.report.matches, "{table}");
    assert_eq!(
        result.recorded.turned_away, output.report.turned_away,
        "the recorded side counts what the run counted"
    );
    let turned = |side: &whatif::OutcomeReport| side.turned_away["crossplay-5v5"]["same-platform"];
    assert!(
        turned(&result.candidate) < turned(&result.recorded),
        "{table}"
    );
    assert!(
        result.candidate.first_match_ttm_s.mean < result.recorded.first_match_ttm_s.mean,
        "{table}"
    );
    assert!(
        table.contains("turned away: same-platform (crossplay-5v5)"),
        "{table}"
    );
}

/// Our matcher, with the roles of its first match scrambled on the way out: the world's own
/// check catches it (the core's invariant is not run for an engine of another name) and the
/// run fails, naming the match.
struct Tampered {
    inner: matchwright_sim::engine::CoreEngine,
    done: bool,
}

impl matchwright_sim::engine::Engine for Tampered {
    fn name(&self) -> &str {
        "tampered"
    }
    fn submit(
        &mut self,
        command: matchwright_ecs::Command,
    ) -> Result<matchwright_ecs::CommandSeq, String> {
        self.inner.submit(command)
    }
    fn tick(&mut self, now_ms: u64) -> Result<Vec<matchwright_ecs::TurnedAway>, String> {
        self.inner.tick(now_ms)
    }
    fn drain_into(&mut self, out: &mut Vec<matchwright_ecs::Event>) {
        let from = out.len();
        self.inner.drain_into(out);
        for event in &mut out[from..] {
            if let matchwright_ecs::Event::MatchFormed { summary } = event
                && !self.done
            {
                self.done = true;
                let mut changed = (**summary).clone();
                for player in changed
                    .teams
                    .iter_mut()
                    .flatten()
                    .flat_map(|t| &mut t.players)
                {
                    player.role = Some("tank".into());
                }
                *summary = std::sync::Arc::new(changed);
            }
        }
    }
    fn queued_players(&self) -> Vec<u64> {
        self.inner.queued_players()
    }
}

#[test]
fn a_match_that_breaks_a_rule_stops_the_run() {
    let role = scenario("role-queue.toml", 300);
    let engine = Tampered {
        inner: matchwright_sim::engine::CoreEngine::new(role.matcher.clone(), 1).unwrap(),
        done: false,
    };
    let world = matchwright_sim::world::World::new(&role, Box::new(engine), 1);
    let error = world.run(&mut |_, _, _| {}, None).err().unwrap();
    assert!(error.contains("invariant broken"), "{error}");
    assert!(error.contains("role-5v5"), "{error}");
    assert!(error.contains("tank"), "{error}");
}
