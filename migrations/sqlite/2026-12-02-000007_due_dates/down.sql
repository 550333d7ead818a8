DROP TABLE person_settings;
ALTER TABLE task_history DROP COLUMN before_due_has_time;
ALTER TABLE task_history DROP COLUMN before_due_at;
ALTER TABLE tasks DROP COLUMN due_has_time;
ALTER TABLE tasks DROP COLUMN due_at;
