//! The store on its own: bad files get clear errors naming the file, a config change is
//! carried over, pruning keeps recovery possible, accounts and tokens persist.

#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

use matchwright_ecs::{Command, Config, EnqueueTicket, Event, Matcher, PlayerId, Rating, TicketId};
use matchwright_storage::{Account, RefreshToken, Store, StoreError, StoreOptions, TickInput};

fn enqueue(ticket: u64, player: u64) -> Command {
    Command::Enqueue(EnqueueTicket::solo(
        TicketId(ticket),
        "duel-1v1",
        PlayerId(player),
        Rating::new(1500.0, 100.0),
        vec![30, 90, 200, 250],
    ))
}

/// Runs and commits `ticks` ticks, each enqueuing two players (who match each other).
fn run(store: &mut Store, matcher: &mut Matcher, ticks: u64) {
    for _ in 0..ticks {
        let tick = store.last_tick() + 1;
        let commands = vec![
            enqueue(tick * 2, tick * 2),
            enqueue(tick * 2 + 1, tick * 2 + 1),
        ];
        for command in &commands {
            matcher.submit(command.clone()).unwrap();
        }
        let now_ms = tick * 1_000;
        let report = matcher.tick(now_ms).unwrap();
        let events: Vec<Event> = matcher.drain_events().collect();
        store
            .commit_tick(
                TickInput {
                    tick: report.tick,
                    now_ms,
                    commands: &commands,
                    events: &events,
                },
                matcher,
            )
            .unwrap();
    }
}

fn options() -> StoreOptions {
    StoreOptions {
        snapshot_every_ticks: 10,
        ..StoreOptions::default()
    }
}

#[test]
fn a_foreign_file_is_refused_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "hello, I am not a database").unwrap();
    let error = Store::open(&path, Config::default(), 1, options()).unwrap_err();
    assert!(matches!(error, StoreError::Foreign { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("notes.txt") && message.contains("not a Matchwright store"),
        "{message}"
    );
    // Nothing was lost: the file is untouched.
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "hello, I am not a database"
    );
}

#[test]
fn a_redb_file_that_is_not_ours_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let table: redb::TableDefinition<'_, u64, u64> = redb::TableDefinition::new("theirs");
            txn.open_table(table).unwrap().insert(1, 2).unwrap();
        }
        txn.commit().unwrap();
    }
    let error = Store::open(&path, Config::default(), 1, options()).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("other.redb") && message.contains("format marker"),
        "{message}"
    );
}

#[test]
fn a_damaged_file_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    {
        let mut opened = Store::open(&path, Config::default(), 1, options()).unwrap();
        run(&mut opened.store, &mut opened.matcher, 25);
    }
    // Flip bytes across the middle of the file (pages, not the header).
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    for byte in &mut bytes[len / 3..len / 3 + 4096.min(len / 3)] {
        *byte ^= 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let outcome = std::panic::catch_unwind(|| Store::open(&path, Config::default(), 1, options()));
    let result = outcome.expect("opening a damaged store panicked");
    match result {
        Err(error) => {
            let message = error.to_string();
            assert!(message.contains("store.redb"), "{message}");
        }
        // The damaged pages may be free ones; then the store must still be whole.
        Ok(opened) => assert_eq!(opened.recovery.last_tick, 25),
    }

    // A truncated file.
    let path = dir.path().join("cut.redb");
    {
        let mut opened = Store::open(&path, Config::default(), 1, options()).unwrap();
        run(&mut opened.store, &mut opened.matcher, 5);
    }
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let outcome = std::panic::catch_unwind(|| Store::open(&path, Config::default(), 1, options()));
    if let Err(error) = outcome.expect("opening a truncated store panicked") {
        assert!(error.to_string().contains("cut.redb"), "{error}");
    }
}

#[test]
fn recovery_replays_the_journal_after_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let chain = {
        let mut opened = Store::open(&path, Config::default(), 7, options()).unwrap();
        // Snapshots are written off the tick thread, one at a time (a due one waits while
        // another is written): settle each, so that they are at ticks 10 and 20 whatever the
        // machine's speed.
        for ticks in [10, 10, 3] {
            run(&mut opened.store, &mut opened.matcher, ticks);
            opened.store.settle_snapshots().unwrap();
        }
        opened.store.chain_hash()
    };
    let opened = Store::open(&path, Config::default(), 7, options()).unwrap();
    let recovery = &opened.recovery;
    assert!(!recovery.created);
    assert_eq!(recovery.snapshot_tick, 20);
    assert_eq!(recovery.replayed_ticks, 3);
    assert_eq!(recovery.last_tick, 23);
    assert_eq!(recovery.chain_hash, chain);
    // 23 ticks of two players who match each other: 23 matches, none queued.
    assert_eq!(opened.matcher.live_matches(), 23);
    assert_eq!(opened.store.handle().match_rows().unwrap().len(), 23);
}

