//! Attacks on the real binary's availability, each shown bounded: thousands of idle
//! connections from one address, slow-loris and body-never-sent clients, a WebSocket that never
//! reads, a SIGTERM with stuck clients, and a burst of wrong-password logins. Linux only (the
//! checks read the server's `/proc` entries).

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Client, NO_IP_LIMITS, Server, connect_events, write_config_server};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A number from the server's `/proc/PID/status` (kB).
fn proc_status_kb(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// This process' open-file limit (its children inherit it).
fn open_file_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3)?.parse().ok())
        .unwrap_or(1_024)
}

/// The tests here measure the server under attack: they run one at a time, so one attack's
/// load is not another's measurement.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

fn address(server: &Server) -> SocketAddr {
    server.base.trim_start_matches("http://").parse().unwrap()
}

/// The sum of the `/metrics` samples whose lines start with `prefix` (0 when none), read
/// from 127.0.0.2 (so an attack from 127.0.0.1 at its per-address cap does not block it).
async fn metric(base: &str, prefix: &str) -> f64 {
    let text = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .build()
        .unwrap()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|line| line.starts_with(prefix))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn http_client(server: &Server) -> Client {
    Client {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    }
}

/// Not a test on its own: the attacker process `idle_connections_from_one_address_...`
/// starts (one process holds at most its descriptor limit). Opens `HOLD_COUNT` connections
/// to `HOLD_ADDR`, says how many it holds, and keeps them until its stdin closes.
#[test]
#[ignore = "run by idle_connections_from_one_address_leave_healthz_answering"]
fn hold_idle_connections() {
    let (Ok(target), Ok(count)) = (std::env::var("HOLD_ADDR"), std::env::var("HOLD_COUNT")) else {
        return;
    };
    let target: SocketAddr = target.parse().unwrap();
    let count: usize = count.parse().unwrap();
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        if let Ok(stream) = TcpStream::connect_timeout(&target, Duration::from_secs(5)) {
            held.push(stream);
        }
    }
    println!("holding {}", held.len());
    std::io::stdout().flush().unwrap();
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    drop(held);
}

/// Starts an attacker process holding `count` connections to `target`.
fn attacker(target: SocketAddr, count: usize) -> (std::process::Child, usize) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "hold_idle_connections",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("HOLD_ADDR", target.to_string())
        .env("HOLD_COUNT", count.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let held = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("holding ")?.trim().parse().ok())
        .expect("the attacker says how many connections it holds");
    (child, held)
}

