-- Up Migration
-- A value that was once a secret stays one in history: lists of versions, change requests and
-- deployments mask a configuration that is or ever was sensitive, and the audit projection keeps
-- the set of such configurations (its own table, rebuilt with it) to mask events that do not
-- carry the flag themselves or come after it was switched off.
ALTER TABLE configurations ADD COLUMN ever_sensitive BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE configurations SET ever_sensitive = is_sensitive;
CREATE TABLE audit_sensitive_configs (config_id VARCHAR(50) PRIMARY KEY);

-- Down Migration
DROP TABLE audit_sensitive_configs;
ALTER TABLE configurations DROP COLUMN ever_sensitive;
