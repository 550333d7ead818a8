DROP TABLE calendar_feeds;
ALTER TABLE tasks DROP COLUMN meeting_end;
