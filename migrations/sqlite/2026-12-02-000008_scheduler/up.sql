-- Reminders and the durable scheduler: a reminder the person set on a task (UTC ms), the
-- one it had before a change (for undo), each person's default reminder lead (NULL: at the
-- due time; -1: off; else minutes before), and the jobs due at a moment.
ALTER TABLE tasks ADD COLUMN remind_at BIGINT;
ALTER TABLE task_history ADD COLUMN before_remind_at BIGINT;
ALTER TABLE person_settings ADD COLUMN remind_lead_mins INTEGER;
-- One row per pending job: a task's reminder (kind 'remind', subject the task number) or
-- a person's daily agenda (kind 'agenda', subject 'daily', rule its schedule).
CREATE TABLE scheduled_jobs (
    owner TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    fire_at BIGINT NOT NULL,
    rule TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (owner, kind, subject)
);
CREATE INDEX scheduled_jobs_due ON scheduled_jobs (fire_at);
