-- The last changes each person made to their tasks, newest last, for `undo`. Only the
-- most recent 50 per person are kept.
CREATE TABLE task_history (
    owner TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    number INTEGER NOT NULL,
    before_title TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (owner, seq)
);
