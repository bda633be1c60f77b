//! The command line: `matchwright load`'s flags ([`LoadArgs`]) and what they resolve to (the
//! server's base URL, the game-server key, the QUIC fingerprint).

use std::path::PathBuf;

use crate::LoadError;

/// `matchwright load` options.
#[derive(Clone, Debug, clap::Args)]
pub struct LoadArgs {
    /// The server's HTTP address, e.g. `127.0.0.1:8080` or `http://127.0.0.1:8080`.
    #[arg(long)]
    pub http: String,
    /// Concurrent players.
    #[arg(long, default_value_t = 100)]
    pub players: usize,
    /// Seconds of measured load (after setup).
    #[arg(long, default_value_t = 30)]
    pub duration: u64,
    /// The game mode to play: its first queue is used (default: the server's first queue).
    #[arg(long)]
    pub mode: Option<String>,
    /// The queue to play, by name (instead of `--mode`).
    #[arg(long, conflicts_with = "mode")]
    pub queue: Option<String>,
    /// The game-server key, to post results as the game servers. Default: the
    /// `MATCHWRIGHT_GAME_SERVER_KEY` variable, else `secrets.toml` in `--data-dir`.
    #[arg(long)]
    pub server_key: Option<String>,
    /// The server's data directory (to read the game-server key from its `secrets.toml`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// How long a fake game lasts before its result is posted (ms).
    #[arg(long, default_value_t = 5_000)]
    pub game_ms: u64,
    /// How long a player waits between a game and the next queue (ms).
    #[arg(long, default_value_t = 1_000)]
    pub think_ms: u64,
    /// Usernames are this prefix and the player's number.
    #[arg(long, default_value = "load-")]
    pub prefix: String,
    /// Registrations and logins in flight at once during setup.
    #[arg(long, default_value_t = 32)]
    pub setup_concurrency: usize,
    /// Idle HTTP connections kept to the server.
    #[arg(long, default_value_t = 1_024)]
    pub max_connections: usize,
    /// Players speak QUIC to this address (through the client SDK) instead of HTTP; results
    /// and the queue listing still use `--http`.
    #[arg(long)]
    pub quic: Option<std::net::SocketAddr>,
    /// Client UDP sockets the `--quic` players' connections are spread over.
    #[arg(long, default_value_t = 16)]
    pub quic_endpoints: usize,
    /// The server certificate's SHA-256 fingerprint, for `--quic` (printed by `matchwright
    /// serve`). Default: that of the development certificate in `--data-dir`.
    #[arg(long)]
    pub fingerprint: Option<String>,
    /// Also write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,
}

/// Refuses what cannot make a run.
pub(crate) fn check(args: &LoadArgs) -> Result<(), LoadError> {
    if args.players == 0 {
        return Err(LoadError("--players must be at least 1".into()));
    }
    if args.duration == 0 {
        return Err(LoadError("--duration must be at least 1 second".into()));
    }
    Ok(())
}

/// `--http` as a base URL: `http://HOST:PORT`, without a trailing slash.
pub(crate) fn http_base(args: &LoadArgs) -> Result<String, LoadError> {
    if args.http.starts_with("http://") {
        Ok(args.http.trim_end_matches('/').to_string())
    } else if args.http.contains("://") {
        Err(LoadError(format!(
            "--http {}: only http:// is spoken (put TLS in front of the server, not between it and this tool)",
            args.http
        )))
    } else {
        Ok(format!("http://{}", args.http.trim_end_matches('/')))
    }
}

/// The game-server key: `--server-key`, else `MATCHWRIGHT_GAME_SERVER_KEY`, else the
/// `game_server_key` of `secrets.toml` in `--data-dir`.
pub(crate) fn game_server_key(args: &LoadArgs) -> Result<String, LoadError> {
    if let Some(key) = &args.server_key {
        return Ok(key.clone());
    }
    if let Ok(key) = std::env::var("MATCHWRIGHT_GAME_SERVER_KEY")
        && !key.is_empty()
    {
        return Ok(key);
    }
    let Some(dir) = &args.data_dir else {
        return Err(LoadError(
            "give the game-server key: --server-key KEY, MATCHWRIGHT_GAME_SERVER_KEY, or --data-dir DIR of the server (its secrets.toml)".into(),
        ));
    };
    let path = dir.join("secrets.toml");
    let text = std::fs::read_to_string(&path)
        .map_err(|error| LoadError(format!("cannot read {}: {error}", path.display())))?;
    let table: toml::Table = text
        .parse()
        .map_err(|error| LoadError(format!("{} is not TOML: {error}", path.display())))?;
    table
        .get("game_server_key")
        .and_then(|value| value.as_str())
        .map(str::to_string)
        .ok_or_else(|| LoadError(format!("{} has no game_server_key", path.display())))
}

/// The fingerprint to pin for `--quic`: `--fingerprint`, else the development certificate's
/// in `--data-dir`.
pub(crate) fn quic_fingerprint(args: &LoadArgs) -> Result<String, LoadError> {
    matchwright_transport::quic::tls::pinned_fingerprint(
        args.fingerprint.as_deref(),
        args.data_dir.as_deref(),
    )
    .map_err(|error| LoadError(format!("--quic: {error}")))
}
