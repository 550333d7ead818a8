-- The claim probes two small indexes instead of walking every unsettled item from the
-- oldest: the pending items by id, and the items in flight by lease end (an expired lease
-- is found without stepping over the live ones).
CREATE INDEX inbox_pending ON inbox (id) WHERE state = 'pending';
CREATE INDEX inbox_leases ON inbox (lease_until) WHERE state = 'processing';
DROP INDEX inbox_unsettled;
