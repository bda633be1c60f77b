//! The shared record (a cluster's Postgres) against the real Postgres (`DATABASE_URL`), each
//! test in its own schema: events recorded from a run equal what `serve`'s store and mirror
//! hold for the same run (ratings, history, matches, sessions, leaderboards), each part lands
//! once however often and by however many recorders it is sent, and accounts, refresh tokens
//! and avoid lists, bans and the audit log follow the store's rules.

#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

mod common;

use common::duels::{TickEvents, run_ticks};
use common::{database_url, unique_schema};
use matchwright_ecs::{Event, MatchId, PlayerId};
use matchwright_storage::leaderboard::LeaderboardCursor;
use matchwright_storage::mirror::{self, Mirror, MirrorOptions};
use matchwright_storage::shared::{EventsPart, Recorded, SharedRecord};
use matchwright_storage::{
    Account, AuditRecord, BanRecord, RatingRecord, RefreshToken, Rotation, StoreError, StoreHandle,
};
use tokio::sync::watch;

/// The tables the record shares with the mirror (not `players`: accounts are their own).
const TABLES: [&str; 5] = [
    "ratings",
    "matches",
    "match_players",
    "sessions",
    "match_history",
];

fn account(player: u64) -> Account {
    Account {
        player: PlayerId(player),
        username: format!("player{player}"),
        password_hash: "x".into(),
        display_name: format!("Player <b>{player}</b>"),
        regions: vec!["eu".into()],
        created_at_ms: player,
    }
}

fn options_in(url: &str, schema: &str) -> MirrorOptions {
    let mut options = MirrorOptions::new(url);
    options.schema = Some(schema.to_string());
    options
}

/// Records `part`, asking again while another recorder holds the mark.
async fn record_settled(record: &SharedRecord, part: EventsPart<'_>) -> Recorded {
    loop {
        match record.record_events(part).await.unwrap() {
            Recorded::Contended => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
            settled => return settled,
        }
    }
}

