// The Matchwright client for browsers and Node (20+): the player API over fetch, live events
// over a WebSocket, and the access token kept fresh with the refresh token. The bodies are the
// server's OpenAPI schemas (`openapi.ts`, generated); this file only adds the calls.

import type { components } from "./openapi.js";

/** Every schema of the API, by name (`Schemas["Profile"]`). */
export type Schemas = components["schemas"];
export type Tokens = Schemas["Tokens"];
export type Profile = Schemas["Profile"];
export type ProfilePatch = Schemas["ProfilePatch"];
export type QueueList = Schemas["QueueList"];
export type EnqueueRequest = Schemas["EnqueueRequest"];
export type QueueStatus = Schemas["QueueStatus"];
export type Explanation = Schemas["Explanation"];
export type Done = Schemas["Done"];
export type Party = Schemas["Party"];
export type PartyAck = Schemas["PartyAck"];
export type Session = Schemas["Session"];
export type HistoryPage = Schemas["HistoryPage"];
export type LeaderboardPage = Schemas["LeaderboardPage"];
export type AvoidList = Schemas["AvoidList"];
export type WireError = Schemas["WireError"];

/** `{welcome: {...}} | ...` (the schema's form) as `{type: "welcome", ...}` (the wire's). */
type Tagged<U> = U extends unknown
  ? { [K in keyof U]: K extends string ? { type: K } & U[K] : never }[keyof U]
  : never;
/** A live event as `/v1/events` sends it: `{"type": "match_found", ...its fields}`. */
export type LiveEvent = Tagged<Schemas["Event"]>;
/** The live event of one type, e.g. `EventOf<"match_found">`. */
export type EventOf<T extends LiveEvent["type"]> = Extract<LiveEvent, { type: T }>;

/** An error answer of the server (`WireError`), or a transport failure (`status` 0). */
export class MatchwrightError extends Error {
  /** The HTTP status (0: no answer). */
  readonly status: number;
  /** The stable code, e.g. `invalid_field`, `token_expired`, `already_queued`. */
  readonly code: string;
  /** The field at fault, when one is. */
  readonly field: string | null;
  /** Seconds to wait before retrying, when the server said (429, 503). */
  readonly retryAfter: number | null;

  constructor(status: number, body: Partial<WireError>, retryAfter: number | null = null) {
    super(body.message ?? `HTTP ${status}`);
    this.name = "MatchwrightError";
    this.status = status;
    this.code = body.error ?? "unknown";
    this.field = body.field ?? null;
    this.retryAfter = retryAfter;
  }
}

/** How to reach the server, and where the tokens go. */
export interface ClientOptions {
  /** The server, e.g. `https://mm.example.com`. */
  baseUrl: string;
  /** Tokens saved from an earlier session (`onTokens`). */
  tokens?: Tokens | null;
  /** Called whenever the tokens change (login, refresh, logout: `null`), to save them. */
  onTokens?: (tokens: Tokens | null) => void;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** The WebSocket class to use (default: the global one; Node 20 needs
   * `--experimental-websocket`, or pass one, e.g. from `ws`). */
  WebSocket?: typeof WebSocket;
  /** Refresh the access token this long before it expires (default 30 s). */
  refreshMarginMs?: number;
}

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** A player's client. */
export class Client {
  readonly baseUrl: string;
  private current: Tokens | null;
  private expiresAtMs = 0;
  private refreshing: Promise<Tokens> | null = null;
  private readonly options: ClientOptions;

  constructor(options: ClientOptions) {
    this.options = options;
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.current = options.tokens ?? null;
    // Restored tokens are refreshed before their first use.
    this.expiresAtMs = this.current ? 0 : Number.POSITIVE_INFINITY;
  }

  /** The tokens in force, if logged in. */
  get tokens(): Tokens | null {
    return this.current;
  }

  // ---- accounts --------------------------------------------------------------------------

  /** Creates an account and logs in. */
  async register(username: string, password: string, displayName?: string): Promise<Tokens> {
    const body = { username, password, display_name: displayName };
    return this.keep(await this.call<Tokens>("POST", "/v1/auth/register", body, false));
  }

  /** Logs in. */
  async login(username: string, password: string): Promise<Tokens> {
    const body = { username, password };
    return this.keep(await this.call<Tokens>("POST", "/v1/auth/login", body, false));
  }

