-- A task's due moment (UTC milliseconds) and whether a time of day was given; and each
-- person's own settings (their time zone for dates they type).
ALTER TABLE tasks ADD COLUMN due_at BIGINT;
ALTER TABLE tasks ADD COLUMN due_has_time SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE task_history ADD COLUMN before_due_at BIGINT;
ALTER TABLE task_history ADD COLUMN before_due_has_time SMALLINT;
CREATE TABLE person_settings (
    person_id TEXT PRIMARY KEY,
    timezone TEXT,
    zone_hint_shown SMALLINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);
