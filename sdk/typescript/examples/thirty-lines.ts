// The thirty-line example of docs/typescript-sdk.md, type-checked by `npm test` (not run).

import { Client, MatchwrightError, type LiveEvent } from "../src/index.js"; // in an app: "@matchwright/client"

const client = new Client({
  baseUrl: "https://mm.example.com",
  tokens: JSON.parse(localStorage.getItem("mw") ?? "null"), // a login kept from before
  onTokens: (tokens) => localStorage.setItem("mw", JSON.stringify(tokens)),
});
if (!client.tokens) await client.register("ada", "a good long password", "Ada");

const events = await client.events((event: LiveEvent) => {
  switch (event.type) {
    case "match_found":
      if (event.state === "awaiting_acceptance") client.accept(event.match_id).catch(console.error);
      break;
    case "session_ready": // connect the game client to event.server with event.session_token
      console.log(`play on ${event.server}`);
      break;
    case "ratings_changed":
      console.log(`${event.mode}: ${event.before.mu} -> ${event.after.mu}`);
      break;
  }
});

try {
  await client.enqueue({ queue: "duel-1v1", pings: { "eu-west": 28, "us-east": 95 } });
} catch (error) {
  if (error instanceof MatchwrightError && error.code === "already_queued") console.log(await client.queueStatus());
  else throw error;
}
