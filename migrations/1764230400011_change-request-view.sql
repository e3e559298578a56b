-- Up Migration
-- A change request reads as its commands answer it: the configuration's type, the version the
-- request was made against, its rollout and, for a new configuration, its description and tags.
ALTER TABLE approval_requests ADD COLUMN config_type VARCHAR(50);
ALTER TABLE approval_requests ADD COLUMN base_version INT;
ALTER TABLE approval_requests ADD COLUMN rollout JSONB;
ALTER TABLE approval_requests ADD COLUMN new_config JSONB;
-- Existing rows: from the requests in the PostgreSQL event log (KurrentDB: rebuild the
-- read-model projection).
UPDATE approval_requests a
   SET config_type = e.data->>'type',
       base_version = (e.data->>'baseVersion')::int,
       rollout = e.data->'rollout',
       new_config = e.data->'newConfig'
  FROM es_events e
 WHERE e.event_type = 'ApprovalRequested' AND e.data->>'approvalId' = a.approval_id;

-- Down Migration
ALTER TABLE approval_requests DROP COLUMN new_config;
ALTER TABLE approval_requests DROP COLUMN rollout;
ALTER TABLE approval_requests DROP COLUMN base_version;
ALTER TABLE approval_requests DROP COLUMN config_type;
