-- A worker's "done with this item, give me the next" in one round trip (issue 14: it was
-- BEGIN, the planner settings, the complete, the claim and COMMIT — five trips to the
-- server, a third of every command's statements).
--
-- p_id NULL: claim only. Otherwise the item is completed first, if p_worker still holds
-- it; if not, the answer is one row with completed = false and nothing is claimed (the
-- lease was lost: another worker took the item over).
-- The answer is always one row: completed, then the claimed item's columns (NULL when
-- nothing is due).
--
-- The claim: the oldest due item (or one whose lease expired) whose person has no older
-- unsettled item; a row another instance holds locked is skipped.
--
-- The plan is fixed: walk inbox_unsettled in id order, look up each row's person's oldest
-- unsettled item in inbox_unsettled_by_order (a subquery per row, which the planner cannot
-- turn into a join), stop at the first row that is its person's oldest. Left to the
-- statistics, the planner sorted or hash-joined every unsettled row instead (90 ms at
-- 8 000 pending: statistics taken while the inbox was small, a burst outruns autovacuum);
-- written as NOT EXISTS, a plan made while the inbox was empty scanned the whole index for
-- every row (6 s at 8 000 pending). So every other way is switched off while the function
-- runs, and the plan is made once per connection and kept until the table's statistics
-- change (autovacuum's ANALYZE or VACUUM): planning it on every call, with the values, cost 0.3 ms of
-- the server's CPU per command (pgbench).
CREATE FUNCTION botper_settle(p_id BIGINT, p_worker TEXT, p_now BIGINT, p_until BIGINT)
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
