-- The shared record of a cluster (issue 21): in a cluster of gateways and matcher partitions,
-- Postgres holds the accounts, refresh tokens and avoid lists every gateway reads and writes,
-- and the gateways record each partition's events (matches, sessions, ratings, history) into
-- the mirror's tables exactly once, by the mark below. `serve` leaves these tables empty.

CREATE TABLE accounts (
    player_id     BIGINT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    regions       TEXT[] NOT NULL,
    created_at_ms BIGINT NOT NULL
);

-- By the SHA-256 of the token's secret; `family` is the u64 bit pattern.
CREATE TABLE refresh_tokens (
    token_hash    BYTEA PRIMARY KEY,
    player_id     BIGINT NOT NULL,
    family        BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    rotated       BOOLEAN NOT NULL
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family);
-- Expired tokens are swept at each logout (as the store does).
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at_ms);

CREATE TABLE avoid_lists (
    player_id BIGINT PRIMARY KEY,
    avoided   BIGINT[] NOT NULL
);

-- How far each partition's events are recorded: the last part recorded (`tick`, `part`) and
-- whether it was its tick's last. Written in the transaction that records the part.
CREATE TABLE recorded_events (
    partition TEXT PRIMARY KEY,
    tick      BIGINT NOT NULL,
    part      INTEGER NOT NULL,
    last      BOOLEAN NOT NULL
);
