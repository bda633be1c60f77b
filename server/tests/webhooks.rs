//! Events for backends, end to end on the real binary over loopback: a local HTTP receiver
//! that fails, hangs, goes away across a server restart and comes back gets every match and
//! session event exactly once by its key (`id`), in order, each delivery signed; an event
//! the receiver refuses `max_attempts` times is given up on and counted as a dead letter
//! while the ones after it still arrive; a hanging receiver never holds matches up.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use common::{Client, NO_IP_LIMITS, SERVER_KEY, Server, connect_events, wait_event};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SECRET: &str = "webhook-signing-secret-0123456789abcdefgh";
const OPERATOR: &str = "webhook-operator-key-0123456789abcdefghij";

/// One delivery the receiver took (answered 2xx).
#[derive(Clone, Debug)]
struct Delivery {
    id: String,
    attempt: u32,
    body: Value,
}

/// The receiver: answers 500 to the next `fail` requests, hangs (past the server's timeout)
/// on the next `hang`, else takes the delivery and answers 204.
#[derive(Default)]
struct Receiver {
    fail: AtomicU32,
    hang: AtomicU32,
    requests: AtomicU32,
    taken: Mutex<Vec<Delivery>>,
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: String,
) -> AxumStatus {
    receiver.requests.fetch_add(1, Ordering::SeqCst);
    let take_one = |counter: &AtomicU32| {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    };
    if take_one(&receiver.hang) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        return AxumStatus::NO_CONTENT;
    }
    if take_one(&receiver.fail) {
        return AxumStatus::INTERNAL_SERVER_ERROR;
    }
    let header = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_owned();
    check_signature(&header("matchwright-signature"), &body);
    let parsed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(header("matchwright-delivery"), parsed["id"]);
    assert_eq!(header("matchwright-event"), parsed["event"]["type"]);
    receiver.taken.lock().unwrap().push(Delivery {
        id: header("matchwright-delivery"),
        attempt: header("matchwright-attempt").parse().unwrap(),
        body: parsed,
    });
    AxumStatus::NO_CONTENT
}