/// A `/healthz` from another address (127.0.0.2) on a new connection; its latency.
async fn probe_health(target: SocketAddr) -> Duration {
    let http = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let started = Instant::now();
    let response = tokio::time::timeout(
        Duration::from_secs(5),
        http.get(format!("http://{target}/healthz")).send(),
    )
    .await
    .expect("healthz answers within 5 s")
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)]
async fn idle_connections_from_one_address_leave_healthz_answering() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    // Long head and request timeouts: no held slot is freed while the attackers connect, so
    // the count refused does not depend on how fast this machine opens 20,000 connections.
    let config = write_config_server(
        dir.path(),
        "max_connections_per_ip = 1000\nheader_timeout_ms = 600000\nrequest_timeout_ms = 600000\n",
        NO_IP_LIMITS,
    );
    let server = Server::start(&dir.path().join("data"), &config);
    let target = address(&server);
    let pid = server.child.id();
    // 20,000 connections, in as many processes as this machine's open-file limit needs.
    let per_process = usize::try_from(open_file_limit().saturating_sub(100))
        .unwrap_or(10_000)
        .clamp(100, 10_000);
    let mut attackers = Vec::new();
    let mut held = 0;
    while held < 20_000 {
        let (child, count) = attacker(target, per_process.min(20_000 - held));
        assert!(count > 0, "an attacker could not connect at all");
        held += count;
        attackers.push(child);
    }
    eprintln!("{} attackers opened {held} connections", attackers.len());
    let mut latencies = Vec::new();
    for _ in 0..5 {
        latencies.push(probe_health(target).await);
    }
    latencies.sort();
    eprintln!("/healthz from another address: {latencies:?}");
    assert!(
        latencies[2] < Duration::from_millis(100),
        "median {:?}",
        latencies[2]
    );
    assert!(
        latencies[4] < Duration::from_secs(1),
        "slowest {:?}",
        latencies[4]
    );
    let open = metric(
        &server.base,
        "matchwright_http_connections{listener=\"public\"}",
    )
    .await;
    // Connections past the cap wait in the kernel's accept backlog until the server accepts
    // and refuses them: read the count until it settles. Runs have settled at 18,000 to
    // 19,000 (on 2026-12-02 twice at exactly 18,000, about a backlog's worth short, not yet
    // explained), so the bound leaves that backlog out.
    let mut refused = 0.0;
    for _ in 0..100 {
        refused = metric(&server.base, "matchwright_http_connections_refused_total").await;
        if refused >= 18_500.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fds = open_fds(pid);
    eprintln!("server: {open} connections open, {refused} refused, {fds} descriptors");
    assert!(open <= 1_010.0, "{open} connections held");
    // Every connection beyond the cap was refused at accept (20,000 - 1,000), less at most a
    // backlog's worth the server had not seen yet.
    assert!(refused >= 17_500.0, "{refused} refused");
    assert!(fds < 1_500, "{fds} descriptors");
    for mut child in attackers {
        drop(child.stdin.take());
        child.wait().unwrap();
    }
}

