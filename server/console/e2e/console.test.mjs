// The operators' console in headless Chromium (Debian's `chromium`, driven by playwright-core)
// against the real `matchwright serve`, started on free ports, with `matchwright load` playing:
// a wrong key is refused at sign-in; the admin key signs in; a queue fills as the load runs and
// matches come down the live stream; a player whose display name is HTML is found, explained
// and shown as text (no element made of it, no script run); their ticket is cancelled from the
// console and leaves; the audit log shows it; a read-only key sees everything and is refused
// the action. No page error and no Content-Security-Policy violation along the way.
//
// CHROMIUM names the browser (default: Debian's /usr/lib/chromium/chromium). With
// CONSOLE_SCREENSHOTS set to a folder, the test saves the screenshots docs/console.md shows.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { chromium } from "playwright-core";

// Plain JavaScript shared with the TypeScript SDK's tests: starts the real server.
import { GAME_SERVER_KEY, binary, startServer } from "../../../sdk/typescript/scripts/server.mjs";

const ADMIN_KEY = "console-test-admin-key-0123456789abcdefghijklmnop";
const READ_ONLY_KEY = "console-test-read-only-key-0123456789abcdefghijkl";
const PASSWORD = "a good long password";
/** A display name that is markup: the console must show it as these characters. */
const HTML_NAME = "<img src=x onerror=__pwned=1>";
const SHOTS = process.env.CONSOLE_SCREENSHOTS;

/** The browser: $CHROMIUM, else Debian's. */
function browserPath() {
  const candidates = [process.env.CHROMIUM, "/usr/lib/chromium/chromium", "/usr/bin/chromium"];
  const found = candidates.find((path) => path && existsSync(path));
  if (!found) {
    throw new Error("no Chromium: install Debian's `chromium` package or set CHROMIUM to a Chromium binary");
  }
  return found;
}

