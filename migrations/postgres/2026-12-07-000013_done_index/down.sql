DROP INDEX tasks_done_at;