/// Reads until the server closes the connection; how long that took.
fn time_to_close(stream: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buffer = [0_u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return started.elapsed(),
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {
                return started.elapsed();
            }
            Err(error) => panic!("not closed within {limit:?}: {error}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)]
async fn idle_slow_loris_and_body_never_sent_connections_are_closed() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_server(
        dir.path(),
        "header_timeout_ms = 1000\nrequest_timeout_ms = 5000\n",
        NO_IP_LIMITS,
    );
    let server = Server::start(&dir.path().join("data"), &config);
    let target = address(&server);
    // Connected, never a byte.
    let mut idle = TcpStream::connect(target).unwrap();
    let waited = time_to_close(&mut idle, Duration::from_secs(5));
    assert!(waited < Duration::from_secs(3), "idle: {waited:?}");
    // Slow loris: a header byte every 200 ms, never the end of the head.
    let mut loris = TcpStream::connect(target).unwrap();
    loris
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let writer = {
        let mut loris = loris.try_clone().unwrap();
        std::thread::spawn(move || {
            for _ in 0..25 {
                std::thread::sleep(Duration::from_millis(200));
                if loris.write_all(b"X-Slow: y\r\n").is_err() {
                    return;
                }
            }
        })
    };
    let waited = time_to_close(&mut loris, Duration::from_secs(5));
    assert!(waited < Duration::from_secs(3), "slow loris: {waited:?}");
    writer.join().unwrap();
    // Headers sent, the body never: 408 with the JSON error body.
    let mut stalled = TcpStream::connect(target).unwrap();
    stalled
        .write_all(
            b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 64\r\n\r\n{\"user",
        )
        .unwrap();
    stalled
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = String::new();
    let _ = stalled.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\":\"body_timeout\""), "{answer}");
    // A head larger than the server reads: 431 at once.
    let mut huge = TcpStream::connect(target).unwrap();
    let filler = "x".repeat(40 * 1024);
    let head = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {filler}\r\n\r\n");
    let _ = huge.write_all(head.as_bytes());
    huge.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = String::new();
    let _ = huge.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let closed = metric(
        &server.base,
        "matchwright_http_connections_closed_total{reason=\"header_timeout\"}",
    )
    .await;
    assert!(closed >= 2.0, "{closed} header timeouts counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)]
async fn a_websocket_that_never_reads_is_closed_within_the_write_timeout() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_server(
        dir.path(),
        "websocket_write_timeout_ms = 1000\nsocket_buffer = 1000000\nmax_sockets_per_player = 1\n",
        "[rate_limits]\nenabled = false\n[lobby]\nmax_chat_chars = 1000\n",
    );
    let server = Server::start(&dir.path().join("data"), &config);
    let pid = server.child.id();
    let client = http_client(&server);
    let (_, token) = client.register("never-reads").await;
    let fds_before = open_fds(pid);
    let socket = connect_events(&server.base, &token).await;
    let (status, party) = client
        .call(reqwest::Method::POST, "/v1/party", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{party}");
    let chat = format!("/v1/party/{}/chat", party["party_id"]);
    let line = json!({ "text": "x".repeat(1000) });
    // Chat to the party until the server gives up on the socket (each line is an event),
    // over connections of their own (closed before the descriptors are counted again).
    let flood = http_client(&server);
    let started = Instant::now();
    let mut sent = 0_u32;
    while metric(
        &server.base,
        "matchwright_event_sockets_closed_total{reason=\"write_timeout\"}",
    )
    .await
        < 1.0
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never closed after {sent} lines"
        );
        let posts = (0..200).map(|_| {
            flood.call(
                reqwest::Method::POST,
                &chat,
                Some(&token),
                Some(line.clone()),
            )
        });
        for (status, body) in futures_util::future::join_all(posts).await {
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        sent += 200;
    }
    eprintln!("closed after {sent} chat lines, {:?}", started.elapsed());
    drop(flood);
    // Its slot is free again and its descriptor is gone.
    let again = connect_events(&server.base, &token).await;
    drop(again);
    let deadline = Instant::now() + Duration::from_secs(5);
    while open_fds(pid) > fds_before + 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fds_after = open_fds(pid);
    assert!(fds_after <= fds_before + 2, "{fds_before} -> {fds_after}");
    drop(socket);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)]
async fn sigterm_with_stuck_clients_exits_within_the_grace_period() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_server(
        dir.path(),
        "shutdown_grace_ms = 1000\nrequest_timeout_ms = 600000\nheader_timeout_ms = 600000\n",
        NO_IP_LIMITS,
    );
    let mut server = Server::start(&dir.path().join("data"), &config);
    let target = address(&server);
    let client = http_client(&server);
    let (_, stuck_token) = client.register("stuck-socket").await;
    let (_, reading_token) = client.register("reading-socket").await;
    let stuck = connect_events(&server.base, &stuck_token).await;
    let mut reading = connect_events(&server.base, &reading_token).await;
    // A request whose body never comes, and a connection that never sends its head.
    let mut stalled = TcpStream::connect(target).unwrap();
    stalled
        .write_all(
            b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 64\r\n\r\n{",
        )
        .unwrap();
    let _silent = TcpStream::connect(target).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    // The reading socket is told why it closes.
    let close = tokio::time::timeout(Duration::from_secs(5), async {
        use futures_util::StreamExt as _;
        while let Some(Ok(message)) = reading.next().await {
            if let tokio_tungstenite::tungstenite::Message::Close(frame) = message {
                return frame;
            }
        }
        None
    })
    .await
    .unwrap()
    .expect("a close frame");
    assert_eq!(u16::from(close.code), 1001, "{close:?}");
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = started.elapsed();
    eprintln!("exited {exit} {took:?} after SIGTERM");
    assert!(exit.success(), "{exit}");
    // The stalled request held the drain until the grace period (1 s) ran out, no longer.
    assert!(
        took >= Duration::from_millis(900),
        "{took:?}: the grace was not used"
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    drop(stuck);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)]
async fn a_burst_of_wrong_password_logins_keeps_memory_bounded() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_server(dir.path(), "", NO_IP_LIMITS);
    let server = Server::start(&dir.path().join("data"), &config);
    let pid = server.child.id();
    let client = http_client(&server);
    client.register("victim").await;
    let logins = (0..500).map(|i| {
        let body = json!({"username": if i % 2 == 0 { "victim" } else { "nobody" },
                          "password": "not the password"});
        let http = client.http.clone();
        let url = format!("{}/v1/auth/login", server.base);
        async move {
            let response = http.post(url).json(&body).send().await.unwrap();
            let retry = response.headers().get("retry-after").is_some();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (status, retry, body)
        }
    });
    let answers = futures_util::future::join_all(logins).await;
    let peak_mb = proc_status_kb(pid, "VmHWM") / 1024;
    assert!(peak_mb <= 300, "peak RSS {peak_mb} MB");
    let mut refused = 0;
    for (status, retry, body) in &answers {
        match *status {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(*retry, "503 without Retry-After");
                assert_eq!(body["error"], "busy");
                refused += 1;
            }
            other => panic!("{other}: {body}"),
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_mb = proc_status_kb(pid, "VmRSS") / 1024;
    eprintln!("500 logins: {refused} busy; peak RSS {peak_mb} MB, {after_mb} MB two seconds later");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)]
