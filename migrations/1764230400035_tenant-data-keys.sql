-- Up Migration
-- Encryption at rest (src/core/crypto/): each tenant's data key versions, stored only wrapped by
-- a key-encryption key (a master key from Encryption__MasterKey, or Vault Transit), named by
-- kek_id. Not a projection: nothing rebuilds it, and an event export does not carry it.
-- Crypto-shredding (DELETE /api/v1/tenants/{id}?purge=true) overwrites wrapped_key with NULL and
-- sets destroyed_at; a tenant that never had a key gets a destroyed tombstone (version 0), so
-- none is made for it later.
CREATE TABLE tenant_data_keys (
  tenant_id    VARCHAR(50) NOT NULL,
  version      INT NOT NULL,
  wrapped_key  TEXT,
  kek_id       VARCHAR(200),
  created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
  rewrapped_at TIMESTAMPTZ,
  destroyed_at TIMESTAMPTZ,
  PRIMARY KEY (tenant_id, version),
  CHECK ((destroyed_at IS NULL) = (wrapped_key IS NOT NULL AND kek_id IS NOT NULL))
);

-- Down Migration
DROP TABLE tenant_data_keys;
