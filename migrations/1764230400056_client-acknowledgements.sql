-- Up Migration
-- The client acknowledgement ledger (src/features/acknowledgements/): which app instances run
-- which version of each configuration. Written by the API from the apps' reports, not derived
-- from the log (reports are many and repetitive; only the decisions they cause are events:
-- DeploymentStepHeld, the advance they allow, DeploymentRolledBack by rejections), so neither
-- table is a projection and a rebuild leaves them as they are.

-- Each instance of an environment and when it last reported (every report, an empty one being
-- the client's heartbeat): an instance silent for ConfigService__Acknowledgements__InstanceTtl
-- no longer counts as running anything.
CREATE TABLE client_instances (
  tenant_id     VARCHAR(50) NOT NULL,
  environment   VARCHAR(50) NOT NULL,
  instance_id   VARCHAR(200) NOT NULL,
  first_seen_at TIMESTAMPTZ NOT NULL,
  last_seen_at  TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (tenant_id, environment, instance_id)
);
CREATE INDEX idx_client_instances_seen ON client_instances (last_seen_at);

-- One row per instance and value it reported: a version, or a canary's value (deployment and
-- side). An instance runs what its newest row says; older rows are its history (blame).
-- `deployment_id` and `side` are '' outside a canary.
CREATE TABLE client_acknowledgements (
  config_id       VARCHAR(50) NOT NULL,
  instance_id     VARCHAR(200) NOT NULL,
  version         INT NOT NULL,
  deployment_id   VARCHAR(50) NOT NULL DEFAULT '',
  side            VARCHAR(10) NOT NULL DEFAULT '',
  tenant_id       VARCHAR(50) NOT NULL,
  environment     VARCHAR(50) NOT NULL,
  status          VARCHAR(10) NOT NULL CHECK (status IN ('applied', 'rejected')),
  reason          TEXT,
  acknowledged_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (config_id, instance_id, version, deployment_id, side)
);
CREATE INDEX idx_client_acks_latest
  ON client_acknowledgements (config_id, instance_id, acknowledged_at DESC);
CREATE INDEX idx_client_acks_deployment
  ON client_acknowledgements (deployment_id) WHERE deployment_id <> '';
CREATE INDEX idx_client_acks_age ON client_acknowledgements (acknowledged_at);

-- Down Migration
DROP TABLE client_acknowledgements;
DROP TABLE client_instances;
