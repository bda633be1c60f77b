//! Game servers that register themselves, end to end on the real binary over real sockets:
//! registration with the fleet secret (401 without, 422 naming the field for a bad one); a
//! queue's matches go to the server carrying its labels; a server acts on its own sessions
//! only (403 `not_your_session` for another's, 403 `not_your_server` on another's fleet
//! routes); a server that stops heartbeating is taken out and its credential refused;
//! an address is one registration's; draining and deregistering; operators list the fleet.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod common;

use std::time::Duration;

use common::{
    Client, NO_IP_LIMITS, SERVER_KEY, SESSION_SECRET, Server, Socket, assert_error, connect_events,
    wait_event,
};
use reqwest::{Method, StatusCode};
use serde_json::json;

const SECRET: &str = "fleet-registration-secret-0123456789abcdef";
const OPERATOR: &str = "fleet-operator-key-0123456789abcdefghijklm";
const ARENA: &str = "203.0.113.10:7777";
const OTHER: &str = "203.0.113.11:7777";

/// The shipped config, registration open, no fixed fleet, duels only on `map = "arena"`
/// servers, and a 1 s heartbeat timeout.
fn start(dir: &std::path::Path) -> (Server, Client) {
    let shipped = include_str!("../../config/matchwright.toml");
    let text = format!(
        "{shipped}\n[server]\ntick_interval_ms = 50\ngame_server_key = \"{SERVER_KEY}\"\n\
         session_secret = \"{SESSION_SECRET}\"\n\
         [fleet]\nheartbeat_timeout_ms = 1000\n\
         [fleet.queue_labels]\nduel-1v1 = {{ map = \"arena\" }}\n{NO_IP_LIMITS}"
    );
    let config = dir.join("matchwright.toml");
    std::fs::write(&config, text).unwrap();
    let server = Server::start_env(
        &dir.join("data"),
        &config,
        &[],
        &[
            ("MATCHWRIGHT_FLEET_REGISTRATION_SECRET", Some(SECRET)),
            ("MATCHWRIGHT_OPERATOR_KEYS", Some(OPERATOR)),
        ],
    );
    let client = server.client();
    (server, client)
}

