-- Up Migration
-- Webhooks (src/features/webhooks/). `webhooks` is the read model's list (rebuildable);
-- `webhook_subscriptions` is the dispatcher's own view, kept in step with its checkpoint, so an
-- event is matched against exactly the webhooks registered before it; `webhook_deliveries` is
-- the delivery log (one row per webhook and event, updated by each attempt).
CREATE TABLE webhooks (
  webhook_id   VARCHAR(50) PRIMARY KEY,
  tenant_id    VARCHAR(50) NOT NULL,
  url          TEXT NOT NULL,
  events       TEXT[] NOT NULL,
  description  TEXT,
  active       BOOLEAN NOT NULL DEFAULT TRUE,
  created_by   VARCHAR(255),
  created_at   TIMESTAMP NOT NULL,
  updated_at   TIMESTAMP NOT NULL,
  deleted_at   TIMESTAMP
);
CREATE INDEX idx_webhooks_tenant ON webhooks (tenant_id);

CREATE TABLE webhook_subscriptions (
  webhook_id VARCHAR(50) PRIMARY KEY,
  tenant_id  VARCHAR(50) NOT NULL,
  events     TEXT[] NOT NULL,
  active     BOOLEAN NOT NULL
);
CREATE INDEX idx_webhook_subscriptions_tenant ON webhook_subscriptions (tenant_id);

CREATE TABLE webhook_deliveries (
  delivery_id      VARCHAR(60) PRIMARY KEY,
  webhook_id       VARCHAR(50) NOT NULL,
  tenant_id        VARCHAR(50) NOT NULL,
  event_id         UUID NOT NULL,
  event_type       VARCHAR(50) NOT NULL,
  position         BIGINT NOT NULL,
  payload          JSONB NOT NULL,
  status           VARCHAR(20) NOT NULL DEFAULT 'Pending',
  attempts         INT NOT NULL DEFAULT 0,
  last_status_code INT,
  last_latency_ms  INT,
  last_error       TEXT,
  created_at       TIMESTAMP NOT NULL,
  last_attempt_at  TIMESTAMP,
  delivered_at     TIMESTAMP
);
CREATE INDEX idx_webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at DESC);
CREATE INDEX idx_webhook_deliveries_open ON webhook_deliveries (status)
  WHERE status IN ('Pending', 'Retrying');

-- Down Migration
DROP TABLE webhook_deliveries;
DROP TABLE webhook_subscriptions;
DROP TABLE webhooks;
