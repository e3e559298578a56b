-- Up Migration
-- The audit projection's own note of each change request's environment and configuration: the
-- decisions (granted, rejected, …) do not carry them, yet their audit rows must, so that tokens
-- limited to some environments and configId filters see exactly their rows.
CREATE TABLE audit_approvals (
    approval_id VARCHAR(50) PRIMARY KEY,
    environment VARCHAR(50) NOT NULL,
    config_id VARCHAR(50) NOT NULL,
    config_key VARCHAR(255)
);
-- Existing data: from the change requests in the PostgreSQL event log (KurrentDB: rebuild the
-- audit-log projection), and the rows already written for their decisions.
INSERT INTO audit_approvals (approval_id, environment, config_id, config_key)
SELECT data->>'approvalId', data->>'environment', data->>'configId', data->>'key'
  FROM es_events WHERE event_type = 'ApprovalRequested'
ON CONFLICT DO NOTHING;
UPDATE audit_logs l SET environment = a.environment, config_id = a.config_id,
                        config_key = a.config_key
  FROM audit_approvals a
 WHERE l.environment IS NULL AND l.details->>'approvalId' = a.approval_id;

-- Down Migration
DROP TABLE audit_approvals;