/// Registers a server in eu-west; its id and credential.
async fn register(client: &Client, address: &str, capacity: u32, map: &str) -> (u64, String) {
    let body = json!({"region": "eu-west", "address": address, "capacity": capacity,
                      "labels": {"map": map}});
    let (status, registered) = client
        .call(Method::POST, "/v1/fleet/servers", Some(SECRET), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    assert_eq!(registered["heartbeat_timeout_ms"], 1000);
    (
        registered["server_id"].as_u64().unwrap(),
        registered["token"].as_str().unwrap().to_string(),
    )
}

/// Two new players duel; the session's match id and server address.
async fn duel(client: &Client, names: [&str; 2]) -> (u64, String) {
    let mut sockets: Vec<Socket> = Vec::new();
    for name in names {
        let (_, token) = client.register(name).await;
        sockets.push(connect_events(&client.base, &token).await);
        let (status, body) = client
            .call(
                Method::POST,
                "/v1/queue",
                Some(&token),
                Some(json!({"queue": "duel-1v1", "pings": {"eu-west": 25}})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let ready = wait_event(&mut sockets[0], "session_ready").await;
    (
        ready["match_id"].as_u64().unwrap(),
        ready["server"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_servers_host_their_queues_act_on_their_own_sessions_and_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, client) = start(dir.path());
    client.wait_ready().await;
    registration_needs_the_secret_and_good_fields(&client).await;
    // The duel goes to the arena server, though the other has more room.
    let (arena, arena_token) = register(&client, ARENA, 1, "arena").await;
    let (other, other_token) = register(&client, OTHER, 5, "other").await;
    let again = json!({"region": "eu-west", "address": ARENA, "capacity": 1});
    let answer = client
        .call(Method::POST, "/v1/fleet/servers", Some(SECRET), Some(again))
        .await;
    assert_error(&answer, StatusCode::CONFLICT, "address_registered");
    let (match_id, address) = duel(&client, ["fleet-a", "fleet-b"]).await;
    assert_eq!(address, ARENA);
    let servers = [(arena, arena_token.as_str()), (other, other_token.as_str())];
    each_acts_on_its_own(&client, match_id, servers).await;
    a_silent_server_is_taken_out(&client, servers).await;
    drain_and_deregister(&client, arena, &arena_token).await;
}

async fn registration_needs_the_secret_and_good_fields(client: &Client) {
    let good = json!({"region": "eu-west", "address": ARENA, "capacity": 1});
    let answer = client
        .call(Method::POST, "/v1/fleet/servers", None, Some(good.clone()))
        .await;
    assert_error(&answer, StatusCode::UNAUTHORIZED, "missing_token");
    let answer = client
        .call(
            Method::POST,
            "/v1/fleet/servers",
            Some(SERVER_KEY),
            Some(good),
        )
        .await;
    assert_error(&answer, StatusCode::UNAUTHORIZED, "invalid_token");
    for (bad, field) in [
        (
            json!({"region": "mars", "address": ARENA, "capacity": 1}),
            "region",
        ),
        (
            json!({"region": "eu-west", "address": "nowhere", "capacity": 1}),
            "address",
        ),
        (
            json!({"region": "eu-west", "address": ARENA, "capacity": 0}),
            "capacity",
        ),
        (
            json!({"region": "eu-west", "address": ARENA, "capacity": 1, "size": 2}),
            "size",
        ),
    ] {
        let answer = client
            .call(Method::POST, "/v1/fleet/servers", Some(SECRET), Some(bad))
            .await;
        assert_eq!(answer.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", answer.1);
        assert_eq!(answer.1["field"], field, "{}", answer.1);
    }
}

/// The host (first of `servers`) acts on its session; the other may not, nor on the host's
/// fleet routes, nor on the next match id before it exists.
async fn each_acts_on_its_own(client: &Client, match_id: u64, servers: [(u64, &str); 2]) {
    let [(host, host_token), (_, other_token)] = servers;
    let session = format!("/v1/server/session/{match_id}");
    let beat = format!("{session}/heartbeat");
    let answer = client
        .call(Method::POST, &beat, Some(other_token), None)
        .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "not_your_session");
    let (status, body) = client
        .call(Method::POST, &beat, Some(host_token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let next = format!("/v1/server/session/{}/end", match_id + 1);
    let answer = client
        .call(Method::POST, &next, Some(host_token), None)
        .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "not_your_session");
    let fleet_beat = format!("/v1/fleet/servers/{host}/heartbeat");
    let answer = client
        .call(Method::POST, &fleet_beat, Some(other_token), None)
        .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "not_your_server");
    let (status, body) = client
        .call(Method::POST, &fleet_beat, Some(host_token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sessions"], 1, "{body}");
    let (result, winner) = (format!("{session}/result"), Some(json!({"winner": 0})));
    let answer = client
        .call(Method::POST, &result, Some(other_token), winner.clone())
        .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "not_your_session");
    let (status, body) = client
        .call(Method::POST, &result, Some(host_token), winner)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Operators see both servers; the second stops heartbeating and is taken out.
async fn a_silent_server_is_taken_out(client: &Client, servers: [(u64, &str); 2]) {
    let [(alive, alive_token), (silent, silent_token)] = servers;
    let (status, fleet) = client
        .call(Method::GET, "/v1/admin/fleet", Some(OPERATOR), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{fleet}");
    assert_eq!(fleet["registration_open"], true);
    assert_eq!(fleet["servers"].as_array().unwrap().len(), 2, "{fleet}");
    let beat = |id: u64| format!("/v1/fleet/servers/{id}/heartbeat");
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (status, body) = client
            .call(Method::POST, &beat(alive), Some(alive_token), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let answer = client
        .call(Method::POST, &beat(silent), Some(silent_token), None)
        .await;
    assert_error(&answer, StatusCode::UNAUTHORIZED, "invalid_token");
    let (_, fleet) = client
        .call(Method::GET, "/v1/admin/fleet", Some(OPERATOR), None)
        .await;
    let listed: Vec<u64> = fleet["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["server_id"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, [alive], "{fleet}");
}

/// Draining, then deregistered: its credential stops working.
async fn drain_and_deregister(client: &Client, id: u64, token: &str) {
    let (status, body) = client
        .call(
            Method::POST,
            &format!("/v1/fleet/servers/{id}/drain"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["draining"], true);
    assert_eq!(
        body["sessions"], 0,
        "the session with a result is over: {body}"
    );
    let path = format!("/v1/fleet/servers/{id}");
    let (status, body) = client.call(Method::DELETE, &path, Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer = client.call(Method::DELETE, &path, Some(token), None).await;
    assert_error(&answer, StatusCode::UNAUTHORIZED, "invalid_token");
}
