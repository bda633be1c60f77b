-- The Postgres mirror of Matchwright's redb store. Every table is written by upserts from the
-- outbox (idempotent: re-sending a batch changes nothing); redb stays the source of truth.

CREATE TABLE players (
    player_id     BIGINT PRIMARY KEY,
    username      TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE ratings (
    player_id     BIGINT NOT NULL,
    mode          TEXT NOT NULL,
    season        TEXT NOT NULL,
    mu            DOUBLE PRECISION NOT NULL,
    sigma         DOUBLE PRECISION NOT NULL,
    volatility    DOUBLE PRECISION NOT NULL,
    games         BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (player_id, mode, season)
);
-- Leaderboards: by conservative rating within a mode and season.
CREATE INDEX ratings_leaderboard ON ratings (mode, season, (mu - 3 * sigma) DESC);

CREATE TABLE matches (
    match_id     BIGINT PRIMARY KEY,
    queue        TEXT NOT NULL,
    mode         TEXT NOT NULL,
    region       TEXT NOT NULL,
    formed_at_ms BIGINT NOT NULL,
    quality      DOUBLE PRECISION NOT NULL
);

CREATE TABLE match_players (
    match_id  BIGINT NOT NULL,
    player_id BIGINT NOT NULL,
    team      SMALLINT NOT NULL,
    PRIMARY KEY (match_id, player_id)
);
CREATE INDEX match_players_by_player ON match_players (player_id, match_id);

CREATE TABLE sessions (
    match_id      BIGINT PRIMARY KEY,
    state         TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    -- Placements per team ("0,1"), when a result came.
    placements    TEXT
);

CREATE TABLE match_history (
    player_id    BIGINT NOT NULL,
    match_id     BIGINT NOT NULL,
    mode         TEXT NOT NULL,
    placement    BIGINT NOT NULL,
    mu_before    DOUBLE PRECISION NOT NULL,
    sigma_before DOUBLE PRECISION NOT NULL,
    mu_after     DOUBLE PRECISION NOT NULL,
    sigma_after  DOUBLE PRECISION NOT NULL,
    at_ms        BIGINT NOT NULL,
    PRIMARY KEY (player_id, match_id)
);

-- The mirror's high-water mark: the last outbox sequence number applied. Written in the same
-- transaction as the rows it covers.
CREATE TABLE mirror_state (
    id         SMALLINT PRIMARY KEY CHECK (id = 1),
    high_water BIGINT NOT NULL
);
