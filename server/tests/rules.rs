//! Match rules end to end, on the real binary over real sockets: a role queue fills every
//! role of every team (players over HTTP, a party whose leader gives a member's roles) and
//! rates per role; avoid lists set through the profile API keep two players apart; an
//! attribute rule keeps players of different platforms apart and explain names it, for the
//! player and for an operator (with an operator key from the environment, refused without);
//! the same role queue and explain over QUIC through the SDK; and bad attributes, roles and
//! avoid lists are 422 naming the field, with nothing queued; `GET /v1/queues` lists each
//! queue's attributes and role composition.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{
    Client, NO_IP_LIMITS, SERVER_KEY, Server, Socket, connect_events, wait_event, write_config_with,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The queues these tests add to the shipped ones: a 2v2 role queue rated per role, and a
/// duel that keeps platforms apart.
const QUEUES: &str = r#"
[[queues]]
name = "roles-2v2"
mode = "arena"
teams = 2
team_size = 2
max_party_size = 2
roles = { composition = [{ role = "tank", count = 1 }, { role = "damage", count = 1 }], rating_per_role = true }

[[queues]]
name = "platform-duel"
mode = "platform-duel"
teams = 2
team_size = 1
max_party_size = 1
attributes = [{ kind = "text", name = "platform" }, { kind = "number", name = "level", default = 1.0 }]
rules = [{ kind = "equal", name = "same-platform", attribute = "platform" }]
"#;

const OPERATOR_KEY: &str = "e2e-operator-key-0123456789abcdefghijklmn";

