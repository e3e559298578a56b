-- Up Migration
-- Finished webhook deliveries by age, for the retention cleanup
-- (ConfigService__Webhooks__DeliveryRetention) the job reconciler runs.
CREATE INDEX idx_webhook_deliveries_finished
  ON webhook_deliveries ((COALESCE(last_attempt_at, created_at)))
  WHERE status IN ('Delivered', 'Failed', 'Cancelled');

-- Down Migration
DROP INDEX IF EXISTS idx_webhook_deliveries_finished;