  /** A new access token for the refresh token (which is spent and replaced). One at a time:
   * calls made meanwhile wait for the same refresh. */
  refresh(): Promise<Tokens> {
    if (!this.refreshing) {
      const refreshing = this.refreshOnce(this.current);
      this.refreshing = refreshing;
      const done = () => {
        if (this.refreshing === refreshing) this.refreshing = null;
      };
      refreshing.then(done, done);
    }
    return this.refreshing;
  }

  /** Spends the refresh token of `started`. A login or logout meanwhile wins: its tokens
   * stand, and this refresh's answer is dropped. */
  private async refreshOnce(started: Tokens | null): Promise<Tokens> {
    if (!started) throw notLoggedIn();
    try {
      const body = { refresh_token: started.refresh_token };
      const tokens = await this.call<Tokens>("POST", "/v1/auth/refresh", body, false);
      if (this.current !== started) {
        if (!this.current) throw notLoggedIn();
        return this.current;
      }
      return this.keep(tokens);
    } catch (error) {
      // A refused refresh token will not work again: that login is over.
      if (error instanceof MatchwrightError && error.status === 401 && this.current === started) {
        this.keep(null);
      }
      throw error;
    }
  }

  /** Logs out: the refresh token (and its family) stops working. */
  async logout(): Promise<void> {
    const token = this.current?.refresh_token;
    this.keep(null);
    if (token) await this.call<void>("POST", "/v1/auth/logout", { refresh_token: token }, false);
  }

  // ---- profile ---------------------------------------------------------------------------

  profile(): Promise<Profile> {
    return this.call("GET", "/v1/profile/me");
  }

  updateProfile(patch: ProfilePatch): Promise<Profile> {
    return this.call("PATCH", "/v1/profile/me", patch);
  }

  avoidList(): Promise<AvoidList> {
    return this.call("GET", "/v1/profile/avoid");
  }

  setAvoidList(players: number[]): Promise<AvoidList> {
    return this.call("PUT", "/v1/profile/avoid", { players });
  }

  // ---- queues and matches ----------------------------------------------------------------

  /** The queues, regions and season (no login needed). */
  queues(): Promise<QueueList> {
    return this.call("GET", "/v1/queues", undefined, false);
  }

  enqueue(request: EnqueueRequest): Promise<QueueStatus> {
    return this.call("POST", "/v1/queue", request);
  }

  queueStatus(): Promise<QueueStatus> {
    return this.call("GET", "/v1/queue");
  }

  leaveQueue(): Promise<Done> {
    return this.call("DELETE", "/v1/queue");
  }

  /** Why the caller's ticket has not matched yet. */
  explain(): Promise<Explanation> {
    return this.call("GET", "/v1/queue/explain");
  }

  accept(matchId: number): Promise<Done> {
    return this.call("POST", `/v1/match/${matchId}/accept`);
  }

  decline(matchId: number): Promise<Done> {
    return this.call("POST", `/v1/match/${matchId}/decline`);
  }

  /** The caller's session in a match: its server and session token once active. */
  session(matchId: number): Promise<Session> {
    return this.call("GET", `/v1/session/${matchId}`);
  }

  history(page: { limit?: number; cursor?: string } = {}): Promise<HistoryPage> {
    return this.call("GET", `/v1/matches/history${query(page)}`);
  }

  leaderboard(
    season: string,
    mode: string,
    page: { limit?: number; cursor?: string } = {},
  ): Promise<LeaderboardPage> {
    const path = `/v1/leaderboard/${encodeURIComponent(season)}${query({ mode, ...page })}`;
    return this.call("GET", path);
  }

  // ---- parties ---------------------------------------------------------------------------

  createParty(): Promise<Party> {
    return this.call("POST", "/v1/party");
  }

  /** The caller's party. */
  party(): Promise<Party> {
    return this.call("GET", "/v1/party");
  }

  invite(partyId: number, playerId: number): Promise<PartyAck> {
    return this.call("POST", `/v1/party/${partyId}/invite`, { player_id: playerId });
  }

  joinParty(partyId: number): Promise<Party> {
    return this.call("POST", `/v1/party/${partyId}/join`);
  }

  leaveParty(partyId: number): Promise<PartyAck> {
    return this.call("POST", `/v1/party/${partyId}/leave`);
  }

  kick(partyId: number, playerId: number): Promise<PartyAck> {
    return this.call("POST", `/v1/party/${partyId}/kick`, { player_id: playerId });
  }

  ready(partyId: number, ready: boolean, pings?: Record<string, number>): Promise<Party> {
    return this.call("POST", `/v1/party/${partyId}/ready`, { ready, pings });
  }

  chat(partyId: number, text: string): Promise<PartyAck> {
    return this.call("POST", `/v1/party/${partyId}/chat`, { text });
  }

