//! One tick record, one chain hash: a simulated run's report, the trace it records and a store
//! journal fed the same ticks all end on the same `EventChain`. The store is fed by applying
//! each recorded tick to its own matcher (`TickRecord::apply`, as recovery does), so the test
//! also shows a record re-runs exactly outside the simulator. A scenario with a game-server
//! capacity exercises allocation failures, so that path is in the hash too.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use matchwright_ecs::{EventChain, Matcher, TickRecord, codec};
use matchwright_replay::{Check, TraceReader, replay};
use matchwright_sim::Scenario;
use matchwright_storage::{Store, StoreOptions, TickInput};

fn scenario() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sim/scenarios/small-population.toml");
    let mut table: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
    for (field, value) in [
        ("duration_s", "300"),
        ("servers.capacity", "{ \"eu-west\" = 2, \"us-east\" = 1 }"),
    ] {
        matchwright_sim::scenario::set(&mut table, field, value).unwrap();
    }
    Scenario::from_toml_str(&table.to_string()).unwrap()
}

#[test]
fn the_sim_report_the_trace_and_the_journal_give_one_chain_hash() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario();
    let seed = 11;
    let trace = dir.path().join("run.mwtrace");
    let output = matchwright_sim::cli::simulate(
        &scenario,
        "matchwright",
        seed,
        &indicatif::ProgressBar::hidden(),
        Some((&trace, false)),
    )
    .unwrap();
    let report = output.report;
    assert!(report.matches > 0, "the run matched nobody");
    assert!(
        report
            .sessions_abandoned
            .get("allocation_failed")
            .copied()
            .unwrap_or(0)
            > 0,
        "the capacity never ran out: {:?}",
        report.sessions_abandoned
    );

    // The trace, replayed and verified tick by tick.
    let reader = TraceReader::new(std::io::BufReader::new(
        std::fs::File::open(&trace).unwrap(),
    ))
    .unwrap();
    let summary = replay(reader, Check::Verify, |_, _| Ok(())).unwrap();
    assert_eq!(summary.ticks, report.ticks);
    assert_eq!(summary.chain.hex(), report.event_chain);

    // A store journal fed the same records, each applied to the store's own matcher.
    let opened = Store::open(
        dir.path().join("store.redb"),
        scenario.matcher.clone(),
        seed,
        StoreOptions::default(),
    )
    .unwrap();
    let (mut store, mut matcher): (Store, Matcher) = (opened.store, opened.matcher);
    let reader = TraceReader::new(std::io::BufReader::new(
        std::fs::File::open(&trace).unwrap(),
    ))
    .unwrap();
    let mut chain = EventChain::default();
    let mut events = Vec::new();
    let mut records: Vec<TickRecord> = Vec::new();
    replay(reader, Check::Rerun, |frame, _| {
        records.push(frame.record.clone());
        Ok(())
    })
    .unwrap();
    for record in &records {
        record.apply(&mut matcher, &mut events).unwrap();
        chain.push(&record.event_hash);
        store
            .commit_tick(
                TickInput {
                    tick: record.tick,
                    now_ms: record.now_ms,
                    commands: &record.commands,
                    events: &events,
                },
                &matcher,
            )
            .unwrap();
    }
    assert_eq!(codec::hex(&store.chain_hash()), report.event_chain);
    assert_eq!(chain.hex(), report.event_chain);
    // And the journal recovers to the same chain.
    drop(store);
    let reopened = Store::open(
        dir.path().join("store.redb"),
        scenario.matcher.clone(),
        seed,
        StoreOptions::default(),
    )
    .unwrap();
    assert_eq!(
        codec::hex(&reopened.recovery.chain_hash),
        report.event_chain
    );
}
