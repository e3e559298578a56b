import { expect } from 'chai';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';
import { metricNames } from '../../core/observability/metrics.js';

/** The value of one sample line (`name{labels} value`) in Prometheus text. */
function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe('metrics (e2e)', function () {
  let h: Harness;
  before(async function () {
    h = await startHarness();
  });
  after(async function () {
    await h?.close();
  });

  it('exports every documented metric with values from real requests', async function () {
    const tenantId = uniqueTenant('met');
    await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId, name: 'M' })
      .expect(201);
    const editor = h.token('editor', tenantId);
    const reader = h.token('reader', tenantId);
    const { body } = await request(h.url)
      .post('/api/v1/configs')
      .set('Authorization', `Bearer ${editor}`)
      .send({ tenantId, key: 'k', value: 'a', environment: 'Staging' })
      .expect(201);
    await request(h.url)
      .post('/api/v1/deployments')
      .set('Authorization', `Bearer ${editor}`)
      .send({ configId: body.configId, value: 'b' })
      .expect(201);
    const canary = await request(h.url)
      .post('/api/v1/deployments')
      .set('Authorization', `Bearer ${editor}`)
      .send({ configId: body.configId, value: 'c', strategy: 'Canary', bakeTimeSeconds: 600 })
      .expect(201);
    await request(h.url)
      .post(`/api/v1/deployments/${canary.body.deploymentId}/rollback`)
      .set('Authorization', `Bearer ${editor}`)
      .send({ reason: 'test' })
      .expect(200);
    await h.project();
    const path = `/api/v1/tenants/${tenantId}/environments/Staging/configs/k`;
    for (let i = 0; i < 5; i++) {
      await request(h.url).get(path).set('Authorization', `Bearer ${reader}`).expect(200);
    }
    await request(h.url)
      .get(`/api/v1/tenants/${tenantId}/environments/Staging/configs`)
      .set('Authorization', `Bearer ${reader}`)
      .expect(200);
    await request(h.url)
      .get(`/api/v1/configs/${body.configId}`)
      .set('Authorization', `Bearer ${reader}`)
      .expect(200);

    const res = await request(h.url)
      .get('/metrics')
      .expect(200)
      .expect('Content-Type', /text\/plain/);
    const text = res.text;
    for (const name of metricNames()) {
      expect(text, name).to.match(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    // The hot read path: sub-millisecond buckets, the spec's name, per route.
    expect(sample(text, 'config_get_duration_count', { route: 'key' })).to.equal(5);
    expect(sample(text, 'config_get_duration_count', { route: 'environment' })).to.equal(1);
    expect(text).to.match(/config_get_duration_bucket\{le="0\.1",route="key"\}/);
    expect(text).to.match(/config_get_duration_bucket\{le="10",route="key"\}/);
    // First read of the environment went to PostgreSQL, the rest were cache hits.
    expect(sample(text, 'cache_misses_total')).to.equal(1);
    expect(sample(text, 'cache_hits_total', { level: 'local' })).to.equal(5);
    expect(sample(text, 'cache_hit_rate')).to.be.closeTo(5 / 6, 1e-9);
    expect(sample(text, 'deployments_total', { outcome: 'completed' })).to.equal(1);
    expect(sample(text, 'deployments_total', { outcome: 'rolled_back' })).to.equal(1);
    expect(sample(text, 'deployments_failed_total')).to.equal(1);
    expect(
      sample(text, 'http_requests_total', {
        method: 'GET',
        route: '/api/v1/configs/:configId',
        status: '200',
      }),
    ).to.equal(1);
    expect(
      sample(text, 'http_requests_total', {
        route: '/api/v1/tenants/:tenantId/environments/:environment/configs/:key',
        status: '200',
      }),
    ).to.equal(5);
    expect(sample(text, 'event_append_duration_seconds_count')).to.be.greaterThanOrEqual(5);
    expect(sample(text, 'projection_lag_events', { projection: 'read-model' })).to.equal(0);
    expect(sample(text, 'projection_checkpoint_age_seconds', { projection: 'read-model' })).to.be.a(
      'number',
    );
    // The cache projection keeps its checkpoint (and when it moved) in Redis.
    const cacheAge = sample(text, 'projection_checkpoint_age_seconds', {
      projection: 'redis-cache',
    });
    expect(cacheAge).to.be.within(0, 60);
    expect(sample(text, 'projection_lag_events', { projection: 'redis-cache' })).to.equal(0);
    expect(
      sample(text, 'bullmq_queue_jobs', { queue: 'deployment-steps', state: 'waiting' }),
    ).to.be.a('number');
    expect(sample(text, 'active_tenants')).to.be.greaterThanOrEqual(1);
    expect(sample(text, 'active_configurations')).to.be.greaterThanOrEqual(1);
    expect(sample(text, 'event_store_up')).to.equal(1);
  });
});
