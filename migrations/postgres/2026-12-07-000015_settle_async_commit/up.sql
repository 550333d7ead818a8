-- A settle (complete the held item, claim the next) commits asynchronously (issue 14): it
-- no longer waits for the WAL flush. Every other write still does — a webhook delivery
-- before its 200, a change before its reply — and a synchronous commit flushes every WAL
-- record before it, so only the settles of the last moments before a crash of the database
-- server (at most 3 x wal_writer_delay, 600 ms by default, and only if no synchronous
-- commit followed them) can be lost. Then an item completed there is run again: its change
-- was committed synchronously, so the recorded outcome is replayed (the reply may come
-- twice, as after a crash of Botper between reply and settle), and a lost claim is claimed
-- again. Measured (16 in flight, 3 pairs): 1 927 / 2 310 / 2 106 -> 2 071 / 2 518 /
-- 2 439 commands/s (docs/performance.md).
CREATE OR REPLACE FUNCTION botper_settle(p_id BIGINT, p_worker TEXT, p_now BIGINT, p_until BIGINT)
RETURNS TABLE (completed BOOLEAN, id BIGINT, payload TEXT, attempts INTEGER, received_at BIGINT)
LANGUAGE plpgsql
SET enable_sort = off
SET enable_bitmapscan = off
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
    -- This call's own transaction (the statement that calls it) commits without waiting
    -- for its WAL to reach the disk (SET LOCAL: to the end of the transaction, past the
    -- function's own settings).
    PERFORM set_config('synchronous_commit', 'off', true);
    IF p_id IS NOT NULL THEN
        UPDATE inbox
           SET state = 'done', settled_at = p_now, lease_owner = NULL, lease_until = NULL
         WHERE inbox.id = p_id AND inbox.state = 'processing' AND inbox.lease_owner = p_worker;
        IF NOT FOUND THEN
            RETURN QUERY SELECT false, NULL::BIGINT, NULL::TEXT, NULL::INTEGER, NULL::BIGINT;
            RETURN;
        END IF;
    END IF;
    RETURN QUERY
    WITH claimed AS (
        UPDATE inbox
           SET state = 'processing', attempts = inbox.attempts + 1,
               lease_owner = p_worker, lease_until = p_until
         WHERE inbox.id = (
            SELECT i.id FROM inbox i
             WHERE i.state IN ('pending', 'processing')
               AND ((i.state = 'pending' AND i.available_at <= p_now)
                 OR (i.state = 'processing' AND i.lease_until < p_now))
               -- the person's oldest unsettled item (no older one waits)
               AND i.id = (SELECT o.id FROM inbox o
                    WHERE o.order_key = i.order_key AND o.state IN ('pending', 'processing')
                    ORDER BY o.id LIMIT 1)
             ORDER BY i.id LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING inbox.id, inbox.payload, inbox.attempts, inbox.received_at
    )
    SELECT true, c.id, c.payload, c.attempts, c.received_at FROM claimed c
    UNION ALL
    SELECT true, NULL::BIGINT, NULL::TEXT, NULL::INTEGER, NULL::BIGINT
     WHERE NOT EXISTS (SELECT 1 FROM claimed);
END
$$;
