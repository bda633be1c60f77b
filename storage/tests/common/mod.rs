//! Helpers for the Postgres tests: the database URL (or a clear skip), a schema per test, and
//! a TCP proxy that can be broken and restored (after crates.io's chaos proxy).

#![allow(dead_code, clippy::print_stderr, clippy::unwrap_used)]

pub mod duels;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// `DATABASE_URL`, or `None` after saying the test is skipped.
pub fn database_url(test: &str) -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("SKIPPED {test}: DATABASE_URL is not set (CI sets it; see .ci/run)");
            None
        }
    }
}

/// A schema name no other test uses.
pub fn unique_schema(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// A TCP proxy in front of an upstream address. `cut` drops every open connection and
/// refuses new ones until `restore`.
pub struct ChaosProxy {
    pub addr: SocketAddr,
    broken: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
}

impl ChaosProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let broken = Arc::new(AtomicBool::new(false));
        let (generation, _) = watch::channel(0_u64);
        let accept_broken = Arc::clone(&broken);
        let accept_generation = generation.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if accept_broken.load(Ordering::SeqCst) {
                    drop(client); // refused: connection closed at once
                    continue;
                }
                let mut cut = accept_generation.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {} // dropped: both sockets close mid-stream
                    }
                });
            }
        });
        Self {
            addr,
            broken,
            generation,
        }
    }

    /// Cuts every connection and refuses new ones.
    pub fn cut(&self) {
        self.broken.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.broken.store(false, Ordering::SeqCst);
    }
}

/// The URL with its host and port replaced by `addr`.
pub fn url_via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let credentials = authority.rsplit_once('@').map(|(c, _)| format!("{c}@"));
    format!(
        "{scheme}://{}{addr}/{path}",
        credentials.unwrap_or_default()
    )
}

/// The upstream address of a URL (host:port, default port 5432).
pub fn upstream_of(url: &str) -> SocketAddr {
    let rest = url.split_once("://").unwrap().1;
    let authority = rest.split('/').next().unwrap();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let with_port = if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:5432")
    };
    let with_port = with_port.replace("localhost", "127.0.0.1");
    with_port.parse().unwrap()
}

/// Every row of `tables`, table by table (as JSON text, sorted): two schemas compare equal
/// when they hold the same rows.
pub async fn dump(pool: &sqlx::PgPool, tables: &[&str]) -> Vec<Vec<String>> {
    let mut dumped = Vec::new();
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT to_jsonb(t)::text FROM {table} t ORDER BY 1"
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        dumped.push(rows);
    }
    dumped
}
