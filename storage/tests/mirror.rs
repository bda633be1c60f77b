//! The Postgres mirror against the real Postgres (`DATABASE_URL`): the outbox drains into it;
//! a connection cut mid-stream by a chaos proxy loses nothing; afterwards every mirrored row
//! equals what redb holds. Each test has its own schema.

#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{ChaosProxy, database_url, unique_schema, upstream_of, url_via};
use matchwright_ecs::{
    Command, Config, EnqueueTicket, Event, MatchId, Matcher, PlayerId, Rating, TicketId,
};
use matchwright_storage::mirror::{self, Mirror, MirrorError, MirrorOptions};
use matchwright_storage::{Account, MatchState, Store, StoreOptions, TickInput};
use sqlx::Row;
use tokio::sync::watch;

/// The shared run of duels among 400 players (`common::duels`).
fn run_ticks(store: &mut Store, matcher: &mut Matcher, ticks: u64, formed: &mut Vec<MatchId>) {
    common::duels::run_ticks(store, matcher, ticks, formed, 400);
}

async fn wait_until_drained(store: &Store, within: Duration) {
    let started = Instant::now();
    while store.outbox_rows() > 0 {
        assert!(
            started.elapsed() < within,
            "the outbox did not drain: {} rows left",
            store.outbox_rows()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mirror_survives_a_cut_connection_and_ends_equal_to_redb() {
    let Some(url) = database_url("the_mirror_survives_a_cut_connection_and_ends_equal_to_redb")
    else {
        return;
    };
    let proxy = ChaosProxy::start(upstream_of(&url)).await;
    let schema = unique_schema("mirror_chaos");
    let mut options = MirrorOptions::new(url_via(&url, proxy.addr));
    options.schema = Some(schema.clone());
    options.batch_rows = 200;
    options.max_backoff = Duration::from_millis(200);
    let mirror = Mirror::connect(&options).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (mut store, mut matcher) = common::duels::mirrored_store(dir.path());
    for player in 0..50 {
        store.handle().create_account(&account(player)).unwrap();
    }
    let (stop, stopped) = watch::channel(false);
    let drain = tokio::spawn(mirror::drain(
        store.outbox_reader(),
        mirror.clone(),
        options.clone(),
        stopped,
    ));

    let mut formed = Vec::new();
    run_ticks(&mut store, &mut matcher, 150, &mut formed);
    // Cut mid-stream, keep committing (the outbox grows), then restore.
    proxy.cut();
    run_ticks(&mut store, &mut matcher, 150, &mut formed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let backlog = store.outbox_rows();
    assert!(backlog > 0, "nothing waited while Postgres was cut off");
    run_ticks(&mut store, &mut matcher, 50, &mut formed);
    proxy.restore();
    run_ticks(&mut store, &mut matcher, 50, &mut formed);
    wait_until_drained(&store, Duration::from_secs(30)).await;
    stop.send(true).unwrap();
    let stats = drain.await.unwrap();
    assert!(stats.retries > 0, "the cut was never felt: {stats:?}");

    // Postgres now equals redb. Read it directly, not through the proxy.
    let mut direct = MirrorOptions::new(url.clone());
    direct.schema = Some(schema.clone());
    let pool = Mirror::connect(&direct).await.unwrap();
    let pool = pool.pool();

    let ratings = store.handle().ratings().unwrap();
    assert!(
        ratings.len() > 100,
        "too few ratings to compare: {}",
        ratings.len()
    );
    let rows = sqlx::query(
        "SELECT player_id, mode, mu, sigma, games FROM ratings WHERE season = 'default'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mirrored: BTreeMap<(i64, String), (f64, f64, i64)> = rows
        .iter()
        .map(|row| {
            (
                (row.get(0), row.get(1)),
                (row.get(2), row.get(3), row.get(4)),
            )
        })
        .collect();
    assert_eq!(mirrored.len(), ratings.len());
    for (player, mode, record) in &ratings {
        let found = mirrored[&(player.0 as i64, mode.clone())];
        assert_eq!(
            found,
            (record.rating.mu, record.rating.sigma, record.games as i64),
            "{player} {mode}"
        );
    }

    let matches = store.handle().match_rows().unwrap();
    let sessions = sqlx::query("SELECT match_id, state, server_address FROM sessions")
        .fetch_all(pool)
        .await
        .unwrap();
    let sessions: BTreeMap<i64, (String, Option<String>)> = sessions
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    assert_eq!(sessions.len(), matches.len());
    for row in &matches {
        let (state, server) = &sessions[&(row.match_id.0 as i64)];
        assert_eq!(state, row.state.as_str());
        assert_eq!(server, &row.server, "{}", row.match_id);
    }
    assert!(matches.iter().any(|row| row.server.is_some()));
    assert!(matches.iter().any(|row| row.state == MatchState::Ended));
    let players: i64 = sqlx::query_scalar("SELECT count(*) FROM match_players")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(
        players as usize,
        matches.iter().map(|m| m.players.len()).sum::<usize>()
    );
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM players")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(accounts, 50);
    let history: i64 = sqlx::query_scalar("SELECT count(*) FROM match_history")
        .fetch_one(pool)
        .await
        .unwrap();
    let rated: u64 = ratings.iter().map(|(_, _, r)| r.games).sum();
    assert_eq!(history as u64, rated);

    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA \"{schema}\" CASCADE"
    )))
    .execute(pool)
    .await
    .unwrap();
}

/// A role queue's match: each player's role reaches `match_players.role`; a match without
/// roles leaves it NULL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_players_carry_their_roles() {
    use matchwright_ecs::{RoleChoice, TicketMember};
    let Some(url) = database_url("match_players_carry_their_roles") else {
        return;
    };
    let schema = unique_schema("mirror_roles");
    let mut options = MirrorOptions::new(url);
    options.schema = Some(schema.clone());
    let mirror = Mirror::connect(&options).await.unwrap();
    let config = Config::from_toml_str(
        r#"
        [[queues]]
        name = "duel-1v1"
        mode = "duel"
        team_size = 1
        max_party_size = 1
        [[queues]]
        name = "roles-2v2"
        mode = "arena"
        team_size = 2
        max_party_size = 1
        roles = { composition = [{ role = "tank", count = 1 }, { role = "damage", count = 1 }] }
        "#,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store_options = StoreOptions {
        mirror: true,
        ..StoreOptions::default()
    };
    let opened = Store::open(dir.path().join("s.redb"), config, 5, store_options).unwrap();
    let (mut store, mut matcher) = (opened.store, opened.matcher);
    let mut commands = Vec::new();
    for (n, role) in [(1, "tank"), (2, "damage"), (3, "tank"), (4, "damage")] {
        let rating = Rating::new(1500.0, 100.0);
        let mut member = TicketMember::new(PlayerId(n), rating, vec![30, 90, 200, 250]);
        member.roles = vec![RoleChoice {
            role: role.into(),
            rating: None,
        }];
        let mut ticket =
            EnqueueTicket::solo(TicketId(n), "roles-2v2", PlayerId(n), rating, Vec::new());
        ticket.members = vec![member];
        commands.push(Command::Enqueue(ticket));
    }
    for n in [5, 6] {
        commands.push(Command::Enqueue(EnqueueTicket::solo(
            TicketId(n),
            "duel-1v1",
            PlayerId(n),
            Rating::new(1500.0, 100.0),
            vec![30, 90, 200, 250],
        )));
    }
    for command in &commands {
        matcher.submit(command.clone()).unwrap();
    }
    let report = matcher.tick(1_000).unwrap();
    let events: Vec<Event> = matcher.drain_events().collect();
    store
        .commit_tick(
            TickInput {
                tick: report.tick,
                now_ms: 1_000,
                commands: &commands,
                events: &events,
            },
            &matcher,
        )
        .unwrap();
    let (stop, stopped) = watch::channel(false);
    let drain = tokio::spawn(mirror::drain(
        store.outbox_reader(),
        mirror.clone(),
        options.clone(),
        stopped,
    ));
    wait_until_drained(&store, Duration::from_secs(30)).await;
    stop.send(true).unwrap();
    drain.await.unwrap();
    let rows = sqlx::query("SELECT player_id, role FROM match_players ORDER BY player_id")
        .fetch_all(mirror.pool())
        .await
        .unwrap();
    let roles: Vec<(i64, Option<String>)> =
        rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    assert_eq!(
        roles,
        vec![
            (1, Some("tank".into())),
            (2, Some("damage".into())),
            (3, Some("tank".into())),
            (4, Some("damage".into())),
            (5, None),
            (6, None),
        ]
    );
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA \"{schema}\" CASCADE"
    )))
    .execute(mirror.pool())
    .await
    .unwrap();
}

