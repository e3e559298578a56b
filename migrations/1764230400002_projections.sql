-- Up Migration
-- Checkpoints of the PostgreSQL projections: each batch updates its read rows and its checkpoint
-- in one transaction, so a crash never loses or doubles an event.
CREATE TABLE projection_checkpoints (
    name       TEXT PRIMARY KEY,
    position   BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Global position of the last event that changed the row: ETags and cache fills use it.
ALTER TABLE configurations ADD COLUMN last_position BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN last_position BIGINT NOT NULL DEFAULT 0;

CREATE INDEX idx_config_versions_created ON config_versions (config_id, created_at);
CREATE INDEX idx_audit_logs_config ON audit_logs (config_id, timestamp DESC);

-- Down Migration
DROP INDEX idx_audit_logs_config;
DROP INDEX idx_config_versions_created;
ALTER TABLE tenants DROP COLUMN last_position;
ALTER TABLE configurations DROP COLUMN last_position;
DROP TABLE projection_checkpoints;
