-- Up Migration
-- A tenant-wide setting: every configuration created from now on is encrypted at rest.
ALTER TABLE tenants ADD COLUMN encrypt_values BOOLEAN NOT NULL DEFAULT FALSE;

-- Down Migration
ALTER TABLE tenants DROP COLUMN encrypt_values;
