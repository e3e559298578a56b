-- Up Migration
-- A value that was once a secret stays one in history: lists of versions, change requests and
-- deployments mask a configuration that is or ever was sensitive, and the audit projection keeps
-- the set of such configurations (its own table, rebuilt with it) to mask events that do not
-- carry the flag themselves or come after it was switched off.
ALTER TABLE configurations ADD COLUMN ever_sensitive BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE audit_sensitive_configs (config_id VARCHAR(50) PRIMARY KEY);
-- Existing data: every config the PostgreSQL event log ever marked sensitive. (With KurrentDB as
-- the event store es_events is empty: rebuild the read-model and audit-log projections instead.)
UPDATE configurations SET ever_sensitive = TRUE
 WHERE is_sensitive
    OR config_id IN (SELECT data->>'configId' FROM es_events
                      WHERE data->>'isSensitive' = 'true' AND data ? 'configId');
INSERT INTO audit_sensitive_configs (config_id)
SELECT DISTINCT data->>'configId' FROM es_events
 WHERE data->>'isSensitive' = 'true' AND data ? 'configId'
ON CONFLICT DO NOTHING;

-- Down Migration
DROP TABLE audit_sensitive_configs;
ALTER TABLE configurations DROP COLUMN ever_sensitive;