async fn metrics_follow_prometheus_conventions_and_junk_methods_add_no_series() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_server(dir.path(), "", NO_IP_LIMITS);
    let server = Server::start(&dir.path().join("data"), &config);
    let http = reqwest::Client::new();
    for method in ["FOO", "BAR", "PROPFIND", "GET"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let _ = http
            .request(method, format!("{}/v1/queue", server.base))
            .send()
            .await
            .unwrap();
    }
    let text = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut helped = std::collections::HashSet::new();
    let mut typed = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["#", "HELP", name, ..] => {
                helped.insert((*name).to_string());
            }
            ["#", "TYPE", name, kind] => typed.push(((*name).to_string(), (*kind).to_string())),
            _ => {}
        }
    }
    assert!(typed.len() >= 30, "{typed:?}");
    for (name, kind) in &typed {
        assert!(helped.contains(name), "{name} has no HELP line");
        assert_eq!(
            name.ends_with("_total"),
            kind == "counter",
            "{name} ({kind}): counters and only counters end in _total"
        );
    }
    for name in [
        "matchwright_build_info",
        "process_resident_memory_bytes",
        "process_open_fds",
    ] {
        assert!(
            typed.iter().any(|(typed, _)| typed == name),
            "{name} missing"
        );
    }
    let methods: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|line| line.starts_with("matchwright_http_request_duration_seconds_count"))
        .filter_map(|line| line.split("method=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(
        methods.into_iter().collect::<Vec<_>>(),
        ["GET", "other"],
        "unknown methods share one label value"
    );
    // promtool's own check, where it is installed (`.ci/run` installs it).
    match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(mut promtool) => {
            promtool
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            let output = promtool.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "promtool check metrics: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Err(error) => {
            // CI installs promtool and says so; elsewhere the conventions above are the check.
            assert!(
                std::env::var_os("MATCHWRIGHT_REQUIRE_PROMTOOL").is_none(),
                "promtool is required here but cannot run: {error}"
            );
            eprintln!("promtool not run ({error}); the conventions above were checked");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)]
async fn a_client_that_never_reads_its_answers_is_closed_within_the_write_timeout() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_server(dir.path(), "write_timeout_ms = 1000\n", NO_IP_LIMITS);
    let server = Server::start(&dir.path().join("data"), &config);
    let target = address(&server);
    // Pipelined requests for the OpenAPI document (about 100 KB each), answers never read.
    let stream = TcpStream::connect(target).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let request = b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n";
        for _ in 0..2_000 {
            if writer.write_all(request).is_err() {
                return;
            }
        }
    });
    let started = Instant::now();
    let closed = loop {
        let closed = metric(
            &server.base,
            "matchwright_http_connections_closed_total{reason=\"write_timeout\"}",
        )
        .await;
        if closed >= 1.0 || started.elapsed() > Duration::from_secs(30) {
            break closed;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("closed for not reading after {:?}", started.elapsed());
    assert!(closed >= 1.0, "still open after 30 s");
    drop(stream);
    sender.join().unwrap();
}
