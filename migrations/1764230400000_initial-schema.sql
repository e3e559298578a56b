-- Up Migration
-- The read tables, exactly as in the deployment guide (db/migrations/001_initial_schema.sql).
-- They are projections of the event log: nothing but the projector writes them.

-- Tenants table
CREATE TABLE tenants (
    tenant_id VARCHAR(50) PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    tier VARCHAR(50) NOT NULL DEFAULT 'Free',
    status VARCHAR(50) NOT NULL DEFAULT 'Active',
    max_configurations INT NOT NULL DEFAULT 100,
    max_environments INT NOT NULL DEFAULT 4,
    contact_email VARCHAR(255),
    metadata JSONB,
    created_at TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP NOT NULL DEFAULT NOW(),
    deleted_at TIMESTAMP
);

-- Configurations table
CREATE TABLE configurations (
    config_id VARCHAR(50) PRIMARY KEY,
    tenant_id VARCHAR(50) NOT NULL REFERENCES tenants(tenant_id),
    key VARCHAR(255) NOT NULL,
    value TEXT NOT NULL,
    type VARCHAR(50) NOT NULL DEFAULT 'String',
    environment VARCHAR(50) NOT NULL DEFAULT 'Development',
    version INT NOT NULL DEFAULT 1,
    description TEXT,
    tags TEXT[],
    is_encrypted BOOLEAN NOT NULL DEFAULT FALSE,
    is_sensitive BOOLEAN NOT NULL DEFAULT FALSE,
    default_value TEXT,
    schema_id VARCHAR(50),
    created_by VARCHAR(255),
    updated_by VARCHAR(255),
    created_at TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP NOT NULL DEFAULT NOW(),
    deleted_at TIMESTAMP,
    UNIQUE(tenant_id, key, environment)
);

CREATE INDEX idx_configs_tenant ON configurations(tenant_id, environment);
CREATE INDEX idx_configs_key ON configurations(key);

-- Configuration versions table
CREATE TABLE config_versions (
    version_id VARCHAR(50) PRIMARY KEY,
    config_id VARCHAR(50) NOT NULL REFERENCES configurations(config_id),
    version INT NOT NULL,
    value TEXT NOT NULL,
    previous_value TEXT,
    change_type VARCHAR(50) NOT NULL,
    change_description TEXT,
    changed_by VARCHAR(255) NOT NULL,
    environment VARCHAR(50) NOT NULL,
    ip_address VARCHAR(50),
    trace_id VARCHAR(255),
    created_at TIMESTAMP NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_versions_config ON config_versions(config_id, version DESC);

-- Approval requests table
CREATE TABLE approval_requests (
    approval_id VARCHAR(50) PRIMARY KEY,
    config_id VARCHAR(50) NOT NULL REFERENCES configurations(config_id),
    tenant_id VARCHAR(50) NOT NULL REFERENCES tenants(tenant_id),
    target_environment VARCHAR(50) NOT NULL,
    proposed_value TEXT NOT NULL,
    current_value TEXT,
    change_description TEXT,
    requested_by VARCHAR(255) NOT NULL,
    status VARCHAR(50) NOT NULL DEFAULT 'Pending',
    required_approval_level INT NOT NULL DEFAULT 1,
    current_approval_level INT NOT NULL DEFAULT 0,
    approvers JSONB,
    created_at TIMESTAMP NOT NULL DEFAULT NOW(),
    expires_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP,
    resolved_by VARCHAR(255),
    resolved_comments TEXT,
    deployment_id VARCHAR(50)
);

CREATE INDEX idx_approvals_status ON approval_requests(status, expires_at);

-- Deployments table
CREATE TABLE deployments (
    deployment_id VARCHAR(50) PRIMARY KEY,
    config_id VARCHAR(50) NOT NULL REFERENCES configurations(config_id),
    tenant_id VARCHAR(50) NOT NULL REFERENCES tenants(tenant_id),
    environment VARCHAR(50) NOT NULL,
    strategy VARCHAR(50) NOT NULL,
    status VARCHAR(50) NOT NULL DEFAULT 'InProgress',
    value TEXT NOT NULL,
    previous_value TEXT,
    progress INT NOT NULL DEFAULT 0,
    canary_percentage INT,
    deployed_by VARCHAR(255) NOT NULL,
    started_at TIMESTAMP NOT NULL DEFAULT NOW(),
    completed_at TIMESTAMP,
    error_message TEXT,
    metrics JSONB,
    was_rolled_back BOOLEAN NOT NULL DEFAULT FALSE,
    rollback_reason TEXT,
    rolled_back_at TIMESTAMP
);

CREATE INDEX idx_deployments_tenant ON deployments(tenant_id, environment);
CREATE INDEX idx_deployments_status ON deployments(status, started_at DESC);

-- Audit logs table
CREATE TABLE audit_logs (
    log_id VARCHAR(50) PRIMARY KEY,
    event_type VARCHAR(100) NOT NULL,
    tenant_id VARCHAR(50),
    config_id VARCHAR(50),
    config_key VARCHAR(255),
    old_value TEXT,
    new_value TEXT,
    user_id VARCHAR(255),
    ip_address VARCHAR(50),
    trace_id VARCHAR(255),
    environment VARCHAR(50),
    details JSONB,
    timestamp TIMESTAMP NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_audit_logs_timestamp ON audit_logs(timestamp DESC);
CREATE INDEX idx_audit_logs_tenant ON audit_logs(tenant_id, timestamp DESC);
CREATE INDEX idx_audit_logs_event_type ON audit_logs(event_type);

-- Down Migration
DROP TABLE audit_logs;
DROP TABLE deployments;
DROP TABLE approval_requests;
DROP TABLE config_versions;
DROP TABLE configurations;
DROP TABLE tenants;
