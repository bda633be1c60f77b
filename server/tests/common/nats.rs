//! A real `nats-server -js` for a test: on a free loopback port with its own store directory
//! (never the machine's shared server on 4222), killed when the test ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `nats-server` on the PATH (none: the test is skipped, unless `MATCHWRIGHT_REQUIRE_NATS=1`,
/// as `.ci/run` sets, where that is a failure).
pub fn nats_server() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nats-server"))
            .find(|path| path.is_file())
    });
    let required = std::env::var("MATCHWRIGHT_REQUIRE_NATS").is_ok_and(|value| value == "1");
    assert!(
        found.is_some() || !required,
        "nats-server is not on the PATH and MATCHWRIGHT_REQUIRE_NATS=1: install the Debian \
         package nats-server"
    );
    found
}

/// A running `nats-server`.
pub struct Nats {
    /// Where clients connect.
    pub url: String,
    child: Child,
    binary: PathBuf,
    store: PathBuf,
    port: u16,
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nats {
    /// Starts `binary` with JetStream on a free port, storing under `store`.
    pub fn start(binary: &Path, store: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .expect("a free port");
        Self {
            url: format!("nats://127.0.0.1:{port}"),
            child: spawn(binary, store, port),
            binary: binary.to_path_buf(),
            store: store.to_path_buf(),
            port,
        }
    }

    /// Sends the server a signal (`STOP` pauses it: a slow, unreachable server; `CONT`
    /// resumes it).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} nats-server");
    }

    /// Stops the server (SIGTERM, as an operator would) and waits for it to exit.
    pub fn stop(&mut self) {
        self.signal("TERM");
        let _ = self.child.wait();
    }

    /// Starts the server again on the same port and store.
    pub fn restart(&mut self) {
        self.child = spawn(&self.binary, &self.store, self.port);
    }
}

fn spawn(binary: &Path, store: &Path, port: u16) -> Child {
    Command::new(binary)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server starts")
}

/// A client of the server at `url`, retrying for 15 s while it starts.
pub async fn connect(url: &str) -> async_nats::Client {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match async_nats::connect(url).await {
            Ok(client) => return client,
            Err(error) if Instant::now() > deadline => panic!("NATS at {url}: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
