// The SDK against the real `matchwright serve`, started by the test on free ports: accounts
// and token refresh, profile, queue and explain, a match accepted and played to a result with
// its live events, history and leaderboards, parties with chat, errors as MatchwrightError, and
// CORS for a browser origin.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { Client, type EventOf, type LiveEvent, MatchwrightError, type Tokens } from "../src/index.js";
// Plain JavaScript, shared with scripts/openapi.mjs (compiled along: allowJs).
import { GAME_SERVER_KEY, ORIGIN, startServer } from "../scripts/server.mjs";

type Running = { base: string; stop: () => Promise<void> };

/** A queue whose matches wait for every player to accept. */
const ACCEPT_DUEL = `
[[queues]]
name = "duel-accept"
mode = "duel"
teams = 2
team_size = 1
max_party_size = 1
acceptance = { timeout_ms = 30000 }
`;
const PINGS = { "eu-west": 25 };
const PASSWORD = "a good long password";

/** Live events as they come, and a wait for the next of a type. */
class Inbox {
  private readonly seen: LiveEvent[] = [];
  private readonly waiting: Array<() => void> = [];

  readonly push = (event: LiveEvent): void => {
    this.seen.push(event);
    for (const wake of this.waiting.splice(0)) wake();
  };

  async next<T extends LiveEvent["type"]>(type: T, timeoutMs = 10_000): Promise<EventOf<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.seen.findIndex((event) => event.type === type);
      if (at >= 0) return this.seen.splice(at, 1)[0] as EventOf<T>;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type} event in ${timeoutMs} ms`);
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, left);
        this.waiting.push(() => {
          clearTimeout(timer);
          wake();
        });
      });
    }
  }
}

/** A new player with an open event socket. */
async function player(base: string, name: string): Promise<{ client: Client; inbox: Inbox; close: () => void }> {
  const client = new Client({ baseUrl: base });
  await client.register(name, PASSWORD, `${name}'s name`);
  const inbox = new Inbox();
  const stream = await client.events(inbox.push);
  await inbox.next("welcome");
  return { client, inbox, close: () => stream.close() };
}