#[tokio::test]
async fn an_unreachable_postgres_is_a_clear_error() {
    // A port nobody listens on refuses at once: the error says so without waiting out the
    // connect timeout.
    let mut options = MirrorOptions::new("postgres://postgres@127.0.0.1:1/test");
    options.connect_timeout = Duration::from_secs(30);
    let started = Instant::now();
    let error = Mirror::connect(&options).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "waited out the timeout for a refused port"
    );
    assert!(
        matches!(error, MirrorError::Unreachable { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("127.0.0.1:1") && message.to_lowercase().contains("refused"),
        "{message}"
    );
}

#[tokio::test]
async fn wrong_credentials_are_a_clear_error() {
    let Some(url) = database_url("wrong_credentials_are_a_clear_error") else {
        return;
    };
    let upstream = upstream_of(&url);
    let options = MirrorOptions::new(format!("postgres://no_such_role_here@{upstream}/test"));
    let error = Mirror::connect(&options).await.unwrap_err();
    assert!(matches!(error, MirrorError::Refused { .. }), "{error:?}");
    assert!(error.to_string().contains("no_such_role_here"), "{error}");
}

#[tokio::test]
async fn a_bad_url_is_a_clear_error() {
    let error = Mirror::connect(&MirrorOptions::new("postgres://[::1"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("not valid"), "{error}");
}

const TABLES: [&str; 6] = [
    "players",
    "ratings",
    "matches",
    "match_players",
    "sessions",
    "match_history",
];

async fn marks(pool: &sqlx::PgPool) -> Vec<(i16, i64)> {
    sqlx::query_as("SELECT id, high_water FROM mirror_state ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Player `player`'s account, the same in every test.
fn account(player: u64) -> Account {
    Account {
        player: PlayerId(player),
        username: format!("player{player}"),
        password_hash: "x".into(),
        display_name: format!("Player {player}"),
        regions: vec![],
        created_at_ms: player,
    }
}

/// A store with 50 accounts and `ticks` ticks of duels (formed, served, rated): the same
/// rows in the same order every time.
fn filled_store(dir: &std::path::Path, ticks: u64) -> Store {
    let (mut store, mut matcher) = common::duels::mirrored_store(dir);
    let accounts: Vec<Account> = (0..50).map(account).collect();
    store.handle().import_accounts(&accounts).unwrap();
    let mut formed = Vec::new();
    run_ticks(&mut store, &mut matcher, ticks, &mut formed);
    store
}

async fn mirror_in(url: &str, schema: &str, batch_rows: usize, partitions: usize) -> MirrorOptions {
    let mut options = MirrorOptions::new(url);
    options.schema = Some(schema.to_string());
    options.batch_rows = batch_rows;
    options.partitions = partitions;
    options
}

/// Drains the whole outbox (the task is told to stop from the start: it stops once empty).
async fn drain_all(store: &Store, mirror: &Mirror, options: &MirrorOptions) -> mirror::DrainStats {
    let (_stop, stopped) = watch::channel(true);
    let stats = mirror::drain(
        store.outbox_reader(),
        mirror.clone(),
        options.clone(),
        stopped,
    )
    .await;
    assert_eq!(
        store.outbox_rows(),
        0,
        "the outbox was not drained: {stats:?}"
    );
    stats
}

/// The tables a clean drain of `filled_store(ticks)` leaves (two partitions), to compare with.
async fn clean_mirror(url: &str, ticks: u64, batch_rows: usize) -> Vec<Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let store = filled_store(dir.path(), ticks);
    let schema = unique_schema("mirror_clean");
    let options = mirror_in(url, &schema, batch_rows, 2).await;
    let mirror = Mirror::connect(&options).await.unwrap();
    drain_all(&store, &mirror, &options).await;
    let tables = common::dump(mirror.pool(), &TABLES).await;
    drop_schema(&mirror, &schema).await;
    tables
}

async fn drop_schema(mirror: &Mirror, schema: &str) {
    mirror.drop_schema(schema).await.unwrap();
}

/// Batches of one row, of a few rows (a match's rows spread over several batches, each
/// partition's share often empty) and of everything, over 1 to 5 partitions: the same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_boundaries_and_partitions_give_the_same_mirror() {
    let Some(url) = database_url("batch_boundaries_and_partitions_give_the_same_mirror") else {
        return;
    };
    let mut reference: Option<Vec<Vec<String>>> = None;
    for (batch_rows, partitions) in [(10_000, 1), (1, 3), (7, 2), (64, 5)] {
        let dir = tempfile::tempdir().unwrap();
        let store = filled_store(dir.path(), 60);
        let queued = store.outbox_rows();
        let last = queued as i64 - 1; // the outbox numbers its rows from 0
        let schema = unique_schema("mirror_batches");
        let options = mirror_in(&url, &schema, batch_rows, partitions).await;
        let mirror = Mirror::connect(&options).await.unwrap();
        let stats = drain_all(&store, &mirror, &options).await;
        assert_eq!(stats.rows, queued, "{batch_rows} rows x {partitions}");
        assert_eq!(stats.retries, 0);
        let expected: Vec<(i16, i64)> = (1..=partitions as i16).map(|id| (id, last)).collect();
        assert_eq!(marks(mirror.pool()).await, expected);
        let tables = common::dump(mirror.pool(), &TABLES).await;
        assert_eq!(tables[4].len(), store.handle().match_rows().unwrap().len());
        assert!(
            tables.iter().all(|rows| !rows.is_empty()),
            "a table is empty"
        );
        match &reference {
            None => reference = Some(tables),
            Some(reference) => {
                for (table, (got, want)) in TABLES.iter().zip(tables.iter().zip(reference)) {
                    assert_eq!(got, want, "{table}: {batch_rows} rows x {partitions}");
                }
            }
        }
        drop_schema(&mirror, &schema).await;
    }
}

/// The same batch applied twice, or sent again in order from any earlier row (a retry after
/// a failure), leaves the same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_sent_again_gives_the_same_rows() {
    let Some(url) = database_url("a_batch_sent_again_gives_the_same_rows") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = filled_store(dir.path(), 40);
    let batch = store.outbox_reader().read_batch(None, usize::MAX).unwrap();
    assert!(batch.len() > 100, "too few rows: {}", batch.len());
    let schema = unique_schema("mirror_again");
    let options = mirror_in(&url, &schema, 10_000, 2).await;
    let mirror = Mirror::connect(&options).await.unwrap();
    mirror.apply(&batch).await.unwrap();
    let once = common::dump(mirror.pool(), &TABLES).await;
    mirror.apply(&batch).await.unwrap();
    assert_eq!(
        common::dump(mirror.pool(), &TABLES).await,
        once,
        "applied twice"
    );
    for start in [1, batch.len() / 3, batch.len() - 1] {
        mirror.apply(&batch[start..]).await.unwrap();
        assert_eq!(
            common::dump(mirror.pool(), &TABLES).await,
            once,
            "sent again from row {start}"
        );
    }
    let last = batch.last().unwrap().0;
    assert_eq!(mirror.high_water().await.unwrap(), Some(last));
    drop_schema(&mirror, &schema).await;
}

/// One partition's mark behind the others (its transaction failed while theirs committed),
/// and the drain restarted with the same or another number of partitions: it ends with the
/// same rows as a clean drain, and one mark per partition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uneven_marks_and_a_new_partition_count_resume_exactly() {
    let Some(url) = database_url("uneven_marks_and_a_new_partition_count_resume_exactly") else {
        return;
    };
    let reference = clean_mirror(&url, 40, 50).await;

    for resume_with in [3, 2] {
        let dir = tempfile::tempdir().unwrap();
        let store = filled_store(dir.path(), 40);
        let rows = store.outbox_reader().read_batch(None, usize::MAX).unwrap();
        let (half, behind) = (rows.len() / 2, rows[rows.len() / 6].0);
        let schema = unique_schema("mirror_uneven");
        let first = Mirror::connect(&mirror_in(&url, &schema, 50, 3).await)
            .await
            .unwrap();
        first.apply(&rows[..half]).await.unwrap();
        sqlx::query("UPDATE mirror_state SET high_water = $1 WHERE id = 2")
            .bind(behind as i64)
            .execute(first.pool())
            .await
            .unwrap();
        assert_eq!(first.high_water().await.unwrap(), Some(behind));

        let options = mirror_in(&url, &schema, 50, resume_with).await;
        let mirror = Mirror::connect(&options).await.unwrap();
        let lowest = vec![Some(behind); resume_with];
        if resume_with != 3 {
            assert_eq!(
                mirror.marks().await.unwrap(),
                lowest,
                "every partition from the lowest"
            );
        }
        drain_all(&store, &mirror, &options).await;
        assert_eq!(
            common::dump(mirror.pool(), &TABLES).await,
            reference,
            "resumed with {resume_with}"
        );
        let last = rows.last().unwrap().0 as i64;
        let expected: Vec<(i16, i64)> = (1..=resume_with as i16).map(|id| (id, last)).collect();
        assert_eq!(marks(mirror.pool()).await, expected);
        drop_schema(&mirror, &schema).await;
    }
}

