-- Every index is a page written on every commit that touches its rows. These three served
-- only the hourly purge or duplicated a unique index:
--   inbox_settled, task_effects_created: the purge now walks the primary key instead;
--   tasks_open_by_owner: `list` is served by the unique (owner, number) index.
DROP INDEX inbox_settled;
DROP INDEX task_effects_created;
DROP INDEX tasks_open_by_owner;
