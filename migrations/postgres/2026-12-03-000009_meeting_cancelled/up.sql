-- A meeting task closed because Webex reported its meeting cancelled (1), not done by
-- its owner (0).
ALTER TABLE tasks ADD COLUMN meeting_cancelled SMALLINT NOT NULL DEFAULT 0;
