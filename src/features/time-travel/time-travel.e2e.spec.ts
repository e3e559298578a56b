import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness, auth } from '../../../test/support/harness.js';
import { configIdFor } from '../configs/config.decider.js';
import { configStream } from '../../core/streams.js';
import { SNAPSHOT_EVERY } from './time-travel.projection.js';
import { diffStates, type TenantAt } from './time-travel.queries.js';

describe('whole-tenant time travel (e2e)', function () {
  let h: Harness;
  before(async function () {
    h = await startHarness({ runProjector: true });
  });
  after(async function () {
    await h?.close();
  });

  async function tenant() {
    const tenantId = uniqueTenant('tt');
    await request(h.url)
      .post('/api/v1/tenants')
      .set(auth(h.admin))
      .send({ tenantId, name: 'T', tier: 'Free' })
      .expect(201);
    for (const env of ['Production', 'Staging']) {
      await request(h.url)
        .put(`/api/v1/tenants/${tenantId}/approval-policies/${env}`)
        .set(auth(h.token('tenant-admin', tenantId)))
        .send({ requiredApprovals: 0 })
        .expect(200);
    }
    return {
      tenantId,
      editor: h.token('editor', tenantId, { sub: 'alice' }),
      reader: h.token('reader', tenantId, { sub: 'rita' }),
    };
  }

  it('reads a tenant as of a position and a time, and diffs two points', async function () {
    const t = await tenant();
    const create = (environment: string, key: string, value: string, isSensitive = false) =>
      request(h.url)
        .post('/api/v1/configs')
        .set(auth(t.editor))
        .send({ tenantId: t.tenantId, environment, key, value, isSensitive })
        .expect(201);
    const a = await create('Production', 'a', 'a1');
    await create('Staging', 'b', 'b1');
    const secret = await create('Production', 'secret', 's1', true);
    const p1 = a.headers['x-event-position'] as string;
    const mid = secret.headers['x-event-position'] as string;
    await new Promise((r) => setTimeout(r, 20));
    const midTime = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    const update = await request(h.url)
      .put(`/api/v1/configs/${a.body.configId}`)
      .set(auth(t.editor))
      .send({ value: 'a2', expectedVersion: 1 })
      .expect(200);
    await request(h.url)
      .delete(`/api/v1/configs/${secret.body.configId}`)
      .set(auth(t.editor))
      .expect((r) => expect(r.status).to.be.oneOf([200, 204]));
    const last = await create('Staging', 'c', 'c1');
    const head = last.headers['x-event-position'] as string;

    const asOf = async (query: string) =>
      (
        await request(h.url)
          .get(`/api/v1/tenants/${t.tenantId}/as-of?${query}&minPosition=${head}`)
          .set(auth(t.reader))
          .expect(200)
      ).body;

    const then = await asOf(`position=${mid}`);
    expect(then.position).to.equal(mid);
    expect(then.environments).to.deep.equal({
      Production: {
        a: { configId: a.body.configId, type: 'String', version: 1, value: 'a1' },
        secret: { configId: secret.body.configId, type: 'String', version: 1, value: '********' },
      },
      Staging: {
        b: {
          configId: configIdFor(t.tenantId, 'Staging', 'b'),
          type: 'String',
          version: 1,
          value: 'b1',
        },
      },
    });
    expect((await asOf(`at=${encodeURIComponent(midTime)}`)).environments).to.deep.equal(
      then.environments,
    );
    const first = await asOf(`position=${p1}`);
    expect(Object.keys(first.environments)).to.deep.equal(['Production']);
    const now = await asOf('');
    expect(now.environments.Production).to.deep.equal({
      a: { configId: a.body.configId, type: 'String', version: 2, value: 'a2' },
    });
    expect(Object.keys(now.environments.Staging).sort()).to.deep.equal(['b', 'c']);

    const diff = await request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/diff?from=${mid}&to=${head}`)
      .set(auth(t.reader))
      .expect(200);
    expect(
      diff.body.changes.map((c: { environment: string; key: string; change: string }) => [
        c.environment,
        c.key,
        c.change,
      ]),
    ).to.deep.equal([
      ['Production', 'a', 'changed'],
      ['Production', 'secret', 'removed'],
      ['Staging', 'c', 'added'],
    ]);
    expect(diff.body.changes[0]).to.deep.include({
      from: { version: 1, value: 'a1', type: 'String' },
      to: { version: 2, value: 'a2', type: 'String' },
    });
    expect(diff.body.to.position).to.equal(head);
    expect(update.status).to.equal(200);

    // A token limited to Staging sees Staging only.
    const staging = h.token('reader', t.tenantId, { environments: ['Staging'] });
    const limited = await request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/as-of`)
      .set(auth(staging))
      .expect(200);
    expect(Object.keys(limited.body.environments)).to.deep.equal(['Staging']);
  });

  it('restores an environment to a point: direct writes, or change requests where approval is needed', async function () {
    const t = await tenant();
    const put = async (environment: string, key: string, value: string) =>
      request(h.url)
        .post('/api/v1/configs')
        .set(auth(t.editor))
        .send({ tenantId: t.tenantId, environment, key, value })
        .expect(201);
    const keep = await put('Staging', 'keep', 'k1');
    const change = await put('Staging', 'change', 'c1');
    const gone = await put('Staging', 'gone', 'g1');
    await put('Production', 'p', 'p1');
    const good = gone.headers['x-event-position'] as string;
    // The bad release: one key changed, one deleted, one added; Production too.
    await request(h.url)
      .put(`/api/v1/configs/${change.body.configId}`)
      .set(auth(t.editor))
      .send({ value: 'c2', expectedVersion: 1 })
      .expect(200);
    await request(h.url)
      .delete(`/api/v1/configs/${gone.body.configId}`)
      .set(auth(t.editor))
      .expect((r) => expect(r.status).to.be.oneOf([200, 204]));
    await put('Staging', 'added', 'a1');
    await put('Production', 'p2', 'x');
    const before = await h.services.store.headPosition();

    const restored = await request(h.url)
      .post(`/api/v1/tenants/${t.tenantId}/environments/Staging/restore?minPosition=${before}`)
      .set(auth(t.editor))
      .send({ position: good, description: 'undo the bad release' })
      .expect(200);
    expect(restored.body).to.include({ mode: 'direct', restoredTo: good });
    expect(
      restored.body.steps.map((x: { key: string; action: string }) => [x.key, x.action]),
    ).to.deep.equal([
      ['added', 'delete'],
      ['change', 'update'],
      ['gone', 'restore'],
    ]);
    const after = restored.body.position as string;
    // Staging as of now equals Staging then (versions moved on, values back).
    const asOf = async (query: string) =>
      (
        await request(h.url)
          .get(`/api/v1/tenants/${t.tenantId}/as-of?${query}&minPosition=${after}`)
          .set(auth(t.reader))
          .expect(200)
      ).body.environments;
    const values = (env: Record<string, { value: string }>) =>
      Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.value]));
    expect(values((await asOf('')).Staging)).to.deep.equal(
      values((await asOf(`position=${good}`)).Staging),
    );
    expect(values((await asOf('')).Staging)).to.deep.equal({
      keep: 'k1',
      change: 'c1',
      gone: 'g1',
    });
    expect(keep.status).to.equal(201);
    // One change set: every event of the restore shares its correlation id.
    const { rows } = await h.services.pool.query(
      `SELECT count(*)::int AS n FROM es_events WHERE metadata->>'correlationId' = $1`,
      [restored.body.correlationId],
    );
    expect(rows[0].n).to.be.greaterThan(3);
    // The diff from the bad state to now is the restore.
    const diff = await request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/diff?from=${before}&to=${after}`)
      .set(auth(t.reader))
      .expect(200);
    expect(
      diff.body.changes
        .filter((c: { environment: string }) => c.environment === 'Staging')
        .map((c: { key: string; change: string }) => [c.key, c.change]),
    ).to.deep.equal([
      ['added', 'removed'],
      ['change', 'changed'],
      ['gone', 'added'],
    ]);

    // Production needs an approval: the restore is change requests, nothing written yet.
    await request(h.url)
      .put(`/api/v1/tenants/${t.tenantId}/approval-policies/Production`)
      .set(auth(h.token('tenant-admin', t.tenantId)))
      .send({ requiredApprovals: 1 })
      .expect(200);
    const prod = await request(h.url)
      .post(`/api/v1/tenants/${t.tenantId}/environments/Production/restore`)
      .set(auth(t.editor))
      .send({ position: good })
      .expect(200);
    expect(prod.body.mode).to.equal('change-requests');
    // Both Production keys came after that point.
    expect(
      prod.body.steps.map((x: { key: string; action: string }) => [x.key, x.action]),
    ).to.deep.equal([
      ['p', 'delete'],
      ['p2', 'delete'],
    ]);
    const approvalId = prod.body.steps[0].approvalId as string;
    const cr = await request(h.url)
      .get(`/api/v1/approvals/${approvalId}?minPosition=${prod.body.position}`)
      .set(auth(t.reader))
      .expect(200);
    expect(cr.body).to.include({ status: 'Pending', action: 'Delete' });
  });

  it('refuses bad points naming the field, and other tenants', async function () {
    const t = await tenant();
    const bad = await request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/diff?from=yesterday`)
      .set(auth(t.reader))
      .expect(400);
    expect(JSON.stringify(bad.body)).to.contain('from');
    const both = await request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/as-of?at=2026-01-01T00:00:00Z&position=3`)
      .set(auth(t.reader))
      .expect(400);
    expect(both.body.field).to.equal('at');
    const other = h.token('reader', uniqueTenant('other'));
    await request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/as-of`)
      .set(auth(other))
      .expect((r) => expect(r.status).to.be.oneOf([403, 404]));
  });

  it('answers from snapshots as a full replay of the changes would, across many snapshots', async function () {
    this.timeout(180_000);
    // A real tenant (the read model's rows need it); its changes appended straight to the store.
    const { tenantId } = await tenant();
    const keys = Array.from({ length: 7 }, (_, i) => `k${i}`);
    // Expected states, folded here independently, at every 97th change.
    const truth = new Map<string, TenantAt>();
    const state: TenantAt = {};
    const versions = new Map<string, number>();
    const total = SNAPSHOT_EVERY * 2 + 150;
    const batch: { streamId: string; events: object[] }[] = [];
    let n = 0;
    const positions: bigint[] = [];
    for (let i = 0; i < total; i++) {
      const key = keys[i % keys.length]!;
      const env = i % 2 ? 'Production' : 'Staging';
      const configId = configIdFor(tenantId, env, key);
      const version = (versions.get(configId) ?? 0) + 1;
      versions.set(configId, version);
      const value = `v${i}`;
      batch.push({
        streamId: configStream(configId),
        events: [
          {
            id: randomUUID(),
            type: version === 1 ? 'ConfigurationCreated' : 'ConfigurationUpdated',
            data: {
              tenantId,
              configId,
              key,
              environment: env,
              type: 'String',
              version,
              value,
              previousValue: null,
              changeDescription: null,
              isSensitive: false,
              description: null,
              tags: [],
              defaultValue: null,
              schemaId: null,
            },
            metadata: { userId: 'bench', timestamp: new Date().toISOString(), schemaVersion: 1 },
          },
        ],
      });
      (state[env] ??= {})[key] = { configId, type: 'String', version, value };
      if (batch.length === 50 || i === total - 1) {
        const { position } = await h.services.store.append(
          batch.map((b) => ({ ...b, expected: 'any' as const })) as never,
        );
        batch.length = 0;
        n += 1;
        if (n % 3 === 0 || i === total - 1) {
          positions.push(position);
          truth.set(position.toString(), structuredClone(state));
        }
      }
    }
    // Projected at its own pace on a loaded machine: wait with a generous deadline.
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const lag = await h.services.progress.lag(positions.at(-1)!);
      const at = lag.find((l) => l.projection === 'tenant-history')?.position ?? 0n;
      if (at >= positions.at(-1)!) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const { rows } = await h.services.pool.query(
      'SELECT count(*)::int AS n FROM tenant_snapshots WHERE tenant_id = $1',
      [tenantId],
    );
    expect(rows[0].n).to.equal(2);
    for (const p of positions) {
      const got = await h.services.queries.timeTravel.tenantAt(tenantId, p);
      expect(diffStates(truth.get(p.toString())!, got), `at ${p}`).to.deep.equal([]);
      expect(got).to.deep.equal(truth.get(p.toString()));
    }
  });
});
