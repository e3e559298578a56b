-- Up Migration
-- A change request may carry `applyAt` (src/features/scheduled-changes/
-- scheduled-change-request.process.ts): once approved, its schedule carries it out then.
-- Read-model columns, rebuildable from `approval-*` and `schedule-*` streams.
ALTER TABLE approval_requests ADD COLUMN apply_at TIMESTAMP;
ALTER TABLE approval_requests ADD COLUMN schedule_id VARCHAR(50);
ALTER TABLE scheduled_changes ADD COLUMN approval_id VARCHAR(50);
ALTER TABLE scheduled_changes ADD COLUMN action VARCHAR(20) NOT NULL DEFAULT 'Update';
ALTER TABLE scheduled_changes ADD COLUMN deployment_id VARCHAR(50);
CREATE INDEX idx_scheduled_changes_approval ON scheduled_changes (approval_id)
  WHERE approval_id IS NOT NULL;
CREATE INDEX idx_scheduled_changes_config ON scheduled_changes (config_id, apply_at);

-- Down Migration
DROP INDEX IF EXISTS idx_scheduled_changes_config;
DROP INDEX IF EXISTS idx_scheduled_changes_approval;
ALTER TABLE scheduled_changes DROP COLUMN IF EXISTS deployment_id;
ALTER TABLE scheduled_changes DROP COLUMN IF EXISTS action;
ALTER TABLE scheduled_changes DROP COLUMN IF EXISTS approval_id;
ALTER TABLE approval_requests DROP COLUMN IF EXISTS schedule_id;
ALTER TABLE approval_requests DROP COLUMN IF EXISTS apply_at;