describe("the client against matchwright serve", () => {
  let server: Running;
  before(async () => {
    server = await startServer({ extra: ACCEPT_DUEL });
  });
  after(async () => {
    await server.stop();
  });

  it("plays a match: queue, explain, accept, session, result, ratings, history, leaderboard", async () => {
    const a = await player(server.base, "sdk-alice");
    const b = await player(server.base, "sdk-bob");
    const listed = await a.client.queues();
    assert.ok(listed.queues.some((queue) => queue.name === "duel-accept"));

    const queued = await a.client.enqueue({ queue: "duel-accept", pings: PINGS });
    assert.equal(queued.status, "queued");
    const why = await a.client.explain();
    assert.equal(why.queue, "duel-accept");
    await b.client.enqueue({ queue: "duel-accept", pings: PINGS });
    const found = await a.inbox.next("match_found");
    assert.equal(found.state, "awaiting_acceptance");
    await a.client.accept(found.match_id);
    await b.client.accept(found.match_id);
    const ready = await a.inbox.next("session_ready");
    assert.equal(ready.match_id, found.match_id);
    const session = await a.client.session(found.match_id);
    assert.equal(session.state, "active");
    assert.equal(session.server, ready.server);

    // The game server reports the result (its own route, not the player SDK's).
    const result = await fetch(`${server.base}/v1/server/session/${found.match_id}/result`, {
      method: "POST",
      headers: { authorization: `Bearer ${GAME_SERVER_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ winner: 0 }),
    });
    assert.equal(result.status, 200, await result.text());
    const changed = await a.inbox.next("ratings_changed");
    assert.notEqual(changed.after.mu, changed.before.mu);
    await b.inbox.next("ratings_changed");

    const profile = await a.client.profile();
    const duel = profile.ratings.find((rating) => rating.mode === "duel");
    assert.equal(duel?.games, 1);
    assert.equal(duel?.rating.mu, changed.after.mu);
    const history = await a.client.history({ limit: 5 });
    assert.equal(history.matches.length, 1);
    const board = await a.client.leaderboard(listed.season, "duel");
    assert.equal(board.entries.length, 2);
    a.close();
    b.close();
  });

  it("leaves a queue, declines a match, and edits the profile and avoid list", async () => {
    const a = await player(server.base, "sdk-carol");
    const b = await player(server.base, "sdk-dave");
    await a.client.enqueue({ queue: "duel-1v1", pings: PINGS });
    assert.equal((await a.client.queueStatus()).status, "queued");
    await a.client.leaveQueue();
    assert.equal((await a.client.queueStatus()).status, "idle");

    await a.client.enqueue({ queue: "duel-accept", pings: PINGS });
    await b.client.enqueue({ queue: "duel-accept", pings: PINGS });
    const found = await b.inbox.next("match_found");
    await b.client.decline(found.match_id);
    await a.inbox.next("match_cancelled");
    await a.client.leaveQueue();

    const renamed = await a.client.updateProfile({ display_name: "Carol <b>C</b>" });
    assert.equal(renamed.display_name, "Carol <b>C</b>");
    const avoid = await a.client.setAvoidList([renamed.player_id + 1]);
    assert.deepEqual(avoid.players, [renamed.player_id + 1]);
    assert.deepEqual((await a.client.avoidList()).players, avoid.players);
    a.close();
    b.close();
  });

  it("forms a party, chats in it and leaves it", async () => {
    const leader = await player(server.base, "sdk-erin");
    const friend = await player(server.base, "sdk-frank");
    const party = await leader.client.createParty();
    const friendProfile = await friend.client.profile();
    await leader.client.invite(party.party_id, friendProfile.player_id);
    const invite = await friend.inbox.next("party_invite");
    assert.equal(invite.party_id, party.party_id);
    const joined = await friend.client.joinParty(party.party_id);
    assert.equal(joined.members.length, 2);
    await leader.client.chat(party.party_id, "gg <script>");
    const line = await friend.inbox.next("party_chat");
    assert.equal(line.party_id, party.party_id);
    assert.equal((await friend.client.party()).party_id, party.party_id);
    await friend.client.leaveParty(party.party_id);
    leader.close();
    friend.close();
  });

  it("answers errors as MatchwrightError with the code and the field", async () => {
    const client = new Client({ baseUrl: server.base });
    await assert.rejects(client.login("sdk-nobody", PASSWORD), (error: unknown) => {
      assert.ok(error instanceof MatchwrightError);
      assert.equal(error.status, 401);
      return true;
    });
    await assert.rejects(client.profile(), { code: "missing_token" });
    await client.register("sdk-grace", PASSWORD);
    await assert.rejects(client.enqueue({ queue: "no-such-queue", pings: PINGS }), (error: unknown) => {
      assert.ok(error instanceof MatchwrightError);
      assert.equal(error.status, 422);
      assert.equal(error.field, "queue");
      return true;
    });
    await client.logout();
    assert.equal(client.tokens, null);
    // A refresh refused for want of a login does not stick: the next login refreshes fine.
    await assert.rejects(client.refresh(), { code: "missing_token" });
    await client.login("sdk-grace", PASSWORD);
    assert.ok((await client.refresh()).access_token);
    // Not the server's JSON (a proxy's error page): still a MatchwrightError, with the status.
    const proxied = new Client({
      baseUrl: server.base,
      fetch: async () => new Response("<html>502 Bad Gateway</html>", { status: 502 }),
    });
    await assert.rejects(proxied.queues(), { status: 502, code: "unexpected_answer" });
  });

  it("lets a configured browser origin call the API (CORS)", async () => {
    const preflight = await fetch(`${server.base}/v1/queue`, {
      method: "OPTIONS",
      headers: {
        origin: ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
      },
    });
    assert.ok(preflight.status < 300, `preflight answered ${preflight.status}`);
    assert.equal(preflight.headers.get("access-control-allow-origin"), ORIGIN);
    const other = await fetch(`${server.base}/v1/queues`, { headers: { origin: "https://elsewhere.example" } });
    assert.equal(other.headers.get("access-control-allow-origin"), null);
  });
});

describe("token refresh", () => {
  let server: Running;
  before(async () => {
    // Access tokens live 2 s: the client refreshes before using one that is about to expire.
    server = await startServer({ server: "access_token_ttl_s = 2" });
  });
  after(async () => {
    await server.stop();
  });

  it("refreshes the access token before it expires, and restores saved tokens", async () => {
    const saved: Array<Tokens | null> = [];
    const client = new Client({ baseUrl: server.base, refreshMarginMs: 500, onTokens: (t) => saved.push(t) });
    const first = await client.register("sdk-heidi", PASSWORD);
    await new Promise((wait) => setTimeout(wait, 1_800));
    const profile = await client.profile();
    assert.equal(profile.username, "sdk-heidi");
    assert.equal(saved.length, 2, "registered, then refreshed");
    assert.notEqual(client.tokens?.refresh_token, first.refresh_token);
    // Two calls at once share one refresh (a refresh token is spent once).
    await new Promise((wait) => setTimeout(wait, 1_800));
    await Promise.all([client.profile(), client.queueStatus()]);
    assert.equal(saved.length, 3);
    // A client restored from saved tokens refreshes before its first call.
    const restored = new Client({ baseUrl: server.base, tokens: client.tokens });
    assert.equal((await restored.profile()).username, "sdk-heidi");
    // The first client's refresh token was spent by the restored one: its next refresh is
    // refused and it is logged out.
    await new Promise((wait) => setTimeout(wait, 1_800));
    await assert.rejects(client.profile(), { status: 401 });
    assert.equal(client.tokens, null);
  });

  it("refreshes and retries once when the server says the token expired", async () => {
    const saved: Array<Tokens | null> = [];
    let expiredAnswers = 0;
    // A margin far in the past: the client sends its expired token, and hears 401.
    const client = new Client({
      baseUrl: server.base,
      refreshMarginMs: -60_000,
      onTokens: (t) => saved.push(t),
      fetch: async (input, init) => {
        const answer = await fetch(input, init);
        if (answer.status === 401) expiredAnswers += 1;
        return answer;
      },
    });
    await client.register("sdk-ivan", PASSWORD);
    await new Promise((wait) => setTimeout(wait, 3_200));
    assert.equal((await client.profile()).username, "sdk-ivan");
    assert.equal(expiredAnswers, 1, "one 401 token_expired, then the retry");
    assert.equal(saved.length, 2, "registered, then refreshed");
  });
});