#[test]
fn a_tick_out_of_order_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut opened =
        Store::open(dir.path().join("s.redb"), Config::default(), 1, options()).unwrap();
    let error = opened
        .store
        .commit_tick(
            TickInput {
                tick: 5,
                now_ms: 0,
                commands: &[],
                events: &[],
            },
            &opened.matcher,
        )
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::TickOutOfOrder {
                expected: 1,
                given: 5
            }
        ),
        "{error}"
    );
}

#[test]
fn a_changed_config_carries_the_state_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    {
        let mut opened = Store::open(&path, Config::default(), 1, options()).unwrap();
        run(&mut opened.store, &mut opened.matcher, 5);
    }
    let mut changed = Config::default();
    changed.queues[0].max_wait_ms += 1_000;
    let opened = Store::open(&path, changed.clone(), 1, options()).unwrap();
    assert!(opened.recovery.config_changed);
    assert_eq!(opened.matcher.config(), &changed);
    assert_eq!(opened.matcher.live_matches(), 5);
    drop(opened);
    // The new config is the stored one now.
    let opened = Store::open(&path, changed, 1, options()).unwrap();
    assert!(!opened.recovery.config_changed);

    // A config without a queue the state uses is refused, saying why.
    let mut fewer = Config::default();
    fewer.queues.retain(|queue| queue.name != "duel-1v1");
    drop(opened);
    let error = Store::open(&path, fewer, 1, options()).unwrap_err();
    assert!(error.to_string().contains("does not fit"), "{error}");
}

#[test]
fn pruning_keeps_a_base_to_recover_from() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let options = StoreOptions {
        snapshot_every_ticks: 10,
        journal_keep_ms: 15_000,
        ..StoreOptions::default()
    };
    let chain = {
        let mut opened = Store::open(&path, Config::default(), 3, options.clone()).unwrap();
        // One snapshot is written at a time, and a due one waits while another is written:
        // settle each before the next is due, so that they are at ticks 10, 20, 30 and 40
        // whatever the machine's speed.
        for ticks in [10, 10, 10, 10, 7] {
            run(&mut opened.store, &mut opened.matcher, ticks);
            opened.store.settle_snapshots().unwrap();
        }
        assert_eq!(opened.store.journal_len().unwrap(), 47);
        // Now is 47 s; keep 15 s: the base is the snapshot at tick 30 (30 s).
        let pruned = opened.store.prune(47_000).unwrap();
        assert_eq!(pruned, 30);
        assert_eq!(opened.store.journal_len().unwrap(), 17);
        let (base, _, _) = opened.store.base_snapshot().unwrap();
        assert_eq!(base, 30);
        opened.store.chain_hash()
    };
    let opened = Store::open(&path, Config::default(), 3, options).unwrap();
    assert_eq!(opened.recovery.last_tick, 47);
    assert_eq!(opened.recovery.chain_hash, chain);
}

#[test]
fn accounts_and_tokens_persist() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let account = Account {
        player: PlayerId(42),
        username: "ada".into(),
        password_hash: "$argon2id$v=19$...".into(),
        display_name: "Ada".into(),
        regions: vec!["eu-west".into()],
        created_at_ms: 5,
    };
    let token = RefreshToken {
        player: PlayerId(42),
        family: 9,
        expires_at_ms: 1_000,
        rotated: false,
    };
    {
        let opened = Store::open(&path, Config::default(), 1, options()).unwrap();
        opened.store.handle().create_account(&account).unwrap();
        let taken = opened.store.handle().create_account(&Account {
            player: PlayerId(43),
            ..account.clone()
        });
        assert!(matches!(taken, Err(StoreError::UsernameTaken(_))));
        opened
            .store
            .handle()
            .put_refresh_token(&[7; 32], &token)
            .unwrap();
    }
    let opened = Store::open(&path, Config::default(), 1, options()).unwrap();
    assert_eq!(
        opened.store.handle().account_by_username("ada").unwrap(),
        Some(account)
    );
    assert_eq!(opened.store.handle().account(PlayerId(43)).unwrap(), None);
    assert_eq!(
        opened.store.handle().refresh_token(&[7; 32]).unwrap(),
        Some(token)
    );
    assert_eq!(opened.store.handle().revoke_token_family(9, 0).unwrap(), 1);
    assert_eq!(opened.store.handle().refresh_token(&[7; 32]).unwrap(), None);
}

