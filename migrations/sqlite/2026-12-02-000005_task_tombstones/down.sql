ALTER TABLE tasks DROP COLUMN deleted_at;
