CREATE INDEX inbox_unsettled ON inbox (id) WHERE state IN ('pending', 'processing');
DROP INDEX inbox_leases;
DROP INDEX inbox_pending;
