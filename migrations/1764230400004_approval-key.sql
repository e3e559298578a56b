-- Up Migration
-- The key and sensitivity of the proposed configuration, which may not exist yet: lists show the
-- key and mask a sensitive proposal before the configuration row exists.
ALTER TABLE approval_requests ADD COLUMN config_key VARCHAR(255);
ALTER TABLE approval_requests ADD COLUMN is_sensitive BOOLEAN NOT NULL DEFAULT FALSE;

-- Down Migration
ALTER TABLE approval_requests DROP COLUMN is_sensitive;
ALTER TABLE approval_requests DROP COLUMN config_key;
