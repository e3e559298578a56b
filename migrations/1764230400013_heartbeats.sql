-- Up Migration
-- Liveness of the worker and of each projection, per process instance: each writes its row every
-- few seconds while it works, and deletes it when it stops cleanly. /health/ready and the
-- *_heartbeat_age_seconds metrics report the age of the youngest row per component, so a worker
-- or projection that died (or is stuck failing) shows. Operational state, not a read table.
CREATE TABLE service_heartbeats (
    component VARCHAR(100) NOT NULL,
    instance  VARCHAR(200) NOT NULL,
    beat_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (component, instance)
);

-- Down Migration
DROP TABLE service_heartbeats;