/// `t=SECONDS,v1=HEX`, HMAC-SHA256 over `SECONDS.BODY` with the shared secret, recent.
fn check_signature(header: &str, body: &str) {
    let (t, v1) = header.split_once(",v1=").unwrap();
    let seconds: u64 = t.strip_prefix("t=").unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        now.abs_diff(seconds) < 300,
        "a stale signature time {seconds}"
    );
    let tag: Vec<u8> = (0..v1.len() / 2)
        .map(|i| u8::from_str_radix(&v1[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    ring::hmac::verify(&key, format!("{seconds}.{body}").as_bytes(), &tag)
        .expect("the signature does not verify");
}

/// Serves the receiver on a free port; its URL.
async fn serve_receiver(receiver: Arc<Receiver>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/hooks", axum::routing::post(receive))
        .with_state(receiver);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/hooks")
}

/// The server, its webhook endpoint the receiver at `url`, giving an event up after
/// `max_attempts` failures.
fn start(dir: &std::path::Path, url: &str, max_attempts: u32) -> (Server, Client) {
    let webhooks = format!(
        "{NO_IP_LIMITS}\n[webhooks]\ntimeout_ms = 300\nfirst_backoff_ms = 50\n\
         max_backoff_ms = 200\nmax_attempts = {max_attempts}\n\
         endpoints = [{{ name = \"backend\", url = \"{url}\" }}]\n"
    );
    let config = common::write_config_with(dir, &webhooks);
    let server = Server::start_env(
        &dir.join("data"),
        &config,
        &[],
        &[
            ("MATCHWRIGHT_WEBHOOK_SECRET", Some(SECRET)),
            ("MATCHWRIGHT_OPERATOR_KEYS", Some(OPERATOR)),
        ],
    );
    let client = server.client();
    (server, client)
}

/// Two new players duel and the game server posts a result; the match id, and how long the
/// match took to be ready.
async fn duel(client: &Client, names: [&str; 2]) -> (u64, Duration) {
    let started = Instant::now();
    let mut sockets = Vec::new();
    for name in names {
        let (_, token) = client.register(name).await;
        sockets.push(connect_events(&client.base, &token).await);
        let body = json!({"queue": "duel-1v1", "pings": {"eu-west": 25}});
        let (status, answer) = client
            .call(Method::POST, "/v1/queue", Some(&token), Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    let ready = wait_event(&mut sockets[0], "session_ready").await;
    let took = started.elapsed();
    let match_id = ready["match_id"].as_u64().unwrap();
    let result = format!("/v1/server/session/{match_id}/result");
    let (status, body) = client
        .call(
            Method::POST,
            &result,
            Some(SERVER_KEY),
            Some(json!({"winner": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    wait_event(&mut sockets[0], "ratings_changed").await;
    (match_id, took)
}

/// Reads the operators' event stream until every key of `keys` came; those events, in order.
async fn read_stream(stream: &mut reqwest::Response, keys: &[String]) -> Vec<Value> {
    let (mut text, mut found) = (String::new(), Vec::new());
    while found.len() < keys.len() {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("the stream stays open");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = text.find("\n\n") {
            let message: String = text.drain(..end + 2).collect();
            for line in message.lines() {
                if let Some(data) = line.strip_prefix("data: ") {
                    let event: Value = serde_json::from_str(data).unwrap();
                    if keys.iter().any(|key| event["id"] == key.as_str()) {
                        found.push(event);
                    }
                }
            }
        }
    }
    let ids: Vec<&str> = found.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, keys.iter().map(String::as_str).collect::<Vec<_>>());
    found
}

/// A duel's events, in the order they happen (a result changes ratings, then ends the
/// session).
fn keys_of(match_id: u64) -> Vec<String> {
    [
        "match_formed",
        "session_started",
        "ratings_changed",
        "session_ended",
    ]
    .iter()
    .map(|kind| format!("{kind}:{match_id}"))
    .collect()
}

/// Waits until the receiver has taken every key of `keys`; the deliveries by key.
async fn wait_taken(receiver: &Receiver, keys: &[String]) -> BTreeMap<String, Vec<Delivery>> {
    for _ in 0..200 {
        let by_key = by_key(receiver);
        if keys.iter().all(|key| by_key.contains_key(key)) {
            return by_key;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not every event arrived: {:?}", by_key(receiver).keys());
}

fn by_key(receiver: &Receiver) -> BTreeMap<String, Vec<Delivery>> {
    let mut by_key: BTreeMap<String, Vec<Delivery>> = BTreeMap::new();
    for delivery in receiver.taken.lock().unwrap().iter() {
        by_key
            .entry(delivery.id.clone())
            .or_default()
            .push(delivery.clone());
    }
    by_key
}

/// The first arrival of each of `keys` comes in that order.
fn assert_in_order(receiver: &Receiver, keys: &[String]) {
    let taken = receiver.taken.lock().unwrap();
    let firsts: Vec<usize> = keys
        .iter()
        .map(|key| taken.iter().position(|d| &d.id == key).unwrap())
        .collect();
    assert!(firsts.is_sorted(), "out of order: {keys:?} at {firsts:?}");
}

async fn status(client: &Client) -> Value {
    let (status, body) = client
        .call(Method::GET, "/v1/admin/webhooks", Some(OPERATOR), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The report once nothing is pending.
async fn settled(client: &Client) -> Value {
    for _ in 0..100 {
        let report = status(client).await;
        if report["endpoints"][0]["pending"] == 0 {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("events still pending: {}", status(client).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_once_by_key_through_failures_hangs_dead_letters_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Arc::new(Receiver::default());
    let url = serve_receiver(Arc::clone(&receiver)).await;
    // The receiver fails its first three requests: the first event arrives on attempt four.
    receiver.fail.store(3, Ordering::SeqCst);
    let (server, client) = start(dir.path(), &url, 4);
    client.wait_ready().await;
    let answer = client
        .call(Method::GET, "/v1/admin/events", None, None)
        .await;
    common::assert_error(&answer, StatusCode::UNAUTHORIZED, "missing_token");
    let mut stream = client
        .http
        .get(format!("{}/v1/admin/events", client.base))
        .header("authorization", format!("Bearer {OPERATOR}"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let (first, _) = duel(&client, ["hook-a1", "hook-a2"]).await;
    // The operators' stream carries the same events, live, as server-sent events.
    let streamed = read_stream(&mut stream, &keys_of(first)).await;
    assert!(
        streamed[0]["event"]["quality"].as_f64().unwrap() > 0.0,
        "{streamed:?}"
    );
    let mut expected = keys_of(first);
    let taken = wait_taken(&receiver, &expected).await;
    assert_eq!(taken[&expected[0]][0].attempt, 4);
    let formed = &taken[&expected[0]][0].body;
    assert_eq!(formed["event"]["queue"], "duel-1v1");
    assert_eq!(formed["event"]["players"].as_array().unwrap().len(), 2);
    let changed = &taken[&expected[2]][0].body["event"];
    assert_eq!(changed["changes"].as_array().unwrap().len(), 2, "{changed}");
    assert_in_order(&receiver, &expected);

    // A hanging receiver: the next match is ready as fast as ever; its events come after.
    receiver.hang.store(2, Ordering::SeqCst);
    let (second, took) = duel(&client, ["hook-b1", "hook-b2"]).await;
    assert!(
        took < Duration::from_secs(2),
        "a match waited {took:?} behind a hanging webhook"
    );
    expected.extend(keys_of(second));
    wait_taken(&receiver, &expected).await;

    // Refused `max_attempts` times: a dead letter, and the events after it still arrive.
    receiver.fail.store(4, Ordering::SeqCst);
    let (third, _) = duel(&client, ["hook-c1", "hook-c2"]).await;
    let mut third_keys = keys_of(third);
    let dead = third_keys.remove(0);
    wait_taken(&receiver, &third_keys).await;
    expected.extend(third_keys);
    let report = settled(&client).await;
    let endpoint = &report["endpoints"][0];
    assert_eq!(endpoint["name"], "backend");
    assert_eq!(endpoint["dead_letters"], 1, "{report}");
    assert_eq!(endpoint["last_error"], Value::Null, "{report}");

    // The receiver goes away; the server (now never giving up) stops with events undelivered
    // and starts again.
    server.stop();
    receiver.fail.store(u32::MAX, Ordering::SeqCst);
    let (server, client) = start(dir.path(), &url, 1_000);
    client.wait_ready().await;
    let (fourth, _) = duel(&client, ["hook-d1", "hook-d2"]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status(&client).await["endpoints"][0]["pending"], 4);
    server.stop();
    receiver.fail.store(0, Ordering::SeqCst);
    let (_server, client) = start(dir.path(), &url, 1_000);
    client.wait_ready().await;
    expected.extend(keys_of(fourth));
    let taken = wait_taken(&receiver, &expected).await;
    assert_in_order(&receiver, &keys_of(fourth));

    // Exactly once by key: every expected key, nothing else, and every delivery of a key the
    // same event.
    let mut keys: Vec<&String> = taken.keys().collect();
    let mut wanted: Vec<&String> = expected.iter().collect();
    keys.sort();
    wanted.sort();
    assert_eq!(keys, wanted, "the dead letter {dead} never arrives");
    for deliveries in taken.values() {
        assert!(deliveries.iter().all(|d| d.body == deliveries[0].body));
    }
    let report = settled(&client).await;
    assert_eq!(
        report["endpoints"][0]["dead_letters"], 1,
        "kept across the restart: {report}"
    );
    eprintln!(
        "{} requests for {} events",
        receiver.requests.load(Ordering::SeqCst),
        expected.len()
    );
}
