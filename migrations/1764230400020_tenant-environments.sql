-- Up Migration
-- Each tenant's declared environments (src/features/environments/), a read-model table rebuilt
-- from the tenant streams. `implicit`: a tenant from before declarations, read as having
-- declared the defaults and every environment it registered a configuration in, until its first
-- environment command writes them out as declarations. `ordinal`: declaration order.
-- No unique index on lower(name): such a tenant may have used two spellings of one name.
CREATE TABLE tenant_environments (
  tenant_id   VARCHAR(50) NOT NULL REFERENCES tenants(tenant_id),
  name        VARCHAR(50) NOT NULL,
  ordinal     INT NOT NULL,
  implicit    BOOLEAN NOT NULL DEFAULT FALSE,
  declared_by VARCHAR(255),
  declared_at TIMESTAMP NOT NULL,
  PRIMARY KEY (tenant_id, name)
);

-- The tenants that exist now are all from before declarations: what the projection would have
-- written for them (the defaults, then each environment in order of first use).
INSERT INTO tenant_environments (tenant_id, name, ordinal, implicit, declared_at)
SELECT t.tenant_id, d.name, d.ordinal, TRUE, t.created_at
  FROM tenants t
 CROSS JOIN (VALUES ('Development', 1), ('Staging', 2), ('Production', 3)) AS d(name, ordinal);

INSERT INTO tenant_environments (tenant_id, name, ordinal, implicit, declared_at)
SELECT u.tenant_id, u.environment, 3 + ROW_NUMBER() OVER (PARTITION BY u.tenant_id ORDER BY u.first_used, u.environment), TRUE, u.first_used
  FROM (SELECT tenant_id, environment, MIN(created_at) AS first_used
          FROM configurations
         WHERE environment NOT IN ('Development', 'Staging', 'Production')
         GROUP BY tenant_id, environment) u;

-- Down Migration
DROP TABLE tenant_environments;
