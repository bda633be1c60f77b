//! `matchwright sim` end to end: the real binary runs a scenario, writes its report and charts,
//! compares matchers and sweeps a field; a bad scenario gets a clear error naming the field,
//! exit code 2, and writes nothing.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn matchwright() -> Command {
    Command::new(env!("CARGO_BIN_EXE_matchwright"))
}

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sim/scenarios")
        .join(name)
}

fn run(command: &mut Command) -> (bool, String, String) {
    let output = command.output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn sim_run_writes_a_report_and_charts_and_is_repeatable() {
    let dir = tempfile::tempdir().unwrap();
    let mut hashes = Vec::new();
    for round in 0..2 {
        let out = dir.path().join(format!("run{round}"));
        let (ok, stdout, stderr) = run(matchwright()
            .args(["sim", "run", "--quiet", "--seed", "3"])
            .arg("--scenario")
            .arg(scenario("small-population.toml"))
            .args(["--set", "duration_s=900", "--out"])
            .arg(&out));
        assert!(ok, "{stdout}\n{stderr}");
        assert!(stdout.contains("event_chain"), "{stdout}");
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap())
                .unwrap();
        for field in [
            "matches",
            "players",
            "ttm_s",
            "quality",
            "team_gap",
            "favourite_win_prob",
            "abandon_rate",
            "rating_skill_corr",
            "per_region",
            "per_queue",
            "ticks",
            "wall_s",
            "event_chain",
        ] {
            assert!(report.get(field).is_some(), "report.json lacks {field}");
        }
        for key in ["mean", "p50", "p90", "p99", "max"] {
            assert!(report["ttm_s"][key].is_number(), "ttm_s.{key}");
        }
        assert_eq!(report["ticks"], 9_000);
        for chart in ["ttm", "quality", "queue_depth"] {
            for extension in ["png", "svg"] {
                let path = out.join(format!("{chart}.{extension}"));
                let bytes = std::fs::read(&path).unwrap();
                assert!(bytes.len() > 1_000, "{} is too small", path.display());
            }
        }
        let png = std::fs::read(out.join("ttm.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        hashes.push(report["event_chain"].as_str().unwrap().to_string());
    }
    assert_eq!(hashes[0], hashes[1]);
}

#[test]
fn sim_compare_and_sweep_write_their_tables() {
    let dir = tempfile::tempdir().unwrap();
    let compare = dir.path().join("compare");
    let (ok, stdout, stderr) = run(matchwright()
        .args(["sim", "compare", "--quiet"])
        .arg("--scenario")
        .arg(scenario("10k-concurrent.toml"))
        .args(["--set", "duration_s=300", "--out"])
        .arg(&compare));
    assert!(ok, "{stdout}\n{stderr}");
    for matcher in ["matchwright", "fifo", "pool4", "greedy-widening"] {
        assert!(stdout.contains(&format!("| {matcher} |")), "{stdout}");
        assert!(compare.join(matcher).join("report.json").exists());
    }
    assert!(compare.join("compare.md").exists() && compare.join("compare.png").exists());

    let sweep = dir.path().join("sweep");
    let (ok, stdout, stderr) = run(matchwright()
        .args(["sim", "sweep", "--quiet"])
        .arg("--scenario")
        .arg(scenario("small-population.toml"))
        .args([
            "--vary",
            "duration_s=600",
            "--vary",
            "matcher.queues.*.skill_window.start=50.0,150.0",
            "--out",
        ])
        .arg(&sweep));
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("Objective:"), "{stdout}");
    let csv = std::fs::read_to_string(sweep.join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(sweep.join("tradeoff.svg").exists() && sweep.join("tradeoff.png").exists());
}

#[test]
fn a_bad_scenario_is_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(scenario("small-population.toml")).unwrap();
    std::fs::write(&bad, text.replace("tick_ms = 100", "tick_ms = 0")).unwrap();
    let out = dir.path().join("out");
    let output = matchwright()
        .args(["sim", "run", "--quiet", "--scenario"])
        .arg(&bad)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tick_ms") && stderr.contains("bad.toml"),
        "{stderr}"
    );
    assert!(!out.exists());

    let output = matchwright()
        .args(["sim", "run", "--quiet", "--matcher", "nope", "--scenario"])
        .arg(scenario("small-population.toml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("greedy-widening"));

    let output = matchwright()
        .args(["sim", "run", "--quiet", "--scenario"])
        .arg(dir.path().join("missing.toml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.toml"));
}