#[test]
fn a_second_process_cannot_open_a_store_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let _first = Store::open(&path, Config::default(), 1, options()).unwrap();
    let error = Store::open(&path, Config::default(), 1, options()).unwrap_err();
    assert!(matches!(error, StoreError::InUse { .. }), "{error:?}");
}

/// A file backend that fails every write with "no space left on device" once told to.
#[derive(Debug)]
struct FillableDisk {
    file: redb::backends::FileBackend,
    full: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FillableDisk {
    fn check(&self) -> Result<(), std::io::Error> {
        if self.full.load(std::sync::atomic::Ordering::SeqCst) {
            Err(std::io::Error::from_raw_os_error(28)) // ENOSPC
        } else {
            Ok(())
        }
    }
}

impl redb::StorageBackend for FillableDisk {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.file.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.file.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.check()?;
        self.file.set_len(len)
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.check()?;
        self.file.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.check()?;
        self.file.write(offset, data)
    }
}

#[test]
fn a_full_disk_fails_the_tick_says_why_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let full = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .unwrap();
    let disk = FillableDisk {
        file: redb::backends::FileBackend::new(file).unwrap(),
        full: std::sync::Arc::clone(&full),
    };
    let acknowledged = {
        let mut opened =
            Store::open_with_backend(&path, disk, Config::default(), 1, options()).unwrap();
        run(&mut opened.store, &mut opened.matcher, 12);
        let acknowledged = opened.store.chain_hash();
        full.store(true, std::sync::atomic::Ordering::SeqCst);
        let (store, matcher) = (&mut opened.store, &mut opened.matcher);
        let commands = vec![enqueue(1_000, 1_000)];
        matcher.submit(commands[0].clone()).unwrap();
        let report = matcher.tick(13_000).unwrap();
        let events: Vec<Event> = matcher.drain_events().collect();
        let error = store
            .commit_tick(
                TickInput {
                    tick: report.tick,
                    now_ms: 13_000,
                    commands: &commands,
                    events: &events,
                },
                matcher,
            )
            .unwrap_err();
        assert!(error.is_disk_full(), "{error:?}");
        let message = error.to_string();
        assert!(
            message.contains("disk is full") && message.contains("store.redb"),
            "{message}"
        );
        assert_eq!(store.last_tick(), 12);
        // The store takes no more work until it is reopened.
        assert!(store.admission().is_err());
        acknowledged
    };
    // Space again: reopening recovers exactly the acknowledged ticks.
    let opened = Store::open(&path, Config::default(), 1, options()).unwrap();
    assert_eq!(opened.recovery.last_tick, 12);
    assert_eq!(opened.recovery.chain_hash, acknowledged);
}

#[test]
fn avoid_lists_persist_sorted_and_an_empty_one_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    {
        let opened = Store::open(&path, Config::default(), 1, options()).unwrap();
        let handle = opened.store.handle();
        assert_eq!(handle.avoid_list(PlayerId(1)).unwrap(), Vec::new());
        handle
            .set_avoid_list(PlayerId(1), &[PlayerId(9), PlayerId(3), PlayerId(9)])
            .unwrap();
        handle.set_avoid_list(PlayerId(2), &[PlayerId(1)]).unwrap();
    }
    let opened = Store::open(&path, Config::default(), 1, options()).unwrap();
    let handle = opened.store.handle();
    assert_eq!(
        handle
            .avoid_lists(&[PlayerId(2), PlayerId(1), PlayerId(5)])
            .unwrap(),
        vec![
            vec![PlayerId(1)],
            vec![PlayerId(3), PlayerId(9)],
            Vec::new()
        ]
    );
    handle.set_avoid_list(PlayerId(1), &[]).unwrap();
    assert_eq!(handle.avoid_list(PlayerId(1)).unwrap(), Vec::new());
}