/// Rows Postgres holds that the mirror did not expect (written by hand for a match the mirror
/// has not sent yet): the plain inserts of new matches collide, the batch is written again
/// with upserts, and the mirror ends as a clean one would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_written_by_hand_do_not_stop_the_mirror() {
    let Some(url) = database_url("rows_written_by_hand_do_not_stop_the_mirror") else {
        return;
    };
    let reference = clean_mirror(&url, 30, 10_000).await;

    let dir = tempfile::tempdir().unwrap();
    let store = filled_store(dir.path(), 30);
    let first = store.handle().match_rows().unwrap()[0].clone();
    let schema = unique_schema("mirror_by_hand");
    let options = mirror_in(&url, &schema, 10_000, 2).await;
    let mirror = Mirror::connect(&options).await.unwrap();
    sqlx::query("INSERT INTO match_players VALUES ($1, $2, 9, 'by hand')")
        .bind(first.match_id.0 as i64)
        .bind(first.players[0].0.0 as i64)
        .execute(mirror.pool())
        .await
        .unwrap();
    sqlx::query("INSERT INTO sessions VALUES ($1, 'by hand', 0, NULL, NULL)")
        .bind(first.match_id.0 as i64)
        .execute(mirror.pool())
        .await
        .unwrap();
    let stats = drain_all(&store, &mirror, &options).await;
    assert_eq!(stats.retries, 0, "{stats:?}");
    assert_eq!(common::dump(mirror.pool(), &TABLES).await, reference);
    drop_schema(&mirror, &schema).await;
}