/** Polls `check` until it returns something truthy; fails naming `what` after `timeoutMs`. */
async function until(what, check, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${last})`);
    await new Promise((wake) => setTimeout(wake, 200));
  }
}

async function call(base, method, path, body, token) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${base}${path}`, { method, headers, body: body && JSON.stringify(body) });
  const data = await response.json().catch(() => null);
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${JSON.stringify(data)}`);
  return data;
}

/** `matchwright load` in the background, until stopped. */
function load(base, queue, players, prefix) {
  const args = ["load", "--http", base, "--queue", queue, "--players", String(players), "--duration", "600",
    "--server-key", GAME_SERVER_KEY, "--prefix", prefix, "--game-ms", "3000", "--think-ms", "500", "--quiet"];
  const child = spawn(binary(), args, { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, RUST_LOG: "warn" } });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return async () => {
    child.kill("SIGTERM");
    await exited;
  };
}

async function screenshot(page, name) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

describe("the operators' console in Chromium", () => {
  let server;
  let browser;
  let page;
  const problems = [];
  const stops = [];

  before(async () => {
    server = await startServer({
      server: `operator_keys = ["${ADMIN_KEY}"]\nread_only_operator_keys = ["${READ_ONLY_KEY}"]`,
    });
    browser = await chromium.launch({ executablePath: browserPath(), args: ["--no-sandbox"], headless: true });
    page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
    page.on("dialog", (dialog) => void dialog.accept());
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      // A refused request logs an error in Chromium (the console shows those answers itself).
      const text = message.text();
      if (message.type() === "error" && !/status of (401|403|404)/.test(text)) problems.push(`console: ${text}`);
    });
  });

  after(async () => {
    for (const stop of stops) await stop();
    await browser?.close();
    await server?.stop();
  });

  it("serves the page with its security headers", async () => {
    const response = await fetch(`${server.base}/console`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type"), /^text\/html/);
    assert.match(response.headers.get("content-security-policy"), /script-src 'self'/);
    assert.equal(response.headers.get("x-frame-options"), "DENY");
    const script = await fetch(`${server.base}/console/console.js`);
    assert.match(script.headers.get("content-type"), /^text\/javascript/);
  });

  it("refuses a wrong key at sign-in", async () => {
    await page.goto(`${server.base}/console`);
    await page.locator("#login-key").fill("not-the-key-not-the-key-not-the-key-0000");
    await page.locator("#login-submit").click();
    await until("the sign-in error", async () => (await page.locator("#login-error").textContent()).includes("not an operator key"));
    assert.equal(await page.locator("#app").isHidden(), true);
    await screenshot(page, "console-login");
  });

  it("shows a queue filling and matches streaming as `matchwright load` runs", async () => {
    await page.locator("#login-key").fill(ADMIN_KEY);
    await page.locator("#login-submit").click();
    await page.locator("#app").waitFor({ state: "visible" });
    await until("the live stream", async () => (await page.locator("#stream-status").getAttribute("data-state")) === "live");
    // Seven players cannot make a 5v5 match: they fill the queue. Duels form and play.
    stops.push(load(server.base, "ranked-5v5", 7, "wait-"));
    stops.push(load(server.base, "duel-1v1", 12, "duel-"));
    const depth = page.locator('#queues tr[data-queue="ranked-5v5"] [data-field="tickets"]');
    await until("ranked-5v5 filling", async () => Number(await depth.textContent()) >= 5, 60_000);
    await until("a match on the live stream", async () => (await page.locator('#stream li[data-event="match_formed"]').count()) > 0, 60_000);
    const matches = page.locator('#queues tr[data-queue="duel-1v1"] [data-field="matches"]');
    await until("duel-1v1's matches counted", async () => Number(await matches.textContent()) > 0);
    await until("a live match listed", async () => (await page.locator("#matches tr[data-match]").count()) > 0);
    // For the docs' screenshot, let the charts gather half a minute first.
    if (SHOTS) await new Promise((wake) => setTimeout(wake, 30_000));
    await screenshot(page, "console-queues");
  });

  it("shows an HTML display name as text, explains the ticket and cancels it", async () => {
    const registered = await call(server.base, "POST", "/v1/auth/register", {
      username: "html-name", password: PASSWORD, display_name: HTML_NAME,
    });
    const player = registered.player_id;
    await call(server.base, "POST", "/v1/queue", { queue: "trios-ffa", pings: { "eu-west": 25 } }, registered.access_token);
    await page.locator("#ticket-player").fill(String(player));
    await page.locator("#ticket-search button[type=submit]").click();
    const row = page.locator("#tickets tr[data-ticket]");
    await until("the player's ticket found", async () => (await row.count()) === 1 && (await row.textContent()).includes("trios-ffa"));
    const ticket = Number(await row.getAttribute("data-ticket"));

    await row.getByRole("button", { name: String(player) }).click();
    const name = page.locator(`[data-player-detail="${player}"] [data-field="display_name"]`);
    await name.waitFor();
    assert.equal(await name.textContent(), HTML_NAME, "the name is shown as the characters it is");
    await until("the player queued", async () => (await page.locator("#player-detail").textContent()).includes("queued"));

    await row.getByRole("button", { name: "Explain" }).click();
    const detail = page.locator(`[data-ticket-detail="${ticket}"]`);
    await detail.waitFor();
    assert.ok((await detail.textContent()).includes(`${HTML_NAME} (#${player})`), await detail.textContent());
    assert.ok((await detail.textContent()).includes("skill_window"));
    assert.equal(await page.locator("main img").count(), 0, "no element is made of the name");
    assert.equal(await page.evaluate(() => window.__pwned), undefined, "no script ran");
    await screenshot(page, "console-ticket");

    await row.getByRole("button", { name: "Cancel" }).click();
    await until("the ticket gone from the search", async () => (await page.locator("#tickets tr[data-ticket]").count()) === 0);
    const trios = page.locator('#queues tr[data-queue="trios-ffa"] [data-field="tickets"]');
    await until("trios-ffa empty again", async () => (await trios.textContent()) === "0");
    await until("the cancel audited", async () => (await page.locator("#audit tbody").textContent()).includes(`ticket ${ticket}`));
    assert.match(await page.locator("#notice").textContent(), /Cancel ticket \d+: cancelled \(audit #\d+\)/);
    const status = await call(server.base, "GET", "/v1/queue", undefined, registered.access_token);
    assert.equal(status.status, "idle", JSON.stringify(status));
  });

  it("lets a read-only key read but not act", async () => {
    await page.locator("#logout").click();
    await page.locator("#login").waitFor({ state: "visible" });
    await page.locator("#login-key").fill(READ_ONLY_KEY);
    await page.locator("#login-submit").click();
    await page.locator("#app").waitFor({ state: "visible" });
    await page.locator("#ticket-player").fill("");
    await page.locator("#ticket-queue").selectOption("ranked-5v5");
    await page.locator("#ticket-search button[type=submit]").click();
    const row = page.locator("#tickets tr[data-ticket]").first();
    await until("a waiting ticket listed", async () => (await row.count()) === 1 && (await row.textContent()).includes("ranked-5v5"));
    await row.getByRole("button", { name: "Cancel" }).click();
    await until("the refusal shown", async () => (await page.locator("#notice").textContent()).includes("read_only_operator"));
    assert.equal(await page.locator("#notice").getAttribute("data-kind"), "error");
    assert.deepEqual(problems, []);
  });
});
