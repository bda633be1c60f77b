//! Snapshots: a matcher restored from its snapshot (through the codec, as storage keeps it)
//! goes on exactly as the original would have: the same events, byte for byte.

#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

mod common;

use common::{Ledger, Workload, run_workload, test_config};
use matchwright_ecs::{Event, Matcher, Snapshot, SnapshotError, codec};

/// Runs the workload of `run_workload`, but every `restore_every` ticks throws the matcher
/// away and carries on with one restored from its encoded snapshot.
fn run_with_restores(seed: u64, players: u64, ticks: u64, restore_every: u64) -> (Ledger, u64) {
    let config = test_config();
    let mut matcher = Matcher::new(config.clone(), seed).unwrap();
    let mut workload = Workload::new(seed, players, config.clone());
    let mut ledger = Ledger::new(config.clone());
    let mut restores = 0;
    let mut now = 0;
    for tick in 1..=ticks {
        now += 100;
        for command in workload.commands(now) {
            let seq = matcher.submit(command.clone()).unwrap();
            ledger.submitted(seq, &command);
        }
        matcher.tick(now).unwrap();
        let events: Vec<Event> = matcher.drain_events().collect();
        ledger.record_tick(now, &events, &matcher);
        workload.observe(&events, now);
        if tick % restore_every == 0 {
            let snapshot = matcher.snapshot().unwrap();
            let bytes = codec::encode(&snapshot);
            let decoded: Snapshot = codec::decode(&bytes).unwrap();
            assert_eq!(decoded, snapshot);
            matcher = Matcher::restore(config.clone(), &decoded).unwrap();
            matcher.check_invariants();
            // Restoring loses nothing: the restored matcher's snapshot is the same.
            assert_eq!(matcher.snapshot().unwrap(), snapshot);
            assert_eq!(matcher.now_ms(), now);
            restores += 1;
        }
    }
    matcher.check_invariants();
    (ledger, restores)
}

#[test]
fn a_restored_matcher_emits_what_the_original_would_have() {
    let uninterrupted = run_workload(test_config(), 11, 3_000, 1_500, 100);
    for restore_every in [1, 7, 50] {
        let (restored, restores) = run_with_restores(11, 3_000, 1_500, restore_every);
        assert!(restores > 0);
        assert_eq!(
            restored.hasher.hex(),
            uninterrupted.hasher.hex(),
            "restoring every {restore_every} ticks changed the event stream"
        );
    }
    // The run had something in every state worth restoring.
    let counts = &uninterrupted.counts;
    assert!(counts.proposals > 50, "{counts:#?}");
    assert!(counts.tickets_backfilled > 5, "{counts:#?}");
    assert!(counts.tickets_requeued > 5, "{counts:#?}");
}

#[test]
fn a_snapshot_needs_drained_events_and_no_waiting_commands() {
    let mut matcher = Matcher::new(test_config(), 1).unwrap();
    let mut workload = Workload::new(1, 50, test_config());
    for command in workload.commands(100) {
        matcher.submit(command).unwrap();
    }
    assert!(matches!(
        matcher.snapshot(),
        Err(SnapshotError::CommandsWaiting(_))
    ));
    matcher.tick(100).unwrap();
    assert!(matches!(
        matcher.snapshot(),
        Err(SnapshotError::EventsNotDrained(_))
    ));
    matcher.drain_events().for_each(drop);
    assert!(matcher.snapshot().is_ok());
}

#[test]
fn a_snapshot_that_does_not_fit_is_refused_with_the_reason() {
    let (mut matcher, mut workload) = (
        Matcher::new(test_config(), 3).unwrap(),
        Workload::new(3, 400, test_config()),
    );
    for tick in 1..=30 {
        for command in workload.commands(tick * 100) {
            matcher.submit(command).unwrap();
        }
        matcher.tick(tick * 100).unwrap();
        let events: Vec<Event> = matcher.drain_events().collect();
        workload.observe(&events, tick * 100);
    }
    let snapshot = matcher.snapshot().unwrap();
    assert!(snapshot.queued_tickets() > 0);

    // A config with fewer queues than the snapshot's tickets use.
    let mut fewer = test_config();
    fewer.queues.truncate(1);
    let used_queue = snapshot.tickets.iter().map(|t| t.queue).max().unwrap();
    if used_queue > 0 {
        let error = Matcher::restore(fewer, &snapshot).unwrap_err();
        assert!(error.to_string().contains("not in the config"), "{error}");
    }

    // A ticket naming a player the snapshot lacks.
    let mut broken = snapshot.clone();
    let gone = broken.players.remove(0).id;
    let error = Matcher::restore(test_config(), &broken).unwrap_err();
    assert!(error.to_string().contains(&gone.to_string()), "{error}");
}
