-- Up Migration
-- Value lineage (the `blame` projection, src/features/blame/): for every version of every
-- configuration, the change that made it and, when it came through one, the change request with
-- each decision and the deployment with each step, its metrics per step and side, and any
-- rollback. Rebuildable from the log like every read table.
CREATE TABLE blame_versions (
    config_id      VARCHAR(50) NOT NULL,
    version        INT NOT NULL,
    tenant_id      VARCHAR(50) NOT NULL,
    environment    VARCHAR(50) NOT NULL,
    key            VARCHAR(255) NOT NULL,
    change_type    VARCHAR(50),
    value          TEXT,
    is_sensitive   BOOLEAN NOT NULL DEFAULT FALSE,
    rolled_back_to INT,
    changed_by     VARCHAR(255),
    ip_address     VARCHAR(50),
    trace_id       VARCHAR(255),
    changed_at     TIMESTAMP,
    position       BIGINT,
    deployment_id  VARCHAR(50),
    PRIMARY KEY (config_id, version)
);

CREATE TABLE blame_approvals (
    approval_id        VARCHAR(50) PRIMARY KEY,
    config_id          VARCHAR(50) NOT NULL,
    action             VARCHAR(20) NOT NULL,
    proposed_value     TEXT NOT NULL,
    is_sensitive       BOOLEAN NOT NULL DEFAULT FALSE,
    base_version       INT NOT NULL,
    description        TEXT,
    required_approvals INT NOT NULL,
    status             VARCHAR(50) NOT NULL,
    requested_by       VARCHAR(255) NOT NULL,
    requested_at       TIMESTAMP NOT NULL,
    ip_address         VARCHAR(50),
    trace_id           VARCHAR(255)
);

CREATE TABLE blame_approval_decisions (
    approval_id VARCHAR(50) NOT NULL,
    position    BIGINT NOT NULL,
    decision    VARCHAR(50) NOT NULL,
    decided_by  VARCHAR(255),
    comments    TEXT,
    level       INT,
    decided_at  TIMESTAMP NOT NULL,
    ip_address  VARCHAR(50),
    trace_id    VARCHAR(255),
    PRIMARY KEY (approval_id, position)
);

CREATE TABLE blame_deployments (
    deployment_id   VARCHAR(50) PRIMARY KEY,
    config_id       VARCHAR(50) NOT NULL,
    approval_id     VARCHAR(50),
    base_version    INT NOT NULL,
    strategy        VARCHAR(50) NOT NULL,
    plan            JSONB NOT NULL,
    started_by      VARCHAR(255) NOT NULL,
    started_at      TIMESTAMP NOT NULL,
    status          VARCHAR(50) NOT NULL,
    version         INT,
    ended_at        TIMESTAMP,
    rollback_reason TEXT,
    automatic       BOOLEAN
);
CREATE INDEX blame_deployments_config ON blame_deployments (config_id, base_version);

CREATE TABLE blame_deployment_steps (
    deployment_id VARCHAR(50) NOT NULL,
    position      BIGINT NOT NULL,
    event_type    VARCHAR(100) NOT NULL,
    step_index    INT,
    percentage    INT,
    by_user       VARCHAR(255),
    at            TIMESTAMP NOT NULL,
    details       JSONB,
    PRIMARY KEY (deployment_id, position)
);

CREATE TABLE blame_step_metrics (
    deployment_id VARCHAR(50) NOT NULL,
    step_index    INT NOT NULL,
    side          VARCHAR(10) NOT NULL,
    requests      BIGINT NOT NULL DEFAULT 0,
    errors        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (deployment_id, step_index, side)
);

-- Down Migration
DROP TABLE blame_step_metrics;
DROP TABLE blame_deployment_steps;
DROP TABLE blame_deployments;
DROP TABLE blame_approval_decisions;
DROP TABLE blame_approvals;
DROP TABLE blame_versions;
