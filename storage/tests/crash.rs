//! Crash recovery, for real: a writer process commits ticks from a random command stream and
//! is killed with SIGKILL at random moments, many times, each time restarted on the same file.
//! Compared with an uninterrupted run of the same stream, nothing committed is lost, nothing
//! is half-applied, no player is in two matches, and the event hash chain continues exactly.

#![allow(clippy::unwrap_used, clippy::print_stderr)] // Tests: a failed unwrap is a failed test.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use matchwright_ecs::{Config, PlayerId, codec};
use matchwright_storage::{JournalEntry, Store, StoreOptions};

const SEED: u64 = 2026;
const UNTIL: u64 = 1_200;

/// One writer run: its output lines, and whether it finished on its own.
struct Run {
    /// What it recovered to (none if killed before it got that far).
    recovered: Option<(u64, String)>,
    committed: Vec<(u64, String)>,
    finished: bool,
}

fn parse(line: &str) -> (u64, String) {
    let mut parts = line.split_whitespace().skip(1);
    let tick = parts.next().unwrap().parse().unwrap();
    (tick, parts.next().unwrap().to_string())
}

/// Runs the writer on `path`, killing it with SIGKILL after `kill_after` if it is still running.
fn run_writer(path: &Path, kill_after: Option<Duration>) -> Run {
    run_writer_with(path, kill_after, UNTIL, 25)
}

fn run_writer_with(
    path: &Path,
    kill_after: Option<Duration>,
    until: u64,
    snapshot_every: u64,
) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_store-writer"))
        .arg(path)
        .arg(SEED.to_string())
        .arg(until.to_string())
        .arg(snapshot_every.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (send, receive) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let finished = match kill_after {
        Some(delay) => {
            std::thread::sleep(delay);
            let done = child.try_wait().unwrap().is_some();
            if !done {
                child.kill().unwrap(); // SIGKILL on Unix
            }
            let status = child.wait().unwrap();
            done && status.success()
        }
        None => child.wait().unwrap().success(),
    };
    reader.join().unwrap();
    let lines: Vec<String> = receive.try_iter().collect();
    let recovered = lines
        .iter()
        .find(|l| l.starts_with("recovered "))
        .map(|l| parse(l));
    let committed = lines
        .iter()
        .filter(|l| l.starts_with("committed "))
        .map(|l| parse(l))
        .collect();
    Run {
        recovered,
        committed,
        finished,
    }
}

fn journal(path: &Path) -> Vec<JournalEntry> {
    let opened = Store::open(path, Config::default(), SEED, options()).unwrap();
    let mut entries = Vec::new();
    opened
        .store
        .read_journal(0, |entry| {
            entries.push(entry);
            true
        })
        .unwrap();
    entries
}

fn options() -> StoreOptions {
    StoreOptions {
        snapshot_every_ticks: 25,
        mirror: true,
        ..StoreOptions::default()
    }
}

#[test]
fn sigkill_at_random_points_loses_nothing_and_replays_exactly() {
    let dir = tempfile::tempdir().unwrap();

    // The reference: the same stream, never interrupted.
    let reference_path = dir.path().join("reference.redb");
    let reference = run_writer(&reference_path, None);
    assert!(reference.finished);
    let chain: BTreeMap<u64, String> = reference.committed.iter().cloned().collect();
    assert_eq!(chain.len() as u64, UNTIL);

    // The victim: killed again and again until it gets to the end.
    let path = dir.path().join("crashed.redb");
    let mut rng_state = 0x5EED_u64;
    let mut next_delay = || {
        // xorshift: kill after 10 to 150 ms (startup and recovery included).
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        Duration::from_millis(10 + rng_state % 140)
    };
    let (mut kills, mut acknowledged) = (0, 0_u64);
    let mut recoveries_mid_journal = 0;
    loop {
        let run = run_writer(&path, Some(next_delay()));
        // Recovery came back at or after the last tick the killed run saw committed, and the
        // chain hash there is the uninterrupted run's.
        if let Some((recovered_tick, recovered_chain)) = &run.recovered {
            assert!(
                *recovered_tick >= acknowledged,
                "recovered tick {recovered_tick} but tick {acknowledged} had been acknowledged"
            );
            if *recovered_tick > 0 {
                assert_eq!(Some(recovered_chain), chain.get(recovered_tick));
                if recovered_tick % 25 != 0 {
                    recoveries_mid_journal += 1;
                }
            }
        }
        // Every tick this run committed matches the uninterrupted run.
        for (tick, hash) in &run.committed {
            assert_eq!(Some(hash), chain.get(tick), "tick {tick} diverged");
        }
        if let Some((tick, _)) = run.committed.last() {
            acknowledged = *tick;
        }
        if run.finished {
            break;
        }
        kills += 1;
        assert!(kills < 500, "the writer never finished");
    }
    eprintln!(
        "{kills} kills, {recoveries_mid_journal} recoveries replayed journal after a snapshot"
    );
    assert!(
        kills >= 10,
        "only {kills} kills: the test did not test much"
    );
    assert!(
        recoveries_mid_journal > 0,
        "no recovery replayed journal entries after a snapshot"
    );

    // Every committed command is there, in order, with the same event hashes.
    let expected = journal(&reference_path);
    let found = journal(&path);
    assert_eq!(found.len(), expected.len());
    for (found, expected) in found.iter().zip(&expected) {
        assert_eq!(
            found, expected,
            "journal entry {} differs",
            expected.record.tick
        );
    }

    // The recovered state is whole: the invariants hold (no player in two tickets or matches)
    // and the store's live matches agree.
    let opened = Store::open(&path, Config::default(), SEED, options()).unwrap();
    assert_eq!(opened.recovery.last_tick, UNTIL);
    let mut matcher = opened.matcher;
    matcher.check_invariants();
    let mut live: BTreeMap<PlayerId, u64> = BTreeMap::new();
    for row in opened.store.handle().match_rows().unwrap() {
        if !row.state.is_final() {
            for (player, _) in &row.players {
                if let Some(other) = live.insert(*player, row.match_id.0) {
                    panic!("{player} is in match {other} and match {}", row.match_id.0);
                }
            }
        }
    }
    assert_eq!(live.len(), {
        let reference = Store::open(&reference_path, Config::default(), SEED, options()).unwrap();
        reference
            .store
            .handle()
            .match_rows()
            .unwrap()
            .iter()
            .filter(|row| !row.state.is_final())
            .map(|row| row.players.len())
            .sum::<usize>()
    });
    assert_eq!(
        codec::hex(&opened.store.chain_hash()),
        chain[&UNTIL],
        "the chain does not end where the uninterrupted run's does"
    );
}

