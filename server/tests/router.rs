//! Router tests: the real router, tick loop and redb store in this process, driven with
//! `tower::ServiceExt::oneshot` (no sockets). They cover the error contract, the OpenAPI
//! document against the routes, authentication and its refusals, queue validation, and a
//! failed game-server allocation putting players back in the queue with their waiting time.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use matchwright_server::app::{self, ServeOptions, Started};
use matchwright_server::auth;
use matchwright_server::settings::Settings;
use serde_json::{Value, json};
use tower::ServiceExt as _;

const JWT_SECRET: &str = "router-test-jwt-secret-0123456789abcdef";
const SERVER_KEY: &str = "router-test-game-server-key-0123456789";

struct TestServer {
    router: Router,
    started: Option<Started>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    fn start(extra_config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[server]\ntick_interval_ms = 20\njwt_secret = \"{JWT_SECRET}\"\n\
             session_secret = \"router-test-session-secret-0123456789ab\"\n\
             game_server_key = \"{SERVER_KEY}\"\nbody_limit_bytes = 4096\n{extra_config}"
        );
        let settings = Settings::from_toml_str(&text).unwrap();
        let started = app::start(ServeOptions {
            settings,
            data_dir: dir.path().to_path_buf(),
            postgres: None,
            record: None,
            source: None,
        })
        .unwrap();
        Self {
            router: started.router.clone(),
            started: Some(started),
            _dir: dir,
        }
    }

    async fn raw(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
            None => request.body(Body::empty()).unwrap(),
        };
        self.raw(request).await
    }

    async fn register(&self, name: &str) -> (u64, String, String) {
        let (status, body) = self
            .call(
                Method::POST,
                "/v1/auth/register",
                None,
                Some(json!({"username": name, "password": "correct horse battery"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["player_id"].as_u64().unwrap(),
            body["access_token"].as_str().unwrap().to_string(),
            body["refresh_token"].as_str().unwrap().to_string(),
        )
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(started) = self.started.take() {
            let _ = started.tick_loop.stop.send(true);
            let _ = started.tick_loop.thread.join();
        }
    }
}

fn assert_error(status: StatusCode, body: &Value, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_exactly_the_routes_that_answer() {
    let server = TestServer::start("");
    let (status, document) = server.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let routes = app::documented_routes(&document.to_string());
    // Each operation has its own operationId (code generators, the TypeScript SDK's among
    // them, refuse a document where two share one).
    let mut ids: Vec<&str> = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|methods| methods.as_object().unwrap().values())
        .map(|operation| operation["operationId"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let repeated: Vec<&&str> = ids
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| &w[0])
        .collect();
    assert!(repeated.is_empty(), "operationIds used twice: {repeated:?}");
    let mut listed: Vec<String> = routes.iter().map(|(m, p)| format!("{m} {p}")).collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            "DELETE /v1/admin/players/{id}/ban",
            "DELETE /v1/admin/players/{id}/ratings/{key}",
            "DELETE /v1/fleet/servers/{id}",
            "DELETE /v1/queue",
            "GET /healthz",
            "GET /metrics",
            "GET /openapi.json",
            "GET /readyz",
            "GET /v1/admin/audit",
            "GET /v1/admin/events",
            "GET /v1/admin/fleet",
            "GET /v1/admin/matches",
            "GET /v1/admin/matches/{id}",
            "GET /v1/admin/players/{id}",
            "GET /v1/admin/players/{id}/ban",
            "GET /v1/admin/queues",
            "GET /v1/admin/tickets",
            "GET /v1/admin/tickets/{id}",
            "GET /v1/admin/tickets/{id}/explain",
            "GET /v1/admin/webhooks",
            "GET /v1/events",
            "GET /v1/leaderboard/{season}",
            "GET /v1/matches/history",
            "GET /v1/party",
            "GET /v1/party/{id}",
            "GET /v1/profile/avoid",
            "GET /v1/profile/me",
            "GET /v1/queue",
            "GET /v1/queue/explain",
            "GET /v1/queues",
            "GET /v1/session/{match_id}",
            "PATCH /v1/profile/me",
            "POST /v1/admin/config/reload",
            "POST /v1/admin/matches/{id}/cancel",
            "POST /v1/admin/players/{id}/ban",
            "POST /v1/admin/sessions/{id}/end",
            "POST /v1/admin/tickets/{id}/cancel",
            "POST /v1/auth/login",
            "POST /v1/auth/logout",
            "POST /v1/auth/refresh",
            "POST /v1/auth/register",
            "POST /v1/fleet/servers",
            "POST /v1/fleet/servers/{id}/drain",
            "POST /v1/fleet/servers/{id}/heartbeat",
            "POST /v1/match/{id}/accept",
            "POST /v1/match/{id}/decline",
            "POST /v1/party",
            "POST /v1/party/{id}/chat",
            "POST /v1/party/{id}/invite",
            "POST /v1/party/{id}/join",
            "POST /v1/party/{id}/kick",
            "POST /v1/party/{id}/leave",
            "POST /v1/party/{id}/ready",
            "POST /v1/queue",
            "POST /v1/server/session/{id}/backfill",
            "POST /v1/server/session/{id}/end",
            "POST /v1/server/session/{id}/heartbeat",
            "POST /v1/server/session/{id}/leave",
            "POST /v1/server/session/{id}/result",
            "PUT /v1/admin/players/{id}/ratings/{key}",
            "PUT /v1/profile/avoid",
        ]
    );
    // Every documented route is served: none falls through to the 404 or 405 fallback.
    for (method, path) in &routes {
        let path = path
            .replace("{id}", "1")
            .replace("{match_id}", "1")
            .replace("{season}", "default");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let (status, body) = server.call(method.clone(), &path, None, None).await;
        assert_ne!(body["error"], "no_route", "{method} {path}");
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
    }
    // And something undocumented is not.
    let (status, body) = server.call(Method::GET, "/v1/nothing", None, None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "no_route");
    let (status, body) = server.call(Method::PUT, "/v1/queue", None, None).await;
    assert_error(
        status,
        &body,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
}

/// Every request kind's name, found by decoding a frame of each kind with its fields all
/// zero (an empty string, 0, false, None and an empty list are each one zero byte), so a kind
/// added to the wire is found without being listed here.
fn every_request_name() -> Vec<&'static str> {
    use matchwright_transport::codec::{PROTOCOL_VERSION, decode_client};
    use matchwright_transport::wire::Request;
    (0..Request::KINDS)
        .map(|kind| {
            let kind = u8::try_from(kind).unwrap();
            (0..32)
                .find_map(|zeros| {
                    let mut body = vec![PROTOCOL_VERSION, 0, kind];
                    body.resize(body.len() + zeros, 0);
                    decode_client(&body).ok()
                })
                .unwrap_or_else(|| panic!("request kind {kind} does not decode from zeros"))
                .request
                .name()
        })
        .collect()
}

/// One protocol over two transports: every route of the OpenAPI document is the counterpart
/// of a QUIC request kind (`quic::COUNTERPARTS`, which names every kind) or is HTTP-only
/// (`quic::HTTP_ONLY`, each named in docs/http-api.md's "HTTP-only routes" section). A route
/// added to the router without either fails here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_has_a_quic_counterpart_or_is_documented_http_only() {
    use matchwright_server::quic::{COUNTERPARTS, HTTP_ONLY};
    let server = TestServer::start("");
    let (status, document) = server.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let routes = app::documented_routes(&document.to_string());
    let docs = include_str!("../../docs/http-api.md");
    let start = docs
        .find("\n## HTTP-only routes\n")
        .expect("docs/http-api.md has an \"HTTP-only routes\" section");
    let section = &docs[start + 1..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut missing = Vec::new();
    for (method, path) in &routes {
        let quic = COUNTERPARTS
            .iter()
            .any(|(m, p, _)| m == method && p == path);
        let http_only = HTTP_ONLY.iter().any(|(m, p, _)| m == method && p == path);
        if quic == http_only {
            missing.push(format!(
                "{method} {path}: {}",
                if quic {
                    "both a QUIC counterpart and HTTP-only"
                } else {
                    "neither a QUIC counterpart (quic::COUNTERPARTS) nor HTTP-only (quic::HTTP_ONLY)"
                }
            ));
        }
    }
    for (method, path, _) in HTTP_ONLY {
        if !section.contains(&format!("`{method} {path}`")) {
            missing.push(format!(
                "{method} {path} is HTTP-only but docs/http-api.md's HTTP-only section does not name it"
            ));
        }
    }
    for (method, path, name) in COUNTERPARTS {
        if !routes.contains(&(method.to_string(), path.to_string())) {
            missing.push(format!(
                "{name}'s counterpart {method} {path} is not a route"
            ));
        }
        if section.contains(&format!("`{method} {path}`")) {
            missing.push(format!(
                "{method} {path} has a QUIC request ({name}) but the docs call it HTTP-only"
            ));
        }
    }
    let names = every_request_name();
    for name in &names {
        if !COUNTERPARTS.iter().any(|(_, _, n)| n == name) {
            missing.push(format!(
                "the QUIC request {name} has no route in quic::COUNTERPARTS"
            ));
        }
    }
    for (_, _, name) in COUNTERPARTS {
        if !names.contains(name) {
            missing.push(format!(
                "quic::COUNTERPARTS names {name}, which is no request kind"
            ));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_and_paths_get_json_errors_naming_the_field() {
    let server = TestServer::start("");
    let (_, token, _) = server.register("ada").await;
    let post = |path: &str, body: &str, content_type: Option<&str>| {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        request.body(Body::from(body.to_string())).unwrap()
    };
    let json_type = Some("application/json");
    let (status, body) = server.raw(post("/v1/queue", "{not json", json_type)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "malformed_json");
    // An array where an object is expected is refused, not read field by field in order.
    for (path, array) in [
        (
            "/v1/auth/register",
            r#"["mallory","a long enough password",null]"#,
        ),
        ("/v1/queue", r#" ["duel-1v1", {"eu-west": 20}, null]"#),
    ] {
        let (status, body) = server.raw(post(path, array, json_type)).await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        );
        assert_eq!(body["field"], "body", "{body}");
    }
    let (status, body) = server
        .call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"username": "mallory", "password": "a long enough password"})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    let (status, _) = server
        .raw(post(
            "/v1/queue",
            "{}",
            Some("application/vnd.matchwright+json"),
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "+json is JSON");
    let (status, body) = server.raw(post("/v1/queue", "{}", None)).await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let (status, body) = server
        .raw(post("/v1/queue", r#"{"pings": {}}"#, json_type))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    assert_eq!(body["field"], "queue", "{body}");
    let (status, body) = server
        .raw(post(
            "/v1/queue",
            r#"{"queue": "duel-1v1", "pings": {"eu-west": 70000}}"#,
            json_type,
        ))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    assert_eq!(body["field"], "pings.eu-west", "{body}");
    let huge = format!(r#"{{"queue": "{}", "pings": {{}}}}"#, "x".repeat(10_000));
    let (status, body) = server.raw(post("/v1/queue", &huge, json_type)).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    );
    let (status, body) = server
        .call(Method::POST, "/v1/match/abc/accept", Some(&token), None)
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_path");
    assert_eq!(body["field"], "id");
    let (status, body) = server
        .call(
            Method::POST,
            "/v1/queue",
            Some(&token),
            Some(json!({"queue": "no-such-queue", "pings": {"eu-west": 20}})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["field"], "queue");
    let (status, body) = server
        .call(
            Method::POST,
            "/v1/queue",
            Some(&token),
            Some(json!({"queue": "duel-1v1", "pings": {"mars": 20}})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["field"], "pings.mars");
    let (status, body) = server
        .call(
            Method::POST,
            "/v1/queue",
            Some(&token),
            Some(json!({"queue": "duel-1v1", "pings": {}})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["field"], "pings");
    let (status, body) = server
        .call(
            Method::PATCH,
            "/v1/profile/me",
            Some(&token),
            Some(json!({"regions": ["eu-west", "mars"]})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["field"], "regions[1]");
    // Nothing was changed by any of it.
    let (status, body) = server
        .call(Method::GET, "/v1/queue", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "idle");
    let (_, profile) = server
        .call(Method::GET, "/v1/profile/me", Some(&token), None)
        .await;
    assert_eq!(profile["regions"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_log_in_refresh_with_rotation_and_a_reused_token_revokes_the_family() {
    let server = TestServer::start("");
    let (player, _, first_refresh) = server.register("grace").await;
    let (status, body) = server
        .call(
            Method::POST,
            "/v1/auth/register",
            None,
            Some(json!({"username": "grace", "password": "another password"})),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "username_taken");
    assert_eq!(body["field"], "username");
    for (username, password, field) in [
        ("x", "long enough pw", "username"),
        ("bad name!", "long enough pw", "username"),
        ("fine_name", "short", "password"),
    ] {
        let (status, body) = server
            .call(
                Method::POST,
                "/v1/auth/register",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        );
        assert_eq!(body["field"], field);
    }
    for (username, password) in [("grace", "wrong password"), ("nobody", "whatever pw")] {
        let (status, body) = server
            .call(
                Method::POST,
                "/v1/auth/login",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await;
        assert_error(
            status,
            &body,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        );
    }
    let (status, login) = server
        .call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"username": "grace", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(login["player_id"], player);
    assert_eq!(login["expires_in"], 900);
    // Rotation: the first refresh works and gives a new token; reusing the old one is refused
    // and revokes the whole family, so the new one stops working too.
    let refresh = |token: String| {
        let server = &server;
        async move {
            server
                .call(
                    Method::POST,
                    "/v1/auth/refresh",
                    None,
                    Some(json!({ "refresh_token": token })),
                )
                .await
        }
    };
    let (status, rotated) = refresh(first_refresh.clone()).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let second = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(second, first_refresh);
    let (status, body) = server
        .call(
            Method::GET,
            "/v1/profile/me",
            Some(rotated["access_token"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["username"], "grace");
    let (status, body) = refresh(first_refresh).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "token_reused");
    let (status, body) = refresh(second).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_token");
    let (status, body) = refresh("not a token".into()).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_token");
    // The login's family is separate and still works; logout revokes it.
    let login_refresh = login["refresh_token"].as_str().unwrap().to_string();
    let (status, _) = server
        .call(
            Method::POST,
            "/v1/auth/logout",
            None,
            Some(json!({ "refresh_token": login_refresh })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = refresh(login_refresh).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_expired_and_forged_tokens_and_wrong_server_keys_are_refused() {
    let server = TestServer::start("");
    let (player, token, _) = server.register("eve").await;
    let expired = auth::access_token(
        JWT_SECRET.as_bytes(),
        matchwright_ecs::PlayerId(player),
        1_000_000,
        900,
    );
    let forged = auth::access_token(
        b"not the server's secret, but long enough",
        matchwright_ecs::PlayerId(player),
        matchwright_server::clock::unix_ms() / 1_000,
        900,
    );
    for (method, path) in [
        (Method::GET, "/v1/profile/me"),
        (Method::GET, "/v1/queue"),
        (Method::DELETE, "/v1/queue"),
        (Method::GET, "/v1/session/1"),
        (Method::POST, "/v1/match/1/accept"),
        (Method::GET, "/v1/events"),
    ] {
        let (status, body) = server.call(method.clone(), path, None, None).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "missing_token");
        let (status, body) = server
            .call(method.clone(), path, Some(&expired), None)
            .await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "token_expired");
        let (status, body) = server.call(method.clone(), path, Some(&forged), None).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_token");
    }
    for path in [
        "/v1/server/session/1/heartbeat",
        "/v1/server/session/1/result",
        "/v1/server/session/1/backfill",
    ] {
        let (status, body) = server.call(Method::POST, path, None, None).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "missing_token");
        // A player's token is not a server key.
        let (status, body) = server.call(Method::POST, path, Some(&token), None).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_token");
    }
    let (status, body) = server
        .call(
            Method::POST,
            "/v1/server/session/1/heartbeat",
            Some(SERVER_KEY),
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "unknown_match");
    // A validly signed token for an account that does not exist: 401 on every route, the
    // ones that only write to the matcher or the lobby included.
    let ghost = auth::access_token(
        JWT_SECRET.as_bytes(),
        matchwright_ecs::PlayerId(player + 1_000),
        matchwright_server::clock::unix_ms() / 1_000,
        900,
    );
    for (method, path) in [
        (Method::POST, "/v1/party"),
        (Method::GET, "/v1/party"),
        (Method::GET, "/v1/queue"),
        (Method::DELETE, "/v1/queue"),
        (Method::GET, "/v1/profile/me"),
        (Method::POST, "/v1/match/1/accept"),
        (Method::GET, "/v1/matches/history"),
    ] {
        let (status, body) = server.call(method.clone(), path, Some(&ghost), None).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "unknown_player");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_leaderboard_mode_lists_each_mode_once() {
    // A fourth queue in the `duel` mode, after the shipped ones.
    let server = TestServer::start(
        "[[queues]]\nname = \"duel-casual\"\nmode = \"duel\"\nteam_size = 1\nmax_party_size = 1\n",
    );
    let (_, token, _) = server.register("lister").await;
    let (status, body) = server
        .call(
            Method::GET,
            "/v1/leaderboard/default?mode=chess",
            Some(&token),
            None,
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["field"], "mode");
    let message = body["message"].as_str().unwrap();
    assert_eq!(message.matches("\"duel\"").count(), 1, "{message}");
    assert!(message.contains("\"ranked\""), "{message}");
}

async fn wait_for(server: &TestServer, token: &str, want: &str) -> Value {
    // Up to 8 s: a ticket waiting after a region's backoff matches at its next review (up to
    // `review.max_interval_ms`, 5 s).
    for _ in 0..400 {
        let (_, body) = server
            .call(Method::GET, "/v1/queue", Some(token), None)
            .await;
        if body["status"] == want {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never reached {want}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_status_windows_and_cancel() {
    let server = TestServer::start("");
    let (_, token, _) = server.register("alan").await;
    let request = json!({"queue": "ranked-5v5", "pings": {"eu-west": 30, "us-east": 110}});
    let (status, body) = server
        .call(
            Method::POST,
            "/v1/queue",
            Some(&token),
            Some(request.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "queued");
    assert_eq!(body["queue"], "ranked-5v5");
    assert!(body["windows"]["skill_mmr"].as_f64().unwrap() >= 75.0);
    assert!(body["windows"]["quality_floor"].as_f64().unwrap() <= 0.4);
    let (status, body) = server
        .call(Method::POST, "/v1/queue", Some(&token), Some(request))
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "already_queued");
    let (status, body) = server
        .call(Method::DELETE, "/v1/queue", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    wait_for(&server, &token, "idle").await;
    let (status, body) = server
        .call(Method::DELETE, "/v1/queue", Some(&token), None)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_match_without_a_game_server_goes_back_to_the_queue_keeping_waiting_time() {
    // One server slot in eu-west: the first duel gets it, the second finds none. A 1 s
    // backoff between attempts.
    let server = TestServer::start(
        "[[fleet.servers]]\nregion = \"eu-west\"\naddress = \"10.0.0.1:7777\"\ncapacity = 1\n\
         [sessions]\nallocation_backoff_ms = 1000\n[rate_limits]\nenabled = false\n",
    );
    let mut players = Vec::new();
    for name in ["player1", "player2", "player3", "player4"] {
        let (id, token, _) = server.register(name).await;
        players.push((id, token));
    }
    let mut since = Vec::new();
    for (_, token) in &players[..2] {
        let (status, body) = server
            .call(
                Method::POST,
                "/v1/queue",
                Some(token),
                Some(json!({"queue": "duel-1v1", "pings": {"eu-west": 20}})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let first = wait_for(&server, &players[0].1, "in_match").await;
    let match_id = first["match_id"].as_u64().unwrap();
    // Wait until it is active on the one server.
    for _ in 0..200 {
        let (_, session) = server
            .call(
                Method::GET,
                &format!("/v1/session/{match_id}"),
                Some(&players[0].1),
                None,
            )
            .await;
        if session["state"] == "active" {
            assert_eq!(session["server"], "10.0.0.1:7777");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The other player may not read that session.
    let (status, body) = server
        .call(
            Method::GET,
            &format!("/v1/session/{match_id}"),
            Some(&players[2].1),
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "not_your_match");
    for (_, token) in &players[2..] {
        let (status, body) = server
            .call(
                Method::POST,
                "/v1/queue",
                Some(token),
                Some(json!({"queue": "duel-1v1", "pings": {"eu-west": 20}})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        since.push(body["waiting_since_ms"].as_u64());
    }
    // They match, find no server, and are queued again with their first waiting time; they
    // match again once the region's 1 s backoff is over, and fail again, while the one server
    // is busy: an attempt a second, not one a tick.
    assert!(since[0].is_some());
    let (mut attempts, mut last) = (0, String::new());
    let deadline = std::time::Instant::now() + Duration::from_millis(3_500);
    while std::time::Instant::now() < deadline {
        let (_, body) = server
            .call(Method::GET, "/v1/queue", Some(&players[2].1), None)
            .await;
        let status = body["status"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_string();
        assert_ne!(status, "idle", "a requeued player never looks idle: {body}");
        if status == "queued" {
            assert_eq!(body["waiting_since_ms"].as_u64(), since[0], "{body}");
            if last == "in_match" {
                attempts += 1;
            }
        }
        last = status;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        (2..=4).contains(&attempts),
        "{attempts} failed attempts in 3.5 s with a 1 s backoff"
    );
    // The first session ends: the server is free, and the waiting pair gets it.
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/v1/server/session/{match_id}/result"),
            Some(SERVER_KEY),
            Some(json!({"winner": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, status_after) = server
        .call(Method::GET, "/v1/queue", Some(&players[0].1), None)
        .await;
    assert_eq!(status_after["status"], "idle");
    let placed = wait_for(&server, &players[3].1, "in_match").await;
    assert_ne!(placed["match_id"].as_u64().unwrap(), match_id);
}

/// The whole response (status, headers, body) to `request`.
async fn respond(server: &TestServer, request: Request<Body>) -> axum::response::Response {
    server.router.clone().oneshot(request).await.unwrap()
}

fn header_of(response: &axum::response::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap().to_string())
}

fn preflight(origin: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri("/v1/queue")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization,content-type",
        )
        .body(Body::empty())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_allowed_origins_only_and_is_off_by_default() {
    let server = TestServer::start("cors_origins = [\"https://game.example\"]\n");
    let allowed = respond(&server, preflight("https://game.example")).await;
    assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        header_of(&allowed, "access-control-allow-origin").as_deref(),
        Some("https://game.example")
    );
    let methods = header_of(&allowed, "access-control-allow-methods").unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let headers = header_of(&allowed, "access-control-allow-headers").unwrap();
    assert!(headers.contains("authorization"), "{headers}");
    let other = respond(&server, preflight("https://evil.example")).await;
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    for cors in [
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-max-age",
    ] {
        assert_eq!(header_of(&other, cors), None, "{cors}");
    }
    // A simple request from the allowed origin may read the answer and its request id.
    let get = Request::builder()
        .uri("/healthz")
        .header(header::ORIGIN, "https://game.example")
        .body(Body::empty())
        .unwrap();
    let answer = respond(&server, get).await;
    assert_eq!(
        header_of(&answer, "access-control-allow-origin").as_deref(),
        Some("https://game.example")
    );
    let exposed = header_of(&answer, "access-control-expose-headers").unwrap();
    assert!(exposed.contains("x-request-id"), "{exposed}");
    drop(server);
    // No origins configured: no CORS at all.
    let closed = TestServer::start("");
    let refused = respond(&closed, preflight("https://game.example")).await;
    assert_eq!(refused.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header_of(&refused, "access-control-allow-origin"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_compression_and_the_stacks_own_errors() {
    let server = TestServer::start("");
    let plain = Request::builder()
        .uri("/healthz")
        .body(Body::empty())
        .unwrap();
    let generated = header_of(&respond(&server, plain).await, "x-request-id").unwrap();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    let given = Request::builder()
        .uri("/healthz")
        .header("x-request-id", "client-chosen-7")
        .body(Body::empty())
        .unwrap();
    let echoed = header_of(&respond(&server, given).await, "x-request-id");
    assert_eq!(echoed.as_deref(), Some("client-chosen-7"));
    let document = Request::builder()
        .uri("/openapi.json")
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    let compressed = respond(&server, document).await;
    assert_eq!(
        header_of(&compressed, "content-encoding").as_deref(),
        Some("gzip")
    );
    // A method the route does not take: 405 with `Allow` and the JSON error body.
    let wrong = Request::builder()
        .method(Method::DELETE)
        .uri("/healthz")
        .body(Body::empty())
        .unwrap();
    let answer = respond(&server, wrong).await;
    assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = header_of(&answer, "allow").unwrap_or_default();
    assert!(allow.contains("GET"), "Allow: {allow:?}");
    let body = axum::body::to_bytes(answer.into_body(), 1 << 16)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"], "method_not_allowed", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_leave_the_public_port_when_they_have_their_own_address() {
    let server = TestServer::start("metrics_listen = \"127.0.0.1:0\"\n");
    let (status, _) = server.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let operations = server.started.as_ref().unwrap().operations.as_ref();
    assert!(operations.is_some(), "the operations listener is bound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_the_stacks_answers_and_field_bounds() {
    let server = TestServer::start("");
    let (_, document) = server.call(Method::GET, "/openapi.json", None, None).await;
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            let mut wanted = Vec::new();
            if path.starts_with("/v1/") {
                wanted.extend(["429", "503"]);
            }
            if operation.get("requestBody").is_some() {
                wanted.extend(["400", "408", "413", "415", "422"]);
            }
            for status in wanted {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} does not document {status}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{checked}");
    let register = &document["components"]["schemas"]["RegisterRequest"]["properties"];
    assert_eq!(register["username"]["minLength"], 3, "{register}");
    assert_eq!(register["username"]["maxLength"], 32, "{register}");
    assert_eq!(register["password"]["minLength"], 8, "{register}");
    assert_eq!(register["password"]["maxLength"], 128, "{register}");
}

/// The match-rules additions are in the document, with examples: the enqueue body's
/// attributes, roles and members (attribute values a string, a number or a list), the avoid
/// list, the explanation, match players' roles, and the operator route with its key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_rules_roles_avoid_lists_and_explain() {
    let server = TestServer::start("");
    let (_, document) = server.call(Method::GET, "/openapi.json", None, None).await;
    let schemas = &document["components"]["schemas"];
    let enqueue = &schemas["EnqueueRequest"];
    for field in ["attributes", "roles", "members"] {
        assert!(
            enqueue["properties"].get(field).is_some(),
            "EnqueueRequest has no {field}: {enqueue}"
        );
    }
    assert_eq!(enqueue["example"]["roles"][0], "tank", "{enqueue}");
    let value = &schemas["AttributeValue"];
    let kinds: Vec<&Value> = value["oneOf"]
        .as_array()
        .unwrap_or_else(|| panic!("{value}"))
        .iter()
        .map(|one| &one["type"])
        .collect();
    assert_eq!(kinds, [&json!("string"), &json!("number"), &json!("array")]);
    assert!(value["examples"].as_array().is_some_and(|e| e.len() == 3));
    for (schema, field) in [
        ("MemberChoices", "roles"),
        ("AvoidList", "limit"),
        ("AvoidListUpdate", "players"),
        ("Explanation", "checks"),
        ("ExplainCheck", "blocking"),
        ("Relaxation", "at_ms"),
        ("MatchPlayer", "role"),
    ] {
        assert!(
            schemas[schema]["properties"].get(field).is_some(),
            "{schema} has no {field}: {}",
            schemas[schema]
        );
    }
    for schema in ["AvoidList", "AvoidListUpdate", "Explanation", "MatchPlayer"] {
        assert!(
            schemas[schema].get("example").is_some(),
            "{schema} has no example"
        );
    }
    let admin = &document["paths"]["/v1/admin/tickets/{id}/explain"]["get"];
    assert_eq!(admin["security"][0]["operator_key"], json!([]), "{admin}");
    for status in ["200", "401", "403", "404"] {
        assert!(admin["responses"].get(status).is_some(), "{admin}");
    }
    assert!(
        document["components"]["securitySchemes"]
            .get("operator_key")
            .is_some()
    );
    let put = &document["paths"]["/v1/profile/avoid"]["put"];
    assert!(put["responses"].get("422").is_some(), "{put}");
    assert!(
        document["paths"]["/v1/queue/explain"]["get"]["responses"]
            .get("404")
            .is_some()
    );
}
