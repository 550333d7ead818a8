DROP TABLE forget_requests;
DROP TABLE refusals;
DROP TABLE audit_log;
DROP TABLE roles;
