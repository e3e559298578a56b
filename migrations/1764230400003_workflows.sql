-- Up Migration
-- A change request may propose a configuration that does not exist yet (it is created when the
-- request is approved), so approval_requests.config_id cannot reference configurations.
ALTER TABLE approval_requests DROP CONSTRAINT approval_requests_config_id_fkey;

CREATE INDEX idx_approvals_tenant ON approval_requests (tenant_id, status, created_at DESC);
CREATE INDEX idx_deployments_config ON deployments (config_id, started_at DESC);

-- Per tenant and environment, how many approvals a change needs (environments not listed use the
-- documented defaults: Production 1, others 0).
CREATE TABLE approval_policies (
    tenant_id          VARCHAR(50) NOT NULL REFERENCES tenants(tenant_id),
    environment        VARCHAR(50) NOT NULL,
    required_approvals INT NOT NULL,
    updated_by         VARCHAR(255),
    updated_at         TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, environment)
);

-- Down Migration
DROP TABLE approval_policies;
DROP INDEX idx_deployments_config;
DROP INDEX idx_approvals_tenant;
ALTER TABLE approval_requests
    ADD CONSTRAINT approval_requests_config_id_fkey FOREIGN KEY (config_id) REFERENCES configurations (config_id);