/// A server with the test queues, an operator key and an avoid-list limit of 3, both from
/// the environment (as a deployment sets them).
fn start(dir: &std::path::Path) -> (Server, Client) {
    let config = write_config_with(dir, &format!("{NO_IP_LIMITS}{QUEUES}"));
    let server = Server::start_env(
        &dir.join("data"),
        &config,
        &[],
        &[
            ("MATCHWRIGHT_OPERATOR_KEYS", Some(OPERATOR_KEY)),
            ("MATCHWRIGHT__LIMITS__MAX_AVOID_LIST", Some("3")),
        ],
    );
    let client = Client {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    (server, client)
}

async fn enqueue(client: &Client, token: &str, body: Value) -> (StatusCode, Value) {
    client
        .call(Method::POST, "/v1/queue", Some(token), Some(body))
        .await
}

async fn status_of(client: &Client, token: &str) -> String {
    let (status, body) = client
        .call(Method::GET, "/v1/queue", Some(token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["status"].as_str().unwrap().to_string()
}

/// Each team's roles in a `match_found` event, sorted.
fn roles_by_team(event: &Value) -> BTreeMap<u64, Vec<String>> {
    let mut teams: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for player in event["players"].as_array().unwrap() {
        teams
            .entry(player["team"].as_u64().unwrap())
            .or_default()
            .push(player["role"].as_str().unwrap_or("none").to_string());
    }
    for roles in teams.values_mut() {
        roles.sort();
    }
    teams
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_queue_fills_every_role_of_every_team_and_rates_per_role() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path());
    client.wait_ready().await;
    let mut players: Vec<(u64, String, Socket)> = Vec::new();
    for name in ["lead", "mate", "tank", "flex"] {
        let (id, token) = client.register(&format!("roles-{name}")).await;
        let socket = connect_events(&client.base, &token).await;
        players.push((id, token, socket));
    }
    let (lead, mate) = (players[0].0, players[1].0);
    // A party: the leader plays tank and gives its member's roles in `members`.
    let (status, party) = client
        .call(Method::POST, "/v1/party", Some(&players[0].1), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{party}");
    let party_id = party["party_id"].as_u64().unwrap();
    let (status, body) = client
        .call(
            Method::POST,
            &format!("/v1/party/{party_id}/invite"),
            Some(&players[0].1),
            Some(json!({"player_id": mate})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (path, body) in [
        (format!("/v1/party/{party_id}/join"), None),
        (
            format!("/v1/party/{party_id}/ready"),
            Some(json!({"pings": {"eu-west": 30}})),
        ),
    ] {
        let (status, answer) = client
            .call(Method::POST, &path, Some(&players[1].1), body)
            .await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
    }
    // The member's roles must be known ones, and only members can be given any.
    let (status, body) = enqueue(
        &client,
        &players[0].1,
        json!({"queue": "roles-2v2", "pings": {"eu-west": 30}, "roles": ["tank"],
               "members": {mate.to_string(): {"roles": ["healer"]}}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], format!("members.{mate}.roles"), "{body}");
    let (status, body) = enqueue(
        &client,
        &players[0].1,
        json!({"queue": "roles-2v2", "pings": {"eu-west": 30}, "roles": ["tank"],
               "members": {"999999": {"roles": ["damage"]}}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "members.999999", "{body}");
    // A member without roles in a role queue is named too (the matcher's check).
    let (status, body) = enqueue(
        &client,
        &players[0].1,
        json!({"queue": "roles-2v2", "pings": {"eu-west": 30}, "roles": ["tank"]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], format!("members.{mate}.roles"), "{body}");
    assert_eq!(status_of(&client, &players[0].1).await, "idle");
    let (status, body) = enqueue(
        &client,
        &players[0].1,
        json!({"queue": "roles-2v2", "pings": {"eu-west": 30}, "roles": ["tank"],
               "members": {mate.to_string(): {"roles": ["damage"]}}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Two solos: a tank, and a flexible player who would rather play damage.
    for (token, roles) in [
        (&players[2].1, json!(["tank"])),
        (&players[3].1, json!(["damage", "tank"])),
    ] {
        let (status, body) = enqueue(
            &client,
            token,
            json!({"queue": "roles-2v2", "pings": {"eu-west": 30}, "roles": roles}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let mut match_id = 0;
    for (id, _, socket) in &mut players {
        let found = wait_event(socket, "match_found").await;
        match_id = found["match_id"].as_u64().unwrap();
        let teams = roles_by_team(&found);
        assert_eq!(teams.len(), 2, "{found}");
        for roles in teams.values() {
            assert_eq!(
                roles,
                &["damage", "tank"],
                "one of each role per team: {found}"
            );
        }
        let me = found["players"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["player_id"] == *id)
            .unwrap()
            .clone();
        if *id == lead {
            assert_eq!(me["role"], "tank");
        }
        if *id == mate {
            assert_eq!(me["role"], "damage");
        }
    }
    // The session says the same; the game server's result rates each player in the role played.
    let (status, session) = client
        .call(
            Method::GET,
            &format!("/v1/session/{match_id}"),
            Some(&players[2].1),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(roles_by_team(&session).len(), 2, "{session}");
    wait_event(&mut players[0].2, "session_ready").await;
    let (status, body) = client
        .call(
            Method::POST,
            &format!("/v1/server/session/{match_id}/result"),
            Some(SERVER_KEY),
            Some(json!({"winner": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let changed = wait_event(&mut players[0].2, "ratings_changed").await;
    assert_eq!(changed["mode"], "arena");
    assert_eq!(changed["role"], "tank", "{changed}");
    let (status, profile) = client
        .call(Method::GET, "/v1/profile/me", Some(&players[0].1), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    let ratings = profile["ratings"].as_array().unwrap();
    let games = |key: &str| {
        ratings
            .iter()
            .find(|r| r["mode"] == key)
            .unwrap_or_else(|| panic!("no {key} in {profile}"))["games"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(games("arena:tank"), 1);
    assert_eq!(games("arena:damage"), 0);
    let (status, board) = client
        .call(
            Method::GET,
            "/v1/leaderboard/default?mode=arena:tank",
            Some(&players[0].1),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{board}");
    assert_eq!(board["entries"].as_array().unwrap().len(), 2, "{board}");
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_avoided_player_is_never_met_and_avoid_lists_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path());
    client.wait_ready().await;
    let (a, a_token) = client.register("avoid-a").await;
    let (b, b_token) = client.register("avoid-b").await;
    let (c, c_token) = client.register("avoid-c").await;
    let avoid = |token: &str, players: Value| {
        let client = &client;
        let token = token.to_string();
        async move {
            client
                .call(
                    Method::PUT,
                    "/v1/profile/avoid",
                    Some(&token),
                    Some(json!({ "players": players })),
                )
                .await
        }
    };
    // Bad lists are 422 naming `players`: too long (the limit is 3), oneself, nobody.
    for players in [json!([1, 2, 3, b]), json!([a]), json!([987654])] {
        let (status, body) = avoid(&a_token, players.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{players}: {body}"
        );
        assert_eq!(body["field"], "players", "{body}");
    }
    let (status, body) = avoid(&a_token, json!([b, b])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"players": [b], "limit": 3}));
    let (status, body) = client
        .call(Method::GET, "/v1/profile/avoid", Some(&a_token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["players"], json!([b]));

    let mut sockets = Vec::new();
    for token in [&a_token, &b_token, &c_token] {
        sockets.push(connect_events(&client.base, token).await);
    }
    let duel = json!({"queue": "duel-1v1", "pings": {"eu-west": 25}});
    for token in [&a_token, &b_token] {
        let (status, body) = enqueue(&client, token, duel.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // A and B would match at once; A's list keeps them apart (both ways: B avoids nobody).
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(status_of(&client, &a_token).await, "queued");
    assert_eq!(status_of(&client, &b_token).await, "queued");
    let (status, explained) = client
        .call(Method::GET, "/v1/queue/explain", Some(&b_token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{explained}");
    assert_eq!(explained["queued_tickets"], 2, "{explained}");
    // The queue keeps avoided players out of the match: explain has the check. (Whether it
    // counts B's ticket as blocked is the core's explain; it sees the avoid list only when
    // both tickets carry rules data, and B's, avoiding nobody, carries none.)
    assert!(
        explained["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|check| check["name"] == "block_list"),
        "{explained}"
    );
    // C comes: C meets one of them, never A with B.
    let (status, body) = enqueue(&client, &c_token, duel.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let found = wait_event(&mut sockets[2], "match_found").await;
    let mut met: Vec<u64> = found["players"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["player_id"].as_u64().unwrap())
        .collect();
    met.sort_unstable();
    assert!(met.contains(&c), "{found}");
    assert!(!(met.contains(&a) && met.contains(&b)), "{found}");
    let waiting = if met.contains(&a) { &b_token } else { &a_token };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status_of(&client, waiting).await, "queued");
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attribute_rule_keeps_platforms_apart_and_explain_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path());
    client.wait_ready().await;
    // The queue list says what each queue takes: attributes (required without a default)
    // and a role queue's composition.
    let (status, listed) = client.call(Method::GET, "/v1/queues", None, None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let queue = |name: &str| {
        listed["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|queue| queue["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} is not listed: {listed}"))
    };
    assert_eq!(
        queue("platform-duel")["attributes"],
        json!([{"name": "platform", "kind": "text", "required": true},
               {"name": "level", "kind": "number", "required": false}])
    );
    assert_eq!(queue("platform-duel")["roles"], json!([]));
    assert_eq!(
        queue("roles-2v2")["roles"],
        json!([{"role": "tank", "count": 1}, {"role": "damage", "count": 1}])
    );
    assert_eq!(queue("roles-2v2")["attributes"], json!([]));
    let (pc, pc_token) = client.register("platform-pc").await;
    let (_, console_token) = client.register("platform-console").await;
    let (_, other_pc_token) = client.register("platform-pc2").await;
    let mut pc_socket = connect_events(&client.base, &pc_token).await;
    for (token, platform) in [(&pc_token, "pc"), (&console_token, "console")] {
        let (status, body) = enqueue(
            &client,
            token,
            json!({"queue": "platform-duel", "pings": {"eu-west": 25},
                   "attributes": {"platform": platform, "level": 12}}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(status_of(&client, &pc_token).await, "queued");
    let (status, explained) = client
        .call(Method::GET, "/v1/queue/explain", Some(&pc_token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{explained}");
    assert_eq!(explained["ticket_id"], pc);
    assert_eq!(explained["players"], json!([pc]));
    assert_eq!(explained["queue"], "platform-duel");
    assert_eq!(explained["players_needed"], 1);
    assert_eq!(explained["compatible_players"], 0);
    let checks = explained["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["skill_window", "latency", "block_list", "same-platform"],
        "{explained}"
    );
    let rule = &checks[3];
    assert_eq!(rule["kind"], "equal");
    assert_eq!(rule["blocking"], true, "{explained}");
    assert_eq!(rule["passing"], 0, "{explained}");
    assert_eq!(checks[0]["blocking"], false, "{explained}");
    assert_eq!(checks[0]["passing"], 1, "{explained}");

    // The operator's explain of the same ticket, with the key from the environment.
    let path = format!("/v1/admin/tickets/{pc}/explain");
    let (status, operator) = client
        .call(Method::GET, &path, Some(OPERATOR_KEY), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{operator}");
    assert_eq!(operator["ticket_id"], pc);
    assert_eq!(operator["checks"][3]["blocking"], true, "{operator}");
    let refusals = [
        (None, StatusCode::UNAUTHORIZED, "missing_token"),
        (
            Some("not-the-operator-key-0123456789abcdefghij"),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            Some(pc_token.as_str()),
            StatusCode::FORBIDDEN,
            "not_operator",
        ),
    ];
    for (key, want, code) in refusals {
        let (status, body) = client.call(Method::GET, &path, key, None).await;
        assert_eq!(status, want, "{body}");
        assert_eq!(body["error"], code, "{body}");
    }
    let (status, body) = client
        .call(
            Method::GET,
            "/v1/admin/tickets/424242/explain",
            Some(OPERATOR_KEY),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "unknown_ticket");
    let (status, body) = client
        .call(
            Method::GET,
            "/v1/queue/explain",
            Some(&other_pc_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "not_queued");

    // Another player on pc matches the first; the console player waits.
    let (status, body) = enqueue(
        &client,
        &other_pc_token,
        json!({"queue": "platform-duel", "pings": {"eu-west": 25},
               "attributes": {"platform": "pc"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let found = wait_event(&mut pc_socket, "match_found").await;
    assert_eq!(found["queue"], "platform-duel");
    assert_eq!(found["players"][0]["role"], Value::Null);
    assert_eq!(status_of(&client, &console_token).await, "queued");
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_attributes_roles_and_avoid_lists_are_422_naming_the_field_and_queue_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path());
    client.wait_ready().await;
    let (_, token) = client.register("bad-input").await;
    let cases = [
        (
            json!({"queue": "platform-duel", "pings": {"eu-west": 25},
                   "attributes": {"platform": "pc", "colour": "red"}}),
            "attributes.colour",
            "does not take it",
        ),
        (
            json!({"queue": "platform-duel", "pings": {"eu-west": 25},
                   "attributes": {"platform": 5}}),
            "attributes.platform",
            "must be text, not number",
        ),
        (
            json!({"queue": "platform-duel", "pings": {"eu-west": 25},
                   "attributes": {"platform": true}}),
            "attributes.platform",
            "a string, a number or an array of strings",
        ),
        (
            json!({"queue": "platform-duel", "pings": {"eu-west": 25}}),
            "attributes.platform",
            "is required",
        ),
        (
            json!({"queue": "roles-2v2", "pings": {"eu-west": 25}, "roles": ["healer"]}),
            "roles",
            "has no role `healer`",
        ),
        (
            json!({"queue": "roles-2v2", "pings": {"eu-west": 25}, "roles": ["tank", "tank"]}),
            "roles",
            "given twice",
        ),
        (
            json!({"queue": "roles-2v2", "pings": {"eu-west": 25}}),
            "roles",
            "is a role queue",
        ),
        (
            json!({"queue": "duel-1v1", "pings": {"eu-west": 25}, "roles": ["tank"]}),
            "roles",
            "has no roles",
        ),
        (
            json!({"queue": "duel-1v1", "pings": {"eu-west": 25},
                   "members": {"7": {"roles": ["tank"]}}}),
            "members.7",
            "not in a party",
        ),
    ];
    for (body, field, says) in cases {
        let (status, answer) = enqueue(&client, &token, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["field"], field, "{body}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(says),
            "{body}: {answer}"
        );
        assert_eq!(status_of(&client, &token).await, "idle", "{body}");
    }
    // An avoid list over the bound: refused by the profile API ...
    let mut others = Vec::new();
    for n in 0..3 {
        others.push(client.register(&format!("avoided{n}")).await.0);
    }
    let (status, body) = client
        .call(
            Method::PUT,
            "/v1/profile/avoid",
            Some(&token),
            Some(json!({"players": [others[0], others[1], others[2], 999]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "players");
    let (status, body) = client
        .call(
            Method::PUT,
            "/v1/profile/avoid",
            Some(&token),
            Some(json!({"players": others})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    server.kill();
    // ... and, stored under a limit since lowered, refused at enqueue naming `avoid`.
    let config = write_config_with(dir.path(), &format!("{NO_IP_LIMITS}{QUEUES}"));
    let server = Server::start_env(
        &dir.path().join("data"),
        &config,
        &[],
        &[("MATCHWRIGHT__LIMITS__MAX_AVOID_LIST", Some("2"))],
    );
    let client = Client {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    client.wait_ready().await;
    let (status, answer) = enqueue(
        &client,
        &token,
        json!({"queue": "duel-1v1", "pings": {"eu-west": 25}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["field"], "avoid", "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("the limit is 2"),
        "{answer}"
    );
    assert_eq!(status_of(&client, &token).await, "idle");
    // No operator key configured: the admin routes are closed to every key.
    let (status, body) = client
        .call(
            Method::GET,
            "/v1/admin/tickets/1/explain",
            Some(OPERATOR_KEY),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "not_operator");
    server.kill();
}

// ---------------------------------------------------------------------------------------------
// Over QUIC, through the SDK

use matchwright_transport::wire::{AttributeValue, EnqueueRequest, Event};

async fn sdk_match_found(
    events: &mut matchwright_transport::EventStream,
) -> Vec<matchwright_transport::wire::MatchPlayer> {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("an event within 10 s")
            .expect("the event stream is open")
            .unwrap();
        if let Event::MatchFound { players, .. } = event {
            return players;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_avoid_lists_and_explain_over_quic() {
    let dir = tempfile::tempdir().unwrap();
    let (server, http) = start(dir.path());
    http.wait_ready().await;
    let (addr, fingerprint) = &server.quic;
    let mut clients = Vec::new();
    let mut streams = Vec::new();
    let mut ids = Vec::new();
    for n in 0..4 {
        let client = matchwright_transport::Client::connect_quic(*addr, fingerprint)
            .await
            .unwrap();
        let tokens = client
            .register(&format!("quic-roles{n}"), "a good long password", None)
            .await
            .unwrap();
        streams.push(client.events().unwrap());
        ids.push(tokens.player_id);
        clients.push(client);
    }
    let (outsider, _) = http.register("quic-outsider").await;
    // Avoid lists over QUIC: bounded, stored, read back.
    let refused = clients[0].set_avoid_list(&[ids[0]]).await.unwrap_err();
    assert_eq!(refused.code(), Some("invalid_field"), "{refused}");
    let list = clients[0].set_avoid_list(&[outsider]).await.unwrap();
    assert_eq!((list.players.clone(), list.limit), (vec![outsider], 3));
    assert_eq!(clients[0].avoid_list().await.unwrap(), list);
    // Explain: nothing queued yet is 404, as over HTTP.
    let refused = clients[0].explain().await.unwrap_err();
    assert_eq!(refused.code(), Some("not_queued"), "{refused}");
    // An unknown role is 422 naming `roles`.
    let mut bad = EnqueueRequest::new("roles-2v2", [("eu-west".to_string(), 30)].into());
    bad.roles = vec!["healer".into()];
    let matchwright_transport::ClientError::Server(error) =
        clients[0].enqueue_with(bad).await.unwrap_err()
    else {
        panic!("not the server's refusal");
    };
    assert_eq!((error.status, error.field.as_deref()), (422, Some("roles")));
    // Attributes the queue does not take are named the same way over QUIC.
    let mut bad = EnqueueRequest::new("roles-2v2", [("eu-west".to_string(), 30)].into());
    bad.roles = vec!["tank".into()];
    bad.attributes
        .insert("platform".into(), AttributeValue::Text("pc".into()));
    let matchwright_transport::ClientError::Server(error) =
        clients[0].enqueue_with(bad).await.unwrap_err()
    else {
        panic!("not the server's refusal");
    };
    assert_eq!(
        error.field.as_deref(),
        Some("attributes.platform"),
        "{error}"
    );

    let roles = [
        vec!["tank"],
        vec!["damage"],
        vec!["tank", "damage"],
        vec!["damage"],
    ];
    for (n, (client, wanted)) in clients.iter().zip(&roles).enumerate() {
        let mut request = EnqueueRequest::new("roles-2v2", [("eu-west".to_string(), 30)].into());
        request.roles = wanted.iter().map(|role| (*role).to_string()).collect();
        let status = client.enqueue_with(request).await.unwrap();
        // The last one's tick forms the match.
        assert!(
            ["queued", "in_match"].contains(&status.status.as_str()),
            "{status:?}"
        );
        if n == 0 {
            // Alone in the queue: explain says why, over QUIC.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let explained = clients[0].explain().await.unwrap();
            assert_eq!(explained.ticket_id, ids[0]);
            assert_eq!(explained.queue, "roles-2v2");
            assert_eq!(explained.players_needed, 3);
            assert_eq!(explained.compatible_players, 0);
            assert_eq!(explained.checks[0].name, "skill_window");
        }
    }
    for events in &mut streams {
        let players = sdk_match_found(events).await;
        let mut teams: BTreeMap<u8, Vec<String>> = BTreeMap::new();
        for player in &players {
            teams
                .entry(player.team)
                .or_default()
                .push(player.role.clone().expect("every player has a role"));
        }
        assert_eq!(teams.len(), 2, "{players:?}");
        for team in teams.values_mut() {
            team.sort();
            assert_eq!(team, &["damage", "tank"], "{players:?}");
        }
        let first = players.iter().find(|p| p.player_id == ids[0]).unwrap();
        assert_eq!(first.role.as_deref(), Some("tank"));
    }
    server.kill();
}
