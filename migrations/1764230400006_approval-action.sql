-- Up Migration
-- What an approved request does: Update (deploy proposed_value) or Delete (soft-delete the
-- configuration; proposed_value is then empty, as the spec's column is NOT NULL).
ALTER TABLE approval_requests ADD COLUMN action VARCHAR(20) NOT NULL DEFAULT 'Update';

-- Down Migration
ALTER TABLE approval_requests DROP COLUMN action;