  // ---- live events -----------------------------------------------------------------------

  /** Opens the live-event socket (`welcome` first); rejects if it does not open within 10 s.
   * Each event goes to `onEvent` (an exception there goes to `onError`, default
   * `console.error`, and the stream goes on); once open, `onClose` hears when the socket
   * ends: reconnect, then `queueStatus()` to catch up. */
  async events(
    onEvent: (event: LiveEvent) => void,
    onClose?: (code: number, reason: string) => void,
    onError: (error: unknown) => void = (error) => console.error("matchwright event:", error),
  ): Promise<EventStream> {
    const token = await this.accessToken();
    const Socket = this.options.WebSocket ?? globalThis.WebSocket;
    if (!Socket) throw new Error("no WebSocket here: pass ClientOptions.WebSocket");
    const url = `${this.baseUrl.replace(/^http/, "ws")}/v1/events?access_token=${encodeURIComponent(token)}`;
    const socket = new Socket(url);
    socket.addEventListener("message", (message) => {
      if (typeof message.data !== "string") return;
      try {
        onEvent(JSON.parse(message.data) as LiveEvent);
      } catch (error) {
        onError(error);
      }
    });
    await new Promise<void>((resolve, reject) => {
      const failed = (why: string) => {
        clearTimeout(timer);
        socket.close();
        reject(new MatchwrightError(0, { error: "unreachable", message: why }));
      };
      const timer = setTimeout(() => failed("the event socket did not open in 10 s"), 10_000);
      socket.addEventListener("open", () => (clearTimeout(timer), resolve()), { once: true });
      socket.addEventListener("error", () => failed("the event socket did not open"), { once: true });
    });
    socket.addEventListener("close", (closed) => onClose?.(closed.code, closed.reason));
    return { close: () => socket.close(1000) };
  }

  // ---- plumbing --------------------------------------------------------------------------

  /** A fresh access token: refreshed first when it is about to expire. */
  private async accessToken(): Promise<string> {
    if (!this.current) throw notLoggedIn();
    const margin = this.options.refreshMarginMs ?? 30_000;
    if (Date.now() + margin >= this.expiresAtMs) await this.refresh();
    if (!this.current) throw notLoggedIn();
    return this.current.access_token;
  }

  private keep(tokens: Tokens | null): Tokens {
    this.current = tokens;
    this.expiresAtMs = tokens ? Date.now() + tokens.expires_in * 1000 : 0;
    this.options.onTokens?.(tokens);
    return tokens as Tokens;
  }

  /** One request; with `auth`, as the player, refreshing once on an expired token. */
  private async call<T>(method: Method, path: string, body?: unknown, auth = true): Promise<T> {
    const send = async () => {
      const headers: Record<string, string> = { accept: "application/json" };
      if (body !== undefined) headers["content-type"] = "application/json";
      if (auth) headers.authorization = `Bearer ${await this.accessToken()}`;
      const doFetch = this.options.fetch ?? globalThis.fetch;
      try {
        return await doFetch(`${this.baseUrl}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (error) {
        throw new MatchwrightError(0, { error: "unreachable", message: String(error) });
      }
    };
    let answer = await send();
    if (auth && answer.status === 401) {
      const refused = (await answer.clone().json().catch(() => ({}))) as Partial<WireError>;
      if (refused.error === "token_expired") {
        await this.refresh();
        answer = await send();
      }
    }
    if (answer.status === 204) return undefined as T;
    const text = await answer.text();
    let parsed: unknown = {};
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      // Not the server's JSON: a proxy's error page, or a wrong baseUrl.
      const message = `not a Matchwright answer (HTTP ${answer.status}): ${text.slice(0, 200)}`;
      throw new MatchwrightError(answer.status, { error: "unexpected_answer", message });
    }
    if (!answer.ok) {
      const retry = answer.headers.get("retry-after");
      const body = (parsed ?? {}) as Partial<WireError>;
      throw new MatchwrightError(answer.status, body, retry ? Number(retry) : null);
    }
    return parsed as T;
  }
}

/** An open live-event socket. */
export interface EventStream {
  close(): void;
}

function notLoggedIn(): MatchwrightError {
  return new MatchwrightError(401, { error: "missing_token", message: "not logged in" });
}

function query(params: Record<string, string | number | undefined>): string {
  const pairs = Object.entries(params).filter(([, value]) => value !== undefined);
  if (pairs.length === 0) return "";
  return `?${pairs.map(([key, value]) => `${key}=${encodeURIComponent(String(value))}`).join("&")}`;
}
