-- Roles by address (lowercase): a role given before the person first uses Botper waits for
-- them. No row: member.
CREATE TABLE roles (
    email      TEXT   PRIMARY KEY,
    role       TEXT   NOT NULL,
    granted_by TEXT   NOT NULL,
    granted_at BIGINT NOT NULL
);

-- Every admin action: who, what, to whom, when, and what came of it.
CREATE TABLE audit_log (
    id      BIGSERIAL PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT   NOT NULL,
    action  TEXT   NOT NULL,
    target  TEXT,
    outcome TEXT   NOT NULL
);

-- Spaces told today that Botper is not for them (one polite refusal per space a day). Only
-- the space and the day: nothing about the person.
CREATE TABLE refusals (
    room_id TEXT NOT NULL,
    day     TEXT NOT NULL,
    PRIMARY KEY (room_id, day)
);

-- "forget me" waits here for "forget me confirm" (10 minutes).
CREATE TABLE forget_requests (
    person_id    TEXT   PRIMARY KEY,
    requested_at BIGINT NOT NULL
);
