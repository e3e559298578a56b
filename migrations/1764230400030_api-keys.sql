-- Up Migration
-- API keys (src/features/api-keys/). `api_keys` is the read model's list (rebuildable; never the
-- secret nor its hash); `api_key_usage` is when each key was last used, written by the API
-- (throttled), outside the read model so that a rebuild keeps it.
CREATE TABLE api_keys (
  key_id        VARCHAR(50) PRIMARY KEY,
  tenant_id     VARCHAR(50) NOT NULL,
  name          VARCHAR(100) NOT NULL,
  scopes        TEXT[] NOT NULL,
  environments  TEXT[],
  expires_at    TIMESTAMP,
  created_by    VARCHAR(255),
  created_at    TIMESTAMP NOT NULL,
  revoked_by    VARCHAR(255),
  revoked_at    TIMESTAMP
);
CREATE INDEX idx_api_keys_tenant ON api_keys (tenant_id, created_at);

CREATE TABLE api_key_usage (
  key_id        VARCHAR(50) PRIMARY KEY,
  last_used_at  TIMESTAMP NOT NULL
);

-- Down Migration
DROP TABLE api_key_usage;
DROP TABLE api_keys;
