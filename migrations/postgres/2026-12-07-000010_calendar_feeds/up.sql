-- A meeting task keeps its meeting's end as well as its start (the calendar feed shows
-- the meeting as long as it is), and the meeting's title as Webex last gave it (a task the
-- person renamed keeps their title when the meeting is renamed).
ALTER TABLE tasks ADD COLUMN meeting_end BIGINT;
ALTER TABLE tasks ADD COLUMN meeting_title TEXT;

-- Each person's private calendar feed: `/calendar/<token>.ics`. The token is looked up by
-- its SHA-256 hash and kept sealed (AES-256-GCM, like OAuth tokens) so that `calendar` can
-- show the same address again; `calendar reset` replaces the row.
CREATE TABLE calendar_feeds (
    person_id    TEXT   PRIMARY KEY,
    token_hash   TEXT   NOT NULL UNIQUE,
    token_sealed TEXT   NOT NULL,
    created_at   BIGINT NOT NULL
);
