// Starts the real `matchwright serve` on free ports in a temporary data directory, for the
// SDK's tests and for reading its OpenAPI document. The binary is $MATCHWRIGHT_BIN, else
// target/debug/matchwright under $CARGO_TARGET_DIR or the repository's target folder.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** The game-server key the test servers take. */
export const GAME_SERVER_KEY = "sdk-test-game-server-key-0123456789abcdefgh";
/** The browser origin the test servers allow (CORS). */
export const ORIGIN = "http://localhost:5173";

/** The repository's root: the first folder up from here holding Cargo.lock. */
function repositoryRoot() {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "Cargo.lock"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("not inside the matchwright repository");
    dir = up;
  }
  return dir;
}

/** The matchwright binary to run. */
export function binary() {
  if (process.env.MATCHWRIGHT_BIN) return process.env.MATCHWRIGHT_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? join(repositoryRoot(), "target");
  const path = join(target, "debug", "matchwright");
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: build it (cargo build -p matchwright-server) or set MATCHWRIGHT_BIN`);
  }
  return path;
}

/**
 * Starts a server: `server` lines join its `[server]` table, `extra` tables follow.
 * @param {{ server?: string, extra?: string }} [config]
 * @returns {Promise<{ base: string, stop: () => Promise<void> }>}
 */
export async function startServer({ server = "", extra = "" } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "matchwright-sdk-"));
  const config = join(dir, "matchwright.toml");
  writeFileSync(
    config,
    `[server]\ntick_interval_ms = 20\ngame_server_key = "${GAME_SERVER_KEY}"\n` +
      `cors_origins = ["${ORIGIN}"]\n${server}\n` +
      // Every test client is 127.0.0.1: no per-IP limits.
      `[rate_limits]\nread = { per_player_per_minute = 600, per_ip_per_minute = 0 }\n` +
      `write = { per_player_per_minute = 120, per_ip_per_minute = 0 }\n` +
      `auth = { per_ip_per_minute = 0 }\n${extra}`,
  );
  const args = ["serve", "--http", "127.0.0.1:0", "--quic", "127.0.0.1:0"];
  const child = spawn(binary(), [...args, "--data-dir", join(dir, "data"), "--config", config], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, RUST_LOG: "warn" },
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const failedToStart = new Promise((_, reject) =>
    child.once("error", (error) => reject(new Error(`cannot run ${binary()}: ${error.message}`))),
  );
  const lines = createInterface({ input: child.stdout });
  const listening = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the server printed no address in 20 s")), 20_000);
    exited.then((code) => reject(new Error(`the server exited (${code}) before listening`)));
    lines.on("line", (line) => {
      const found = line.match(/listening on (http:\/\/\S+)/);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
  });
  const base = await Promise.race([listening, failedToStart]);
  return {
    base,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
