-- A deleted task is kept as a tombstone (its number is never reused), so that a meeting's
-- `created` webhook arriving after the person deleted its task files nothing.
ALTER TABLE tasks ADD COLUMN deleted_at BIGINT;
