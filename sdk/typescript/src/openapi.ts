// Generated from the server's /openapi.json by scripts/openapi.mjs (openapi-typescript).
// Do not edit: run `npm run generate` after changing the API; CI checks it is current.

export interface paths {
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness: the process answers. */
        get: operations["healthz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Prometheus metrics (text exposition format). */
        get: operations["metrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This API's OpenAPI document. */
        get: operations["openapi"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Readiness: the tick loop is ticking and the store takes writes. */
        get: operations["readyz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/audit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The audit log: operators' actions, the newest first, refused ones included. */
        get: operations["audit"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/config/reload": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Reloads the matcher's config from the config file (and `MATCHWRIGHT_*` variables) the
         *     server started with, without a restart: as a command through the core, journaled and
         *     replayed; refused, changing nothing, when the live state does not fit it (a queue with
         *     tickets removed, regions changed while anything is live...). Audited.
         */
        post: operations["reload_config"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Every match and session event as it happens (server-sent events, one `BackendEvent` JSON
         *     per `data:` line, as webhooks carry them; `{"type":"lagged","missed":N}` when the stream
         *     fell behind), for dashboards and the console. A gateway streams every partition's events.
         */
        get: operations["admin_events"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/fleet": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The game servers registered with this server (`serve` with a fleet registration secret),
         *     by id.
         */
        get: operations["fleet"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/matches": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The live matches (awaiting acceptance, allocating or active), the newest first. */
        get: operations["matches"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/matches/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One live match, with its players' teams and roles. */
        get: operations["match_of"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/matches/{id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Cancels a match that has not started (awaiting acceptance, or waiting for its game
         *     server): every ticket goes back to its queue keeping its waiting time; its players get
         *     `match_cancelled` with reason `cancelled`. Audited.
         */
        post: operations["cancel_match"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/players/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A player: their profile and ratings, where they are (idle, queued, in a proposed match,
         *     in a match) and their ban.
         */
        get: operations["admin_player"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/players/{id}/ban": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A player's ban. */
        get: operations["get_ban"];
        put?: never;
        /**
         * Bans a player: from their next request on, their tokens, logins and refreshes are refused
         *     (403 `banned`), and their ticket leaves its queue. A session they play goes on. Audited.
         */
        post: operations["ban"];
        /** Lifts a player's ban. Audited. */
        delete: operations["unban"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/players/{id}/ratings/{key}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * Sets a player's rating under a rating key (a queue's mode, or `MODE:ROLE` in a queue rated
         *     per role) this season, keeping their games played. Refused while they are queued or in a
         *     match. Audited.
         */
        put: operations["set_rating"];
        post?: never;
        /**
         * Resets a player's rating under a rating key to the config's `[rating] initial`, with no
         *     games played. Refused while they are queued or in a match. Audited.
         */
        delete: operations["reset_rating"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/queues": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Every queue: how many tickets and players wait, how long they have waited, and the windows
         *     in force at the median wait.
         */
        get: operations["queues"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/sessions/{id}/end": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Ends a session (allocating or active) as its game server would: no result, nobody is
         *     rated. Audited.
         */
        post: operations["admin_end_session"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/tickets": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Live tickets (queued, or in a proposed match), the longest waiting first. */
        get: operations["tickets"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/tickets/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One live ticket. */
        get: operations["ticket"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/tickets/{id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Takes a live ticket out of its queue (a proposed match it is in is declined). Audited. */
        post: operations["cancel_ticket"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/tickets/{id}/explain": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Why any live ticket has not matched yet (as `GET /v1/queue/explain`). */
        get: operations["explain_ticket"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/webhooks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Each webhook endpoint's delivery: events waiting, delivered, given up on (dead letters),
         *     and the last failure.
         */
        get: operations["webhooks"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/login": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Logs in with a username and password. */
        post: operations["login"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/logout": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Logs out: revokes every token of the refresh token's login. */
        post: operations["logout"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/refresh": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Exchanges a refresh token for new tokens. The old one is spent; presenting a spent one
         *     again revokes every token of its login.
         */
        post: operations["refresh"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/register": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Creates an account and logs it in. */
        post: operations["register"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Live events over WebSocket: one JSON text message per event, starting with `welcome`.
         * @description Each message is an `Event` variant's fields plus `"type": "<variant in snake_case>"`, e.g.
         *     `{"type": "match_accepted", "match_id": 7, "player_id": 1}` (the `Event` schema lists the
         *     variants and their fields; QUIC clients get the same events as frames). Authenticate with
         *     `Authorization: Bearer` or, from browsers, the `access_token` query parameter. A client
         *     that stops reading is disconnected (close code 1008); reconnect and read `GET /v1/queue`.
         */
        get: operations["events"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/fleet/servers": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Registers a game server: it gets its id and its own credential. An address is one
         *     registration's while it lives (deregister it, or wait for its heartbeat timeout), and never
         *     a fixed server's.
         */
        post: operations["register_game_server"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/fleet/servers/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Deregisters a server: its credential stops working. Its sessions end when their
         *     heartbeats stop: drain first, and deregister once they are over.
         */
        delete: operations["deregister"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/fleet/servers/{id}/drain": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Drains a registered server: no new session goes to it; its sessions go on. */
        post: operations["drain"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/fleet/servers/{id}/heartbeat": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A registered server is alive: it stays in the fleet until `heartbeat_timeout_ms` from now. */
        post: operations["fleet_heartbeat"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/leaderboard/{season}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A season's leaderboard in one mode, best conservative rating (`mu - 3 sigma`) first. */
        get: operations["leaderboard"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/match/{id}/accept": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Accepts a proposed match. */
        post: operations["accept_match"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/match/{id}/decline": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Declines a proposed match: the caller leaves the queue; everyone else goes back with
         *     their waiting time.
         */
        post: operations["decline_match"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/matches/history": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The caller's rated matches, newest first. The server keeps the newest
         *     `history_per_player` per player; the Postgres mirror keeps every one.
         */
        get: operations["history"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/party": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The caller's party. */
        get: operations["my_party"];
        put?: never;
        /** Creates a party led by the caller. */
        post: operations["create_party"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/party/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A party: its leader, members (ready or not), invitees and recent chat. */
        get: operations["get_party"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/party/{id}/chat": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Says something to the party: every member receives `party_chat`. */
        post: operations["chat"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/party/{id}/invite": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Invites a player (leader only). The invitee is told (`party_invite`) and may join until
         *     the invite expires (`lobby.invite_ttl_s`).
         */
        post: operations["invite"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/party/{id}/join": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Joins a party the caller was invited to. */
        post: operations["join"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/party/{id}/kick": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Removes a member (leader only). A queued party leaves the queue. */
        post: operations["kick"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/party/{id}/leave": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Leaves the caller's party. A queued party leaves the queue; a leader who leaves hands
         *     the lead to the member with the lowest id; the last member leaving ends the party.
         */
        post: operations["leave"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/party/{id}/ready": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Sets the caller ready (with their pings) or not ready. The leader can queue the party
         *     once every other member is ready; the check clears when the party queues or its members
         *     change.
         */
        post: operations["ready"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/profile/avoid": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The players the caller will not be matched with. */
        get: operations["get_avoid_list"];
        /**
         * Replaces the caller's avoid list (an empty list clears it). The players on it are never
         *     in the caller's matches (or, in queues with `block_lists = "opposing_teams"`, never
         *     opponents), both ways, from the caller's next enqueue on.
         */
        put: operations["put_avoid_list"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/profile/me": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The caller's profile and ratings. */
        get: operations["get_profile"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /** Changes the caller's display name or region preferences. */
        patch: operations["patch_profile"];
        trace?: never;
    };
    "/v1/queue": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Where the caller is: queued (with waiting time and the windows in force), awaiting
         *     acceptance, in a match, or idle.
         */
        get: operations["get_queue"];
        put?: never;
        /**
         * Joins a queue: solo, or, when the caller leads a party whose other members are all ready,
         *     the whole party as one ticket (it lands on one team).
         */
        post: operations["enqueue"];
        /** Leaves the queue (declining a proposed match, if one awaits acceptance). */
        delete: operations["leave_queue"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/queue/explain": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Why the caller's queued ticket has not matched yet: each check (skill window, latency,
         *     avoid lists, the queue's rules) with how many tickets of the queue pass it, which block,
         *     and when each bound relaxes. As of the last tick.
         */
        get: operations["explain_queue"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/queues": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The queues, regions and season this server runs. */
        get: operations["list_queues"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/server/session/{id}/backfill": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Asks for players to fill open slots of a running session (all zeros withdraws). */
        post: operations["request_backfill"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/server/session/{id}/end": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * The session ended without a result (ratings unchanged): a game cut short, a server shut
         *     down.
         */
        post: operations["end_session"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/server/session/{id}/heartbeat": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** The game server is alive (keeps the session from timing out). */
        post: operations["heartbeat"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/server/session/{id}/leave": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * A player left the running game: the slot is free for backfill (`.../backfill`). When the
         *     last player leaves, the session is abandoned (`empty`).
         */
        post: operations["leave_session"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/server/session/{id}/result": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** The session's result: it ends and its players' ratings update. */
        post: operations["report_result"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/session/{match_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The session of a match the caller plays in: the game server and a session token. */
        get: operations["get_session"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /**
         * @description What an admin action did: `status` names it (`cancelled`, `ended`, `banned`, `unbanned`),
         *     `audit_id` is its record in the audit log.
         */
        AdminDone: {
            /**
             * Format: int64
             * @description Its number in the audit log.
             */
            audit_id: number;
            /** @description What was done. */
            status: string;
        };
        /** @description A live match: `GET /v1/admin/matches/{id}` and each of `GET /v1/admin/matches`. */
        AdminMatch: {
            /**
             * Format: int64
             * @description When it formed (matcher time, Unix ms).
             */
            formed_at_ms: number;
            /**
             * Format: int64
             * @description The match.
             */
            id: number;
            /** @description Its players now. */
            players: components["schemas"]["AdminMatchPlayer"][];
            /**
             * Format: double
             * @description Its quality when formed, 0 to 1.
             */
            quality: number;
            /** @description Its queue. */
            queue: string;
            /** @description The game server's address, once active. */
            server?: string | null;
            /** @description `awaiting_acceptance`, `allocating` or `active`. */
            stage: string;
        };
        /** @description A player of a live match. */
        AdminMatchPlayer: {
            /**
             * Format: int64
             * @description The player.
             */
            player: number;
            /** @description The role they play, in a role queue. */
            role?: string | null;
            /**
             * Format: int32
             * @description Their team, from 0.
             */
            team: number;
        };
        /** @description `GET /v1/admin/matches`: the live matches (proposed, allocating or active). */
        AdminMatches: {
            /** @description Up to 500 of them, the newest first. */
            matches: components["schemas"]["AdminMatch"][];
            /**
             * Format: int64
             * @description How many are live.
             */
            total: number;
        };
        /** @description `GET /v1/admin/players/{id}`: a player as an operator sees them. */
        AdminPlayer: {
            ban?: components["schemas"]["Ban"] | null;
            /**
             * Format: int64
             * @description Their live match.
             */
            match_id?: number | null;
            /** @description Their profile (as `GET /v1/profile/me` shows it to them). */
            profile: components["schemas"]["Profile"];
            /**
             * @description Where they are: `idle`, `queued`, `proposed` (in a match awaiting acceptance) or
             *     `in_match` (allocating or playing).
             */
            status: string;
            /**
             * Format: int64
             * @description Their live ticket.
             */
            ticket?: number | null;
        };
        /** @description One queue as an operator sees it. */
        AdminQueue: {
            /** @description Its game mode. */
            mode: string;
            /** @description Its name. */
            name: string;
            /**
             * Format: int64
             * @description Players in those tickets.
             */
            players: number;
            /**
             * @description Matching minute by minute over the last ten minutes, the oldest first and the current
             *     minute last (a minute without matches is there with none), since the server started.
             */
            recent: components["schemas"]["MinuteOfMatching"][];
            /**
             * Format: int64
             * @description Tickets waiting (or awaiting acceptance of a proposed match).
             */
            tickets: number;
            waited_ms?: components["schemas"]["WaitPercentiles"] | null;
            /**
             * @description The windows in force for a ticket that has waited the median wait (for a new ticket
             *     when none waits).
             */
            windows: components["schemas"]["Windows"];
        };
        /** @description `GET /v1/admin/queues`. */
        AdminQueues: {
            /**
             * Format: int64
             * @description When this was read (Unix ms); waits are measured to it.
             */
            now_ms: number;
            /** @description Every configured queue, in the config's order. */
            queues: components["schemas"]["AdminQueue"][];
        };
        /** @description A live ticket: `GET /v1/admin/tickets/{id}` and each of `GET /v1/admin/tickets`. */
        AdminTicket: {
            /**
             * Format: int64
             * @description The ticket.
             */
            id: number;
            /** @description Its players. */
            players: number[];
            /**
             * Format: int64
             * @description The proposed match it is in, awaiting acceptance (it still waits in its queue).
             */
            proposed_in?: number | null;
            /** @description Its queue. */
            queue: string;
            /**
             * Format: int64
             * @description When it started waiting (Unix ms).
             */
            since_ms: number;
            /**
             * Format: int64
             * @description How long it has waited.
             */
            waited_ms: number;
        };
        /** @description `GET /v1/admin/tickets`: live tickets, the longest waiting first. */
        AdminTickets: {
            /** @description Up to `limit` of them. */
            tickets: components["schemas"]["AdminTicket"][];
            /**
             * Format: int64
             * @description How many live tickets matched the query (more than `tickets` holds when cut).
             */
            total: number;
        };
        /**
         * @description A ticket attribute's value: a string, a number or an array of strings, as the queue declares the attribute (`text`, `number`, `list`)
         * @example pc
         * @example 42
         * @example [
         *       "de",
         *       "fr"
         *     ]
         */
        AttributeValue: string | number | string[];
        /** @description One operator action. */
        AuditEntry: {
            /**
             * @description What they did: `cancel_ticket`, `cancel_match`, `end_session`, `ban_player`,
             *     `unban_player`.
             */
            action: string;
            /**
             * Format: int64
             * @description When (Unix ms).
             */
            at_ms: number;
            /** @description Anything else the action carried (a ban's reason). */
            detail: string;
            /**
             * Format: int64
             * @description Its number (increasing).
             */
            id: number;
            /** @description The operator (their key's name: `operator-` and 12 hex digits of the key's hash). */
            operator: string;
            /** @description `done`, or the error code that refused it. */
            outcome: string;
            /** @description What they did it to (`ticket 7`, `session 3`, `player 12`). */
            target: string;
        };
        /** @description `GET /v1/admin/audit`: operators' actions, the newest first. */
        AuditPage: {
            /** @description The records. */
            entries: components["schemas"]["AuditEntry"][];
            /**
             * Format: int64
             * @description `before` for the next page (nothing on the last one).
             */
            next_before?: number | null;
        };
        /**
         * @description `GET /v1/profile/avoid`, and the answer to `PUT /v1/profile/avoid`: the players the caller
         *     will not be matched with (honoured both ways, as each queue's `block_lists` says).
         * @example {
         *       "limit": 100,
         *       "players": [
         *         17,
         *         42
         *       ]
         *     }
         */
        AvoidList: {
            /**
             * Format: int32
             * @description The most players the list may hold (the matcher's `limits.max_avoid_list`).
             */
            limit: number;
            /** @description The players avoided, in ascending id order. */
            players: number[];
        };
        /**
         * @description `PUT /v1/profile/avoid` ([`super::Request::SetAvoidList`]): the whole new list (it
         *     replaces the old one; an empty list clears it).
         * @example {
         *       "players": [
         *         17,
         *         42
         *       ]
         *     }
         */
        AvoidListUpdate: {
            /**
             * @description Player ids (existing accounts, not the caller's own; repeats count once), at most
             *     `limits.max_avoid_list` of them.
             */
            players: number[];
        };
        /** @description `POST /v1/server/session/{id}/backfill`. */
        BackfillRequest: {
            /** @description Players wanted per team, in team order; all zeros withdraws the request. */
            open_slots: number[];
        };
        /** @description A player's ban: `GET /v1/admin/players/{id}/ban` and the answer to banning. */
        Ban: {
            /**
             * Format: int64
             * @description When (Unix ms).
             */
            at_ms: number;
            /** @description The operator who banned (their key's name). */
            by: string;
            /**
             * Format: int64
             * @description The player.
             */
            player: number;
            /** @description Why. */
            reason: string;
        };
        /** @description `POST /v1/admin/players/{id}/ban`. */
        BanRequest: {
            /** @description Why (shown to the player when refused), 1 to 500 characters. */
            reason: string;
        };
        /** @description One chat line. */
        ChatLine: {
            /**
             * Format: int64
             * @description When (Unix ms).
             */
            at_ms: number;
            /** @description Their display name when they said it. */
            display_name: string;
            /**
             * Format: int64
             * @description Who said it.
             */
            player_id: number;
            /** @description What they said. */
            text: string;
        };
        /** @description `POST /v1/party/{id}/chat`. */
        ChatRequest: {
            /**
             * @description The line (1 to `lobby.max_chat_chars` characters, 200 by default; no control
             *     characters).
             */
            text: string;
        };
        /** @description The answer to accept, decline and cancel. */
        Done: {
            /**
             * Format: int64
             * @description The match, if one is concerned.
             */
            match_id?: number | null;
            /** @description What is now true: `accepted`, `declined`, `cancelled`. */
            status: string;
        };
        /**
         * @description `POST /v1/queue` ([`super::Request::Enqueue`]).
         * @example {
         *       "attributes": {
         *         "languages": [
         *           "en",
         *           "de"
         *         ],
         *         "platform": "pc"
         *       },
         *       "max_ping_ms": null,
         *       "members": {
         *         "42": {
         *           "attributes": {
         *             "platform": "console"
         *           },
         *           "roles": [
         *             "support"
         *           ]
         *         }
         *       },
         *       "pings": {
         *         "eu-west": 30,
         *         "us-east": 95
         *       },
         *       "queue": "ranked-roles",
         *       "roles": [
         *         "tank",
         *         "damage"
         *       ]
         *     }
         */
        EnqueueRequest: {
            /**
             * @description Your attributes, by name: a string, a number or an array of strings, each of the type
             *     the queue declares (see its `attributes`). For a party, they are the whole ticket's: every
             *     member has them unless `members` gives that member its own value of that attribute.
             *     An attribute the queue does not declare, or of another type, is 422 naming
             *     `attributes.NAME`.
             */
            attributes?: {
                [key: string]: components["schemas"]["AttributeValue"];
            };
            /**
             * Format: int32
             * @description The highest ping you accept in any region, whatever the queue allows.
             */
            max_ping_ms?: number | null;
            /**
             * @description A party leader's choices for the other members, keyed by player id: each member's own
             *     `roles` (needed in a role queue) and `attributes` (over the ticket's). Members left out
             *     give none. Only a party's leader gives it; an id not in the party is 422.
             */
            members?: {
                [key: string]: components["schemas"]["MemberChoices"];
            };
            /**
             * @description Round-trip time to each region you can play in, in ms (0 to 5000). Regions left out
             *     (or outside your profile's preferences) are never chosen for you.
             */
            pings: {
                [key: string]: number;
            };
            /** @description The queue, by name (as configured, e.g. `ranked-5v5`). */
            queue: string;
            /**
             * @description The roles you accept, most wanted first (role queues only, where at least one is
             *     needed; names as in the queue's `composition`).
             */
            roles?: string[];
        };
        /**
         * @description A live event. Its JSON form on `GET /v1/events` is the variant's fields plus `"type"`, the
         *     variant's name in snake case (see [`Event::to_json`]).
         */
        Event: {
            /** @description Sent first on every event stream and WebSocket. */
            welcome: {
                /**
                 * Format: int64
                 * @description The authenticated player.
                 */
                player_id: number;
            };
        } | {
            /** @description Your ticket entered its queue. */
            queued: {
                /** @description The queue. */
                queue: string;
                /**
                 * Format: int64
                 * @description The ticket.
                 */
                ticket_id: number;
                /**
                 * Format: int64
                 * @description When it started waiting (Unix ms).
                 */
                waiting_since_ms: number;
            };
        } | {
            /** @description Your ticket left its queue without a match. */
            queue_left: {
                /** @description `cancelled`, `expired`, `declined`, `acceptance_timed_out` or `party_changed`. */
                reason: string;
                /**
                 * Format: int64
                 * @description The ticket.
                 */
                ticket_id: number;
                /**
                 * Format: int64
                 * @description How long it waited.
                 */
                waited_ms: number;
            };
        } | {
            /**
             * @description A match was found. In a queue with acceptance, `state` is `awaiting_acceptance` and every
             *     player must accept by `accept_by_ms`; then (or at once without acceptance) a second
             *     `match_found` with `state` `allocating` says the match is on. A player placed in a
             *     running session by backfill gets `state` `active`.
             */
            match_found: {
                /**
                 * Format: int64
                 * @description The acceptance deadline (Unix ms), when acceptance is needed.
                 */
                accept_by_ms?: number | null;
                /**
                 * Format: int64
                 * @description The match.
                 */
                match_id: number;
                /** @description The game mode. */
                mode: string;
                /** @description Everyone, with their teams. */
                players: components["schemas"]["MatchPlayer"][];
                /**
                 * Format: double
                 * @description Its quality, 0 to 1.
                 */
                quality: number;
                /** @description The queue. */
                queue: string;
                /** @description The region it is hosted in. */
                region: string;
                /** @description `awaiting_acceptance`, `allocating` or `active`. */
                state: string;
                /**
                 * Format: int32
                 * @description Your team.
                 */
                your_team: number;
            };
        } | {
            /** @description A player accepted the proposed match. */
            match_accepted: {
                /**
                 * Format: int64
                 * @description The match.
                 */
                match_id: number;
                /**
                 * Format: int64
                 * @description Who accepted.
                 */
                player_id: number;
            };
        } | {
            /**
             * @description The proposed match will not be played; your ticket is back in its queue (a `requeued`
             *     follows) unless you declined or did not answer.
             */
            match_cancelled: {
                /**
                 * Format: int64
                 * @description The match.
                 */
                match_id: number;
                /** @description The players who declined or did not answer. */
                players: number[];
                /**
                 * @description `declined`, `timed_out`, `cancelled` (by an operator; `requeued` follows), or (no
                 *     game server came; `requeued` follows) `allocation_failed` or `allocation_timed_out`.
                 */
                reason: string;
            };
        } | {
            /** @description Your ticket is back in its queue with its waiting time. */
            requeued: {
                /**
                 * Format: int64
                 * @description The match that fell through.
                 */
                match_id: number;
                /**
                 * Format: int64
                 * @description The ticket.
                 */
                ticket_id: number;
            };
        } | {
            /** @description The game server is up: connect to `server` with `session_token`. */
            session_ready: {
                /**
                 * Format: int64
                 * @description The match.
                 */
                match_id: number;
                /** @description The game server's address. */
                server: string;
                /** @description Your session token (HS256 JWT) for the game server. */
                session_token: string;
                /**
                 * Format: int64
                 * @description When the token expires (Unix ms).
                 */
                token_expires_at_ms: number;
            };
        } | {
            /** @description The session is over. */
            session_ended: {
                /**
                 * Format: int64
                 * @description The match.
                 */
                match_id: number;
                /** @description Each team's place (1 = first), when a result was reported. */
                placements?: number[] | null;
            };
        } | {
            /** @description The session was given up. */
            session_abandoned: {
                /**
                 * Format: int64
                 * @description The match.
                 */
                match_id: number;
                /**
                 * @description `heartbeat_timed_out` or `empty` (a session that never had its server is a
                 *     `match_cancelled` instead).
                 */
                reason: string;
            };
        } | {
            /**
             * @description Your party changed: `change` is `created`, `joined`, `left`, `kicked`, `invited`,
             *     `ready`, `not_ready`, `queued` or `disbanded`, about `player_id`; `party` is the party
             *     as it is now (after a `left` or `kicked`, the player concerned is told too).
             */
            party_updated: {
                /** @description What changed. */
                change: string;
                /** @description The party now. */
                party: components["schemas"]["Party"];
                /**
                 * Format: int64
                 * @description Who it concerns.
                 */
                player_id: number;
            };
        } | {
            /**
             * @description You are invited to a party: join it (`POST /v1/party/{party_id}/join`) before
             *     `expires_at_ms`.
             */
            party_invite: {
                /**
                 * Format: int64
                 * @description When the invite expires (Unix ms).
                 */
                expires_at_ms: number;
                /** @description Their display name. */
                from_display_name: string;
                /**
                 * Format: int64
                 * @description Who invited you (its leader).
                 */
                from_player_id: number;
                /**
                 * Format: int64
                 * @description The party.
                 */
                party_id: number;
            };
        } | {
            /** @description A chat line in your party. */
            party_chat: {
                /** @description The line. */
                line: components["schemas"]["ChatLine"];
                /**
                 * Format: int64
                 * @description The party.
                 */
                party_id: number;
            };
        } | {
            /** @description Your rating changed after a result. */
            ratings_changed: {
                /** @description After. */
                after: components["schemas"]["Rating"];
                /** @description Before. */
                before: components["schemas"]["Rating"];
                /**
                 * Format: int64
                 * @description The match.
                 */
                match_id: number;
                /** @description The game mode. */
                mode: string;
                /**
                 * @description The role the rating belongs to, in a queue rated per role (the rating is then
                 *     kept under `MODE:ROLE`, as profiles and leaderboards show it); `null` elsewhere.
                 */
                role?: string | null;
            };
        };
        /** @description One check of an [`Explanation`]. */
        ExplainCheck: {
            /** @description Whether it binds the ticket now (a rule with `optional_after_ms` stops binding). */
            binding: boolean;
            /**
             * @description Whether it keeps the ticket from matching: the tickets passing every check hold too
             *     few players, and this check turns away one that passes all the others (or it rules
             *     the ticket out alone, as `party_skill_spread` can).
             */
            blocking: boolean;
            /**
             * @description The kind: `skill_window`, `latency`, `block_list`, `equal`, `overlap`, `distance` or
             *     `party_skill_spread`.
             */
            kind: string;
            /** @description The rule's name, or the built-in check's (`skill_window`, `latency`, `block_list`). */
            name: string;
            /**
             * Format: int64
             * @description When the check stops binding the ticket (`optional_after_ms`), Unix ms.
             */
            optional_at_ms?: number | null;
            /**
             * Format: int64
             * @description Scanned tickets that pass it against this one.
             */
            passing: number;
            relaxes?: components["schemas"]["Relaxation"] | null;
            /**
             * Format: double
             * @description The ticket's own bound now: window (MMR), ping limit (ms), values to share, largest
             *     spread; `null` for checks without one.
             */
            value?: number | null;
        };
        /**
         * @description `GET /v1/queue/explain` (the caller's ticket) and `GET /v1/admin/tickets/{id}/explain`
         *     (any ticket, for operators): why a queued ticket has not matched yet. The matcher looks at
         *     up to `limits.max_explain_scan` tickets of its queue, nearest rating first, and reports
         *     each check: how many of them pass it against this ticket, whether it blocks, and when its
         *     bound relaxes. As of the last tick; times are Unix ms.
         * @example {
         *       "checks": [
         *         {
         *           "binding": true,
         *           "blocking": false,
         *           "kind": "skill_window",
         *           "name": "skill_window",
         *           "optional_at_ms": null,
         *           "passing": 1,
         *           "relaxes": {
         *             "at_ms": 1767312060000,
         *             "value": 350
         *           },
         *           "value": 130
         *         },
         *         {
         *           "binding": true,
         *           "blocking": false,
         *           "kind": "latency",
         *           "name": "latency",
         *           "optional_at_ms": null,
         *           "passing": 1,
         *           "relaxes": null,
         *           "value": 80
         *         },
         *         {
         *           "binding": true,
         *           "blocking": true,
         *           "kind": "equal",
         *           "name": "same-platform",
         *           "optional_at_ms": null,
         *           "passing": 0,
         *           "relaxes": null,
         *           "value": null
         *         }
         *       ],
         *       "compatible_players": 0,
         *       "next_try_at_ms": 1767312012500,
         *       "players": [
         *         7
         *       ],
         *       "players_needed": 1,
         *       "proposed": false,
         *       "queue": "duel-1v1",
         *       "queued_tickets": 2,
         *       "scanned": 1,
         *       "ticket_id": 7,
         *       "waited_ms": 12000
         *     }
         */
        Explanation: {
            /**
             * @description Each check, in order: `skill_window`, `latency`, `block_list` (when the queue keeps
             *     avoided players out of the whole match), then the queue's rules in config order.
             */
            checks: components["schemas"]["ExplainCheck"][];
            /**
             * Format: int64
             * @description Players in the scanned tickets that pass every check against it.
             */
            compatible_players: number;
            /**
             * Format: int64
             * @description When it is next tried as the anchor of a match (others may pick it before); `null`
             *     when it is due now or not in its queue.
             */
            next_try_at_ms?: number | null;
            /** @description Its players. */
            players: number[];
            /**
             * Format: int64
             * @description Other players a match with it needs, at least.
             */
            players_needed: number;
            /** @description Whether it waits in a proposed match (awaiting acceptance) rather than its queue. */
            proposed: boolean;
            /** @description Its queue. */
            queue: string;
            /**
             * Format: int64
             * @description Tickets in its queue, itself included.
             */
            queued_tickets: number;
            /**
             * Format: int64
             * @description Tickets looked at, nearest rating first (fewer than the queue beyond
             *     `limits.max_explain_scan`).
             */
            scanned: number;
            /**
             * Format: int64
             * @description The ticket.
             */
            ticket_id: number;
            /**
             * Format: int64
             * @description How long it has waited.
             */
            waited_ms: number;
        };
        /**
         * @description A registered server: the answer to its heartbeat and drain, and each of
         *     `GET /v1/admin/fleet`.
         */
        FleetServerStatus: {
            /** @description Its address. */
            address: string;
            /**
             * Format: int32
             * @description Sessions it hosts at most.
             */
            capacity: number;
            /** @description Whether it drains (takes no new session). */
            draining: boolean;
            /** @description Its labels. */
            labels: {
                [key: string]: string;
            };
            /**
             * Format: int64
             * @description When it was last heard from (Unix ms).
             */
            last_seen_ms: number;
            /** @description Its region. */
            region: string;
            /**
             * Format: int64
             * @description Its id.
             */
            server_id: number;
            /**
             * Format: int32
             * @description Sessions it hosts now.
             */
            sessions: number;
        };
        /** @description `GET /v1/admin/fleet`: the registered servers, by id. */
        FleetServers: {
            /** @description Whether registration is open on this server (a registration secret is set). */
            registration_open: boolean;
            /** @description The servers. */
            servers: components["schemas"]["FleetServerStatus"][];
        };
        /** @description `GET /healthz` and `/readyz`. */
        Health: {
            /** @description `ok` or `ready`. */
            status: string;
            /**
             * Format: int64
             * @description The last committed tick.
             */
            tick: number;
        };
        /** @description One rated match of the caller's. */
        HistoryEntry: {
            /** @description And after. */
            after: components["schemas"]["Rating"];
            /**
             * Format: int64
             * @description When the result came (Unix ms).
             */
            at_ms: number;
            /** @description The caller's rating before. */
            before: components["schemas"]["Rating"];
            /**
             * Format: int64
             * @description The match.
             */
            match_id: number;
            /** @description Its game mode. */
            mode: string;
            /**
             * Format: int32
             * @description The caller's team's place (1 = first), when known.
             */
            placement?: number | null;
        };
        /** @description A page of match history. */
        HistoryPage: {
            /** @description Newest first. */
            matches: components["schemas"]["HistoryEntry"][];
            /** @description Pass as `cursor` for the next page; `null` on the last page. */
            next_cursor?: string | null;
        };
        /** @description One ranked player. */
        LeaderboardEntry: {
            /** @description The name others see. */
            display_name: string;
            /**
             * Format: int64
             * @description Rated games played this season in this mode.
             */
            games: number;
            /**
             * Format: int64
             * @description The player.
             */
            player_id: number;
            /**
             * Format: int64
             * @description 1 is the best.
             */
            rank: number;
            /** @description The rating (`conservative` is what ranks). */
            rating: components["schemas"]["Rating"];
        };
        /** @description A leaderboard page. */
        LeaderboardPage: {
            /** @description The entries, best first. */
            entries: components["schemas"]["LeaderboardEntry"][];
            /** @description The mode. */
            mode: string;
            /** @description Pass as `cursor` for the next page; `null` on the last page. */
            next_cursor?: string | null;
            /** @description The season. */
            season: string;
        };
        /** @description `POST /v1/server/session/{id}/leave`. */
        LeaveRequest: {
            /**
             * Format: int64
             * @description The player who left the game.
             */
            player_id: number;
        };
        /** @description `POST /v1/auth/login` ([`super::Request::Login`]). */
        LoginRequest: {
            /** @description The password. */
            password: string;
            /** @description The username. */
            username: string;
        };
        /**
         * @description One player of a match, as clients see it.
         * @example {
         *       "player_id": 7,
         *       "role": "tank",
         *       "team": 0
         *     }
         */
        MatchPlayer: {
            /**
             * Format: int64
             * @description The player.
             */
            player_id: number;
            /** @description The role the player plays, in a role queue (`null` elsewhere). */
            role?: string | null;
            /**
             * Format: int32
             * @description The team (0-based).
             */
            team: number;
        };
        /**
         * @description One party member's roles and attributes, in [`EnqueueRequest::members`].
         * @example {
         *       "attributes": {
         *         "platform": "console"
         *       },
         *       "roles": [
         *         "support"
         *       ]
         *     }
         */
        MemberChoices: {
            /** @description The member's own attributes (over the ticket's, attribute by attribute). */
            attributes?: {
                [key: string]: components["schemas"]["AttributeValue"];
            };
            /** @description The roles the member accepts, most wanted first. */
            roles?: string[];
        };
        /** @description One minute of a queue's matching: `AdminQueue::recent`. */
        MinuteOfMatching: {
            /**
             * Format: int64
             * @description Matches formed in it (proposed, in a queue with acceptance).
             */
            matches: number;
            /**
             * Format: double
             * @description The mean quality of its matches, 0 to 1.
             */
            mean_quality?: number | null;
            /**
             * Format: int64
             * @description The minute's start (Unix ms, a multiple of 60,000).
             */
            start_ms: number;
            /**
             * Format: int64
             * @description Tickets matched in it.
             */
            tickets: number;
            time_to_match_ms?: components["schemas"]["WaitPercentiles"] | null;
        };
        /** @description A rating in one game mode. */
        ModeRating: {
            /**
             * Format: int64
             * @description Rated games played.
             */
            games: number;
            /** @description The game mode. */
            mode: string;
            /** @description The rating. */
            rating: components["schemas"]["Rating"];
            /** @description The season. */
            season: string;
        };
        /** @description A party, as clients see it. */
        Party: {
            /** @description Recent chat, oldest first. */
            chat: components["schemas"]["ChatLine"][];
            /** @description Players invited and not yet joined. */
            invited: number[];
            /**
             * Format: int64
             * @description Its leader (0 once disbanded).
             */
            leader_id: number;
            /** @description Its members, in joining order. */
            members: components["schemas"]["PartyMember"][];
            /**
             * Format: int64
             * @description The party.
             */
            party_id: number;
            /**
             * @description Where the party is: `idle`, `queued`, `awaiting_acceptance` or `in_match` (as its
             *     leader is), or `disbanded`.
             */
            status: string;
        };
        /** @description What a party call did: the answer to invite, leave, kick and chat. */
        PartyAck: {
            /**
             * Format: int64
             * @description The party.
             */
            party_id: number;
            /** @description `invited`, `left`, `kicked`, `chat_sent`. */
            status: string;
        };
        /** @description One member of a party, as clients see it. */
        PartyMember: {
            /** @description Whether this member leads the party. */
            leader: boolean;
            /**
             * Format: int64
             * @description The player.
             */
            player_id: number;
            /** @description Whether this member is ready to queue (the leader's queue request counts as ready). */
            ready: boolean;
        };
        /** @description `POST /v1/party/{id}/invite` and `/kick`. */
        PlayerRequest: {
            /**
             * Format: int64
             * @description The player invited or kicked.
             */
            player_id: number;
        };
        /** @description `GET /v1/profile/me`, and the answer to `PATCH /v1/profile/me`. */
        Profile: {
            /**
             * Format: int64
             * @description When the account was created (Unix ms).
             */
            created_at_ms: number;
            /** @description The name others see. */
            display_name: string;
            /**
             * Format: int64
             * @description The player.
             */
            player_id: number;
            /** @description The rating in every game mode this season (the initial rating where unplayed). */
            ratings: components["schemas"]["ModeRating"][];
            /** @description Preferred regions; when set, the player is only matched in these. */
            regions: string[];
            /** @description The login name. */
            username: string;
        };
        /** @description `PATCH /v1/profile/me` ([`super::Request::UpdateProfile`]): the fields to change. */
        ProfilePatch: {
            /** @description A new display name: 1 to 32 characters. */
            display_name?: string | null;
            /** @description New preferred regions (configured names; empty for all). */
            regions?: string[] | null;
        };
        /** @description An attribute a queue's tickets carry. */
        QueueAttribute: {
            /** @description `text`, `number` or `list` (of texts). */
            kind: string;
            /** @description Its name. */
            name: string;
            /** @description Whether every member must give it (the queue has no default for it). */
            required: boolean;
        };
        /** @description One queue, as clients see it. */
        QueueInfo: {
            /** @description Whether players must accept a found match. */
            acceptance: boolean;
            /**
             * @description The attributes its tickets carry (`POST /v1/queue`'s `attributes`, per member or per
             *     ticket); empty for a queue without attributes. Any other attribute is refused.
             */
            attributes?: components["schemas"]["QueueAttribute"][];
            /**
             * Format: int32
             * @description The largest party it takes.
             */
            max_party_size: number;
            /** @description The game mode its ratings and leaderboard belong to. */
            mode: string;
            /** @description Its name (`POST /v1/queue`'s `queue`). */
            name: string;
            /**
             * @description A role queue's composition of each team (`POST /v1/queue`'s `roles` name these);
             *     empty for a queue without roles.
             */
            roles?: components["schemas"]["QueueRole"][];
            /**
             * Format: int32
             * @description Players per team.
             */
            team_size: number;
            /**
             * Format: int32
             * @description Teams per match.
             */
            teams: number;
        };
        /** @description `GET /v1/queues`: the queues this server runs. */
        QueueList: {
            /** @description The queues. */
            queues: components["schemas"]["QueueInfo"][];
            /** @description The regions matches are hosted in (`pings` keys). */
            regions: string[];
            /** @description The season ratings are kept under now. */
            season: string;
        };
        /** @description One role of a role queue's team composition. */
        QueueRole: {
            /**
             * Format: int32
             * @description Players of the role in each team.
             */
            count: number;
            /** @description The role's name. */
            role: string;
        };
        /** @description Where the caller is: `GET /v1/queue`, and the answer to `POST /v1/queue`. */
        QueueStatus: {
            /**
             * Format: int64
             * @description The acceptance deadline (Unix ms).
             */
            accept_by_ms?: number | null;
            /**
             * Format: int64
             * @description The match, when awaiting acceptance or in a match.
             */
            match_id?: number | null;
            /** @description The match's state: `awaiting_acceptance`, `allocating` or `active`. */
            match_state?: string | null;
            /** @description The queue. */
            queue?: string | null;
            /** @description `idle`, `queued`, `awaiting_acceptance` or `in_match`. */
            status: string;
            /**
             * Format: int64
             * @description The ticket, when queued or awaiting acceptance.
             */
            ticket_id?: number | null;
            /**
             * Format: int64
             * @description How long it has waited.
             */
            waiting_ms?: number | null;
            /**
             * Format: int64
             * @description When the ticket started waiting (Unix ms).
             */
            waiting_since_ms?: number | null;
            windows?: components["schemas"]["Windows"] | null;
        };
        /** @description A rating as clients see it. */
        Rating: {
            /**
             * Format: double
             * @description `mu - 3 sigma`: the rating leaderboards rank by.
             */
            conservative: number;
            /**
             * Format: double
             * @description Estimated skill (MMR scale).
             */
            mu: number;
            /**
             * Format: double
             * @description Uncertainty.
             */
            sigma: number;
        };
        /** @description `POST /v1/party/{id}/ready`. */
        ReadyRequest: {
            /**
             * @description Your round-trip time to each region you can play in (as for `POST /v1/queue`). When
             *     the leader queues the party, each member's own pings are used; a member who gave none
             *     is given the leader's.
             */
            pings?: {
                [key: string]: number;
            };
            /** @description Ready (default) or not. */
            ready?: boolean;
        };
        /**
         * @description `POST /v1/auth/refresh` and `/v1/auth/logout` ([`super::Request::Refresh`],
         *     [`super::Request::Logout`]).
         */
        RefreshRequest: {
            /** @description The refresh token from the last login or refresh. */
            refresh_token: string;
        };
        /** @description `POST /v1/auth/register` ([`super::Request::Register`]). */
        RegisterRequest: {
            /** @description The name others see (default: the username). 1 to 32 characters. */
            display_name?: string | null;
            /** @description 8 to 128 characters. */
            password: string;
            /** @description 3 to 32 characters: letters, digits, `_`, `-`, `.`. Unique. */
            username: string;
        };
        /** @description `POST /v1/fleet/servers`. */
        RegisterServerRequest: {
            /**
             * @description The address players connect to, `host:port` (at most 255 bytes): one registration's
             *     while it lives (another is 409 `address_registered`), never a fixed server's.
             */
            address: string;
            /**
             * Format: int32
             * @description Sessions it hosts at once, 1 to 10000.
             */
            capacity: number;
            /**
             * @description Labels queues may select on (`[fleet] queue_labels`): at most 16, names and values 1
             *     to 64 bytes.
             */
            labels?: {
                [key: string]: string;
            };
            /** @description Its region, one of the server's regions (`GET /v1/queues`). */
            region: string;
        };
        /** @description The answer to registering: the server's id and its own credential. */
        RegisteredServer: {
            /**
             * Format: int64
             * @description Heartbeat more often than this, or be taken out of the fleet.
             */
            heartbeat_timeout_ms: number;
            /**
             * Format: int64
             * @description Its id (the fleet routes' `{id}`).
             */
            server_id: number;
            /**
             * @description Its credential (`Authorization: Bearer TOKEN`) for its fleet routes and for the
             *     session routes of the sessions it hosts. Shown once; only its hash is kept.
             */
            token: string;
        };
        /** @description A future value of a check's bound. */
        Relaxation: {
            /**
             * Format: int64
             * @description When, Unix ms.
             */
            at_ms: number;
            /**
             * Format: double
             * @description The bound from then.
             */
            value: number;
        };
        /**
         * @description `POST /v1/server/session/{id}/result`: give exactly one of `winner`, `ranking` or
         *     `placements`.
         */
        ResultRequest: {
            /** @description Each team's place in team order (1 = first; equal places are draws). */
            placements?: number[] | null;
            /** @description Every team, best first (0-based team indices). */
            ranking?: number[] | null;
            /**
             * Format: int32
             * @description The winning team (0-based); every other team shares second place.
             */
            winner?: number | null;
        };
        /** @description `GET /v1/session/{match_id}`: a match's session. */
        Session: {
            /**
             * Format: int64
             * @description The match.
             */
            match_id: number;
            /** @description Everyone, with their teams. */
            players: components["schemas"]["MatchPlayer"][];
            /** @description The region. */
            region: string;
            /** @description The game server's address, once active. */
            server?: string | null;
            /**
             * @description The caller's session token for the game server (HS256 JWT signed with the session
             *     secret; the game server verifies it offline), once active.
             */
            session_token?: string | null;
            /**
             * @description `awaiting_acceptance`, `allocating`, `active`, or, once over, `ended`, `abandoned`,
             *     `cancelled`.
             */
            state: string;
            /**
             * Format: int64
             * @description When the token expires (Unix ms).
             */
            token_expires_at_ms?: number | null;
            /**
             * Format: int32
             * @description The caller's team.
             */
            your_team?: number | null;
        };
        /** @description What a game-server call did. */
        SessionAck: {
            /**
             * Format: int64
             * @description The match.
             */
            match_id: number;
            /** @description `alive`, `ended`, `player_left`, `backfill_requested` or `backfill_cancelled`. */
            status: string;
        };
        /** @description `PUT /v1/admin/players/{id}/ratings/{key}`: the rating to set. */
        SetRatingRequest: {
            /**
             * Format: double
             * @description The skill estimate (MMR scale), -1000000 to 1000000.
             */
            mu: number;
            /**
             * Format: double
             * @description Its uncertainty, above 0 and at most 100000.
             */
            sigma: number;
        };
        /** @description Tokens for a player: the answer to register, login and refresh. */
        Tokens: {
            /**
             * @description The access token, good over both transports: `Authorization: Bearer ACCESS_TOKEN` over
             *     HTTP, [`super::Request::Authenticate`] over QUIC.
             */
            access_token: string;
            /**
             * Format: int64
             * @description Seconds the access token lives.
             */
            expires_in: number;
            /**
             * Format: int64
             * @description The player.
             */
            player_id: number;
            /**
             * Format: int64
             * @description Seconds the refresh token lives.
             */
            refresh_expires_in: number;
            /** @description Exchange it for new tokens at `POST /v1/auth/refresh` (once: it rotates). */
            refresh_token: string;
            /** @description Always `Bearer`. */
            token_type: string;
        };
        /** @description Percentiles of the waits of a queue's tickets, in ms (nearest rank). */
        WaitPercentiles: {
            /**
             * Format: int64
             * @description The longest.
             */
            max: number;
            /**
             * Format: int64
             * @description The median.
             */
            p50: number;
            /**
             * Format: int64
             * @description The 90th percentile.
             */
            p90: number;
            /**
             * Format: int64
             * @description The 99th percentile.
             */
            p99: number;
        };
        /** @description One endpoint's delivery. */
        WebhookEndpointStatus: {
            /**
             * Format: int64
             * @description Events given up on (dead letters), since the endpoint was first configured.
             */
            dead_letters: number;
            /**
             * Format: int64
             * @description Events delivered since the server started.
             */
            delivered: number;
            /** @description The last failure, if the last attempt failed. */
            last_error?: string | null;
            /** @description Its name (`[[webhooks.endpoints]] name`). */
            name: string;
            /**
             * Format: int64
             * @description Events waiting for it.
             */
            pending: number;
            /** @description Its URL. */
            url: string;
        };
        /** @description `GET /v1/admin/webhooks`: each endpoint's delivery. */
        WebhookStatus: {
            /** @description Each endpoint. */
            endpoints: components["schemas"]["WebhookEndpointStatus"][];
            /**
             * Format: int64
             * @description Events in the outbox not yet delivered everywhere.
             */
            outbox_rows: number;
        };
        /** @description The windows a queued ticket is matched within now; they widen with waiting time. */
        Windows: {
            /**
             * Format: double
             * @description The highest ping accepted (ms).
             */
            ping_ms: number;
            /**
             * Format: double
             * @description The least match quality accepted (0 to 1).
             */
            quality_floor: number;
            /**
             * Format: double
             * @description The largest rating difference accepted (MMR).
             */
            skill_mmr: number;
        };
        /**
         * @description Every error, over both transports: the HTTP status, a stable code, a message for people,
         *     and the field at fault when there is one. Over HTTP it is the JSON body of every error
         *     response, `{"status", "error", "message", "field"}` (`field` is `null` when no one field is
         *     at fault).
         */
        WireError: {
            /**
             * @description A stable, machine-readable code, e.g. `invalid_token`, `already_queued`,
             *     `rate_limited` (the JSON key is `error`).
             */
            error: string;
            /** @description The request field at fault, when there is one (e.g. `pings.eu-west`). */
            field?: string | null;
            /** @description What went wrong, for people. */
            message: string;
            /**
             * Format: int32
             * @description The HTTP status (400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503).
             */
            status: number;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    healthz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Alive */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
        };
    };
    metrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Metrics */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
        };
    };
    openapi: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The OpenAPI 3.1 document */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
        };
    };
    readyz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Ready */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
            /** @description Not ready, and why */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    audit: {
        parameters: {
            query?: {
                /** @description Only records numbered below this (`next_before` of the previous page). */
                before?: number;
                /** @description Records per page, 1 to 500 (default 100). */
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of the audit log */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AuditPage"];
                };
            };
            /** @description No operator key, or not a valid one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not an operator (`not_operator`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Bad limit */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    reload_config: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description `reloaded`, or `unchanged` when the matcher's config is the same */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdminDone"];
                };
            };
            /** @description No operator key, or not a valid one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not an operator, or a read-only key (`read_only_operator`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The live state does not fit the new config (`config_does_not_fit`, with why) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The config file does not load (`invalid_config`, naming the file and the field) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description A gateway: restart the cluster's processes instead (`not_in_cluster`) */
            501: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    admin_events: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The stream (`text/event-stream`) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
            /** @description No operator key, or not a valid one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not an operator (`not_operator`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description 32 streams are open already (`busy`) */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    fleet: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The registered servers */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["FleetServers"];
                };
            };
            /** @description No operator key, or not a valid one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not an operator (`not_operator`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    matches: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The matches */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdminMatches"];
                };
            };
            /** @description No operator key, or not a valid one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not an operator (`not_operator`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    match_of: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The match */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The match */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdminMatch"];
                };
            };
            /** @description No operator key, or not a valid one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not an operator (`not_operator`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No live match has this id (`unknown_match`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    cancel_match: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The match */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Cancelled */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdminDone"];
                };
            };
            /** @description No operator key, or not a valid one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not an operator, or a read-only key (`read_only_operator`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No live match (`unknown_match`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description It is being played (`session_active`: end its session), or it is starting (`wrong_match_phase`) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    admin_player: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The player */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The player */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdminPlayer"];
                };
            };
            /** @description No operator key, or not a valid one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not an operator (`not_operator`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No player has this id (`unknown_player`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    get_ban: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The player */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The ban */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Ban"];
                };
            };
            /** @description No operator key, or not a valid one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not an operator (`not_operator`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not banned (`not_banned`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    ban: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The player */
                id: number;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["BanRequest"];
            };
        };
        responses: {
            /** @description Banned */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdminDone"];
                };
            };
            /** @description The body is not well-formed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No operator key, or not a valid one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not an operator, or a read-only key (`read_only_operator`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No such player (`unknown_player`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body did not arrive within `server.header_timeout_ms` */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is larger than `server.body_limit_bytes` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is not `Content-Type: application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No reason, or a reason over 500 characters */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    unban: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The player */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Unbanned */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdminDone"];
                };
            };
            /** @description No operator key, or not a valid one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not an operator, or a read-only key (`read_only_operator`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not banned (`not_banned`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    set_rating: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The player */
                id: number;
                /** @description The rating key, e.g. `duel` or `ranked:tank` */
                key: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SetRatingRequest"];
            };
        };
        responses: {
            /** @description Set (`rating_set`) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdminDone"];
                };
            };
            /** @description The body is not well-formed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No operator key, or not a valid one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not an operator, or a read-only key (`read_only_operator`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No such player (`unknown_player`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body did not arrive within `server.header_timeout_ms` */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Queued or in a match (`player_busy`) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is larger than `server.body_limit_bytes` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is not `Content-Type: application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not a rating key, or mu or sigma out of range */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    reset_rating: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The player */
                id: number;
                /** @description The rating key, e.g. `duel` or `ranked:tank` */
                key: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Reset (`rating_reset`) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdminDone"];
                };
            };
            /** @description No operator key, or not a valid one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not an operator, or a read-only key (`read_only_operator`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No such player (`unknown_player`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Queued or in a match (`player_busy`) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not a rating key */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    queues: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The queues */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdminQueues"];
                };
            };
            /** @description No operator key, or not a valid one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description A player's access token, or no operator key configured (`not_operator`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    admin_end_session: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The session (its match id) */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Ended */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdminDone"];
                };
            };
            /** @description No operator key, or not a valid one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not an operator, or a read-only key (`read_only_operator`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No live session (`unknown_session`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The match awaits acceptance (`not_started`) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    tickets: {
        parameters: {
            query?: {
                /** @description Only this queue's tickets. */
                queue?: string;
                /** @description Only the ticket holding this player. */
                player?: number;
                /** @description Tickets per answer, 1 to 500 (default 100): the longest waiting first. */
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The tickets */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdminTickets"];
                };
            };
            /** @description No operator key, or not a valid one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not an operator (`not_operator`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Unknown queue or bad limit */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    ticket: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The ticket */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The ticket */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdminTicket"];
                };
            };
            /** @description No operator key, or not a valid one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not an operator (`not_operator`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No live ticket has this id (`unknown_ticket`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    cancel_ticket: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The ticket */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Cancelled */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdminDone"];
                };
            };
            /** @description No operator key, or not a valid one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not an operator, or a read-only key (`read_only_operator`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No live ticket has this id (`unknown_ticket`, `not_queued`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    explain_ticket: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The ticket (a solo player's ticket id is the player's id, a party's its leader's) */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The explanation */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Explanation"];
                };
            };
            /** @description No operator key, or not a valid one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description A player's access token, or no operator key configured (`not_operator`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No live ticket has this id (`unknown_ticket`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    webhooks: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The endpoints (none when `[webhooks]` has none) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookStatus"];
                };
            };
            /** @description No operator key, or not a valid one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not an operator (`not_operator`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The store could not be read (`internal`) */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    login: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["LoginRequest"];
            };
        };
        responses: {
            /** @description Logged in */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Tokens"];
                };
            };
            /** @description The body is not well-formed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Wrong username or password */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body did not arrive within `server.header_timeout_ms` */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is larger than `server.body_limit_bytes` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is not `Content-Type: application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description A field is not valid (named in `field`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    logout: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RefreshRequest"];
            };
        };
        responses: {
            /** @description Logged out (also when the token was already gone) */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The body is not well-formed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not a refresh token of ours */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body did not arrive within `server.header_timeout_ms` */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is larger than `server.body_limit_bytes` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is not `Content-Type: application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description A field is not valid (named in `field`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    refresh: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RefreshRequest"];
            };
        };
        responses: {
            /** @description New tokens */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Tokens"];
                };
            };
            /** @description The body is not well-formed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Unknown, expired, or reused (the family is now revoked) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body did not arrive within `server.header_timeout_ms` */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is larger than `server.body_limit_bytes` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is not `Content-Type: application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description A field is not valid (named in `field`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    register: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RegisterRequest"];
            };
        };
        responses: {
            /** @description Created and logged in */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Tokens"];
                };
            };
            /** @description The body is not well-formed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body did not arrive within `server.header_timeout_ms` */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The username is taken */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is larger than `server.body_limit_bytes` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is not `Content-Type: application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description A field is not valid */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    events: {
        parameters: {
            query?: {
                /** @description The access token, when no Authorization header can be sent */
                access_token?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Switching to WebSocket; each message is an `Event` variant's fields plus `"type": "<variant in snake_case>"` */
            101: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Event"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Too many sockets for this player */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    register_game_server: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RegisterServerRequest"];
            };
        };
        responses: {
            /** @description Registered */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RegisteredServer"];
                };
            };
            /** @description The body is not well-formed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No valid registration secret */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Registration is closed here (`registration_closed`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body did not arrive within `server.header_timeout_ms` */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The address is registered (`address_registered`) or a fixed server's (`address_in_fixed_fleet`) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is larger than `server.body_limit_bytes` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is not `Content-Type: application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Unknown region, bad address, capacity or labels */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description `[fleet] max_registered` servers are registered (`fleet_full`) */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    deregister: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The server */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Deregistered */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Done"];
                };
            };
            /** @description Not a registered server's credential */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Another server's id (`not_your_server`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    drain: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The server */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Draining */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["FleetServerStatus"];
                };
            };
            /** @description Not a registered server's credential */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Another server's id (`not_your_server`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    fleet_heartbeat: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The server */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Noted */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["FleetServerStatus"];
                };
            };
            /** @description Not a registered server's credential (register again) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Another server's id (`not_your_server`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    leaderboard: {
        parameters: {
            query: {
                /** @description The game mode (as configured on the queues, e.g. `duel`). */
                mode: string;
                /** @description Entries per page, 1 to 200 (default 50). */
                limit?: number;
                /** @description `next_cursor` of the previous page. */
                cursor?: string;
            };
            header?: never;
            path: {
                /** @description The season (the server's is `server.season`) */
                season: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of the leaderboard */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LeaderboardPage"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Unknown mode, bad limit or cursor */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    accept_match: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The match */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Accepted */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Done"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not a player of the match */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No such live match */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The match is not awaiting acceptance */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    decline_match: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The match */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Declined */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Done"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not a player of the match */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No such live match */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The match is not awaiting acceptance */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    history: {
        parameters: {
            query?: {
                /** @description Matches per page, 1 to 200 (default 50). */
                limit?: number;
                /** @description `next_cursor` of the previous page. */
                cursor?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of history */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HistoryPage"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Bad limit or cursor */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    my_party: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The caller's party */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Party"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not in a party */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    create_party: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Created; the caller leads it */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Party"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Already in a party, or queued */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    get_party: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The party */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The party */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Party"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Neither a member nor invited */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No such party */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    chat: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The party */
                id: number;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ChatRequest"];
            };
        };
        responses: {
            /** @description Sent */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PartyAck"];
                };
            };
            /** @description The body is not well-formed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not a member */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No such party */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body did not arrive within `server.header_timeout_ms` */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is larger than `server.body_limit_bytes` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is not `Content-Type: application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Empty, too long, or with control characters */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    invite: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The party */
                id: number;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["PlayerRequest"];
            };
        };
        responses: {
            /** @description Invited */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PartyAck"];
                };
            };
            /** @description The body is not well-formed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not the party's leader */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No such party or player */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body did not arrive within `server.header_timeout_ms` */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Already a member, or too many pending invites */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is larger than `server.body_limit_bytes` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is not `Content-Type: application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description A field is not valid (named in `field`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    join: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The party */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Joined */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Party"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not invited (or the invite expired) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No such party */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description In another party, queued, or the party is full or queued */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    kick: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The party */
                id: number;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["PlayerRequest"];
            };
        };
        responses: {
            /** @description Kicked */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PartyAck"];
                };
            };
            /** @description The body is not well-formed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not the party's leader */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No such party, or the player is not a member */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body did not arrive within `server.header_timeout_ms` */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is larger than `server.body_limit_bytes` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is not `Content-Type: application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Kicking yourself (leave instead) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    leave: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The party */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Left */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PartyAck"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not a member */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No such party */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The party is in a match that is being formed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    ready: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The party */
                id: number;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ReadyRequest"];
            };
        };
        responses: {
            /** @description The party with the caller's new state */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Party"];
                };
            };
            /** @description The body is not well-formed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not a member */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No such party */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body did not arrive within `server.header_timeout_ms` */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is larger than `server.body_limit_bytes` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is not `Content-Type: application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description A ping is not valid */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    get_avoid_list: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The avoid list and its limit */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AvoidList"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    put_avoid_list: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["AvoidListUpdate"];
            };
        };
        responses: {
            /** @description The avoid list as stored */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AvoidList"];
                };
            };
            /** @description The body is not well-formed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body did not arrive within `server.header_timeout_ms` */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is larger than `server.body_limit_bytes` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is not `Content-Type: application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description More players than `limits.max_avoid_list`, the caller, or a player who does not exist (`field`: `players`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    get_profile: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The profile */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Profile"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    patch_profile: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ProfilePatch"];
            };
        };
        responses: {
            /** @description The updated profile */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Profile"];
                };
            };
            /** @description The body is not well-formed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body did not arrive within `server.header_timeout_ms` */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is larger than `server.body_limit_bytes` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is not `Content-Type: application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description A field is not valid */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    get_queue: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The caller's status */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["QueueStatus"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    enqueue: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["EnqueueRequest"];
            };
        };
        responses: {
            /** @description Queued (the status as of the tick that queued it) */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["QueueStatus"];
                };
            };
            /** @description The body is not well-formed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description In a party the caller does not lead */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body did not arrive within `server.header_timeout_ms` */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Already queued or in a match, or party members not ready */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is larger than `server.body_limit_bytes` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is not `Content-Type: application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Unknown queue or region, no region reachable, or an attribute (`attributes.NAME`, `members.ID.attributes.NAME`), role (`roles`, `members.ID.roles`) or avoid list (`avoid`) the queue does not take; nothing is queued */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The server is busy or the queue is full */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    leave_queue: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Left the queue */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Done"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not queued */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description In a match already */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    explain_queue: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The explanation */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Explanation"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not queued (`not_queued`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    list_queues: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The queues */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["QueueList"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    request_backfill: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The match */
                id: number;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["BackfillRequest"];
            };
        };
        responses: {
            /** @description Requested (or withdrawn) */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionAck"];
                };
            };
            /** @description The body is not well-formed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No valid server key or registered server credential */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description A registered server acting on a session it does not host (`not_your_session`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No such running session */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body did not arrive within `server.header_timeout_ms` */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Nothing to withdraw */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is larger than `server.body_limit_bytes` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is not `Content-Type: application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The slots do not fit the teams */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    end_session: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The match */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The session ended */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionAck"];
                };
            };
            /** @description No valid server key or registered server credential */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description A registered server acting on a session it does not host (`not_your_session`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No such running session */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    heartbeat: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The match */
                id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Noted */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionAck"];
                };
            };
            /** @description No valid server key or registered server credential */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description A registered server acting on a session it does not host (`not_your_session`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No such running session */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The session is not active */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    leave_session: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The match */
                id: number;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["LeaveRequest"];
            };
        };
        responses: {
            /** @description The player is out of the session */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionAck"];
                };
            };
            /** @description The body is not well-formed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No valid server key or registered server credential */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The player is not in the session */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No such running session */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body did not arrive within `server.header_timeout_ms` */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The session is ending */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is larger than `server.body_limit_bytes` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is not `Content-Type: application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description A field is not valid (named in `field`) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    report_result: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The match */
                id: number;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ResultRequest"];
            };
        };
        responses: {
            /** @description The session ended; ratings updated */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionAck"];
                };
            };
            /** @description The body is not well-formed JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No valid server key or registered server credential */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description A registered server acting on a session it does not host (`not_your_session`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No such running session */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body did not arrive within `server.header_timeout_ms` */
            408: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is larger than `server.body_limit_bytes` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The body is not `Content-Type: application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description The result does not fit the match */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
    get_session: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The match */
                match_id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The session */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Session"];
                };
            };
            /** @description No valid access token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Not a player of the match */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description No such match */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Over a rate limit; `Retry-After` says when to retry */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
            /** @description Busy, not ready, or not answered within `server.request_timeout_ms` (the request may have taken effect); `Retry-After` when retrying can help */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WireError"];
                };
            };
        };
    };
}
