/**
 * Rows of `tenant_environments` (part of the read model, applied by tenants.projection.ts for
 * the tenant stream). Implicit rows stand for a tenant from before declarations; its first
 * explicit event replaces them (the decider writes them out as declarations just before).
 */
import type pg from 'pg';
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import { eventTime } from '../../core/projections/projection.js';
import { DEFAULT_ENVIRONMENTS, type EnvironmentEvent } from './environment-set.js';

async function implicitRow(client: pg.PoolClient, tenantId: string, name: string, at: string) {
  await client.query(
    `INSERT INTO tenant_environments (tenant_id, name, ordinal, implicit, declared_at)
     SELECT $1::varchar, $2::varchar, COALESCE(MAX(ordinal), 0) + 1, TRUE, $3::timestamp
       FROM tenant_environments WHERE tenant_id = $1::varchar
     HAVING NOT bool_or(NOT implicit) IS TRUE
     ON CONFLICT DO NOTHING`,
    [tenantId, name, at],
  );
}

/** TenantCreated: read as declaring the defaults until an explicit declaration says otherwise. */
export async function applyTenantCreated(
  client: pg.PoolClient,
  e: RecordedEvent,
  tenantId: string,
) {
  for (const name of DEFAULT_ENVIRONMENTS) await implicitRow(client, tenantId, name, eventTime(e));
}

/** A configuration registered while the tenant's environments were implicit: one it uses. */
export async function applyRegistered(
  client: pg.PoolClient,
  e: RecordedEvent,
  tenantId: string,
  environment: string,
) {
  await implicitRow(client, tenantId, environment, eventTime(e));
}

export async function applyEnvironmentEvent(
  client: pg.PoolClient,
  e: RecordedEvent,
  event: EnvironmentEvent,
) {
  const { tenantId, environment } = event.data;
  await client.query('DELETE FROM tenant_environments WHERE tenant_id = $1 AND implicit', [
    tenantId,
  ]);
  switch (event.type) {
    case 'EnvironmentDeclared':
      await client.query(
        `INSERT INTO tenant_environments (tenant_id, name, ordinal, implicit, declared_by, declared_at)
         SELECT $1::varchar, $2::varchar, COALESCE(MAX(ordinal), 0) + 1, FALSE, $3::varchar,
                $4::timestamp
           FROM tenant_environments WHERE tenant_id = $1::varchar
         ON CONFLICT DO NOTHING`,
        [tenantId, environment, e.metadata.userId ?? null, eventTime(e)],
      );
      return;
    case 'EnvironmentRenamed':
      await client.query(
        'UPDATE tenant_environments SET name = $3 WHERE tenant_id = $1 AND name = $2',
        [tenantId, environment, event.data.newName],
      );
      // Its approval policy follows it (as in the tenant's state).
      await client.query(
        'UPDATE approval_policies SET environment = $3 WHERE tenant_id = $1 AND environment = $2',
        [tenantId, environment, event.data.newName],
      );
      return;
    case 'EnvironmentRemoved':
      await client.query('DELETE FROM tenant_environments WHERE tenant_id = $1 AND name = $2', [
        tenantId,
        environment,
      ]);
      await client.query(
        'DELETE FROM approval_policies WHERE tenant_id = $1 AND environment = $2',
        [tenantId, environment],
      );
      return;
  }
}
