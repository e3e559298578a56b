import { expect } from 'chai';
import request from 'supertest';
import { MASK } from '../configs/config-values.js';
import { startHarness, uniqueTenant, type Harness, auth } from '../../../test/support/harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('replay from the event log (e2e)', function () {
  // No projector runs: every answer here comes from the event store, none from a read table.
  let h: Harness;
  before(async function () {
    h = await startHarness();
  });
  after(async function () {
    await h?.close();
  });

  async function tenant() {
    const tenantId = uniqueTenant('replay');
    const created = await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId, name: 'R', tier: 'Enterprise' })
      .expect(201);
    return {
      tenantId,
      position: created.headers['x-event-position'] as string,
      editor: h.token('editor', tenantId, { sub: 'alice' }),
      reader: h.token('reader', tenantId),
    };
  }
  type Tenant = Awaited<ReturnType<typeof tenant>>;

  async function create(t: Tenant, body: Record<string, unknown>) {
    const res = await request(h.url)
      .post('/api/v1/configs')
      .set(auth(t.editor))
      .send({ tenantId: t.tenantId, environment: 'Staging', ...body })
      .expect(201);
    return { configId: res.body.configId as string, position: res.headers['x-event-position']! };
  }

  async function update(t: Tenant, configId: string, value: unknown, expectedVersion: number) {
    const res = await request(h.url)
      .put(`/api/v1/configs/${configId}`)
      .set(auth(t.editor))
      .send({ value, expectedVersion })
      .expect(200);
    return res.headers['x-event-position'] as string;
  }

  function replay(token: string, configId: string, query = '') {
    return request(h.url).get(`/api/v1/configs/${configId}/replay${query}`).set(auth(token));
  }

  describe('GET /configs/{id}/events', function () {
    it("lists a configuration's events with their metadata, oldest first, in pages", async function () {
      const t = await tenant();
      const { configId } = await create(t, { key: 'limit', value: 1, type: 'Integer' });
      await update(t, configId, 2, 1);
      await update(t, configId, 3, 2);
      await request(h.url)
        .delete(`/api/v1/configs/${configId}`)
        .set(auth(t.editor))
        .set('If-Match', '"3"')
        .set('X-Correlation-Id', 'cleanup-42')
        .expect(200);
      // Not projected, yet replayable.
      await request(h.url).get(`/api/v1/configs/${configId}`).set(auth(t.reader)).expect(404);

      const all = await request(h.url)
        .get(`/api/v1/configs/${configId}/events`)
        .set(auth(t.reader))
        .expect(200);
      expect(all.body).to.include({ configId, total: 4, nextRevision: null });
      expect(all.body.items.map((e: { type: string }) => e.type)).to.deep.equal([
        'ConfigurationCreated',
        'ConfigurationUpdated',
        'ConfigurationUpdated',
        'ConfigurationDeleted',
      ]);
      expect(all.body.items.map((e: { revision: number }) => e.revision)).to.deep.equal([
        0, 1, 2, 3,
      ]);
      const positions = all.body.items.map((e: { position: string }) => BigInt(e.position));
      for (let i = 1; i < positions.length; i++)
        expect(positions[i] > positions[i - 1]).to.equal(true);
      expect(all.body.items[1].data).to.include({ value: '2', previousValue: '1', version: 2 });
      expect(all.body.items[3].metadata).to.include({
        userId: 'alice',
        correlationId: 'cleanup-42',
      });
      expect(all.body.items[3].metadata.timestamp).to.be.a('string');

      const first = await request(h.url)
        .get(`/api/v1/configs/${configId}/events?limit=3`)
        .set(auth(t.reader))
        .expect(200);
      expect(first.body.items).to.have.length(3);
      expect(first.body.nextRevision).to.equal(3);
      const rest = await request(h.url)
        .get(`/api/v1/configs/${configId}/events?fromRevision=3&limit=3`)
        .set(auth(t.reader))
        .expect(200);
      expect(rest.body.items.map((e: { type: string }) => e.type)).to.deep.equal([
        'ConfigurationDeleted',
      ]);
      expect(rest.body.nextRevision).to.equal(null);
    });

    it('masks the values of a sensitive configuration', async function () {
      const t = await tenant();
      const { configId } = await create(t, {
        key: 'db.password',
        value: 's3cret',
        isSensitive: true,
      });
      await update(t, configId, 'n3w', 1);
      const events = await request(h.url)
        .get(`/api/v1/configs/${configId}/events`)
        .set(auth(t.reader))
        .expect(200);
      expect(JSON.stringify(events.body)).to.not.match(/s3cret|n3w/);
      expect(events.body.items[1].data).to.include({ value: MASK, previousValue: MASK });
      const then = await replay(t.reader, configId, '?version=1').expect(200);
      expect(then.body).to.include({ value: MASK, version: 1, isSensitive: true });
    });
  });

  describe('GET /configs/{id}/replay', function () {
    it('answers the configuration as of a version, a position or a time', async function () {
      const t = await tenant();
      const { configId, position: created } = await create(t, {
        key: 'greeting',
        value: 'hello',
      });
      const p2 = await update(t, configId, 'bonjour', 1);
      await sleep(30);
      const between = new Date().toISOString();
      await sleep(30);
      const p3 = await update(t, configId, 'hola', 2);

      const now = await replay(t.reader, configId).expect(200);
      expect(now.body).to.deep.include({ asOf: {}, value: 'hola', version: 3, deleted: false });
      expect(now.body.lastEvent).to.include({ type: 'ConfigurationUpdated', position: p3 });

      const v1 = await replay(t.reader, configId, '?version=1').expect(200);
      expect(v1.body).to.deep.include({ asOf: { version: 1 }, value: 'hello', version: 1 });
      expect(v1.body.lastEvent).to.include({ revision: 0, position: created, userId: 'alice' });

      const atP2 = await replay(t.reader, configId, `?position=${p2}`).expect(200);
      expect(atP2.body).to.deep.include({ asOf: { position: p2 }, value: 'bonjour', version: 2 });

      const atTime = await replay(t.reader, configId, `?at=${encodeURIComponent(between)}`).expect(
        200,
      );
      expect(atTime.body).to.include({ value: 'bonjour', version: 2 });
      expect(atTime.body.asOf).to.deep.equal({ at: between });
    });

    it('answers version N as its own event made it, not with a deployment that followed', async function () {
      const t = await tenant();
      const { configId } = await create(t, { key: 'k', value: 'a' });
      await request(h.url)
        .post('/api/v1/deployments')
        .set(auth(t.editor))
        .send({ configId, value: 'b', strategy: 'Direct' })
        .expect(201);
      const v1 = await replay(t.reader, configId, '?version=1').expect(200);
      expect(v1.body).to.include({ version: 1, value: 'a', deploymentId: null });
      expect(v1.body.lastEvent).to.include({ type: 'ConfigurationCreated', revision: 0 });
      const v2 = await replay(t.reader, configId, '?version=2').expect(200);
      expect(v2.body).to.include({ version: 2, value: 'b' });
    });

    it('answers 404 naming the field before the configuration existed or beyond its versions', async function () {
      const t = await tenant();
      const { configId } = await create(t, { key: 'later', value: 'x' });
      const early = await replay(t.reader, configId, `?position=${t.position}`).expect(404);
      expect(early.body.field).to.equal('position');
      const past = await replay(t.reader, configId, '?at=2000-01-01T00:00:00Z').expect(404);
      expect(past.body.field).to.equal('at');
      const beyond = await replay(t.reader, configId, '?version=2').expect(404);
      expect(beyond.body.field).to.equal('version');
      const unknown = await replay(t.reader, 'cfg_0000').expect(404);
      expect(unknown.body.field).to.equal('configId');
    });

    it('shows a deleted configuration as deleted, and its last value', async function () {
      const t = await tenant();
      const { configId } = await create(t, { key: 'gone', value: 'x' });
      await request(h.url).delete(`/api/v1/configs/${configId}`).set(auth(t.editor)).expect(200);
      const now = await replay(t.reader, configId).expect(200);
      expect(now.body).to.include({ deleted: true, value: 'x', version: 2 });
      expect(now.body.lastEvent.type).to.equal('ConfigurationDeleted');
    });

    it('rejects bad points with 400 naming the field, and more than one point', async function () {
      const t = await tenant();
      const { configId } = await create(t, { key: 'k', value: 'x' });
      for (const [query, field] of [
        ['?at=yesterday', 'at'],
        ['?position=abc', 'position'],
        ['?version=0', 'version'],
        ['?version=1&position=5', 'at'],
        ['?when=now', 'when'],
      ] as const) {
        const res = await replay(t.reader, configId, query).expect(400);
        expect(res.body.field, query).to.equal(field);
      }
      const bad = await request(h.url)
        .get(`/api/v1/configs/${configId}/events?limit=0`)
        .set(auth(t.reader))
        .expect(400);
      expect(bad.body.field).to.equal('limit');
    });
  });

  describe('GET /tenants/{t}/environments/{env}/replay', function () {
    it('answers the environment as apps were served it at a position, typed', async function () {
      const t = await tenant();
      const a = await create(t, { key: 'a', value: 1, type: 'Integer' });
      const b = await create(t, { key: 'b', value: true, type: 'Boolean' });
      await create(t, { key: 'other', value: 'x', environment: 'Development' });
      const mark = b.position;
      await update(t, a.configId, 2, 1);
      await request(h.url).delete(`/api/v1/configs/${b.configId}`).set(auth(t.editor)).expect(200);
      await create(t, { key: 'c', value: { on: true }, type: 'JSON' });

      const path = `/api/v1/tenants/${t.tenantId}/environments/Staging/replay`;
      const then = await request(h.url)
        .get(`${path}?position=${mark}`)
        .set(auth(t.reader))
        .expect(200);
      expect(then.body).to.deep.include({
        asOf: { position: mark },
        tenantId: t.tenantId,
        environment: 'Staging',
        position: mark,
        configs: { a: 1, b: true },
        versions: { a: 1, b: 1 },
      });
      const now = await request(h.url).get(path).set(auth(t.reader)).expect(200);
      expect(now.body.configs).to.deep.equal({ a: 2, c: { on: true } });
      const before = await request(h.url)
        .get(`${path}?position=${t.position}`)
        .set(auth(t.reader))
        .expect(200);
      expect(before.body.configs).to.deep.equal({});
      // Before the tenant itself existed: 404 naming the point, not an empty environment.
      const earlier = await request(h.url)
        // (the tenant's creation is 4 events: TenantCreated and its 3 environments declared)
        .get(`${path}?position=${BigInt(t.position) - 4n}`)
        .set(auth(t.reader))
        .expect(404);
      expect(earlier.body.field).to.equal('position');
    });

    it("hides another tenant's configurations and environments", async function () {
      const t = await tenant();
      const other = await tenant();
      const { configId } = await create(t, { key: 'k', value: 'x' });
      await replay(other.reader, configId).expect(404);
      await request(h.url)
        .get(`/api/v1/configs/${configId}/events`)
        .set(auth(other.reader))
        .expect(404);
      const env = await request(h.url)
        .get(`/api/v1/tenants/${t.tenantId}/environments/Staging/replay`)
        .set(auth(other.reader));
      expect(env.status).to.be.oneOf([403, 404]);
      // A token limited to Development does not see Staging's history either (403, as for reads).
      const devOnly = h.token('reader', t.tenantId, { environments: ['Development'] });
      await replay(devOnly, configId).expect(403);
      await request(h.url)
        .get(`/api/v1/tenants/${t.tenantId}/environments/Staging/replay`)
        .set(auth(devOnly))
        .expect(403);
      await request(h.url)
        .get(`/api/v1/tenants/nobody-${t.tenantId}/environments/Staging/replay`)
        .set(auth(h.admin))
        .expect(404);
    });
  });
});
