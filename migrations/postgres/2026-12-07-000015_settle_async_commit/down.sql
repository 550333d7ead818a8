-- The settle commits synchronously again (migration 14's body).
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