/// A role queue rated per role: the match row keeps each player's role, and ratings (with the
/// leaderboard and history) are kept under `MODE:ROLE`.
#[test]
fn role_matches_keep_roles_and_rate_under_mode_and_role() {
    use matchwright_ecs::{RoleChoice, TicketMember};
    let config = Config::from_toml_str(
        r#"
        [[queues]]
        name = "roles-2v2"
        mode = "arena"
        teams = 2
        team_size = 2
        max_party_size = 1
        roles = { composition = [{ role = "tank", count = 1 }, { role = "damage", count = 1 }], rating_per_role = true }
        "#,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opened = Store::open(dir.path().join("s.redb"), config, 1, options()).unwrap();
    let (mut store, mut matcher) = (opened.store, opened.matcher);
    let mut commands = Vec::new();
    for (n, role) in [(1, "tank"), (2, "tank"), (3, "damage"), (4, "damage")] {
        let rating = Rating::new(1500.0, 100.0);
        let mut member = TicketMember::new(PlayerId(n), rating, vec![30, 90, 200, 250]);
        member.roles = vec![RoleChoice {
            role: role.into(),
            rating: Some(rating),
        }];
        let mut ticket =
            EnqueueTicket::solo(TicketId(n), "roles-2v2", PlayerId(n), rating, Vec::new());
        ticket.members = vec![member];
        commands.push(Command::Enqueue(ticket));
    }
    let tick = |store: &mut Store, matcher: &mut Matcher, commands: Vec<Command>| {
        for command in &commands {
            matcher.submit(command.clone()).unwrap();
        }
        let now_ms = (store.last_tick() + 1) * 1_000;
        let report = matcher.tick(now_ms).unwrap();
        let events: Vec<Event> = matcher.drain_events().collect();
        store
            .commit_tick(
                TickInput {
                    tick: report.tick,
                    now_ms,
                    commands: &commands,
                    events: &events,
                },
                matcher,
            )
            .unwrap();
        events
    };
    let events = tick(&mut store, &mut matcher, commands);
    let match_id = events
        .iter()
        .find_map(|event| match event {
            Event::MatchFormed { summary } => Some(summary.match_id),
            _ => None,
        })
        .expect("the four players match");
    let row = store.handle().match_row(match_id).unwrap().unwrap();
    let mut roles = row.roles.clone();
    roles.sort();
    assert_eq!(
        roles,
        vec![
            (PlayerId(1), "tank".to_string()),
            (PlayerId(2), "tank".to_string()),
            (PlayerId(3), "damage".to_string()),
            (PlayerId(4), "damage".to_string()),
        ]
    );
    tick(
        &mut store,
        &mut matcher,
        vec![Command::SessionReady {
            match_id,
            server: "10.0.0.1:7777".into(),
        }],
    );
    tick(
        &mut store,
        &mut matcher,
        vec![Command::ReportResult {
            match_id,
            placements: vec![1, 2],
        }],
    );
    let handle = store.handle();
    assert!(handle.rating(PlayerId(1), "arena:tank").unwrap().is_some());
    assert!(
        handle
            .rating(PlayerId(3), "arena:damage")
            .unwrap()
            .is_some()
    );
    assert_eq!(handle.rating(PlayerId(1), "arena").unwrap(), None);
    let page = handle
        .leaderboard_page("default", "arena:tank", None, 10)
        .unwrap();
    assert_eq!(page.entries.len(), 2);
    assert_eq!(handle.history(PlayerId(4)).unwrap().len(), 1);
    assert_eq!(
        matchwright_storage::rating_key("arena", Some("tank")),
        "arena:tank"
    );
}

/// The snapshot files beside a store, sorted.
fn snapshot_files(path: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut dir = path.as_os_str().to_owned();
    dir.push(".snapshots");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn snapshots_are_taken_off_the_tick_and_old_files_retired() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let options = StoreOptions {
        snapshot_every_ticks: 5,
        journal_keep_ms: 20_000,
        ..StoreOptions::default()
    };
    let mut opened = Store::open(&path, Config::default(), 5, options.clone()).unwrap();
    assert!(opened.store.snapshots_in_background());
    // One snapshot is taken at a time (a due one waits while another is written): settle
    // each before the next is due, so that every one is taken.
    for _ in 0..12 {
        run(&mut opened.store, &mut opened.matcher, 5);
        opened.store.settle_snapshots().unwrap();
    }
    run(&mut opened.store, &mut opened.matcher, 1);
    // Snapshots every 5 s, one kept per 10 s (half the 20 s kept), plus the first (inline, at
    // tick 0) and the newest (tick 60).
    let files = snapshot_files(&path);
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [10, 20, 30, 40, 50, 60].map(|tick| format!("snapshot-{tick:020}.bin")),
        "kept files"
    );
    assert_eq!(opened.store.snapshot_count().unwrap(), 7);
    // Pruning at 61 s keeps the base at or before 41 s (tick 40) and the files after it.
    opened.store.prune(61_000).unwrap();
    // Files are deleted off the tick thread; settling waits for that too.
    opened.store.settle_snapshots().unwrap();
    assert_eq!(snapshot_files(&path).len(), 3);
    let (base, _, _) = opened.store.base_snapshot().unwrap();
    assert_eq!(base, 40);
    let chain = opened.store.chain_hash();
    drop(opened);
    let opened = Store::open(&path, Config::default(), 5, options).unwrap();
    assert_eq!(opened.recovery.snapshot_tick, 60);
    assert_eq!(opened.recovery.replayed_ticks, 1);
    assert_eq!(opened.recovery.chain_hash, chain);
}

