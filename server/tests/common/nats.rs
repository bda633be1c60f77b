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
        let child = Command::new(binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        Self {
            url: format!("nats://127.0.0.1:{port}"),
            child,
        }
    }
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
