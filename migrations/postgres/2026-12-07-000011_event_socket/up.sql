-- Named leases between the instances of a deployment: the holder of `webex-events` keeps
-- the Webex websocket open and polls connected people's meetings; the others stand by.
CREATE TABLE leases (
    name       TEXT   PRIMARY KEY,
    holder     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);

-- What the last meetings poll saw of each person's meetings (websocket mode, where Webex
-- sends no meetings webhooks): a fingerprint (a hash: no title is kept) and the start.
CREATE TABLE meeting_polls (
    owner        TEXT   NOT NULL,
    meeting_id   TEXT   NOT NULL,
    fingerprint  TEXT   NOT NULL,
    starts_at    BIGINT NOT NULL,
    PRIMARY KEY (owner, meeting_id)
);

-- People whose meetings have been polled at least once (their baseline was taken).
CREATE TABLE meeting_poll_owners (
    owner     TEXT   PRIMARY KEY,
    polled_at BIGINT NOT NULL
);
