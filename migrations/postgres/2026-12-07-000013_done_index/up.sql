-- The hourly purge of done tasks past BOTPER_DONE_RETENTION_DAYS found its rows by scanning
-- the whole table (66 ms at a million rows with nothing to delete; measured by
-- `botper-load --scale`). Only done rows are in this index, so an open task's writes do
-- not touch it.
CREATE INDEX tasks_done_at ON tasks (done_at) WHERE done = 1;
