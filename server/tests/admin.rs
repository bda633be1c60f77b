//! The admin API end to end, on the real binary over real sockets: operator keys from the
//! environment with two roles (a read-only key reads but may not act, 403, and the attempt is
//! audited); no key or a wrong one is 401, a player's token 403; operators see the queues,
//! tickets and live matches, cancel a waiting player's ticket, end a running session, and ban
//! a player (refused at their next request, login and refresh; their ticket leaves the
//! queue) and lift the ban; every action lands in the audit log, newest first, paged; bans and
//! the audit log survive a restart.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod common;

use std::path::Path;

use common::{
    Client, NO_IP_LIMITS, SERVER_KEY, Server, Socket, assert_error, connect_events, wait_event,
    write_config_with,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ADMIN_KEY: &str = "admin-operator-key-0123456789abcdefghijklmn";
const READER_KEY: &str = "reader-operator-key-0123456789abcdefghijklm";

/// A duel whose matches wait for both players to accept.
const ACCEPT_DUEL: &str = "
[[queues]]
name = \"duel-accept\"
mode = \"duel\"
teams = 2
team_size = 1
max_party_size = 1
acceptance = { timeout_ms = 30000 }
";

fn start(dir: &Path) -> (Server, Client) {
    let config = write_config_with(dir, &format!("{NO_IP_LIMITS}{ACCEPT_DUEL}"));
    run(dir, &config)
}

/// The server on the config file `config` as it is.
fn run(dir: &Path, config: &Path) -> (Server, Client) {
    let server = Server::start_env(
        &dir.join("data"),
        config,
        &[],
        &[
            ("MATCHWRIGHT_OPERATOR_KEYS", Some(ADMIN_KEY)),
            ("MATCHWRIGHT_READ_ONLY_OPERATOR_KEYS", Some(READER_KEY)),
        ],
    );
    let client = server.client();
    (server, client)
}

async fn queue_duel(client: &Client, token: &str) {
    let (status, body) = client
        .call(
            Method::POST,
            "/v1/queue",
            Some(token),
            Some(json!({"queue": "duel-1v1", "pings": {"eu-west": 25}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn login(client: &Client, name: &str) -> (StatusCode, Value) {
    client
        .call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"username": name, "password": "a good long password"})),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_see_and_act_by_role_and_every_action_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path());
    client.wait_ready().await;
    let (waiting, waiting_token) = client.register("admin-waiting").await;

    who_may_call(&client, &waiting_token).await;
    cancel_a_waiting_ticket(&client, waiting, &waiting_token).await;
    end_a_running_session(&client).await;
    cancel_a_proposed_match(&client).await;
    ban_and_unban(&client, waiting, &waiting_token).await;
    check_the_audit_log(&client).await;
    set_and_reset_a_rating(&client).await;

    // Bans and the audit log are in the store: a restart keeps them.
    let ban = format!("/v1/admin/players/{waiting}/ban");
    let (status, body) = client
        .call(
            Method::POST,
            &ban,
            Some(ADMIN_KEY),
            Some(json!({"reason": "again"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    server.stop();
    let (_server, client) = start(dir.path());
    client.wait_ready().await;
    let answer = client
        .call(Method::GET, "/v1/profile/me", Some(&waiting_token), None)
        .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "banned");
    let (status, page) = client
        .call(Method::GET, "/v1/admin/audit", Some(READER_KEY), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["entries"][0]["action"], "ban_player", "{page}");
    assert_eq!(page["entries"][0]["detail"], "again", "{page}");
}

/// The player's duel rating, from their profile: (mu, sigma, games).
async fn duel_rating(client: &Client, token: &str) -> (f64, f64, u64) {
    let (status, profile) = client
        .call(Method::GET, "/v1/profile/me", Some(token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    let ratings = profile["ratings"].as_array().unwrap();
    let duel = ratings.iter().find(|r| r["mode"] == "duel").unwrap();
    let rating = &duel["rating"];
    (
        rating["mu"].as_f64().unwrap(),
        rating["sigma"].as_f64().unwrap(),
        duel["games"].as_u64().unwrap(),
    )
}

/// An operator sets a rating (refused for a read-only key, a key no queue rates by, a sigma
/// of 0, an unknown player, and while the player is queued), then resets it to the initial
/// rating; each attempt is audited.
async fn set_and_reset_a_rating(client: &Client) {
    let (player, token) = client.register("admin-rated").await;
    let path = format!("/v1/admin/players/{player}/ratings/duel");
    let good = Some(json!({"mu": 2100.5, "sigma": 120.0}));
    let answer = client
        .call(Method::PUT, &path, Some(READER_KEY), good.clone())
        .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "read_only_operator");
    let chess = format!("/v1/admin/players/{player}/ratings/chess");
    let answer = client
        .call(Method::PUT, &chess, Some(ADMIN_KEY), good.clone())
        .await;
    assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert_eq!(answer.1["field"], "key");
    let flat = Some(json!({"mu": 2100.5, "sigma": 0.0}));
    let answer = client.call(Method::PUT, &path, Some(ADMIN_KEY), flat).await;
    assert_eq!(answer.1["field"], "sigma", "{}", answer.1);
    let nobody = "/v1/admin/players/987654321/ratings/duel";
    let answer = client
        .call(Method::PUT, nobody, Some(ADMIN_KEY), good.clone())
        .await;
    assert_error(&answer, StatusCode::NOT_FOUND, "unknown_player");
    queue_duel(client, &token).await;
    let answer = client
        .call(Method::PUT, &path, Some(ADMIN_KEY), good.clone())
        .await;
    assert_error(&answer, StatusCode::CONFLICT, "player_busy");
    let (status, body) = client
        .call(Method::DELETE, "/v1/queue", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, done) = client.call(Method::PUT, &path, Some(ADMIN_KEY), good).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "rating_set");
    assert_eq!(duel_rating(client, &token).await, (2100.5, 120.0, 0));
    let (status, done) = client
        .call(Method::DELETE, &path, Some(ADMIN_KEY), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "rating_reset");
    assert_eq!(duel_rating(client, &token).await, (1500.0, 500.0, 0));
    let (_, page) = client
        .call(
            Method::GET,
            "/v1/admin/audit?limit=7",
            Some(READER_KEY),
            None,
        )
        .await;
    let outcomes: Vec<(&str, &str)> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("set_rating", "read_only_operator"),
        ("set_rating", "invalid_field"),
        ("set_rating", "invalid_field"),
        ("set_rating", "unknown_player"),
        ("set_rating", "player_busy"),
        ("set_rating", "done"),
        ("reset_rating", "done"),
    ];
    assert_eq!(outcomes, expected, "{page}");
}

/// No key 401, a wrong key 401, a player's token 403; registration is closed here.
async fn who_may_call(client: &Client, waiting_token: &str) {
    // Who may call: no key 401, a wrong key 401, a player's token 403.
    let path = "/v1/admin/queues";
    let answer = client.call(Method::GET, path, None, None).await;
    assert_error(&answer, StatusCode::UNAUTHORIZED, "missing_token");
    let wrong = "wrong-operator-key-0123456789abcdefghijklmn";
    let answer = client.call(Method::GET, path, Some(wrong), None).await;
    assert_error(&answer, StatusCode::UNAUTHORIZED, "invalid_token");
    let answer = client
        .call(Method::GET, path, Some(waiting_token), None)
        .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "not_operator");

    // No registration secret: the fleet is the config's, and registration is closed.
    let (status, fleet) = client
        .call(Method::GET, "/v1/admin/fleet", Some(READER_KEY), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{fleet}");
    assert_eq!(fleet["registration_open"], false, "{fleet}");
    let game_server = json!({"region": "eu-west", "address": "203.0.113.9:7777", "capacity": 1});
    let answer = client
        .call(
            Method::POST,
            "/v1/fleet/servers",
            Some(ADMIN_KEY),
            Some(game_server),
        )
        .await;
    assert_error(&answer, StatusCode::NOT_FOUND, "registration_closed");
}

/// A waiting ticket, as a read-only operator sees it; a read-only key may not cancel it, an
/// admin key does.
async fn cancel_a_waiting_ticket(client: &Client, waiting: u64, waiting_token: &str) {
    queue_duel(client, waiting_token).await;
    let duel = admin_queue(client, "duel-1v1").await;
    assert_eq!(duel["tickets"], 1, "{duel}");
    assert_eq!(duel["players"], 1, "{duel}");
    assert!(duel["waited_ms"]["max"].as_u64().is_some(), "{duel}");
    assert!(duel["windows"]["skill_mmr"].as_f64().unwrap() > 0.0);
    let (status, listed) = client
        .call(
            Method::GET,
            &format!("/v1/admin/tickets?queue=duel-1v1&player={waiting}"),
            Some(READER_KEY),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["total"], 1, "{listed}");
    let ticket = listed["tickets"][0]["id"].as_u64().unwrap();
    assert_eq!(listed["tickets"][0]["players"], json!([waiting]));
    for bad in ["/v1/admin/tickets?queue=nope", "/v1/admin/tickets?limit=0"] {
        let answer = client.call(Method::GET, bad, Some(READER_KEY), None).await;
        assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    }
    let one = format!("/v1/admin/tickets/{ticket}");
    let (status, body) = client.call(Method::GET, &one, Some(READER_KEY), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["queue"], "duel-1v1");
    let player = format!("/v1/admin/players/{waiting}");
    let (status, found) = client
        .call(Method::GET, &player, Some(READER_KEY), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["profile"]["player_id"], waiting, "{found}");
    assert_eq!(found["profile"]["username"], "admin-waiting", "{found}");
    assert_eq!(
        (found["status"].as_str(), found["ticket"].as_u64()),
        (Some("queued"), Some(ticket)),
        "{found}"
    );
    assert!(found["ban"].is_null(), "{found}");
    let answer = client
        .call(
            Method::GET,
            "/v1/admin/players/999999",
            Some(READER_KEY),
            None,
        )
        .await;
    assert_error(&answer, StatusCode::NOT_FOUND, "unknown_player");

    // A read-only key may not act; an admin key cancels the ticket.
    let cancel = format!("/v1/admin/tickets/{ticket}/cancel");
    let answer = client
        .call(Method::POST, &cancel, Some(READER_KEY), None)
        .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "read_only_operator");
    let (status, done) = client
        .call(Method::POST, &cancel, Some(ADMIN_KEY), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "cancelled");
    let (_, status_body) = client
        .call(Method::GET, "/v1/queue", Some(waiting_token), None)
        .await;
    assert_eq!(status_body["status"], "idle", "{status_body}");
    let (_, found) = client
        .call(Method::GET, &player, Some(READER_KEY), None)
        .await;
    assert_eq!(found["status"], "idle", "{found}");
    assert!(found["ticket"].is_null(), "{found}");
    let answer = client
        .call(Method::POST, &cancel, Some(ADMIN_KEY), None)
        .await;
    assert_error(&answer, StatusCode::NOT_FOUND, "unknown_ticket");
}

/// Two players in a duel session; an operator sees the match and ends it; they hear it end.
async fn end_a_running_session(client: &Client) {
    let mut players: Vec<(String, Socket)> = Vec::new();
    for name in ["admin-duel-a", "admin-duel-b"] {
        let (_, token) = client.register(name).await;
        let socket = connect_events(&client.base, &token).await;
        queue_duel(client, &token).await;
        players.push((token, socket));
    }
    let mut match_id = 0;
    for (_, socket) in &mut players {
        match_id = wait_event(socket, "session_ready").await["match_id"]
            .as_u64()
            .unwrap();
    }
    let (status, live) = client
        .call(Method::GET, "/v1/admin/matches", Some(READER_KEY), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{live}");
    assert_eq!(live["matches"][0]["id"], match_id, "{live}");
    let one = format!("/v1/admin/matches/{match_id}");
    let (status, found) = client.call(Method::GET, &one, Some(READER_KEY), None).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["stage"], "active", "{found}");
    assert_eq!(found["server"], "198.51.100.7:7777", "{found}");
    assert_eq!(found["players"].as_array().unwrap().len(), 2, "{found}");
    recent_matching_counts_the_duel(client).await;
    let cancel = format!("/v1/admin/matches/{match_id}/cancel");
    let answer = client
        .call(Method::POST, &cancel, Some(ADMIN_KEY), None)
        .await;
    assert_error(&answer, StatusCode::CONFLICT, "session_active");
    let end = format!("/v1/admin/sessions/{match_id}/end");
    let answer = client
        .call(Method::POST, &end, Some(READER_KEY), None)
        .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "read_only_operator");
    let (status, done) = client.call(Method::POST, &end, Some(ADMIN_KEY), None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "ended");
    for (_, socket) in &mut players {
        wait_event(socket, "session_ended").await;
    }
    let answer = client.call(Method::GET, &one, Some(READER_KEY), None).await;
    assert_error(&answer, StatusCode::NOT_FOUND, "unknown_match");
    let answer = client.call(Method::POST, &end, Some(ADMIN_KEY), None).await;
    assert_error(&answer, StatusCode::NOT_FOUND, "unknown_session");
    // The game server's key is not an operator's.
    let answer = client
        .call(Method::POST, &end, Some(SERVER_KEY), None)
        .await;
    assert_error(&answer, StatusCode::UNAUTHORIZED, "invalid_token");
}

/// Queue `name` as `GET /v1/admin/queues` shows it to a read-only operator.
async fn admin_queue(client: &Client, name: &str) -> Value {
    let path = "/v1/admin/queues";
    let (status, queues) = client.call(Method::GET, path, Some(READER_KEY), None).await;
    assert_eq!(status, StatusCode::OK, "{queues}");
    let all = queues["queues"].as_array().unwrap();
    all.iter()
        .find(|queue| queue["name"] == name)
        .cloned()
        .unwrap()
}

/// The queue's last ten minutes count the duel just formed: one match of two tickets, with
/// their time to match and the match's quality.
async fn recent_matching_counts_the_duel(client: &Client) {
    let duel = admin_queue(client, "duel-1v1").await;
    let minutes = duel["recent"].as_array().unwrap();
    assert_eq!(minutes.len(), 10, "{duel}");
    let starts: Vec<u64> = minutes
        .iter()
        .map(|m| m["start_ms"].as_u64().unwrap())
        .collect();
    assert!(
        starts.windows(2).all(|w| w[1] == w[0] + 60_000),
        "{starts:?}"
    );
    let counted = |field: &str| -> u64 { minutes.iter().map(|m| m[field].as_u64().unwrap()).sum() };
    assert_eq!((counted("matches"), counted("tickets")), (1, 2), "{duel}");
    let minute = minutes.iter().find(|m| m["matches"] == 1).unwrap();
    assert!(
        minute["time_to_match_ms"]["max"].as_u64().is_some(),
        "{minute}"
    );
    let quality = minute["mean_quality"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&quality), "{minute}");
}

/// A proposed match, cancelled by an operator: its players hear it, and their tickets go back
/// to the queue (where they meet again in a new proposal).
async fn cancel_a_proposed_match(client: &Client) {
    let mut sockets: Vec<Socket> = Vec::new();
    for name in ["admin-accept-a", "admin-accept-b"] {
        let (_, token) = client.register(name).await;
        sockets.push(connect_events(&client.base, &token).await);
        let (status, body) = client
            .call(
                Method::POST,
                "/v1/queue",
                Some(&token),
                Some(json!({"queue": "duel-accept", "pings": {"eu-west": 25}})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let found = wait_event(&mut sockets[0], "match_found").await;
    assert_eq!(found["state"], "awaiting_acceptance", "{found}");
    let match_id = found["match_id"].as_u64().unwrap();
    let cancel = format!("/v1/admin/matches/{match_id}/cancel");
    let answer = client
        .call(Method::POST, &cancel, Some(READER_KEY), None)
        .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "read_only_operator");
    let (status, done) = client
        .call(Method::POST, &cancel, Some(ADMIN_KEY), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "cancelled");
    for socket in &mut sockets {
        let cancelled = wait_event(socket, "match_cancelled").await;
        assert_eq!(cancelled["match_id"], match_id, "{cancelled}");
        assert_eq!(cancelled["reason"], "cancelled", "{cancelled}");
    }
    let again = wait_event(&mut sockets[0], "match_found").await;
    assert_ne!(
        again["match_id"], match_id,
        "back in the queue, matched anew: {again}"
    );
}

/// A banned player is refused everywhere and leaves the queue; unbanned, they are back.
async fn ban_and_unban(client: &Client, player: u64, token: &str) {
    let (status, tokens) = login(client, "admin-waiting").await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    queue_duel(client, token).await;
    let ban = format!("/v1/admin/players/{player}/ban");
    let reason = |text: &str| Some(json!({"reason": text}));
    let answer = client
        .call(Method::POST, &ban, Some(ADMIN_KEY), reason("  "))
        .await;
    assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    let answer = client
        .call(
            Method::POST,
            "/v1/admin/players/999999/ban",
            Some(ADMIN_KEY),
            reason("x"),
        )
        .await;
    assert_error(&answer, StatusCode::NOT_FOUND, "unknown_player");
    let answer = client
        .call(Method::POST, &ban, Some(READER_KEY), reason("cheating"))
        .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "read_only_operator");
    let (status, done) = client
        .call(Method::POST, &ban, Some(ADMIN_KEY), reason("cheating"))
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "banned");
    // Refused at the next request, at login and at refresh; the ticket is gone.
    let answer = client
        .call(Method::GET, "/v1/profile/me", Some(token), None)
        .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "banned");
    assert!(answer.1["message"].as_str().unwrap().contains("cheating"));
    assert_error(
        &login(client, "admin-waiting").await,
        StatusCode::FORBIDDEN,
        "banned",
    );
    let answer = client
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "banned");
    let (_, listed) = client
        .call(
            Method::GET,
            &format!("/v1/admin/tickets?player={player}"),
            Some(READER_KEY),
            None,
        )
        .await;
    assert_eq!(listed["total"], 0, "{listed}");
    let (status, found) = client.call(Method::GET, &ban, Some(READER_KEY), None).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["reason"], "cheating");
    assert!(found["by"].as_str().unwrap().starts_with("operator-"));
    // Lifted: the same token works again.
    let (status, done) = client
        .call(Method::DELETE, &ban, Some(ADMIN_KEY), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let (status, body) = client
        .call(Method::GET, "/v1/profile/me", Some(token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer = client
        .call(Method::DELETE, &ban, Some(ADMIN_KEY), None)
        .await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_banned");
    let answer = client.call(Method::GET, &ban, Some(READER_KEY), None).await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_banned");
}

/// Every action so far, newest first, refused ones included, by which key; paged.
async fn check_the_audit_log(client: &Client) {
    let (status, page) = client
        .call(Method::GET, "/v1/admin/audit", Some(READER_KEY), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let entries = page["entries"].as_array().unwrap();
    let seen: Vec<(String, String)> = entries
        .iter()
        .rev()
        .map(|entry| {
            (
                entry["action"].as_str().unwrap().to_string(),
                entry["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("cancel_ticket", "read_only_operator"),
        ("cancel_ticket", "done"),
        ("cancel_ticket", "unknown_ticket"),
        ("cancel_match", "session_active"),
        ("end_session", "read_only_operator"),
        ("end_session", "done"),
        ("end_session", "unknown_session"),
        ("cancel_match", "read_only_operator"),
        ("cancel_match", "done"),
        ("ban_player", "invalid_field"),
        ("ban_player", "unknown_player"),
        ("ban_player", "read_only_operator"),
        ("ban_player", "done"),
        ("unban_player", "done"),
        ("unban_player", "not_banned"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, o)| (a.to_string(), o.to_string()))
        .collect();
    assert_eq!(seen, expected, "{page}");
    let ids: Vec<u64> = entries.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|pair| pair[0] > pair[1]), "{ids:?}");
    let (reader, admin) = (
        &entries.last().unwrap()["operator"],
        &entries[0]["operator"],
    );
    assert_ne!(reader, admin, "the two keys have different names");
    assert!(
        !page.to_string().contains(ADMIN_KEY),
        "keys are never written"
    );
    let ban = entries
        .iter()
        .find(|e| e["outcome"] == "done" && e["action"] == "ban_player");
    assert_eq!(ban.unwrap()["detail"], "cheating");
    // Paged: two, then the next two from where the first page ended.
    let (_, first) = client
        .call(
            Method::GET,
            "/v1/admin/audit?limit=2",
            Some(READER_KEY),
            None,
        )
        .await;
    let before = first["next_before"].as_u64().unwrap();
    let (_, second) = client
        .call(
            Method::GET,
            &format!("/v1/admin/audit?limit=2&before={before}"),
            Some(READER_KEY),
            None,
        )
        .await;
    assert_eq!(second["entries"][0]["id"], ids[2], "{second}");
    let answer = client
        .call(
            Method::GET,
            "/v1/admin/audit?limit=501",
            Some(READER_KEY),
            None,
        )
        .await;
    assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
}

/// A queue played only after the reload that adds it.
const LATE_DUEL: &str = "
[[queues]]
name = \"duel-late\"
mode = \"duel\"
teams = 2
team_size = 1
max_party_size = 1
";

async fn reload(client: &Client, key: &str) -> (StatusCode, Value) {
    client
        .call(Method::POST, "/v1/admin/config/reload", Some(key), None)
        .await
}

/// An operator edits the config file and reloads it without a restart: a new queue plays at
/// once; a config the live state does not fit (the regions changed while a ticket waits) is
/// refused with why and changes nothing; a file that does not load is refused naming it; the
/// same config again is `unchanged`. Killed without a snapshot, the server replays the reload
/// from its journal and the waiting ticket is still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_reload_goes_through_the_core_or_is_refused_with_why() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path());
    client.wait_ready().await;
    let config = dir.path().join("matchwright.toml");
    let original = std::fs::read_to_string(&config).unwrap();
    let (_, waiting) = client.register("reload-waiting").await;
    let body = json!({"queue": "duel-accept", "pings": {"eu-west": 25}});
    let (status, answer) = client
        .call(Method::POST, "/v1/queue", Some(&waiting), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");

    std::fs::write(&config, format!("{original}{LATE_DUEL}")).unwrap();
    let answer = reload(&client, READER_KEY).await;
    assert_error(&answer, StatusCode::FORBIDDEN, "read_only_operator");
    let (status, done) = reload(&client, ADMIN_KEY).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "reloaded");
    let (_, queues) = client.call(Method::GET, "/v1/queues", None, None).await;
    assert!(queues.to_string().contains("duel-late"), "{queues}");
    let mut sockets = Vec::new();
    for name in ["reload-late-a", "reload-late-b"] {
        let (_, token) = client.register(name).await;
        sockets.push(connect_events(&client.base, &token).await);
        let body = json!({"queue": "duel-late", "pings": {"eu-west": 25}});
        let (status, answer) = client
            .call(Method::POST, "/v1/queue", Some(&token), Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    let found = wait_event(&mut sockets[0], "match_found").await;
    assert_eq!(found["queue"], "duel-late", "{found}");

    // The regions change while a ticket waits: refused, and the config in force stays.
    let moved = format!("{original}{LATE_DUEL}").replacen(
        "regions = [\"eu-west\", \"us-east\", \"ap-southeast\", \"sa-east\"]",
        "regions = [\"eu-west\", \"us-east\", \"ap-southeast\", \"sa-east\", \"me-central\"]",
        1,
    );
    assert_ne!(moved, format!("{original}{LATE_DUEL}"));
    std::fs::write(&config, &moved).unwrap();
    let answer = reload(&client, ADMIN_KEY).await;
    assert_error(&answer, StatusCode::CONFLICT, "config_does_not_fit");
    assert!(
        answer.1["message"].as_str().unwrap().contains("regions"),
        "{}",
        answer.1
    );
    // The queue the ticket waits in is gone: the core refuses, naming it.
    let without = format!("{original}{LATE_DUEL}").replacen(ACCEPT_DUEL, "", 1);
    assert_ne!(without, format!("{original}{LATE_DUEL}"));
    std::fs::write(&config, &without).unwrap();
    let answer = reload(&client, ADMIN_KEY).await;
    assert_error(&answer, StatusCode::CONFLICT, "config_does_not_fit");
    let message = answer.1["message"].as_str().unwrap();
    assert!(message.contains("duel-accept"), "{message}");
    // The parse error is on the line of a secret: the answer names the line, not its text.
    let broken = "[server]\njwt_secret = \"secret-looking-0123456789abcdefghijk\" oops\n";
    std::fs::write(&config, broken).unwrap();
    let answer = reload(&client, ADMIN_KEY).await;
    assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_config");
    let message = answer.1["message"].as_str().unwrap();
    assert!(message.contains("matchwright.toml"), "{message}");
    assert!(message.contains("line 2"), "{message}");
    assert!(
        !message.contains("secret-looking"),
        "no line of the file: {message}"
    );
    std::fs::write(&config, format!("{original}{LATE_DUEL}")).unwrap();
    let (status, done) = reload(&client, ADMIN_KEY).await;
    assert_eq!(
        (status, done["status"].as_str()),
        (StatusCode::OK, Some("unchanged"))
    );
    let (_, page) = client
        .call(
            Method::GET,
            "/v1/admin/audit?limit=6",
            Some(READER_KEY),
            None,
        )
        .await;
    let outcomes: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "read_only_operator",
            "done",
            "config_does_not_fit",
            "config_does_not_fit",
            "invalid_config",
            "done"
        ],
        "{page}"
    );

    // Killed: recovery replays the reload from the journal; the ticket still waits.
    server.kill();
    let (_server, client) = run(dir.path(), &config);
    client.wait_ready().await;
    let (_, status) = client
        .call(Method::GET, "/v1/queue", Some(&waiting), None)
        .await;
    assert_eq!(status["status"], "queued", "{status}");
    let (_, queues) = client.call(Method::GET, "/v1/queues", None, None).await;
    assert!(queues.to_string().contains("duel-late"), "{queues}");
}

/// Operators are not rate limited on the admin routes (a console polls several every few
/// seconds); the same routes without a valid key count against the per-IP limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_are_not_rate_limited_on_the_admin_routes() {
    let dir = tempfile::tempdir().unwrap();
    let limits = "\n[rate_limits]\nread = { per_player_per_minute = 100, per_ip_per_minute = 3 }\n";
    let config = write_config_with(dir.path(), limits);
    let (_server, client) = run(dir.path(), &config);
    client.wait_ready().await;
    for key in [ADMIN_KEY, READER_KEY].iter().cycle().take(12) {
        let (status, body) = client
            .call(Method::GET, "/v1/admin/queues", Some(key), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let wrong = "wrong-operator-key-0123456789abcdefghijklmn";
    let mut answers = Vec::new();
    for _ in 0..5 {
        let (_, body) = client
            .call(Method::GET, "/v1/admin/queues", Some(wrong), None)
            .await;
        answers.push(body["error"].as_str().unwrap_or_default().to_string());
    }
    assert_eq!(answers[0], "invalid_token", "{answers:?}");
    assert!(answers.iter().any(|a| a == "rate_limited"), "{answers:?}");
}
