// The Matchwright operators' console (docs/console.md): a page over the admin API. It signs
// in with an operator key (kept in this tab's sessionStorage), polls the queues, tickets,
// matches and audit log every two seconds, and reads the live event stream
// (GET /v1/admin/events) with fetch, since an EventSource cannot send the key.
//
// Everything it shows is written as text (textContent, or text nodes): never as HTML, so a
// display name holding markup shows as the characters it is. Its Content-Security-Policy
// (server/src/console.rs) allows no inline script either.
"use strict";

(() => {
  const KEY_STORAGE = "matchwright.operator_key";
  /** How often the tables are read again. */
  const REFRESH_MS = 2_000;
  /** Depth samples kept per queue: ten minutes at one per refresh. */
  const DEPTH_SAMPLES = 300;
  /** Live events kept on screen. */
  const STREAM_KEEP = 200;
  /** Any request that takes longer is given up. */
  const REQUEST_TIMEOUT_MS = 10_000;
  /** The stream sends a keep-alive every 15 s: silence this long means it is gone. */
  const STREAM_SILENCE_MS = 40_000;
  /** A server-sent event larger than this ends the stream (it is read again). */
  const MAX_EVENT_CHARS = 1_000_000;
  /** Players whose names a ticket's detail looks up, at most. */
  const MAX_NAMED_PLAYERS = 20;
  /** The time-to-match target drawn on the charts (the seeds' 30 s). */
  const TARGET_MS = 30_000;

  const state = {
    key: null,
    /** Bumped at each sign-in and sign-out: loops of an older one stop. */
    generation: 0,
    /** Per queue: [{at, tickets}], oldest first. */
    depth: new Map(),
    queueNames: [],
    /** The open ticket detail (a ticket id) and player lookup (a player id). */
    openTicket: null,
    openPlayer: null,
    /** The tickets the last search listed. */
    listed: new Set(),
    streamAbort: null,
  };

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------------------------------
  // Building the page: every value goes in as text.

  /** An element: el("td", {class: "num"}, "text", child, ...). Strings become text nodes. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "class") node.className = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** An SVG element. */
  function svg(tag, attrs = {}, ...children) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function seconds(ms) {
    if (ms === null || ms === undefined) return "–";
    if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
    const whole = Math.round(ms / 1000);
    if (whole < 120) return `${whole} s`;
    return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  }

  function clockTime(ms) {
    return new Date(ms).toLocaleTimeString();
  }

  function fixed(value, digits) {
    return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
  }

  function notice(text, kind = "info") {
    const box = $("notice");
    box.textContent = text;
    box.dataset.kind = kind;
    box.hidden = !text;
  }

  function replaceRows(tbody, rows, empty) {
    tbody.replaceChildren(...rows);
    if (rows.length === 0) {
      const columns = tbody.closest("table").querySelectorAll("thead th").length;
      tbody.append(el("tr", {}, el("td", { colspan: columns, class: "muted" }, empty)));
    }
  }

  // ------------------------------------------------------------------------------------------
  // The admin API.

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  /** One admin request; a non-2xx answer throws an ApiError with the server's code. */
  async function api(method, path, body) {
    const headers = { authorization: `Bearer ${state.key}`, accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    let response;
    let text;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
      });
      text = await response.text();
    } catch (error) {
      const why = controller.signal.aborted
        ? `the server did not answer in ${REQUEST_TIMEOUT_MS / 1000} s`
        : `cannot reach the server (${error.message})`;
      throw new ApiError(0, "unreachable", why);
    } finally {
      clearTimeout(timer);
    }
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const code = data && typeof data.error === "string" ? data.error : "http_error";
      const message =
        data && typeof data.message === "string" ? data.message : `HTTP ${response.status}`;
      throw new ApiError(response.status, code, message);
    }
    return data;
  }

  /** Runs an action, says how it went, and reads the tables again (unless the operator
   * signed out meanwhile). */
  async function act(label, method, path, body) {
    const generation = state.generation;
    try {
      const done = await api(method, path, body);
      if (generation !== state.generation) return false;
      const audit = done && done.audit_id !== undefined ? ` (audit #${done.audit_id})` : "";
      notice(`${label}: ${done && done.status ? done.status : "done"}${audit}`);
      await refresh(generation);
      return generation === state.generation;
    } catch (error) {
      if (generation === state.generation) reportError(label, error);
      return false;
    }
  }

  function reportError(label, error) {
    if (error instanceof ApiError && error.status === 401) {
      signOut(`Signed out: ${error.message}`);
      return;
    }
    const code = error instanceof ApiError ? ` [${error.code}]` : "";
    notice(`${label}: ${error.message}${code}`, "error");
  }

  // ------------------------------------------------------------------------------------------
  // Signing in and out.

  async function signIn(key) {
    state.key = key;
    try {
      await api("GET", "/v1/admin/queues");
    } catch (error) {
      state.key = null;
      throw error;
    }
    sessionStorage.setItem(KEY_STORAGE, key);
    start();
  }

  function signOut(message = "") {
    state.generation += 1;
    state.key = null;
    state.depth.clear();
    state.openTicket = null;
    state.openPlayer = null;
    state.listed = new Set();
    if (state.streamAbort) state.streamAbort.abort();
    setStreamStatus("connecting", "connecting");
    sessionStorage.removeItem(KEY_STORAGE);
    $("app").hidden = true;
    $("login").hidden = false;
    $("login-key").value = "";
    $("login-error").textContent = message;
    $("login-key").focus();
  }

  function start() {
    state.generation += 1;
    const generation = state.generation;
    $("login").hidden = true;
    $("app").hidden = false;
    $("login-error").textContent = "";
    notice("");
    $("stream").replaceChildren();
    $("ticket-detail").replaceChildren();
    $("player-detail").replaceChildren();
    void poll(generation);
    void readStream(generation);
  }

  async function poll(generation) {
    while (generation === state.generation) {
      await refresh(generation);
      await sleep(REFRESH_MS);
    }
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** Reads every table again (one request each, in parallel). */
  async function refresh(generation) {
    const reads = [refreshQueues(), refreshTickets(), refreshMatches(), refreshAudit()];
    const results = await Promise.allSettled(reads);
    if (generation !== state.generation) return;
    const failed = results.find((result) => result.status === "rejected");
    if (failed) reportError("Reading the server", failed.reason);
    $("updated").textContent = `updated ${clockTime(Date.now())}`;
  }

  // ------------------------------------------------------------------------------------------
  // Queues: the table and, per queue, depth over time and time to match per minute.

  async function refreshQueues() {
    const answer = await api("GET", "/v1/admin/queues");
    const rows = answer.queues.map((queue) => {
      remember(queue, answer.now_ms);
      const recent = summarize(queue.recent);
      return el(
        "tr",
        { "data-queue": queue.name },
        el("td", {}, queue.name),
        el("td", {}, queue.mode),
        el("td", { class: "num", "data-field": "tickets" }, queue.tickets),
        el("td", { class: "num", "data-field": "players" }, queue.players),
        el("td", { class: "num" }, seconds(queue.waited_ms && queue.waited_ms.p50)),
        el("td", { class: "num" }, seconds(queue.waited_ms && queue.waited_ms.p90)),
        el("td", { class: "num" }, seconds(queue.waited_ms && queue.waited_ms.max)),
        el("td", { class: "num" }, fixed(queue.windows.skill_mmr, 0)),
        el("td", { class: "num" }, `${fixed(queue.windows.ping_ms, 0)} ms`),
        el("td", { class: "num" }, fixed(queue.windows.quality_floor, 2)),
        el("td", { class: "num", "data-field": "matches" }, recent.matches),
        el("td", { class: "num" }, `${seconds(recent.p50)} / ${seconds(recent.p90)}`),
      );
    });
    replaceRows($("queues").tBodies[0], rows, "No queue is configured.");
    updateQueueChoices(answer.queues.map((queue) => queue.name));
    drawCharts(answer.queues);
  }

  /** Keeps the newest depth samples of a queue. */
  function remember(queue, nowMs) {
    if (!state.depth.has(queue.name)) state.depth.set(queue.name, []);
    const samples = state.depth.get(queue.name);
    samples.push({ at: nowMs, tickets: queue.tickets });
    while (samples.length > DEPTH_SAMPLES) samples.shift();
  }

  /** The ten minutes' matches, and the busiest minute's p50 and the worst p90. */
  function summarize(minutes) {
    let matches = 0;
    let busiest = null;
    let p90 = null;
    for (const minute of minutes) {
      matches += minute.matches;
      const ttm = minute.time_to_match_ms;
      if (!ttm) continue;
      if (!busiest || minute.tickets > busiest.tickets) busiest = minute;
      p90 = Math.max(p90 ?? 0, ttm.p90);
    }
    return { matches, p50: busiest ? busiest.time_to_match_ms.p50 : null, p90 };
  }

  function updateQueueChoices(names) {
    if (names.join("\n") === state.queueNames.join("\n")) return;
    state.queueNames = names;
    const select = $("ticket-queue");
    const chosen = select.value;
    select.replaceChildren(
      el("option", { value: "" }, "every queue"),
      ...names.map((name) => el("option", { value: name }, name)),
    );
    select.value = names.includes(chosen) ? chosen : "";
  }

  function drawCharts(queues) {
    const charts = queues.map((queue) =>
      el(
        "div",
        { class: "chart", "data-chart": queue.name },
        el("h3", {}, queue.name),
        depthChart(state.depth.get(queue.name) || []),
        el("div", { class: "legend" }, el("span", {}, swatch("var(--accent)"), "tickets waiting (this page's samples)")),
        timeToMatchChart(queue.recent),
        el(
          "div",
          { class: "legend" },
          el("span", {}, swatch("var(--good)"), "time to match p50"),
          el("span", {}, swatch("var(--warn)"), "p90"),
          el("span", {}, swatch("var(--bad)"), "30 s"),
          el("span", {}, "per minute, the last ten"),
        ),
      ),
    );
    $("charts").replaceChildren(...charts);
  }

  function swatch(color) {
    const box = el("span", { class: "swatch" });
    box.style.background = color;
    return box;
  }

  const WIDTH = 400;
  const HEIGHT = 120;
  const LEFT = 40;
  const BOTTOM = 16;

  function frame(maxLabel, leftLabel, rightLabel) {
    return [
      svg("line", { class: "axis", x1: LEFT, y1: HEIGHT - BOTTOM, x2: WIDTH, y2: HEIGHT - BOTTOM }),
      svg("line", { class: "axis", x1: LEFT, y1: 4, x2: LEFT, y2: HEIGHT - BOTTOM }),
      svg("text", { class: "label", x: LEFT - 4, y: 12, "text-anchor": "end" }, maxLabel),
      svg("text", { class: "label", x: LEFT - 4, y: HEIGHT - BOTTOM, "text-anchor": "end" }, "0"),
      svg("text", { class: "label", x: LEFT, y: HEIGHT - 3 }, leftLabel),
      svg("text", { class: "label", x: WIDTH, y: HEIGHT - 3, "text-anchor": "end" }, rightLabel),
    ];
  }

  function depthChart(samples) {
    const max = Math.max(1, ...samples.map((sample) => sample.tickets));
    const plotHeight = HEIGHT - BOTTOM - 8;
    const first = samples.length ? samples[0].at : 0;
    const span = samples.length > 1 ? samples[samples.length - 1].at - first : 1;
    const points = samples.map((sample, index) => {
      const x = samples.length > 1 ? LEFT + ((sample.at - first) / span) * (WIDTH - LEFT) : LEFT;
      const y = HEIGHT - BOTTOM - (sample.tickets / max) * plotHeight;
      return index === 0 ? `${x},${y}` : `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    const since = samples.length ? `${seconds(span)} ago` : "";
    return svg(
      "svg",
      { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": "tickets waiting over time" },
      ...frame(String(max), samples.length > 1 ? since : "", "now"),
      svg("polyline", { class: "depth", points: points.join(" ") }),
    );
  }

  function timeToMatchChart(minutes) {
    const worst = Math.max(TARGET_MS, ...minutes.map((m) => (m.time_to_match_ms ? m.time_to_match_ms.p90 : 0)));
    const plotHeight = HEIGHT - BOTTOM - 8;
    const slot = (WIDTH - LEFT) / Math.max(1, minutes.length);
    const y = (ms) => HEIGHT - BOTTOM - (ms / worst) * plotHeight;
    const bars = [];
    minutes.forEach((minute, index) => {
      const ttm = minute.time_to_match_ms;
      if (!ttm) return;
      const x = LEFT + index * slot + slot * 0.15;
      const width = slot * 0.7;
      bars.push(svg("rect", { class: "ttm90", x, y: y(ttm.p90), width, height: HEIGHT - BOTTOM - y(ttm.p90) }));
      bars.push(svg("rect", { class: "ttm50", x: x + width * 0.2, y: y(ttm.p50), width: width * 0.6, height: HEIGHT - BOTTOM - y(ttm.p50) }));
    });
    return svg(
      "svg",
      { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": "time to match per minute" },
      ...frame(seconds(worst), minutes.length ? clockTime(minutes[0].start_ms) : "", "this minute"),
      ...bars,
      svg("line", { class: "target", x1: LEFT, y1: y(TARGET_MS), x2: WIDTH, y2: y(TARGET_MS) }),
    );
  }

  // ------------------------------------------------------------------------------------------
  // Tickets: search, explain, cancel.

  function ticketQuery() {
    const params = new URLSearchParams({ limit: "100" });
    const queue = $("ticket-queue").value;
    const player = $("ticket-player").value.trim();
    if (queue) params.set("queue", queue);
    if (player) params.set("player", player);
    return params;
  }

  async function refreshTickets() {
    const answer = await api("GET", `/v1/admin/tickets?${ticketQuery()}`);
    const rows = answer.tickets.map((ticket) =>
      el(
        "tr",
        { "data-ticket": ticket.id },
        el("td", {}, ticket.id),
        el("td", {}, ticket.queue),
        el("td", {}, playerLinks(ticket.players)),
        el("td", { class: "num" }, seconds(ticket.waited_ms)),
        el("td", {}, ticket.proposed_in ?? ""),
        el(
          "td",
          {},
          el(
            "div",
            { class: "actions" },
            el("button", { type: "button", onclick: () => openTicket(ticket.id) }, "Explain"),
            el("button", { type: "button", class: "danger", onclick: () => cancelTicket(ticket.id) }, "Cancel"),
          ),
        ),
      ),
    );
    replaceRows($("tickets").tBodies[0], rows, "No live ticket matches the search.");
    $("ticket-total").textContent = `${answer.total} live ticket(s) match; the longest waiting first.`;
    // An explained ticket that just left the list is looked at once more (it may be gone).
    const open = state.openTicket;
    const wasListed = open !== null && state.listed.has(open);
    state.listed = new Set(answer.tickets.map((t) => t.id));
    if (wasListed && !state.listed.has(open)) await showTicket(open);
  }

  function playerLinks(players) {
    return players.map((player) =>
      el("button", { type: "button", class: "link", onclick: () => lookUpPlayer(player) }, player),
    );
  }

  async function cancelTicket(id) {
    if (!window.confirm(`Take ticket ${id} out of its queue?`)) return;
    await act(`Cancel ticket ${id}`, "POST", `/v1/admin/tickets/${id}/cancel`);
  }

  async function openTicket(id) {
    state.openTicket = id;
    await showTicket(id);
  }

  /** The ticket's explanation, with its players' display names. */
  async function showTicket(id) {
    const box = $("ticket-detail");
    let explanation;
    try {
      explanation = await api("GET", `/v1/admin/tickets/${id}/explain`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        box.replaceChildren(el("div", { class: "detail", "data-ticket-detail": id }, el("p", { class: "muted" }, `Ticket ${id} is no longer live.`)));
        if (state.openTicket === id) state.openTicket = null;
        return;
      }
      reportError(`Explain ticket ${id}`, error);
      return;
    }
    const names = await displayNames(explanation.players);
    box.replaceChildren(
      el(
        "div",
        { class: "detail", "data-ticket-detail": id },
        el("h3", {}, `Ticket ${id}: why it has not matched`),
        facts([
          ["Queue", explanation.queue],
          ["Players", explanation.players.map((p) => `${names.get(p) ?? "?"} (#${p})`).join(", ")],
          ["Waited", seconds(explanation.waited_ms)],
          ["In a proposed match", explanation.proposed ? "yes" : "no"],
          ["Next tried", explanation.next_try_at_ms ? clockTime(explanation.next_try_at_ms) : "now"],
          ["Tickets in its queue", explanation.queued_tickets],
          ["Looked at", explanation.scanned],
          ["Players it needs", explanation.players_needed],
          ["Compatible players", explanation.compatible_players],
        ]),
        checksTable(explanation.checks),
        el("button", { type: "button", onclick: () => { state.openTicket = null; box.replaceChildren(); } }, "Close"),
      ),
    );
  }

  async function displayNames(players) {
    const names = new Map();
    const lookups = players.slice(0, MAX_NAMED_PLAYERS).map(async (player) => {
      try {
        const found = await api("GET", `/v1/admin/players/${player}`);
        names.set(player, found.profile.display_name);
      } catch {
        // Shown as "?": the explanation matters more than the name.
      }
    });
    await Promise.all(lookups);
    return names;
  }

  function facts(pairs) {
    return el("dl", { class: "facts" }, pairs.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]));
  }

  function checksTable(checks) {
    const rows = checks.map((check) =>
      el(
        "tr",
        { class: check.blocking ? "blocking" : "" },
        el("td", {}, check.name),
        el("td", {}, check.kind),
        el("td", {}, check.binding ? "yes" : "no"),
        el("td", { class: "num" }, check.passing),
        el("td", {}, check.blocking ? "blocking" : ""),
        el("td", { class: "num" }, fixed(check.value, 2)),
        el("td", {}, check.relaxes ? `to ${fixed(check.relaxes.value, 2)} at ${clockTime(check.relaxes.at_ms)}` : ""),
      ),
    );
    const table = el(
      "table",
      { class: "table" },
      el("thead", {}, el("tr", {}, ["Check", "Kind", "Binding", "Passing", "", "Bound", "Relaxes"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows),
    );
    return table;
  }

  // ------------------------------------------------------------------------------------------
  // Players: look up, ban, unban, set or reset a rating.

  async function lookUpPlayer(id) {
    $("player-id").value = id;
    state.openPlayer = id;
    await showPlayer(id);
  }

  async function showPlayer(id) {
    const box = $("player-detail");
    let player;
    try {
      player = await api("GET", `/v1/admin/players/${id}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        box.replaceChildren(el("p", { class: "muted" }, `No player has id ${id}.`));
        return;
      }
      reportError(`Look up player ${id}`, error);
      return;
    }
    const profile = player.profile;
    const ratings = profile.ratings.map((r) =>
      el(
        "tr",
        {},
        el("td", {}, r.mode),
        el("td", { class: "num" }, fixed(r.rating.mu, 0)),
        el("td", { class: "num" }, fixed(r.rating.sigma, 0)),
        el("td", { class: "num" }, r.games),
        el("td", {}, el("button", { type: "button", class: "danger", onclick: () => resetRating(id, r.mode) }, "Reset")),
      ),
    );
    box.replaceChildren(
      el(
        "div",
        { class: "detail", "data-player-detail": id },
        el("h3", { "data-field": "display_name" }, profile.display_name),
        facts([
          ["Player", `#${profile.player_id}`],
          ["Username", profile.username],
          ["Where", player.status],
          ["Ticket", player.ticket ?? "–"],
          ["Match", player.match_id ?? "–"],
          ["Regions", profile.regions.length ? profile.regions.join(", ") : "any"],
          ["Since", new Date(profile.created_at_ms).toLocaleString()],
          ["Ban", player.ban ? `${player.ban.reason} (by ${player.ban.by}, ${new Date(player.ban.at_ms).toLocaleString()})` : "not banned"],
        ]),
        el(
          "table",
          { class: "table" },
          el("thead", {}, el("tr", {}, ["Rating", "μ", "σ", "Games", ""].map((h) => el("th", {}, h)))),
          el("tbody", {}, ratings),
        ),
        playerActions(id, player, profile.ratings.map((r) => r.mode)),
      ),
    );
  }

  function playerActions(id, player, keys) {
    const reason = el("input", { type: "text", maxlength: 500, placeholder: "reason", "aria-label": "ban reason" });
    const key = el("select", { "aria-label": "rating key" }, keys.map((k) => el("option", { value: k }, k)));
    const mu = el("input", { type: "number", step: "any", placeholder: "μ", "aria-label": "mu" });
    const sigma = el("input", { type: "number", step: "any", placeholder: "σ", "aria-label": "sigma" });
    const ban = player.ban
      ? el("button", { type: "button", onclick: () => unbanPlayer(id) }, "Unban")
      : el("span", { class: "actions" }, reason,
          el("button", { type: "button", class: "danger", onclick: () => banPlayer(id, reason.value) }, "Ban"));
    return el(
      "div",
      { class: "actions" },
      ban,
      el("span", { class: "actions" }, key, mu, sigma,
        el("button", { type: "button", onclick: () => setRating(id, key.value, mu.value, sigma.value) }, "Set rating")),
    );
  }

  async function playerAct(id, label, method, path, body) {
    if (await act(`${label} player ${id}`, method, path, body)) await showPlayer(id);
  }

  async function banPlayer(id, reason) {
    if (!reason.trim()) {
      notice("A ban needs a reason (the player is shown it).", "error");
      return;
    }
    if (!window.confirm(`Ban player ${id}? Their tokens stop working and their ticket leaves its queue.`)) return;
    await playerAct(id, "Ban", "POST", `/v1/admin/players/${id}/ban`, { reason: reason.trim() });
  }

  async function unbanPlayer(id) {
    if (!window.confirm(`Lift player ${id}'s ban? Their tokens work again.`)) return;
    await playerAct(id, "Unban", "DELETE", `/v1/admin/players/${id}/ban`);
  }

  async function setRating(id, key, mu, sigma) {
    if (mu === "" || sigma === "") {
      notice("Setting a rating needs μ and σ.", "error");
      return;
    }
    if (!window.confirm(`Set player ${id}'s ${key} rating to μ ${mu}, σ ${sigma}?`)) return;
    const body = { mu: Number(mu), sigma: Number(sigma) };
    await playerAct(id, `Set ${key} rating of`, "PUT", `/v1/admin/players/${id}/ratings/${encodeURIComponent(key)}`, body);
  }

  async function resetRating(id, key) {
    if (!window.confirm(`Reset player ${id}'s ${key} rating to the initial one?`)) return;
    await playerAct(id, `Reset ${key} rating of`, "DELETE", `/v1/admin/players/${id}/ratings/${encodeURIComponent(key)}`);
  }

  // ------------------------------------------------------------------------------------------
  // Matches and sessions.

  async function refreshMatches() {
    const answer = await api("GET", "/v1/admin/matches");
    const rows = answer.matches.map((found) => {
      const actions = [];
      if (found.stage === "awaiting_acceptance" || found.stage === "allocating") {
        actions.push(el("button", { type: "button", class: "danger", onclick: () => cancelMatch(found.id) }, "Cancel match"));
      }
      if (found.stage === "allocating" || found.stage === "active") {
        actions.push(el("button", { type: "button", class: "danger", onclick: () => endSession(found.id) }, "End session"));
      }
      const players = found.players.map((p) => `#${p.player} team ${p.team}${p.role ? ` ${p.role}` : ""}`);
      return el(
        "tr",
        { "data-match": found.id },
        el("td", {}, found.id),
        el("td", {}, found.queue),
        el("td", {}, found.stage.replaceAll("_", " ")),
        el("td", { class: "num" }, qualityBar(found.quality)),
        el("td", {}, clockTime(found.formed_at_ms)),
        el("td", {}, found.server ?? "–"),
        el("td", {}, players.join(", ")),
        el("td", {}, el("div", { class: "actions" }, actions)),
      );
    });
    replaceRows($("matches").tBodies[0], rows, "No live match.");
    const shown = answer.matches.length;
    $("match-total").textContent = `${answer.total} live match(es)${shown < answer.total ? `, the newest ${shown} shown` : ""}.`;
  }

  function qualityBar(quality) {
    const fill = el("span");
    fill.style.width = `${Math.round(Math.max(0, Math.min(1, quality)) * 100)}%`;
    return el("span", {}, el("span", { class: "quality", title: fixed(quality, 3) }, fill), ` ${fixed(quality, 2)}`);
  }

  async function cancelMatch(id) {
    if (!window.confirm(`Cancel match ${id}? Its tickets go back to their queues.`)) return;
    await act(`Cancel match ${id}`, "POST", `/v1/admin/matches/${id}/cancel`);
  }

  async function endSession(id) {
    if (!window.confirm(`End session ${id}? Nobody is rated.`)) return;
    await act(`End session ${id}`, "POST", `/v1/admin/sessions/${id}/end`);
  }

  // ------------------------------------------------------------------------------------------
  // The audit log and the config.

  async function refreshAudit() {
    const answer = await api("GET", "/v1/admin/audit?limit=20");
    const rows = answer.entries.map((entry) =>
      el(
        "tr",
        {},
        el("td", {}, entry.id),
        el("td", {}, new Date(entry.at_ms).toLocaleString()),
        el("td", {}, entry.operator),
        el("td", {}, entry.action),
        el("td", {}, entry.target),
        el("td", { class: entry.outcome === "done" ? "" : "blocking" }, entry.outcome),
        el("td", {}, entry.detail),
      ),
    );
    replaceRows($("audit").tBodies[0], rows, "No operator action yet.");
  }

  async function reloadConfig() {
    if (!window.confirm("Reload the matcher config from the file and the environment?")) return;
    await act("Reload the config", "POST", "/v1/admin/config/reload");
  }

  // ------------------------------------------------------------------------------------------
  // The live event stream.

  function setStreamStatus(status, text) {
    const pill = $("stream-status");
    pill.dataset.state = status;
    pill.textContent = `stream: ${text}`;
  }

  /** Reads /v1/admin/events until signed out, reconnecting with backoff. */
  async function readStream(generation) {
    let backoff = 1_000;
    while (generation === state.generation) {
      const controller = new AbortController();
      state.streamAbort = controller;
      try {
        await readStreamOnce(controller, generation, () => {
          backoff = 1_000;
        });
      } catch (error) {
        if (generation !== state.generation) return;
        if (error instanceof ApiError && error.status === 401) {
          signOut(`Signed out: ${error.message}`);
          return;
        }
        setStreamStatus("reconnecting", `reconnecting (${error.message})`);
      }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 15_000);
    }
  }

  /** One connection to the stream, until it ends (always by throwing); `onLive` runs once it
   * is answered. */
  async function readStreamOnce(controller, generation, onLive) {
    let silence = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    const response = await fetch("/v1/admin/events", {
      headers: { authorization: `Bearer ${state.key}`, accept: "text/event-stream" },
      signal: controller.signal,
    });
    if (!response.ok) {
      clearTimeout(silence);
      const data = await response.json().catch(() => ({}));
      throw new ApiError(response.status, data.error ?? "http_error", data.message ?? `HTTP ${response.status}`);
    }
    setStreamStatus("live", "live");
    onLive();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        clearTimeout(silence);
        silence = setTimeout(() => controller.abort(), STREAM_SILENCE_MS);
        const { value, done } = await reader.read();
        if (done || generation !== state.generation) break;
        buffer += value.replaceAll("\r\n", "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          onStreamBlock(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
        if (buffer.length > MAX_EVENT_CHARS) throw new Error("an event over 1 MB");
      }
    } finally {
      clearTimeout(silence);
      controller.abort();
    }
    throw new Error("the stream ended");
  }

  /** One server-sent event: its `data:` lines are one JSON value. */
  function onStreamBlock(block) {
    const data = block
      .split("\n")
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(5).replace(/^ /, ""))
      .join("\n");
    if (!data) return;
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    const item = streamItem(event);
    if (!item) return;
    const list = $("stream");
    list.prepend(item);
    while (list.children.length > STREAM_KEEP) list.lastElementChild.remove();
  }

  function streamItem(event) {
    if (event.type === "lagged") {
      return el("li", {}, el("span", { class: "kind", "data-kind": "lagged" }, "missed"), `${event.missed} event(s) went by while this page was behind`);
    }
    const data = event.event;
    if (!data || typeof data.type !== "string") return null;
    const parts = [el("span", { class: "muted" }, clockTime(event.at_ms)), el("span", { class: "kind", "data-kind": data.type }, data.type.replaceAll("_", " "))];
    switch (data.type) {
      case "match_formed":
        parts.push(`match ${data.match_id}`, data.queue, data.region, qualityBar(data.quality), `${data.players.length} players`);
        break;
      case "match_backfilled":
        parts.push(`match ${data.match_id}`, `${data.players.length} joined`);
        break;
      case "session_started":
        parts.push(`match ${data.match_id}`, `on ${data.server}`);
        break;
      case "session_ended":
        parts.push(`match ${data.match_id}`, data.placements ? `placements ${data.placements.join(", ")}` : "no result");
        break;
      case "session_abandoned":
        parts.push(`match ${data.match_id}`, data.reason.replaceAll("_", " "));
        break;
      case "ratings_changed":
        parts.push(`match ${data.match_id}`, data.mode, `${data.changes.length} rating(s)`);
        break;
      default:
        parts.push(data.match_id !== undefined ? `match ${data.match_id}` : "");
    }
    return el("li", { "data-event": data.type }, parts.map((part) => (part instanceof Node ? part : el("span", {}, part))));
  }

  // ------------------------------------------------------------------------------------------
  // Wiring.

  function wire() {
    $("login-form").addEventListener("submit", async (submitted) => {
      submitted.preventDefault();
      const key = $("login-key").value.trim();
      $("login-submit").disabled = true;
      $("login-error").textContent = "";
      try {
        await signIn(key);
      } catch (error) {
        const hint = error.status === 401 ? "That is not an operator key of this server." : error.message;
        $("login-error").textContent = hint;
      } finally {
        $("login-submit").disabled = false;
      }
    });
    $("logout").addEventListener("click", () => signOut("Signed out."));
    $("ticket-search").addEventListener("submit", (submitted) => {
      submitted.preventDefault();
      refreshTickets().catch((error) => reportError("Search tickets", error));
    });
    $("player-search").addEventListener("submit", (submitted) => {
      submitted.preventDefault();
      const id = $("player-id").value.trim();
      if (id) void lookUpPlayer(Number(id));
    });
    $("reload-config").addEventListener("click", () => void reloadConfig());
    const saved = sessionStorage.getItem(KEY_STORAGE);
    if (saved) {
      state.key = saved;
      start();
    } else {
      signOut();
    }
  }

  wire();
})();
