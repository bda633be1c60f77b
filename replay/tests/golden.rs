//! The golden traces (`replay/traces/*.mwtrace`, recorded from the shipped simulator scenarios
//! with their events, one per scenario) replay tick for tick under this build. A deliberate change of behaviour
//! re-records them with `matchwright replay --bless replay/traces` (see docs/replay.md); CI also
//! replays them through the `matchwright` binary.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use matchwright_replay::{Check, TraceReader, replay};

#[test]
fn every_golden_trace_replays_identically() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("traces");
    let mut traces: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "mwtrace"))
        .collect();
    traces.sort();
    // One per shipped simulator scenario (sim/scenarios/NAME.toml: traces/NAME.mwtrace).
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sim/scenarios");
    for entry in std::fs::read_dir(&scenarios).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "toml") {
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            assert!(
                traces.contains(&dir.join(format!("{name}.mwtrace"))),
                "no golden trace for sim/scenarios/{name}.toml in {}",
                dir.display()
            );
        }
    }
    for path in traces {
        let file = std::fs::File::open(&path).unwrap();
        let reader = TraceReader::new(std::io::BufReader::new(file)).unwrap();
        assert!(reader.header().with_events, "{}", path.display());
        assert!(
            reader.header().source.starts_with("sim:"),
            "{}",
            path.display()
        );
        let summary = replay(reader, Check::Verify, |_, _| Ok(()))
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        assert!(summary.matches > 0, "{}: {summary:?}", path.display());
    }
}
