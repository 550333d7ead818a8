ALTER TABLE tasks DROP COLUMN meeting_cancelled;
