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

/// One tick: two new players queue for a duel (they match at once); matches formed earlier
/// get their server and a result (ratings change).
fn tick_commands(tick: u64, formed: &mut Vec<MatchId>) -> Vec<Command> {
    let mut commands = Vec::new();
    for player in [tick * 2, tick * 2 + 1] {
        commands.push(Command::Enqueue(EnqueueTicket::solo(
            TicketId(player),
            "duel-1v1",
            PlayerId(player % 400),
            Rating::new(1500.0 + (player % 7) as f64 * 10.0, 100.0),
            vec![30, 90, 200, 250],
        )));
    }
    for match_id in formed.drain(..) {
        commands.push(Command::SessionReady {
            match_id,
            server: format!("10.1.0.{}:7777", match_id.0 % 200),
        });
        commands.push(Command::ReportResult {
            match_id,
            placements: vec![1, 2],
        });
    }
    commands
}

fn run_ticks(store: &mut Store, matcher: &mut Matcher, ticks: u64, formed: &mut Vec<MatchId>) {
    for _ in 0..ticks {
        let tick = store.last_tick() + 1;
        let commands = tick_commands(tick, formed);
        for command in &commands {
            matcher.submit(command.clone()).unwrap();
        }
        let now_ms = tick * 100;
        let report = matcher.tick(now_ms).unwrap();
        let events: Vec<Event> = matcher.drain_events().collect();
        for event in &events {
            if let Event::MatchFormed { summary } = event {
                formed.push(summary.match_id);
            }
        }
        let input = TickInput {
            tick: report.tick,
            now_ms,
            commands: &commands,
            events: &events,
        };
        store.commit_tick(input, matcher).unwrap();
    }
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
    let store_options = StoreOptions {
        mirror: true,
        ..StoreOptions::default()
    };
    let opened = Store::open(
        dir.path().join("s.redb"),
        Config::default(),
        5,
        store_options,
    )
    .unwrap();
    let (mut store, mut matcher) = (opened.store, opened.matcher);
    for player in 0..50 {
        store
            .handle()
            .create_account(&Account {
                player: PlayerId(player),
                username: format!("player{player}"),
                password_hash: "x".into(),
                display_name: format!("Player {player}"),
                regions: vec![],
                created_at_ms: player,
            })
            .unwrap();
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
