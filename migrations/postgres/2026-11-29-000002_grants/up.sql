-- OAuth grants (tokens sealed with AES-256-GCM by the application), login state and web
-- sessions (both stored as SHA-256 hashes).

CREATE TABLE grants (
    person_id          TEXT   PRIMARY KEY,
    display_name       TEXT   NOT NULL,
    email              TEXT,
    timezone           TEXT,
    access_token       TEXT   NOT NULL,
    access_expires_at  BIGINT NOT NULL,
    refresh_token      TEXT   NOT NULL,
    refresh_expires_at BIGINT NOT NULL,
    scope              TEXT,
    webhook_id         TEXT,
    disconnected       TEXT,
    version            BIGINT NOT NULL DEFAULT 1,
    refresh_owner      TEXT,
    refresh_until      BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

CREATE TABLE oauth_states (
    state_hash TEXT   PRIMARY KEY,
    browser    TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);

CREATE TABLE web_sessions (
    token_hash TEXT   PRIMARY KEY,
    person_id  TEXT   NOT NULL,
    csrf       TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
