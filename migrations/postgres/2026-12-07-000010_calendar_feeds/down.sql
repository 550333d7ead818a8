DROP TABLE calendar_feeds;
ALTER TABLE tasks DROP COLUMN meeting_title;
ALTER TABLE tasks DROP COLUMN meeting_end;