#[test]
fn a_damaged_snapshot_file_is_named_as_damage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    {
        let mut opened = Store::open(&path, Config::default(), 1, options()).unwrap();
        run(&mut opened.store, &mut opened.matcher, 23);
        opened.store.settle_snapshots().unwrap();
    }
    let newest = snapshot_files(&path).pop().expect("a snapshot file");
    let mut bytes = std::fs::read(&newest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&newest, &bytes).unwrap();
    let error = Store::open(&path, Config::default(), 1, options()).unwrap_err();
    let message = error.to_string();
    let name = newest.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        message.contains(&name) && message.contains("its row says"),
        "{message}"
    );
    // A missing one too.
    std::fs::remove_file(&newest).unwrap();
    let error = Store::open(&path, Config::default(), 1, options()).unwrap_err();
    assert!(error.to_string().contains("cannot be read"), "{error}");
}

#[test]
fn without_background_snapshots_the_tick_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let options = StoreOptions {
        snapshot_every_ticks: 10,
        background_snapshots: false,
        ..StoreOptions::default()
    };
    let mut opened = Store::open(&path, Config::default(), 1, options.clone()).unwrap();
    assert!(!opened.store.snapshots_in_background());
    run(&mut opened.store, &mut opened.matcher, 23);
    assert!(snapshot_files(&path).is_empty());
    assert_eq!(opened.store.snapshot_count().unwrap(), 3);
    drop(opened);
    let opened = Store::open(&path, Config::default(), 1, options).unwrap();
    assert_eq!(opened.recovery.snapshot_tick, 20);
}

fn account(player: u64, username: &str) -> Account {
    Account {
        player: PlayerId(player),
        username: username.into(),
        password_hash: "$argon2id$test".into(),
        display_name: username.into(),
        regions: Vec::new(),
        created_at_ms: 1,
    }
}

#[test]
fn with_group_commit_handlers_write_in_the_next_tick() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let mut opened = Store::open(&path, Config::default(), 1, options()).unwrap();
    opened.store.enable_group_commit();
    let handle = opened.store.handle();
    // Three handlers: two create accounts (one refused: the username is taken by the first),
    // one stores a token. None returns before a tick has committed.
    let writers: Vec<_> = [(1, "ada"), (2, "ada"), (3, "bob")]
        .into_iter()
        .map(|(player, name)| {
            let handle = handle.clone();
            std::thread::spawn(move || {
                let written = handle.create_account(&account(player, name));
                (player, written, handle.account(PlayerId(player)).unwrap())
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        writers.iter().all(|writer| !writer.is_finished()),
        "a write returned before a tick"
    );
    assert_eq!(opened.store.last_tick(), 0);
    run(&mut opened.store, &mut opened.matcher, 1);
    let mut results: Vec<_> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    results.sort_by_key(|(player, ..)| *player);
    let taken = results
        .iter()
        .filter(|(_, written, _)| matches!(written, Err(StoreError::UsernameTaken(_))))
        .count();
    assert_eq!(taken, 1, "{results:?}");
    // Whichever of 1 and 2 won "ada", the other wrote nothing; "bob" is there.
    for (player, written, found) in &results {
        assert_eq!(written.is_ok(), found.is_some(), "player {player}");
    }
    assert!(results[2].2.is_some());
    // Dropping the store answers a write still waiting, saying why, and writes nothing.
    let waiting = {
        let handle = handle.clone();
        std::thread::spawn(move || handle.create_account(&account(9, "late")))
    };
    std::thread::sleep(std::time::Duration::from_millis(100));
    drop(opened);
    let error = waiting.join().unwrap().unwrap_err();
    assert!(error.to_string().contains("the store closed"), "{error}");
    assert!(handle.account(PlayerId(9)).unwrap().is_none());
    // Without a tick loop, a handle writes on its own again.
    handle.create_account(&account(10, "solo")).unwrap();
    assert!(handle.account(PlayerId(10)).unwrap().is_some());
}
