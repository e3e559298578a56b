import { expect } from 'chai';
import request from 'supertest';
import { startWorkers } from '../../core/jobs/workers.js';
import {
  eventCount,
  startHarness,
  uniqueTenant,
  type Harness,
  auth,
} from '../../../test/support/harness.js';
import { verifySignature } from './webhook-signing.js';
import { until } from '../../../test/support/until.js';
import { receiver } from '../../../test/support/webhook-receiver.js';

describe('webhooks (e2e)', function () {
  this.timeout(40_000);
  let h: Harness;
  before(async function () {
    h = await startHarness({
      runProjector: true,
      overrides: {
        ConfigService__Webhooks__AllowPrivateNetworks: 'true',
        ConfigService__Webhooks__RetrySchedule: 'PT0.1S,PT0.1S,PT0.1S',
      },
    });
  });
  after(async function () {
    await h?.close();
  });

  async function tenant() {
    const tenantId = uniqueTenant('hooks');
    await request(h.url)
      .post('/api/v1/tenants')
      .set(auth(h.admin))
      .send({ tenantId, name: 'Hooks', tier: 'Enterprise' })
      .expect(201);
    return {
      tenantId,
      admin: h.token('tenant-admin', tenantId),
      editor: h.token('editor', tenantId),
    };
  }

  it('delivers each event once, signed, after failures and a worker restart', async function () {
    const t = await tenant();
    const rx = await receiver(2);
    try {
      const registered = await request(h.url)
        .post(`/api/v1/tenants/${t.tenantId}/webhooks`)
        .set(auth(t.admin))
        .send({ url: rx.url, events: ['config.changed'], description: 'CI' })
        .expect(201);
      const { webhookId, secret } = registered.body as { webhookId: string; secret: string };
      expect(secret).to.match(/^whsec_/);
      expect(registered.headers.location).to.equal(
        `/api/v1/tenants/${t.tenantId}/webhooks/${webhookId}`,
      );

      let workers = startWorkers(h.services, { idleWaitMs: 50 });
      const created = await request(h.url)
        .post('/api/v1/configs')
        .set(auth(t.editor))
        .send({ tenantId: t.tenantId, key: 'greeting', value: 'hi', environment: 'Staging' })
        .expect(201);
      // Fails twice, then is delivered on the third attempt.
      await until('the first delivery', () =>
        rx.received.some((r) => r.answered === 204) ? true : undefined,
      );
      await workers.close();

      // While no worker runs, two more changes; a new worker picks them up.
      const configId = created.body.configId as string;
      await request(h.url)
        .put(`/api/v1/configs/${configId}`)
        .set(auth(t.editor))
        .set('If-Match', '"1"')
        .send({ value: 'hello' })
        .expect(200);
      await request(h.url)
        .put(`/api/v1/configs/${configId}`)
        .set(auth(t.editor))
        .set('If-Match', '"2"')
        .send({ value: 'hey' })
        .expect(200);
      workers = startWorkers(h.services, { idleWaitMs: 50 });
      await until('three deliveries', () =>
        rx.received.filter((r) => r.answered === 204).length >= 3 ? true : undefined,
      );
      await new Promise((r) => setTimeout(r, 500)); // anything extra would arrive now
      await workers.close();

      const ok = rx.received.filter((r) => r.answered === 204);
      expect(rx.received).to.have.length(5, 'two failures, then three deliveries');
      expect(new Set(ok.map((r) => r.id)).size).to.equal(3, 'one delivery per event');
      // The failed attempts carried the same id as the one that got through.
      expect(rx.received[0]!.id).to.equal(rx.received[2]!.id);
      for (const r of rx.received) {
        expect(
          verifySignature(
            secret,
            { id: r.id, timestamp: r.timestamp, signature: r.signature },
            r.body,
          ),
        ).to.equal(true);
      }
      const bodies = ok.map(
        (r) => JSON.parse(r.body) as { type: string; data: { value: string; version: number } },
      );
      // Deliveries run in parallel: receivers order them by version (or position), not arrival.
      const seen = bodies.map((b) => [b.type, b.data.version, b.data.value]);
      expect(seen.sort((a, b) => Number(a[1]) - Number(b[1]))).to.deep.equal([
        ['config.changed', 1, 'hi'],
        ['config.changed', 2, 'hello'],
        ['config.changed', 3, 'hey'],
      ]);

      const log = await request(h.url)
        .get(`/api/v1/tenants/${t.tenantId}/webhooks/${webhookId}/deliveries`)
        .set(auth(t.admin))
        .expect(200);
      expect(log.body.total).to.equal(3);
      const first = (
        log.body.items as { attempts: number; status: string; lastStatusCode: number }[]
      ).at(-1)!;
      expect(first).to.include({ attempts: 3, status: 'Delivered', lastStatusCode: 204 });
    } finally {
      await rx.close();
    }
  });

  it('sends only subscribed kinds of events, never a sensitive value, and nothing after deletion', async function () {
    const t = await tenant();
    const rx = await receiver(0);
    const workers = startWorkers(h.services, { idleWaitMs: 50 });
    try {
      const { body } = await request(h.url)
        .post(`/api/v1/tenants/${t.tenantId}/webhooks`)
        .set(auth(t.admin))
        .send({ url: rx.url, events: ['config.changed'] })
        .expect(201);
      await request(h.url)
        .post('/api/v1/configs')
        .set(auth(t.editor))
        .send({
          tenantId: t.tenantId,
          key: 'db.password',
          value: 'hunter2',
          environment: 'Staging',
          isSensitive: true,
        })
        .expect(201);
      await until('the delivery', () => (rx.received.length ? true : undefined));
      expect(rx.received[0]!.body).to.not.include('hunter2');
      await request(h.url)
        .delete(`/api/v1/tenants/${t.tenantId}/webhooks/${body.webhookId}`)
        .set(auth(t.admin))
        .expect(200);
      await request(h.url)
        .post('/api/v1/configs')
        .set(auth(t.editor))
        .send({ tenantId: t.tenantId, key: 'other', value: 'x', environment: 'Staging' })
        .expect(201);
      await new Promise((r) => setTimeout(r, 1000));
      expect(rx.received).to.have.length(1);
    } finally {
      await workers.close();
      await rx.close();
    }
  });

  it('sends a promotion awaiting approval as change-request events, naming the change set', async function () {
    const t = await tenant();
    const approver = h.token('approver', t.tenantId, { sub: 'bob' });
    const rx = await receiver(0);
    const workers = startWorkers(h.services, { idleWaitMs: 50 });
    try {
      await request(h.url)
        .post(`/api/v1/tenants/${t.tenantId}/webhooks`)
        .set(auth(t.admin))
        .send({ url: rx.url, events: ['change-request.opened', 'change-request.approved'] })
        .expect(201);
      await request(h.url)
        .post('/api/v1/configs')
        .set(auth(t.editor))
        .send({ tenantId: t.tenantId, key: 'limit', value: '5', environment: 'Staging' })
        .expect(201);
      const promoted = await request(h.url)
        .post(`/api/v1/tenants/${t.tenantId}/promote`)
        .query({ minPosition: (await h.services.store.headPosition()).toString() })
        .set(auth(t.editor))
        .send({ from: 'Staging', to: 'Production', keys: ['limit'] })
        .expect(202);
      const changeSetId = promoted.body.changeSet.changeSetId as string;
      await request(h.url)
        .post(`/api/v1/tenants/${t.tenantId}/change-sets/${changeSetId}/approve`)
        .set(auth(approver))
        .send({})
        .expect(200);
      await until('both deliveries', () => (rx.received.length >= 2 ? true : undefined));
      // Deliveries run in parallel: they may arrive in either order.
      const bodies = rx.received.map((r) => JSON.parse(r.body) as { type: string; data: object });
      const of = (type: string) => bodies.filter((b) => b.type === type);
      expect(bodies).to.have.length(2);
      expect(of('change-request.opened')).to.have.length(1);
      expect(of('change-request.opened')[0]!.data).to.deep.include({
        changeSetId,
        keys: [{ key: 'limit', action: 'Create' }],
      });
      expect(of('change-request.approved')[0]!.data).to.deep.equal({
        changeSetId,
        approvedBy: 'bob',
      });
    } finally {
      await workers.close();
      await rx.close();
    }
  });

  it('refuses private URLs unless allowed, unknown events, and non-admins, leaving nothing behind', async function () {
    const strict = await startHarness();
    try {
      const tenantId = uniqueTenant('ssrf');
      await request(strict.url)
        .post('/api/v1/tenants')
        .set(auth(strict.admin))
        .send({ tenantId, name: 'S', tier: 'Free' })
        .expect(201);
      const admin = strict.token('tenant-admin', tenantId);
      const before = await eventCount(strict);
      for (const url of [
        'http://127.0.0.1:9/x',
        'http://169.254.169.254/latest/meta-data',
        'http://localhost/x',
        'ftp://example.com/x',
      ]) {
        const res = await request(strict.url)
          .post(`/api/v1/tenants/${tenantId}/webhooks`)
          .set(auth(admin))
          .send({ url, events: ['config.changed'] });
        expect(res.status, url).to.be.oneOf([400, 422]);
        expect(res.body.field ?? res.body.errors?.[0]?.field, url).to.equal('url');
      }
      const unknown = await request(strict.url)
        .post(`/api/v1/tenants/${tenantId}/webhooks`)
        .set(auth(admin))
        .send({ url: 'https://example.com/x', events: ['config.exploded'] });
      expect(unknown.status).to.equal(400);
      await request(strict.url)
        .post(`/api/v1/tenants/${tenantId}/webhooks`)
        .set(auth(strict.token('editor', tenantId)))
        .send({ url: 'https://example.com/x', events: ['config.changed'] })
        .expect(403);
      expect(await eventCount(strict)).to.equal(before);
    } finally {
      await strict.close();
    }
  });
});
