-- Up Migration
-- The tenants' config schemas (JSON Schema documents that configurations name in schema_id).
CREATE TABLE config_schemas (
    tenant_id VARCHAR(50) NOT NULL,
    schema_id VARCHAR(50) NOT NULL,
    version INT NOT NULL,
    schema JSONB NOT NULL,
    description TEXT,
    updated_by VARCHAR(255),
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, schema_id)
);
CREATE INDEX idx_configs_schema ON configurations(tenant_id, schema_id) WHERE schema_id IS NOT NULL;

-- Down Migration
DROP INDEX idx_configs_schema;
DROP TABLE config_schemas;
