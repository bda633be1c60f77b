-- The admin API's records in a cluster's shared record (issue 22): bans, read with every
-- token at every gateway, and the audit log of operators' actions. `serve` keeps both in its
-- store and leaves these tables empty.

CREATE TABLE bans (
    player_id BIGINT PRIMARY KEY,
    reason    TEXT NOT NULL,
    banned_by TEXT NOT NULL,
    at_ms     BIGINT NOT NULL
);

-- Numbered by the sequence; the newest 100,000 are kept (older ones are deleted as new ones
-- are written, as the store does).
CREATE TABLE audit_log (
    id       BIGSERIAL PRIMARY KEY,
    at_ms    BIGINT NOT NULL,
    operator TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    outcome  TEXT NOT NULL,
    detail   TEXT NOT NULL
);
