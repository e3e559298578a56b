-- Up Migration
-- Change sets (src/features/change-sets/): promotions and imports, several keys of one
-- environment changed as one operation. A read-model table, rebuildable from `changeset-*`
-- streams. `items` holds each key's planned change (values as stored; the view masks secrets).
CREATE TABLE change_sets (
  change_set_id      VARCHAR(50) PRIMARY KEY,
  tenant_id          VARCHAR(50) NOT NULL,
  environment        VARCHAR(50) NOT NULL,
  source             VARCHAR(20) NOT NULL,
  from_environment   VARCHAR(50),
  description        TEXT,
  items              JSONB NOT NULL,
  status             VARCHAR(20) NOT NULL,
  requested_by       VARCHAR(255) NOT NULL,
  required_approvals INT NOT NULL,
  approvers          JSONB NOT NULL DEFAULT '[]',
  created_at         TIMESTAMP NOT NULL,
  expires_at         TIMESTAMP NOT NULL,
  resolved_at        TIMESTAMP,
  resolved_by        VARCHAR(255),
  resolved_comments  TEXT
);
CREATE INDEX idx_change_sets_tenant ON change_sets (tenant_id, created_at DESC);

-- Down Migration
DROP TABLE IF EXISTS change_sets;