/// Snapshot files in the store's directory that no row records: what a kill left of a
/// snapshot being written (`.partial`) or written but not yet recorded.
fn unrecorded_snapshot_files(path: &Path) -> usize {
    let mut dir = path.as_os_str().to_owned();
    dir.push(".snapshots");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let names: Vec<String> = entries
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let recorded = {
        let db = redb::Database::open(path).unwrap();
        let read = redb::ReadableDatabase::begin_read(&db).unwrap();
        let table: redb::TableDefinition<'_, u64, &[u8]> =
            redb::TableDefinition::new("snapshot_files");
        match read.open_table(table) {
            Ok(table) => redb::ReadableTableMetadata::len(&table).unwrap() as usize,
            Err(_) => 0,
        }
    };
    names.len().saturating_sub(recorded)
}

#[test]
fn sigkill_while_snapshots_are_written_recovers_exactly() {
    // A snapshot every 2 ticks: the follower is nearly always writing one when the kill comes.
    const UNTIL_HERE: u64 = 500;
    let dir = tempfile::tempdir().unwrap();
    let reference = run_writer_with(&dir.path().join("reference.redb"), None, UNTIL_HERE, 2);
    assert!(reference.finished);
    let chain: BTreeMap<u64, String> = reference.committed.iter().cloned().collect();

    // The kills land at random times: a round whose kills all missed the snapshots (it
    // happens on a loaded machine) is run again on a fresh file, up to five rounds.
    let mut rng_state = 0xC0FFEE_u64;
    let mut round = 0;
    let path = loop {
        let path = dir.path().join(format!("crashed-{round}.redb"));
        let (kills, mid_snapshot) = kill_until_done(&path, &chain, &mut rng_state, UNTIL_HERE);
        eprintln!("round {round}: {kills} kills, {mid_snapshot} left a snapshot file unrecorded");
        assert!(kills >= 5, "only {kills} kills");
        if mid_snapshot > 0 {
            break path;
        }
        round += 1;
        assert!(
            round < 5,
            "in five rounds, no kill landed while a snapshot was being written"
        );
    };
    let mut opened = Store::open(&path, Config::default(), SEED, options()).unwrap();
    assert_eq!(opened.recovery.last_tick, UNTIL_HERE);
    assert_eq!(codec::hex(&opened.store.chain_hash()), chain[&UNTIL_HERE]);
    opened.matcher.check_invariants();
    // What the kills left behind was cleaned at open: every file is recorded.
    drop(opened);
    assert_eq!(unrecorded_snapshot_files(&path), 0);
}

/// Runs the writer on `path`, killed after a random delay each time, until it reaches
/// `until`: every tick it commits and every state it recovers is the reference `chain`'s, and
/// recovery never goes behind an acknowledged tick. Returns the kills, and how many of them
/// left a snapshot file unrecorded (landed while one was being written).
fn kill_until_done(
    path: &Path,
    chain: &BTreeMap<u64, String>,
    rng_state: &mut u64,
    until: u64,
) -> (u32, u32) {
    let (mut kills, mut mid_snapshot, mut acknowledged) = (0, 0, 0_u64);
    loop {
        *rng_state ^= *rng_state << 13;
        *rng_state ^= *rng_state >> 7;
        *rng_state ^= *rng_state << 17;
        let delay = Duration::from_millis(15 + *rng_state % 120);
        let run = run_writer_with(path, Some(delay), until, 2);
        if let Some((tick, hash)) = &run.recovered {
            assert!(
                *tick >= acknowledged,
                "recovered {tick} after {acknowledged} was acknowledged"
            );
            if *tick > 0 {
                assert_eq!(
                    Some(hash),
                    chain.get(tick),
                    "recovered tick {tick} diverged"
                );
            }
        }
        for (tick, hash) in &run.committed {
            assert_eq!(Some(hash), chain.get(tick), "tick {tick} diverged");
        }
        acknowledged = run.committed.last().map_or(acknowledged, |(tick, _)| *tick);
        if run.finished {
            return (kills, mid_snapshot);
        }
        kills += 1;
        if path.exists() && unrecorded_snapshot_files(path) > 0 {
            mid_snapshot += 1;
        }
        assert!(kills < 400, "the writer never finished");
    }
}
