-- Up Migration
-- Whole-tenant time travel (the `tenant-history` projection, src/features/time-travel/): every
-- change of a tenant's configurations as a row (tenant_changes), the tenant's current state
-- (tenant_state), and every SNAPSHOT_EVERY changes a snapshot of that state (tenant_snapshots).
-- A tenant as of position P = the newest snapshot at or before P plus the changes after it up to
-- P: bounded work however long the history. Rebuildable from the log like every read table.
CREATE TABLE tenant_changes (
    tenant_id    VARCHAR(50) NOT NULL,
    position     BIGINT NOT NULL,
    config_id    VARCHAR(50) NOT NULL,
    environment  VARCHAR(50) NOT NULL,
    key          VARCHAR(255) NOT NULL,
    type         VARCHAR(50) NOT NULL,
    value        TEXT,
    version      INT NOT NULL,
    is_sensitive BOOLEAN NOT NULL,
    deleted      BOOLEAN NOT NULL,
    changed_by   VARCHAR(255),
    changed_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, position, config_id)
);
CREATE INDEX tenant_changes_time ON tenant_changes (tenant_id, changed_at);

CREATE TABLE tenant_state (
    tenant_id    VARCHAR(50) NOT NULL,
    config_id    VARCHAR(50) NOT NULL,
    environment  VARCHAR(50) NOT NULL,
    key          VARCHAR(255) NOT NULL,
    type         VARCHAR(50) NOT NULL,
    value        TEXT,
    version      INT NOT NULL,
    is_sensitive BOOLEAN NOT NULL,
    deleted      BOOLEAN NOT NULL,
    PRIMARY KEY (tenant_id, config_id)
);

CREATE TABLE tenant_snapshots (
    tenant_id  VARCHAR(50) NOT NULL,
    position   BIGINT NOT NULL,
    changes    INT NOT NULL,
    state      JSONB NOT NULL,
    PRIMARY KEY (tenant_id, position)
);

-- Changes since each tenant's last snapshot.
CREATE TABLE tenant_snapshot_progress (
    tenant_id VARCHAR(50) PRIMARY KEY,
    since     INT NOT NULL
);

-- Down Migration
DROP TABLE tenant_snapshot_progress;
DROP TABLE tenant_snapshots;
DROP TABLE tenant_state;
DROP TABLE tenant_changes;
