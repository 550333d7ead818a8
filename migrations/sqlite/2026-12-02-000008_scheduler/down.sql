DROP TABLE scheduled_jobs;
ALTER TABLE person_settings DROP COLUMN remind_lead_mins;
ALTER TABLE task_history DROP COLUMN before_remind_at;
ALTER TABLE tasks DROP COLUMN remind_at;
