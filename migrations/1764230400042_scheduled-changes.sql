-- Up Migration
-- Scheduled changes (src/features/scheduled-changes/): a value applied to a configuration at
-- `apply_at` by a job. A read-model table, rebuildable from `schedule-*` streams.
CREATE TABLE scheduled_changes (
  schedule_id        VARCHAR(50) PRIMARY KEY,
  tenant_id          VARCHAR(50) NOT NULL,
  config_id          VARCHAR(50) NOT NULL,
  config_key         VARCHAR(255) NOT NULL,
  environment        VARCHAR(50) NOT NULL,
  config_type        VARCHAR(50) NOT NULL,
  value              TEXT NOT NULL,
  is_sensitive       BOOLEAN NOT NULL,
  base_version       INT NOT NULL,
  apply_at           TIMESTAMP NOT NULL,
  change_description TEXT,
  status             VARCHAR(20) NOT NULL,
  failure            TEXT,
  applied_version    INT,
  requested_by       VARCHAR(255) NOT NULL,
  created_at         TIMESTAMP NOT NULL,
  resolved_at        TIMESTAMP,
  resolved_by        VARCHAR(255)
);
CREATE INDEX idx_scheduled_changes_tenant ON scheduled_changes (tenant_id, apply_at);
CREATE INDEX idx_scheduled_changes_pending ON scheduled_changes (apply_at) WHERE status = 'Pending';

-- Down Migration
DROP TABLE IF EXISTS scheduled_changes;