/// Records every tick, each split in two parts where it has events to split (`per_event`: a
/// part per event, so a match's rating and its session's end land in different parts), each
/// part sent by two recorders at once and once more afterwards: only the first lands.
/// Returns how many parts were written and the last one that changed rows.
async fn record_all(
    record: &SharedRecord,
    ticks: &[TickEvents],
    per_event: bool,
) -> (usize, Option<(u64, u32, bool)>) {
    let (mut written, mut last) = (0, None);
    for tick in ticks {
        let half = tick.events.len() / 2;
        let parts: Vec<&[Event]> = if per_event && half > 0 {
            tick.events.chunks(1).collect()
        } else if half > 0 {
            vec![&tick.events[..half], &tick.events[half..]]
        } else {
            vec![&tick.events[..]]
        };
        for (index, events) in parts.iter().enumerate() {
            let part = EventsPart {
                partition: "p1",
                tick: tick.tick,
                part: index as u32,
                last: index + 1 == parts.len(),
                now_ms: tick.now_ms,
                events,
            };
            let (a, b) = tokio::join!(record_settled(record, part), record_settled(record, part));
            let mut outcomes = [a, b];
            outcomes.sort_by_key(|o| format!("{o:?}"));
            let again = record_settled(record, part).await;
            if outcomes == [Recorded::Nothing, Recorded::Nothing] {
                assert_eq!(again, Recorded::Nothing);
                continue;
            }
            assert_eq!(
                outcomes,
                [Recorded::AlreadyThere, Recorded::Written],
                "tick {} part {index}",
                tick.tick
            );
            assert_eq!(again, Recorded::AlreadyThere);
            written += 1;
            last = Some((part.tick, part.part, part.last));
        }
    }
    (written, last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_events_equal_the_mirror_and_the_store_of_the_same_run() {
    let Some(url) = database_url("recorded_events_equal_the_mirror_and_the_store_of_the_same_run")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut store, mut matcher) = common::duels::mirrored_store(dir.path());
    let accounts: Vec<Account> = (0..60).map(account).collect();
    store.handle().import_accounts(&accounts).unwrap();
    let ticks = run_ticks(&mut store, &mut matcher, 120, &mut Vec::new(), 60);

    // The mirror of the run, as `serve` would feed it.
    let mirror_schema = unique_schema("shared_mirror");
    let mirror_options = options_in(&url, &mirror_schema);
    let mirrored = Mirror::connect(&mirror_options).await.unwrap();
    let (_stop, stopped) = watch::channel(true);
    mirror::drain(
        store.outbox_reader(),
        mirrored.clone(),
        mirror_options.clone(),
        stopped,
    )
    .await;

    // The shared record of the same events.
    let schema = unique_schema("shared_record");
    let record = SharedRecord::connect(&options_in(&url, &schema), "default")
        .await
        .unwrap();
    for account in &accounts {
        record.create_account(account).await.unwrap();
    }
    assert_eq!(record.recorded_through("p1").await.unwrap(), None);
    let (written, last) = record_all(&record, &ticks, false).await;
    assert!(written > 100, "{written} parts changed rows");
    assert_eq!(record.recorded_through("p1").await.unwrap(), last);
    let recorded = common::dump(record.pool(), &TABLES).await;
    assert!(
        recorded[0].len() > 10 && recorded[4].len() > 50,
        "{recorded:?}"
    );
    assert_eq!(recorded, common::dump(mirrored.pool(), &TABLES).await);

    compare_reads(&store.handle(), &record).await;

    // A part per event: the same rows (history placements filled in by the session's end).
    let split_schema = unique_schema("shared_split");
    let split = SharedRecord::connect(&options_in(&url, &split_schema), "default")
        .await
        .unwrap();
    record_all(&split, &ticks, true).await;
    assert_eq!(
        common::dump(split.pool(), &TABLES).await,
        common::dump(mirrored.pool(), &TABLES).await
    );
    for schema in [&mirror_schema, &schema, &split_schema] {
        mirrored.drop_schema(schema).await.unwrap();
    }
}

/// Every read the API makes answers alike from the store and the record.
async fn compare_reads(store: &StoreHandle, record: &SharedRecord) {
    for player in (0..60).map(PlayerId) {
        assert_eq!(
            store.ratings_of(player).unwrap(),
            record.ratings_of(player).await.unwrap()
        );
        assert_eq!(
            store.rating(player, "duel").unwrap(),
            record.rating(player, "duel").await.unwrap()
        );
        let mut cursors = (None, None);
        loop {
            let (rows, next) = store.history_page(player, cursors.0, 3).unwrap();
            let (shared, shared_next) = record.history_page(player, cursors.1, 3).await.unwrap();
            assert_eq!(rows.len(), shared.len());
            for (row, shared) in rows.iter().zip(&shared) {
                assert_eq!(format!("{row:?}"), format!("{shared:?}"));
            }
            assert_eq!(next, shared_next);
            if next.is_none() {
                break;
            }
            cursors = (next, shared_next);
        }
    }
    let mut after: Option<LeaderboardCursor> = None;
    let mut pages = 0;
    loop {
        let page = store.leaderboard_page("default", "duel", after, 7).unwrap();
        let shared = record
            .leaderboard_page("default", "duel", after, 7)
            .await
            .unwrap();
        assert_eq!(page, shared, "page {pages}");
        pages += 1;
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert!(pages > 3, "{pages} leaderboard pages");
    for id in 1..40 {
        let id = MatchId(id);
        let mut row = store.match_row(id).unwrap();
        if let Some(row) = row.as_mut() {
            row.players.sort_by_key(|(player, team)| (*team, *player));
        }
        assert_eq!(row, record.match_row(id).await.unwrap(), "match {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_tokens_and_avoid_lists_follow_the_stores_rules() {
    let Some(url) = database_url("accounts_tokens_and_avoid_lists_follow_the_stores_rules") else {
        return;
    };
    let schema = unique_schema("shared_accounts");
    let record = SharedRecord::connect(&options_in(&url, &schema), "s1")
        .await
        .unwrap();
    let ann = account(7);
    record.create_account(&ann).await.unwrap();
    let same_name = Account {
        player: PlayerId(8),
        ..ann.clone()
    };
    assert!(matches!(
        record.create_account(&same_name).await,
        Err(StoreError::UsernameTaken(name)) if name == "player7"
    ));
    let same_id = Account {
        username: "other".into(),
        ..ann.clone()
    };
    assert!(matches!(
        record.create_account(&same_id).await,
        Err(StoreError::PlayerTaken(PlayerId(7)))
    ));
    assert_eq!(
        record.account(PlayerId(7)).await.unwrap(),
        Some(ann.clone())
    );
    assert_eq!(
        record.account_by_username("player7").await.unwrap(),
        Some(ann.clone())
    );
    assert_eq!(record.account(PlayerId(9)).await.unwrap(), None);
    assert!(record.account_exists(PlayerId(7)).await.unwrap());
    assert!(
        record.account_exists(PlayerId(7)).await.unwrap(),
        "remembered"
    );
    assert!(!record.account_exists(PlayerId(9)).await.unwrap());
    let renamed = Account {
        display_name: "Ann".into(),
        regions: vec![],
        ..ann.clone()
    };
    record.update_account(&renamed).await.unwrap();
    assert_eq!(record.account(PlayerId(7)).await.unwrap(), Some(renamed));

    // Refresh tokens: rotated once, a reuse revokes the family, an expired one is refused.
    let family = u64::MAX - 5; // above i64::MAX: kept as its bit pattern
    let token = RefreshToken {
        player: PlayerId(7),
        family,
        expires_at_ms: 10_000,
        rotated: false,
    };
    record.put_refresh_token(&[1; 32], &token).await.unwrap();
    assert_eq!(
        record.refresh_token(&[1; 32]).await.unwrap(),
        Some(token.clone())
    );
    let rotated = record
        .rotate_refresh_token(&[1; 32], &[2; 32], 20_000, 5_000)
        .await
        .unwrap();
    assert_eq!(
        rotated,
        Rotation::Rotated {
            player: PlayerId(7),
            family
        }
    );
    let replayed = record
        .rotate_refresh_token(&[1; 32], &[3; 32], 20_000, 5_000)
        .await
        .unwrap();
    assert_eq!(
        replayed,
        Rotation::Reused {
            player: PlayerId(7),
            family
        }
    );
    assert_eq!(
        record.refresh_token(&[2; 32]).await.unwrap(),
        None,
        "family revoked"
    );
    record.put_refresh_token(&[4; 32], &token).await.unwrap();
    assert_eq!(
        record
            .rotate_refresh_token(&[4; 32], &[5; 32], 20_000, 10_000)
            .await
            .unwrap(),
        Rotation::Expired
    );
    assert_eq!(
        record
            .rotate_refresh_token(&[9; 32], &[5; 32], 20_000, 0)
            .await
            .unwrap(),
        Rotation::Unknown
    );
    record.put_refresh_token(&[6; 32], &token).await.unwrap();
    assert_eq!(record.revoke_token_family(family, 0).await.unwrap(), 1);

    // Avoid lists: sorted, without repeats; empty deletes.
    let avoid = [PlayerId(30), PlayerId(4), PlayerId(30)];
    record.set_avoid_list(PlayerId(7), &avoid).await.unwrap();
    assert_eq!(
        record
            .avoid_lists(&[PlayerId(9), PlayerId(7)])
            .await
            .unwrap(),
        vec![vec![], vec![PlayerId(4), PlayerId(30)]]
    );
    record.set_avoid_list(PlayerId(7), &[]).await.unwrap();
    assert_eq!(
        record.avoid_lists(&[PlayerId(7)]).await.unwrap(),
        vec![Vec::<PlayerId>::new()]
    );
    let mirror = Mirror::connect(&options_in(&url, &schema)).await.unwrap();
    mirror.drop_schema(&schema).await.unwrap();
}

/// Bans and the audit log follow the store's rules: one ban per player, replaced by a second
/// and lifted once; the audit log numbered, paged newest first; an operator's rating replaces
/// the one there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bans_and_the_audit_log_follow_the_stores_rules() {
    let Some(url) = database_url("bans_and_the_audit_log_follow_the_stores_rules") else {
        return;
    };
    let schema = unique_schema("shared_admin");
    let record = SharedRecord::connect(&options_in(&url, &schema), "s1")
        .await
        .unwrap();
    let player = PlayerId(7);
    assert_eq!(record.ban(player).await.unwrap(), None);
    let mut ban = BanRecord {
        player,
        reason: "cheating".into(),
        by: "operator-abc".into(),
        at_ms: 5,
    };
    record.put_ban(&ban).await.unwrap();
    ban.reason = "still cheating".into();
    record.put_ban(&ban).await.unwrap();
    assert_eq!(record.ban(player).await.unwrap(), Some(ban));
    assert!(record.remove_ban(player).await.unwrap());
    assert!(!record.remove_ban(player).await.unwrap());
    assert_eq!(record.ban(player).await.unwrap(), None);
    let mut numbers = Vec::new();
    for n in 1..=4 {
        let entry = AuditRecord {
            id: 0,
            at_ms: n,
            operator: "operator-abc".into(),
            action: "cancel_ticket".into(),
            target: format!("ticket {n}"),
            outcome: "done".into(),
            detail: String::new(),
        };
        numbers.push(record.append_audit(&entry).await.unwrap());
    }
    assert!(
        numbers.windows(2).all(|pair| pair[0] < pair[1]),
        "{numbers:?}"
    );
    let page = record.audit_page(None, 3).await.unwrap();
    let targets: Vec<&str> = page.iter().map(|e| e.target.as_str()).collect();
    assert_eq!(targets, ["ticket 4", "ticket 3", "ticket 2"]);
    let rest = record.audit_page(Some(page[2].id), 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].target, "ticket 1");
    assert_eq!(rest[0].id, numbers[0]);
    // An operator's rating: set, then replaced whole (games as given).
    let mut rating = RatingRecord {
        rating: matchwright_ecs::Rating::new(2100.0, 120.0),
        games: 12,
        updated_at_ms: 9,
    };
    record.put_rating(player, "duel", &rating).await.unwrap();
    assert_eq!(record.rating(player, "duel").await.unwrap(), Some(rating));
    rating.games = 0;
    rating.rating = matchwright_ecs::Rating::new(1500.0, 500.0);
    record.put_rating(player, "duel", &rating).await.unwrap();
    assert_eq!(record.rating(player, "duel").await.unwrap(), Some(rating));
}

/// A Postgres that is not there is a clear error, within the connect timeout.
#[tokio::test]
async fn an_unreachable_record_is_a_clear_error() {
    let mut options = MirrorOptions::new("postgres://postgres@127.0.0.1:1/none");
    options.connect_timeout = std::time::Duration::from_secs(2);
    let error = SharedRecord::connect(&options, "s").await.unwrap_err();
    assert!(error.to_string().contains("127.0.0.1:1"), "{error}");
}
