DROP TABLE meeting_poll_owners;
DROP TABLE meeting_polls;
DROP TABLE leases;
