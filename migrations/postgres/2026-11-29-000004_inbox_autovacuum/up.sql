-- The inbox is a queue: rows arrive, change state and are purged all day. Keep its
-- statistics and dead tuples current (the defaults wait for 10-20 % of the table to change).
ALTER TABLE inbox SET (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_threshold = 500,
    autovacuum_analyze_scale_factor = 0.01,
    autovacuum_analyze_threshold = 500
);
