-- Tasks, per-person numbering, the durable inbox and recorded outcomes.
-- Timestamps are Unix milliseconds (BIGINT) and booleans SMALLINT 0/1, so that one set of
-- repository code serves Postgres and SQLite.

CREATE TABLE task_counters (
    owner       TEXT PRIMARY KEY,
    last_number INTEGER NOT NULL
);

CREATE TABLE tasks (
    id            BIGSERIAL PRIMARY KEY,
    owner         TEXT     NOT NULL,
    number        INTEGER  NOT NULL,
    title         TEXT     NOT NULL,
    done          SMALLINT NOT NULL DEFAULT 0,
    created_at    BIGINT   NOT NULL,
    done_at       BIGINT,
    meeting_id    TEXT,
    meeting_link  TEXT,
    meeting_start BIGINT,
    CONSTRAINT tasks_owner_number UNIQUE (owner, number)
);
CREATE UNIQUE INDEX tasks_owner_meeting ON tasks (owner, meeting_id) WHERE meeting_id IS NOT NULL;
CREATE INDEX tasks_open_by_owner ON tasks (owner, number) WHERE done = 0;

CREATE TABLE inbox (
    id           BIGSERIAL PRIMARY KEY,
    resource     TEXT    NOT NULL,
    event        TEXT    NOT NULL,
    data_id      TEXT    NOT NULL,
    order_key    TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    state        TEXT    NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    available_at BIGINT  NOT NULL,
    lease_owner  TEXT,
    lease_until  BIGINT,
    last_error   TEXT,
    received_at  BIGINT  NOT NULL,
    settled_at   BIGINT,
    CONSTRAINT inbox_dedup UNIQUE (resource, event, data_id),
    CONSTRAINT inbox_state CHECK (state IN ('pending', 'processing', 'done', 'dead'))
);
CREATE INDEX inbox_unsettled ON inbox (id) WHERE state IN ('pending', 'processing');
CREATE INDEX inbox_unsettled_by_order ON inbox (order_key, id) WHERE state IN ('pending', 'processing');
CREATE INDEX inbox_settled ON inbox (settled_at) WHERE state IN ('done', 'dead');

CREATE TABLE task_effects (
    effect_key TEXT PRIMARY KEY,
    outcome    TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX task_effects_created ON task_effects (created_at);
