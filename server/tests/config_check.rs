//! `matchwright config check` and the environment, through the real binary: a valid config
//! prints its effective TOML with the environment's overrides applied and secrets redacted
//! (exit 0); a bad file, a variable naming no setting or an unreadable secret file is an error
//! naming it (exit 2). `serve` refuses a Postgres URL given twice before it starts anything.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use matchwright_server::settings::Settings;

const SECRET: &str = "a-jwt-secret-of-at-least-32-bytes-0123456789";

/// The binary, without any `MATCHWRIGHT_*` variable of the environment the tests run in.
fn matchwright() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_matchwright"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MATCHWRIGHT") {
            command.env_remove(name);
        }
    }
    command
}

fn run(command: &mut Command) -> (Option<i32>, String, String) {
    let output = command.output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn shipped(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../config")
        .join(name)
}

#[test]
fn config_check_prints_the_defaults_without_a_file() {
    let (code, stdout, stderr) = run(matchwright().args(["config", "check"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("# file: none (the built-in defaults)"),
        "{stdout}"
    );
    assert!(stdout.contains("secrets not set"), "{stdout}");
    assert!(stdout.contains("[server]"), "{stdout}");
    assert!(stdout.contains("tick_interval_ms = 100"), "{stdout}");
    // The output is a config file that reads back as the defaults.
    assert_eq!(
        Settings::from_toml_str(&stdout).unwrap(),
        Settings::default()
    );
}

#[test]
fn config_check_applies_the_environment_and_redacts_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("session-secret");
    std::fs::write(&secret_file, format!("{SECRET}-session\n")).unwrap();
    let (code, stdout, stderr) = run(matchwright()
        .args(["config", "check"])
        .arg(shipped("load.toml"))
        .env("MATCHWRIGHT__SERVER__TICK_INTERVAL_MS", "50")
        .env("MATCHWRIGHT__RATE_LIMITS__AUTH__PER_IP_PER_MINUTE", "10")
        .env("MATCHWRIGHT__LIMITS__MAX_PARTIES", "5000")
        .env("MATCHWRIGHT_JWT_SECRET", SECRET)
        .env("MATCHWRIGHT_SESSION_SECRET_FILE", &secret_file)
        .env(
            "MATCHWRIGHT_POSTGRES_URL",
            "postgres://user:pg-pass-7f3a@db/matchwright",
        )
        .env("MATCHWRIGHT_JWT_SECRT", "a typo"));
    assert_eq!(code, Some(0), "{stderr}");
    for expected in [
        "# environment: MATCHWRIGHT__SERVER__TICK_INTERVAL_MS sets server.tick_interval_ms",
        "# environment: MATCHWRIGHT_SESSION_SECRET_FILE sets server.session_secret",
        "# postgres: from environment variable MATCHWRIGHT_POSTGRES_URL (redacted)",
        "# not read: MATCHWRIGHT_JWT_SECRT",
        "tick_interval_ms = 50",
        "max_parties = 5000",
        "jwt_secret = \"<redacted>\"",
        "session_secret = \"<redacted>\"",
        "name = \"load-duel\"",
    ] {
        assert!(stdout.contains(expected), "{expected}:\n{stdout}");
    }
    assert!(!stdout.contains(SECRET), "{stdout}");
    assert!(!stdout.contains("pg-pass-7f3a"), "{stdout}");
    let settings =
        Settings::from_toml_str(&stdout.replace("\"<redacted>\"", &format!("\"{SECRET}\"")))
            .unwrap();
    assert_eq!(settings.rate_limits.auth.per_ip_per_minute, 10);
    // load.toml's own settings are still there.
    assert_eq!(settings.rate_limits.write.per_ip_per_minute, 0);
}

#[test]
fn config_check_exits_2_naming_the_field_or_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[server]\ntick_interval_ms = 0\n").unwrap();
    let (code, stdout, stderr) = run(matchwright().args(["config", "check"]).arg(&bad));
    assert_eq!(code, Some(2), "{stdout}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("field `server.tick_interval_ms`: must be between 1 and 10000"),
        "{stderr}"
    );
    assert!(stderr.contains("bad.toml"), "{stderr}");

    let (code, _, stderr) = run(matchwright()
        .args(["config", "check"])
        .env("MATCHWRIGHT__SERVER__TICK_INTERVAL", "50"));
    assert_eq!(code, Some(2));
    assert!(
        stderr
            .contains("environment variable `MATCHWRIGHT__SERVER__TICK_INTERVAL` names no setting"),
        "{stderr}"
    );

    let (code, _, stderr) = run(matchwright()
        .args(["config", "check"])
        .env("MATCHWRIGHT__SERVER__TICK_INTERVAL_MS", "0"));
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("set by environment variable `MATCHWRIGHT__SERVER__TICK_INTERVAL_MS`"),
        "{stderr}"
    );

    let missing = dir.path().join("no-such-secret");
    let (code, _, stderr) = run(matchwright()
        .args(["config", "check"])
        .env("MATCHWRIGHT_GAME_SERVER_KEY_FILE", &missing));
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("environment variable `MATCHWRIGHT_GAME_SERVER_KEY_FILE`: cannot read"),
        "{stderr}"
    );

    let (code, _, stderr) = run(matchwright()
        .args(["config", "check"])
        .env("MATCHWRIGHT_JWT_SECRET", SECRET)
        .env("MATCHWRIGHT_JWT_SECRET_FILE", &missing));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("are both set"), "{stderr}");
}

#[test]
fn serve_refuses_a_postgres_url_given_twice_before_starting() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (code, _, stderr) = run(matchwright()
        .args(["serve", "--no-quic", "--http", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(&data)
        .args(["--postgres", "postgres://a@127.0.0.1:1/x"])
        .env("MATCHWRIGHT_POSTGRES_URL", "postgres://b@127.0.0.1:1/y"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "the Postgres URL is given by `--postgres` and environment variable `MATCHWRIGHT_POSTGRES_URL`"
        ),
        "{stderr}"
    );
    assert!(
        !data.exists(),
        "nothing is created before the config is good"
    );
}

#[test]
fn a_gateway_on_the_shared_record_refuses_to_start_without_the_clusters_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(matchwright()
        .args(["gateway", "--no-quic", "--http", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--nats", "nats://127.0.0.1:1"])
        .args(["--postgres", "postgres://a@127.0.0.1:1/x"])
        .env(
            "MATCHWRIGHT_GAME_SERVER_KEY",
            "a-game-server-key-0123456789abcdefgh",
        ));
    assert_ne!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("needs the cluster's secrets")
            && stderr.contains("MATCHWRIGHT_JWT_SECRET, MATCHWRIGHT_SESSION_SECRET")
            && !stderr.contains("MATCHWRIGHT_GAME_SERVER_KEY"),
        "names what is missing, before it reaches NATS: {stderr}"
    );
}
