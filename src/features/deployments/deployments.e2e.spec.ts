import http from 'node:http';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { CommandContext } from '../../core/commands/command-handling.js';
import { CONFIG_PREFIX, deploymentStream } from '../../core/streams.js';
import { DeploymentCommands } from './deployments.commands.js';
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import { onCanary } from './deployment.decider.js';
import { Queues, stepJobId } from '../../core/jobs/queues.js';
import { rebuildProjections } from '../../core/projections/rebuild.js';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';

const ENV = 'Staging';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A view without what only a read knows (recorded times, the ledger) or a command (position). */
const unrecorded = (view: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(view).filter(
      ([k]) =>
        !['position', 'startedAt', 'completedAt', 'rolledBackAt', 'acknowledgements'].includes(k),
    ),
  );
const ctx = (): CommandContext => ({ userId: 'test-job', correlationId: `test-${randomUUID()}` });

interface Seeded {
  tenantId: string;
  editor: string;
  reader: string;
  configId: string;
  position: string;
}

/** A tenant with one config in Staging. */
async function seed(
  h: Harness,
  config: { key?: string; type?: string; value?: unknown } = {},
): Promise<Seeded> {
  const tenantId = uniqueTenant('dep');
  await request(h.url)
    .post('/api/v1/tenants')
    .set('Authorization', `Bearer ${h.admin}`)
    .send({ tenantId, name: 'Deployments', tier: 'Free' })
    .expect(201);
  const editor = h.token('editor', tenantId, { sub: 'alice' });
  const reader = h.token('reader', tenantId, { sub: 'app' });
  const res = await request(h.url)
    .post('/api/v1/configs')
    .set('Authorization', `Bearer ${editor}`)
    .send({
      tenantId,
      key: config.key ?? 'greeting',
      type: config.type ?? 'String',
      value: config.value ?? 'old',
      environment: ENV,
    })
    .expect(201);
  return {
    tenantId,
    editor,
    reader,
    configId: res.body.configId,
    position: res.headers['x-event-position']!,
  };
}

async function addConfig(h: Harness, s: Seeded, key: string, value: unknown, type = 'String') {
  const res = await request(h.url)
    .post('/api/v1/configs')
    .set('Authorization', `Bearer ${s.editor}`)
    .send({ tenantId: s.tenantId, key, type, value, environment: ENV })
    .expect(201);
  return res.body.configId as string;
}

/** Long bake: nothing moves unless the test moves it. */
const longCanary = { strategy: 'Canary', steps: [10, 50, 100], bakeTimeSeconds: 600 };

function deploy(h: Harness, token: string, body: Record<string, unknown>) {
  return request(h.url)
    .post('/api/v1/deployments')
    .set('Authorization', `Bearer ${token}`)
    .send(body);
}

async function startCanary(
  h: Harness,
  s: Seeded,
  extra: Record<string, unknown> = {},
  value: unknown = 'new',
) {
  const res = await deploy(h, s.editor, {
    configId: s.configId,
    value,
    ...longCanary,
    ...extra,
  }).expect(201);
  return { id: res.body.deploymentId as string, position: res.headers['x-event-position']! };
}

const getDeployment = (h: Harness, token: string, id: string, minPosition?: string) =>
  request(h.url)
    .get(`/api/v1/deployments/${id}${minPosition ? `?minPosition=${minPosition}` : ''}`)
    .set('Authorization', `Bearer ${token}`);

const getConfig = (h: Harness, token: string, configId: string, minPosition: string) =>
  request(h.url)
    .get(`/api/v1/configs/${configId}?minPosition=${minPosition}`)
    .set('Authorization', `Bearer ${token}`)
    .expect(200);

const action = (h: Harness, token: string, id: string, name: string, body?: object) =>
  request(h.url)
    .post(`/api/v1/deployments/${id}/${name}`)
    .set('Authorization', `Bearer ${token}`)
    .send(body ?? {});

const keyPath = (tenantId: string, key: string) =>
  `/api/v1/tenants/${tenantId}/environments/${ENV}/configs/${key}`;
const envPath = (tenantId: string) => `/api/v1/tenants/${tenantId}/environments/${ENV}/configs`;

/** One key on the hot read path as a client; minPosition makes it read-your-writes. */
function hotRead(
  h: Harness,
  s: Seeded,
  key: string,
  clientId: string | undefined,
  opts: { minPosition?: string; viaQuery?: boolean } = {},
) {
  const query = new URLSearchParams();
  if (clientId && opts.viaQuery) query.set('clientId', clientId);
  if (opts.minPosition) query.set('minPosition', opts.minPosition);
  const qs = query.toString();
  const req = request(h.url)
    .get(`${keyPath(s.tenantId, key)}${qs ? `?${qs}` : ''}`)
    .set('Authorization', `Bearer ${s.reader}`);
  if (clientId && !opts.viaQuery) void req.set('X-Client-Id', clientId);
  return req;
}

async function events(h: Harness, deploymentId: string): Promise<RecordedEvent[]> {
  return (await h.services.store.readStream(deploymentStream(deploymentId))).events;
}

const dataOf = (e: RecordedEvent) => e.data as Record<string, unknown>;

/** Events of these tenants (every event names its tenant), so other suites' jobs don't count. */
async function eventCount(h: Harness, ...tenantIds: string[]): Promise<number> {
  const { rows } = await h.services.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM es_events WHERE data->>'tenantId' = ANY($1)`,
    [tenantIds],
  );
  return rows[0]!.n;
}

/** Polls until `done` holds, failing with the last value after the deadline. */
async function pollUntil<T>(
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 5000,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      expect.fail(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    }
    await sleep(intervalMs);
  }
}

/** Waits until every projection has reached the head of the log. */
async function settle(h: Harness) {
  const head = await h.services.store.headPosition();
  await h.services.progress.waitFor(head, ['read-model', 'audit-log'], ['redis-cache']);
  return head;
}

const zeroCounts = { canary: { requests: 0, errors: 0 }, stable: { requests: 0, errors: 0 } };

describe('deployments (e2e)', function () {
  this.timeout(30_000);
  let h: Harness;
  before(async function () {
    h = await startHarness({ runProjector: true, runWorker: true });
  });
  after(async function () {
    await h?.close();
  });

  it('deploys directly: 201, completed at once, a new config version', async function () {
    const s = await seed(h);
    const res = await deploy(h, s.editor, { configId: s.configId, value: 'new' }).expect(201);
    const position = res.headers['x-event-position']!;
    const id = res.body.deploymentId as string;
    expect(id).to.match(/^dep_[0-9a-f]{32}$/);
    expect(res.headers.location).to.equal(`/api/v1/deployments/${id}`);
    expect(res.body).to.deep.equal({
      status: 'Completed',
      stepIndex: 0,
      deploymentId: id,
      tenantId: s.tenantId,
      configId: s.configId,
      key: 'greeting',
      environment: ENV,
      strategy: 'Direct',
      steps: [100],
      bakeTimeSeconds: 0,
      errorThreshold: 1,
      minRequests: 0,
      type: 'String',
      value: 'new',
      previousValue: 'old',
      deployedVersion: 2,
      current: zeroCounts,
      totals: zeroCounts,
      approvalId: null,
      // One view with the GET (issue 7): Canary-only share is null for Direct; the read's fields
      // join in (times are null in a command's answer), baseVersion is not in the read table.
      canaryPercentage: null,
      progress: 100,
      deployedBy: 'alice',
      startedAt: null,
      completedAt: null,
      errorMessage: null,
      metrics: {
        steps: [100],
        bakeTimeSeconds: 0,
        errorThreshold: 1,
        minRequests: 0,
        approvalId: null,
        stepIndex: 0,
        current: zeroCounts,
        totals: zeroCounts,
        history: [],
        version: 2,
        promoted: false,
      },
      wasRolledBack: false,
      rollbackReason: null,
      rolledBackAt: null,
      acknowledgements: null,
      position,
    });

    const config = await getConfig(h, s.reader, s.configId, position);
    expect(config.body).to.include({ version: 2, value: 'new', updatedBy: 'alice' });

    const row = await getDeployment(h, s.reader, id, position).expect(200);
    expect(row.body).to.include({
      deploymentId: id,
      configId: s.configId,
      tenantId: s.tenantId,
      environment: ENV,
      key: 'greeting',
      strategy: 'Direct',
      status: 'Completed',
      value: 'new',
      previousValue: 'old',
      progress: 100,
      canaryPercentage: null,
      deployedBy: 'alice',
      errorMessage: null,
      wasRolledBack: false,
      rollbackReason: null,
      rolledBackAt: null,
    });
    expect(row.body.completedAt).to.be.a('string');
    expect(row.body.metrics).to.include({ version: 2, promoted: false });
    // One view: the command's answer and the GET agree on every field they both know.
    expect(unrecorded(row.body)).to.deep.equal(unrecorded(res.body));

    // The config is free again: a direct write goes through.
    await request(h.url)
      .put(`/api/v1/configs/${s.configId}`)
      .set('Authorization', `Bearer ${s.editor}`)
      .send({ value: 'newer', expectedVersion: 2 })
      .expect(200);
    expect((await events(h, id)).map((e) => e.type)).to.deep.equal([
      'DeploymentStarted',
      'DeploymentCompleted',
    ]);
  });

  it('runs a canary through every step after its bake time, then completes', async function () {
    const s = await seed(h);
    const res = await deploy(h, s.editor, {
      configId: s.configId,
      value: 'new',
      strategy: 'Canary',
      steps: [10, 50, 100],
      bakeTimeSeconds: 0.4,
      errorThreshold: 0.5,
      minRequests: 1000,
    }).expect(201);
    const id = res.body.deploymentId as string;
    expect(res.body).to.include({ status: 'InProgress', stepIndex: 0, canaryPercentage: 10 });
    expect(res.body.deployedVersion).to.equal(null);

    // Metrics land in whatever step is current when they arrive (the response says which).
    const m1 = await action(h, s.reader, id, 'metrics', { requests: 7, errors: 1 }).expect(200);
    expect(m1.body.rolledBack).to.equal(false);

    const seen: [string, number][] = [];
    let m2: request.Response | undefined;
    const final = await pollUntil(
      'the canary to complete',
      async () => {
        const r = await getDeployment(h, s.reader, id, res.headers['x-event-position']).expect(200);
        const last = seen[seen.length - 1];
        if (!last || last[0] !== r.body.status || last[1] !== r.body.canaryPercentage) {
          seen.push([r.body.status, r.body.canaryPercentage]);
        }
        if (r.body.canaryPercentage === 50 && !m2) {
          m2 = await action(h, s.reader, id, 'metrics', {
            requests: 3,
            errors: 0,
            side: 'stable',
          }).expect(200);
        }
        return r;
      },
      (r) => r.body.status === 'Completed',
    );
    expect(seen).to.deep.equal([
      ['InProgress', 10],
      ['InProgress', 50],
      ['Completed', 100],
    ]);
    expect(final.body).to.include({ progress: 100, canaryPercentage: 100, value: 'new' });

    const config = await getConfig(h, s.reader, s.configId, (await settle(h)).toString());
    expect(config.body).to.include({ version: 2, value: 'new' });

    // The metrics column: one history entry per finished step, counts where they arrived.
    const steps = [0, 1].map((stepIndex) => ({ stepIndex, ...structuredClone(zeroCounts) }));
    steps[m1.body.stepIndex]!.canary = { requests: 7, errors: 1 };
    if (m2) steps[m2.body.stepIndex]!.stable = { requests: 3, errors: 0 };
    expect(m2, 'metrics reported at 50 %').to.not.equal(undefined);
    const row = await getDeployment(h, s.reader, id).expect(200);
    expect(row.body.metrics).to.deep.equal({
      steps: [10, 50, 100],
      bakeTimeSeconds: 0.4,
      errorThreshold: 0.5,
      minRequests: 1000,
      approvalId: null,
      stepIndex: 2,
      current: zeroCounts,
      totals: { canary: { requests: 7, errors: 1 }, stable: { requests: 3, errors: 0 } },
      history: steps,
      version: 2,
      promoted: false,
    });

    const log = await events(h, id);
    const advanced = log.filter((e) => e.type === 'DeploymentStepAdvanced').map(dataOf);
    expect(
      advanced.map((d) => [d.stepIndex, d.canaryPercentage, d.progress, d.value]),
    ).to.deep.equal([
      [1, 50, 50, 'new'],
      [2, 100, 100, 'new'],
    ]);
    expect(log[log.length - 1]!.type).to.equal('DeploymentCompleted');
    expect(dataOf(log[log.length - 1]!)).to.include({ version: 2, promoted: false });
    // Each step waited out its bake time.
    const at = (type: string, stepIndex?: number) =>
      log
        .find(
          (e) => e.type === type && (stepIndex === undefined || dataOf(e).stepIndex === stepIndex),
        )!
        .recordedAt.getTime();
    expect(at('DeploymentStepAdvanced', 1) - at('DeploymentStarted')).to.be.at.least(350);
    expect(at('DeploymentStepAdvanced', 2) - at('DeploymentStepAdvanced', 1)).to.be.at.least(350);
  });

  it('allows one active deployment per config; direct writes wait for it', async function () {
    const s = await seed(h);
    const first = await startCanary(h, s);
    const second = await deploy(h, s.editor, { configId: s.configId, value: 'other' }).expect(409);
    expect(second.body).to.include({ code: 'invalid_state', status: 409 });
    expect(second.body.activeDeploymentId).to.equal(first.id);
    const put = await request(h.url)
      .put(`/api/v1/configs/${s.configId}`)
      .set('Authorization', `Bearer ${s.editor}`)
      .send({ value: 'direct', expectedVersion: 1 })
      .expect(409);
    expect(put.body).to.include({ code: 'invalid_state', activeDeploymentId: first.id });
    await request(h.url)
      .delete(`/api/v1/configs/${s.configId}`)
      .set('Authorization', `Bearer ${s.editor}`)
      .expect(409);

    // Two racing starts on a free config: exactly one wins.
    const other = await addConfig(h, s, 'other', 'a');
    const raced = await Promise.all(
      ['b', 'c'].map((value) => deploy(h, s.editor, { configId: other, value, ...longCanary })),
    );
    expect(raced.map((r) => r.status).sort()).to.deep.equal([201, 409]);

    await action(h, s.editor, first.id, 'rollback', { reason: 'cleanup' }).expect(200);
    const winner = raced.find((r) => r.status === 201)!;
    await action(h, s.editor, winner.body.deploymentId, 'rollback', { reason: 'cleanup' }).expect(
      200,
    );
  });

  it('serves canary and stable sides stickily on the hot read path', async function () {
    const s = await seed(h);
    const dep = await startCanary(h, s);
    const ids = Array.from({ length: 10_000 }, (_, i) => `client-${i}`);
    const share = (pct: number) => ids.filter((c) => onCanary(c, dep.id, pct)).length / 100;
    expect(share(10)).to.be.within(8, 12);

    const sample = ids.slice(0, 200);
    async function sides(minPosition: string, pct: number) {
      const canary = new Set<string>();
      for (let i = 0; i < sample.length; i += 25) {
        const batch = sample.slice(i, i + 25);
        const responses = await Promise.all(
          batch.map((c, j) =>
            hotRead(h, s, 'greeting', c, { minPosition, viaQuery: j % 2 === 1 }).expect(200),
          ),
        );
        responses.forEach((r, j) => {
          const client = batch[j]!;
          const side = onCanary(client, dep.id, pct) ? 'canary' : 'stable';
          expect(r.body, client).to.deep.include({
            key: 'greeting',
            value: side === 'canary' ? 'new' : 'old',
            type: 'String',
            version: 1,
            configId: s.configId,
            deployment: { deploymentId: dep.id, side },
          });
          if (r.body.deployment.side === 'canary') canary.add(client);
        });
      }
      return canary;
    }
    const at10 = await sides(dep.position, 10);
    expect(at10.size).to.be.greaterThan(0);

    // Without a client id: the current value, no deployment.
    const anonymous = await hotRead(h, s, 'greeting', undefined, {
      minPosition: dep.position,
    }).expect(200);
    expect(anonymous.body).to.deep.equal({
      tenantId: s.tenantId,
      environment: ENV,
      key: 'greeting',
      value: 'old',
      type: 'String',
      version: 1,
      configId: s.configId,
      updatedAt: anonymous.body.updatedAt,
    });

    // The whole environment follows the same sides.
    const canaryClient = [...at10][0]!;
    const stableClient = sample.find((c) => !at10.has(c))!;
    const env = (client: string) =>
      request(h.url)
        .get(`${envPath(s.tenantId)}?minPosition=${dep.position}`)
        .set('Authorization', `Bearer ${s.reader}`)
        .set('X-Client-Id', client)
        .expect(200);
    const onC = await env(canaryClient);
    expect(onC.body.configs).to.deep.equal({ greeting: 'new' });
    expect(onC.body.deployments).to.deep.equal({
      greeting: { deploymentId: dep.id, side: 'canary' },
    });
    const onS = await env(stableClient);
    expect(onS.body.configs).to.deep.equal({ greeting: 'old' });
    expect(onS.body.deployments).to.deep.equal({
      greeting: { deploymentId: dep.id, side: 'stable' },
    });
    expect(onC.headers.etag).to.not.equal(onS.headers.etag);
    const anonymousEnv = await request(h.url)
      .get(`${envPath(s.tenantId)}?minPosition=${dep.position}`)
      .set('Authorization', `Bearer ${s.reader}`)
      .expect(200);
    expect(anonymousEnv.body.configs).to.deep.equal({ greeting: 'old' });

    // Next step (as the job would): nobody leaves the canary, and it grows to ~50 %.
    const moved = await h.services.deploymentCommands.advance(dep.id, 0, ctx());
    expect(moved.position).to.not.equal(undefined);
    expect(share(50)).to.be.within(48, 52);
    expect(ids.filter((c) => onCanary(c, dep.id, 10) && !onCanary(c, dep.id, 50))).to.deep.equal(
      [],
    );
    const at50 = await sides(moved.position!.toString(), 50);
    for (const c of at10) expect(at50.has(c), `${c} stays on the canary`).to.equal(true);
    expect(at50.size).to.be.greaterThan(at10.size);
    const row = await getDeployment(h, s.reader, dep.id, moved.position!.toString()).expect(200);
    expect(row.body).to.include({ canaryPercentage: 50, progress: 50, status: 'InProgress' });

    await action(h, s.editor, dep.id, 'rollback', { reason: 'cleanup' }).expect(200);
  });

  it('puts a non-ASCII client id on one side whether it comes as a header or a query', async function () {
    const s = await seed(h);
    const dep = await startCanary(h, s, { steps: [50, 100] });
    await settle(h);
    // Ids whose UTF-8 bytes read as Latin-1 would land on the other side.
    const ids = Array.from({ length: 40 }, (_, i) => `pod-é-${i}`).filter(
      (id) =>
        onCanary(id, dep.id, 50) !==
        onCanary(Buffer.from(id, 'utf8').toString('latin1'), dep.id, 50),
    );
    expect(ids.length).to.be.greaterThan(0);
    const viaHeader = (id: string) =>
      new Promise<string>((resolve, reject) => {
        http
          .get(
            `${h.url}${keyPath(s.tenantId, 'greeting')}`,
            // Raw UTF-8 bytes, as curl and most clients send them.
            {
              headers: {
                Authorization: `Bearer ${s.reader}`,
                'X-Client-Id': Buffer.from(id, 'utf8').toString('latin1'),
              },
            },
            (res) => {
              let body = '';
              res.setEncoding('utf8');
              res.on('data', (c: string) => (body += c));
              res.on('end', () => resolve((JSON.parse(body) as { value: string }).value));
            },
          )
          .on('error', reject);
      });
    for (const id of ids.slice(0, 3)) {
      const query = await hotRead(h, s, 'greeting', id, { viaQuery: true }).expect(200);
      const expected = onCanary(id, dep.id, 50) ? 'new' : 'old';
      expect(query.body.value, id).to.equal(expected);
      expect(await viaHeader(id), id).to.equal(expected);
    }
  });

  it('gives the whole environment a new ETag when another canary value is served', async function () {
    // Regression: src/queries/hot-read-cache.ts fromPostgres() takes the environment's ETag from the
    // configurations' last_position only, and envBody() adds `-c{count}-{hash of key names}` for a
    // canary-side client. Deployment events move neither, so after the Redis hash expired
    // (CacheTTL) a second canary on the same key gets the ETag of the first one, and a client
    // holding it is told 304 Not Modified while the value changed ('new' -> 'newer').
    const s = await seed(h);
    const envKey = h.services.keys.env(s.tenantId, ENV);
    const clients = Array.from({ length: 200 }, (_, i) => `client-${i}`);
    const env = (client: string, minPosition: string, etag?: string) => {
      const req = request(h.url)
        .get(`${envPath(s.tenantId)}?minPosition=${minPosition}`)
        .set('Authorization', `Bearer ${s.reader}`)
        .set('X-Client-Id', client);
      return etag ? req.set('If-None-Match', etag) : req;
    };
    const a = await startCanary(h, s, { steps: [50, 100] }, 'new');
    const onA = clients.find((c) => onCanary(c, a.id, 50))!;
    const first = await env(onA, a.position).expect(200);
    expect(first.body.configs).to.deep.equal({ greeting: 'new' });

    // The hash expires (as it does after CacheTTL); A is rolled back and B starts.
    await h.services.redis.del(envKey);
    await action(h, s.editor, a.id, 'rollback', { reason: 'bad' }).expect(200);
    const b = await startCanary(h, s, { steps: [50, 100] }, 'newer');
    try {
      const onB = clients.find((c) => onCanary(c, b.id, 50))!;
      const second = await env(onB, b.position).expect(200);
      expect(second.body.configs).to.deep.equal({ greeting: 'newer' });
      const conditional = await env(onB, b.position, first.headers.etag);
      const seen = `ETag ${first.headers.etag} for 'new', ${second.headers.etag} for 'newer'; If-None-Match: ${first.headers.etag} -> ${conditional.status}`;
      expect(second.headers.etag, seen).to.not.equal(first.headers.etag);
      expect(conditional.status, seen).to.equal(200);
    } finally {
      await action(h, s.editor, b.id, 'rollback', { reason: 'cleanup' }).expect(200);
    }
  });

  it('rolls back automatically when the canary error rate passes the threshold', async function () {
    const s = await seed(h);
    const dep = await startCanary(h, s, { errorThreshold: 0.1, minRequests: 20 });
    const sample = Array.from({ length: 100 }, (_, i) => `client-${i}`);
    const formerCanary = sample.filter((c) => onCanary(c, dep.id, 10));
    expect(formerCanary.length).to.be.greaterThan(0);
    const before = await hotRead(h, s, 'greeting', formerCanary[0], {
      minPosition: dep.position,
    }).expect(200);
    expect(before.body.value).to.equal('new');

    const report = (body: object) => action(h, s.reader, dep.id, 'metrics', body).expect(200);
    // The stable side never triggers a rollback, however bad.
    const stable = await report({ requests: 100, errors: 100, side: 'stable' });
    expect(stable.body).to.include({ rolledBack: false, status: 'InProgress' });
    // Below minRequests: counted, no rollback.
    const few = await report({ requests: 10, errors: 5 });
    expect(few.body).to.include({ rolledBack: false, status: 'InProgress' });
    expect(few.body.current.canary).to.deep.equal({ requests: 10, errors: 5 });
    // 10/30 = 33 % > 10 % with 30 >= 20 requests.
    const bad = await report({ requests: 20, errors: 5 });
    expect(bad.body).to.include({ rolledBack: true, status: 'RolledBack', stepIndex: 0 });
    expect(bad.body.current).to.deep.equal({
      canary: { requests: 30, errors: 10 },
      stable: { requests: 100, errors: 100 },
    });
    const position = bad.headers['x-event-position']!;
    const reason = 'Canary error rate 33.33% exceeded the 10.00% threshold at 10% (10/30 requests)';

    const row = await getDeployment(h, s.reader, dep.id, position).expect(200);
    expect(row.body).to.include({
      status: 'RolledBack',
      wasRolledBack: true,
      rollbackReason: reason,
      errorMessage: reason,
      completedAt: null,
      canaryPercentage: 10,
    });
    expect(row.body.rolledBackAt).to.be.a('string');
    expect(row.body.metrics).to.deep.include({
      automatic: true,
      restoredVersion: null,
      current: { canary: { requests: 30, errors: 10 }, stable: { requests: 100, errors: 100 } },
    });
    const { rolledBack: _, ...answer } = bad.body;
    expect(unrecorded(row.body)).to.deep.equal(unrecorded(answer));
    const last = (await events(h, dep.id)).pop()!;
    expect(last.type).to.equal('DeploymentRolledBack');
    expect(dataOf(last)).to.include({ automatic: true, reason, restoredVersion: null });
    expect(dataOf(last).errorRate).to.be.closeTo(1 / 3, 1e-9);

    // Every client, former canary side included, gets the old value with no deployment.
    for (const c of sample) {
      const r = await hotRead(h, s, 'greeting', c, { minPosition: position }).expect(200);
      expect(r.body.value, c).to.equal('old');
      expect(r.body.deployment, c).to.equal(undefined);
    }
    // ...also from the in-process copy (no minPosition), once the invalidation has arrived.
    await pollUntil(
      'the cached copy to drop the canary',
      () => hotRead(h, s, 'greeting', formerCanary[0]),
      (r) => r.body.value === 'old',
    );

    const config = await getConfig(h, s.reader, s.configId, position);
    expect(config.body).to.include({ version: 1, value: 'old' });
    const more = await action(h, s.reader, dep.id, 'metrics', { requests: 1, errors: 0 }).expect(
      409,
    );
    expect(more.body.code).to.equal('invalid_state');
    // The config is free again.
    await request(h.url)
      .put(`/api/v1/configs/${s.configId}`)
      .set('Authorization', `Bearer ${s.editor}`)
      .send({ value: 'fixed', expectedVersion: 1 })
      .expect(200);
  });

  it('rolls back manually: a running canary, a completed deployment, and refuses a stale one', async function () {
    // While running: the value never changed.
    const s = await seed(h);
    const running = await startCanary(h, s);
    const stopped = await action(h, s.editor, running.id, 'rollback', {
      reason: 'bad idea',
    }).expect(200);
    expect(stopped.body).to.include({ status: 'RolledBack', stepIndex: 0 });
    let position = stopped.headers['x-event-position']!;
    const row = await getDeployment(h, s.reader, running.id, position).expect(200);
    expect(row.body).to.include({
      status: 'RolledBack',
      wasRolledBack: true,
      rollbackReason: 'bad idea',
      errorMessage: null,
    });
    expect(row.body.metrics).to.include({ automatic: false, restoredVersion: null });
    expect(unrecorded(row.body)).to.deep.equal(unrecorded(stopped.body));
    const canaryClient = Array.from({ length: 200 }, (_, i) => `c${i}`).find((c) =>
      onCanary(c, running.id, 10),
    )!;
    const read = await hotRead(h, s, 'greeting', canaryClient, { minPosition: position }).expect(
      200,
    );
    expect(read.body).to.include({ value: 'old', version: 1 });
    expect((await getConfig(h, s.reader, s.configId, position)).body).to.include({
      version: 1,
      value: 'old',
    });
    const again = await action(h, s.editor, running.id, 'rollback', { reason: 'x' }).expect(409);
    expect(again.body.code).to.equal('invalid_state');

    // After completion: the previous value comes back as a new version.
    const direct = await deploy(h, s.editor, { configId: s.configId, value: 'new' }).expect(201);
    expect(direct.body.deployedVersion).to.equal(2);
    const reverted = await action(h, s.editor, direct.body.deploymentId, 'rollback', {
      reason: 'revert',
    }).expect(200);
    expect(reverted.body.status).to.equal('RolledBack');
    position = reverted.headers['x-event-position']!;
    expect((await getConfig(h, s.reader, s.configId, position)).body).to.include({
      version: 3,
      value: 'old',
    });
    const versions = await request(h.url)
      .get(`/api/v1/configs/${s.configId}/versions`)
      .set('Authorization', `Bearer ${s.reader}`)
      .expect(200);
    expect(versions.body.items[0]).to.include({
      version: 3,
      value: 'old',
      previousValue: 'new',
      changeType: 'RolledBack',
      changeDescription: `Rollback of deployment ${direct.body.deploymentId}: revert`,
      changedBy: 'alice',
    });
    const revertedRow = await getDeployment(h, s.reader, direct.body.deploymentId).expect(200);
    expect(revertedRow.body).to.include({ status: 'RolledBack', rollbackReason: 'revert' });
    expect(revertedRow.body.metrics).to.include({ automatic: false, restoredVersion: 1 });
    expect(unrecorded(revertedRow.body)).to.deep.equal(unrecorded(reverted.body));
    const hot = await hotRead(h, s, 'greeting', undefined, { minPosition: position }).expect(200);
    expect(hot.body).to.include({ value: 'old', version: 3 });

    // Changed since the deployment: the rollback would overwrite that change.
    const later = await deploy(h, s.editor, { configId: s.configId, value: 'v4' }).expect(201);
    await request(h.url)
      .put(`/api/v1/configs/${s.configId}`)
      .set('Authorization', `Bearer ${s.editor}`)
      .send({ value: 'v5', expectedVersion: 4 })
      .expect(200);
    const before = await eventCount(h, s.tenantId);
    const stale = await action(h, s.editor, later.body.deploymentId, 'rollback', {
      reason: 'too late',
    }).expect(409);
    expect(stale.body).to.include({ code: 'stale', currentVersion: 5 });
    expect(await eventCount(h, s.tenantId)).to.equal(before);

    // The list, by status.
    const list = (status: string) =>
      request(h.url)
        .get(
          `/api/v1/deployments?tenantId=${s.tenantId}&environment=${ENV}&status=${status}&minPosition=${position}`,
        )
        .set('Authorization', `Bearer ${s.reader}`)
        .expect(200);
    const rolledBack = (await list('RolledBack')).body;
    expect(rolledBack.total).to.equal(2);
    expect(
      rolledBack.items.map((d: { deploymentId: string }) => d.deploymentId).sort(),
    ).to.deep.equal([running.id, direct.body.deploymentId].sort());
    await settle(h);
    const completed = (await list('Completed')).body;
    expect(completed.items.map((d: { deploymentId: string }) => d.deploymentId)).to.deep.equal([
      later.body.deploymentId,
    ]);
    expect((await list('InProgress')).body.total).to.equal(0);
  });

  it('pauses (the step job does nothing), resumes (advances after the bake) and promotes', async function () {
    const s = await seed(h);
    const queues = new Queues(h.settings);
    try {
      const res = await deploy(h, s.editor, {
        configId: s.configId,
        value: 'new',
        strategy: 'Canary',
        steps: [10, 50, 100],
        bakeTimeSeconds: 0.5,
      }).expect(201);
      const id = res.body.deploymentId as string;
      const pause = await action(h, s.editor, id, 'pause').expect(200);
      expect(pause.body).to.include({ status: 'Paused', stepIndex: 0, canaryPercentage: 10 });
      const pauseAgain = await action(h, s.editor, id, 'pause').expect(200);
      expect(pauseAgain.body).to.include({ status: 'Paused', position: null });

      // The step job for step 0 runs after the bake time and finds the deployment paused.
      const jobId = stepJobId(id, 0, 0n);
      await pollUntil(
        'the step-0 job to run',
        async () => (await queues.steps.getJobState(jobId)) as string,
        (state) => state === 'completed',
      );
      const job = await queues.steps.getJob(jobId);
      expect(job!.returnvalue).to.deep.equal({ position: null });
      const paused = await getDeployment(h, s.reader, id, (await settle(h)).toString()).expect(200);
      expect(paused.body).to.include({ status: 'Paused', canaryPercentage: 10, progress: 0 });
      expect((await events(h, id)).map((e) => e.type)).to.deep.equal([
        'DeploymentStarted',
        'DeploymentPaused',
      ]);

      const resume = await action(h, s.editor, id, 'resume').expect(200);
      expect(resume.body).to.include({ status: 'InProgress', stepIndex: 0 });
      const resumeAgain = await action(h, s.editor, id, 'resume').expect(200);
      expect(resumeAgain.body).to.include({ status: 'InProgress', position: null });
      await pollUntil(
        'the canary to reach 50 % after resuming',
        () => getDeployment(h, s.reader, id).expect(200),
        (r) => r.body.canaryPercentage === 50,
      );
      const log = await events(h, id);
      const resumedAt = log.find((e) => e.type === 'DeploymentResumed')!.recordedAt.getTime();
      const advancedAt = log.find((e) => e.type === 'DeploymentStepAdvanced')!.recordedAt.getTime();
      expect(advancedAt - resumedAt).to.be.at.least(450);

      const promote = await action(h, s.editor, id, 'promote').expect(200);
      expect(promote.body).to.include({
        status: 'Completed',
        stepIndex: 2,
        canaryPercentage: 100,
        deployedVersion: 2,
      });
      const position = promote.headers['x-event-position']!;
      const row = await getDeployment(h, s.reader, id, position).expect(200);
      expect(row.body).to.include({ status: 'Completed', progress: 100, canaryPercentage: 100 });
      expect(row.body.metrics).to.include({ promoted: true, version: 2 });
      expect((await getConfig(h, s.reader, s.configId, position)).body).to.include({
        version: 2,
        value: 'new',
      });
      const after = await events(h, id);
      expect(
        after.slice(-2).map((e) => [e.type, dataOf(e).stepIndex ?? dataOf(e).promoted]),
      ).to.deep.equal([
        ['DeploymentStepAdvanced', 2],
        ['DeploymentCompleted', true],
      ]);
      // Nothing to promote, pause or resume any more.
      for (const name of ['promote', 'pause', 'resume']) {
        const r = await action(h, s.editor, id, name).expect(409);
        expect(r.body.code, name).to.equal('invalid_state');
      }
      // The step-1 job (due 0.5 s after step 1) finds it completed and does nothing.
      await pollUntil(
        'the step-1 job to run',
        async () => {
          const advanced = after.find((e) => e.type === 'DeploymentStepAdvanced')!;
          return (await queues.steps.getJobState(stepJobId(id, 1, advanced.revision))) as string;
        },
        (state) => state === 'completed',
      );
      expect((await events(h, id)).length).to.equal(after.length);
    } finally {
      await queues.close();
    }
  });

  it('voids the step job from before a pause once resumed: the step bakes again in full', async function () {
    const s = await seed(h);
    const dep = await startCanary(h, s);
    await action(h, s.editor, dep.id, 'pause').expect(200);
    await action(h, s.editor, dep.id, 'resume').expect(200);
    // The job scheduled when the canary started (bake 1) comes due: it must not move the step.
    const early = await h.services.deploymentCommands.advance(dep.id, 0, ctx(), 1);
    expect(early.position).to.equal(undefined);
    // The resume scheduled its own job, for bake 2, a whole bake time after the resume.
    const log = await events(h, dep.id);
    const resumed = log.find((e) => e.type === 'DeploymentResumed')!;
    expect(dataOf(resumed).bake).to.equal(2);
    const queues = new Queues(h.settings);
    try {
      const job = await pollUntil(
        'the resume to schedule its step job',
        () => queues.steps.getJob(stepJobId(dep.id, 0, resumed.revision)),
        (j) => j !== undefined,
      );
      expect(job!.data).to.include({ deploymentId: dep.id, stepIndex: 0, bake: 2 });
      expect(job!.opts.delay).to.be.greaterThan(590_000);
    } finally {
      await queues.close();
    }
    const due = await h.services.deploymentCommands.advance(dep.id, 0, ctx(), 2);
    expect(due.position).to.not.equal(undefined);
    expect(due.state).to.include({ stepIndex: 1 });
  });

  it('pauses and resumes while apps report metrics: every answer a 200, no 500', async function () {
    const s = await seed(h);
    const dep = await startCanary(h, s, { minRequests: 1_000_000 });
    for (let round = 0; round < 8; round++) {
      const reports = Array.from({ length: 8 }, () =>
        action(h, s.reader, dep.id, 'metrics', { requests: 10, errors: 0, side: 'canary' }),
      );
      const steer = action(h, s.editor, dep.id, round % 2 ? 'resume' : 'pause');
      const [steered, ...reported] = await Promise.all([steer, ...reports]);
      expect(steered.status, `round ${round}`).to.equal(200);
      for (const r of reported) expect(r.status).to.equal(200);
    }
  });

  it("pauses a suspended tenant's rollout at its next step instead of writing a version", async function () {
    const s = await seed(h);
    const dep = await startCanary(h, s);
    const suspend = (status: string) =>
      request(h.url)
        .patch(`/api/v1/tenants/${s.tenantId}`)
        .set('Authorization', `Bearer ${h.admin}`)
        .send({ status })
        .expect(200);
    await suspend('Suspended');
    const job = await h.services.deploymentCommands.advance(dep.id, 0, ctx(), 1);
    expect(job.state).to.include({ status: 'Paused', stepIndex: 0 });
    expect((await events(h, dep.id)).map((e) => e.type)).to.deep.equal([
      'DeploymentStarted',
      'DeploymentPaused',
    ]);
    for (const name of ['resume', 'promote']) {
      const refused = await action(h, s.editor, dep.id, name).expect(409);
      expect(refused.body.code, name).to.equal('invalid_state');
    }
    await suspend('Active');
    await action(h, s.editor, dep.id, 'resume').expect(200);
    await action(h, s.editor, dep.id, 'promote').expect(200);
  });

  it('is harmless when a step job runs twice', async function () {
    const s = await seed(h);
    const dep = await startCanary(h, s);
    const twice = await Promise.all([
      h.services.deploymentCommands.advance(dep.id, 0, ctx()),
      h.services.deploymentCommands.advance(dep.id, 0, ctx()),
    ]);
    expect(twice.filter((r) => r.position !== undefined)).to.have.length(1);
    const late = await h.services.deploymentCommands.advance(dep.id, 0, ctx());
    expect(late.position).to.equal(undefined);
    let log = await events(h, dep.id);
    expect(
      log.filter((e) => e.type === 'DeploymentStepAdvanced').map((e) => dataOf(e).stepIndex),
    ).to.deep.equal([1]);

    // The last step's job twice: one completion, one new config version.
    const done = await h.services.deploymentCommands.advance(dep.id, 1, ctx());
    expect(done.position).to.not.equal(undefined);
    const again = await h.services.deploymentCommands.advance(dep.id, 1, ctx());
    expect(again.position).to.equal(undefined);
    log = await events(h, dep.id);
    expect(log.map((e) => e.type)).to.deep.equal([
      'DeploymentStarted',
      'DeploymentStepAdvanced',
      'DeploymentStepAdvanced',
      'DeploymentCompleted',
    ]);
    const position = (await settle(h)).toString();
    const versions = await request(h.url)
      .get(`/api/v1/configs/${s.configId}/versions?minPosition=${position}`)
      .set('Authorization', `Bearer ${s.reader}`)
      .expect(200);
    expect(versions.body.items.map((v: { version: number }) => v.version)).to.deep.equal([2, 1]);
  });

  it('is harmless when the last step job races another completion', async function () {
    // Regression: deployments.commands.ts complete() (line ~510) reads the deployment, then
    // the config. When another completion (a second job, a promote) commits in between, the config
    // no longer names this deployment and decideCompleteDeployment throws invalid_state ("does not
    // hold this configuration") instead of retrying against the new state, where the deployment is
    // Completed and the job has nothing to do. Seen without the gate below too: two concurrent
    // advance(id, 1) calls fail this way in about one run out of three.
    const s = await seed(h);
    const dep = await startCanary(h, s);
    await h.services.deploymentCommands.advance(dep.id, 0, ctx());

    // A second DeploymentCommands whose reads of the config wait until the test opens the gate.
    let atConfigRead!: () => void;
    const reached = new Promise<void>((r) => (atConfigRead = r));
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const store = h.services.store;
    const gated = new Proxy(store, {
      get(target, prop) {
        if (prop === 'readStream') {
          return async (streamId: string) => {
            if (streamId.startsWith(CONFIG_PREFIX)) {
              atConfigRead();
              await gate;
            }
            return target.readStream(streamId);
          };
        }
        const value = Reflect.get(target, prop) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const slowJob = new DeploymentCommands(gated);
    const late = slowJob.advance(dep.id, 1, ctx()).then(
      (r) => ({ ok: true as const, position: r.position }),
      (error: Error) => ({ ok: false as const, error: error.message }),
    );
    await reached;
    const first = await h.services.deploymentCommands.advance(dep.id, 1, ctx());
    expect(first.position).to.not.equal(undefined);
    open();
    expect(await late).to.deep.equal({ ok: true, position: undefined });
    const log = await events(h, dep.id);
    expect(log.filter((e) => e.type === 'DeploymentCompleted')).to.have.length(1);
  });

  it('validates requests and refuses what cannot be done', async function () {
    const s = await seed(h, { key: 'limit', type: 'Integer', value: 1 });
    const before = await eventCount(h, s.tenantId);
    expect(before, 'tenant created, 3 environments, config registered and created').to.equal(6);
    const refused = async (body: Record<string, unknown>, status: number, field: string) => {
      const r = await deploy(h, s.editor, { configId: s.configId, ...body }).expect(status);
      expect(r.headers['content-type']).to.match(/problem\+json/);
      expect(r.body.field, JSON.stringify(body)).to.equal(field);
      return r.body;
    };
    const notTo100 = await refused({ value: 2, strategy: 'Canary', steps: [10, 50] }, 422, 'steps');
    expect(notTo100).to.include({ code: 'validation', status: 422 });
    await refused({ value: 2, strategy: 'Canary', steps: [50, 10, 100] }, 422, 'steps');
    await refused({ value: 2, strategy: 'Canary', steps: [10, 10, 100] }, 422, 'steps');
    const wrongType = await refused({ value: 'abc' }, 422, 'value');
    expect(wrongType.detail).to.equal('value must be a whole number for type Integer');
    await refused({ value: 1 }, 422, 'value'); // already the current value
    await refused({ value: 2, expectedVersion: 7 }, 409, 'expectedVersion');
    await refused({ value: 2, strategy: 'Canary', steps: [100] }, 400, 'steps');
    const unknown = await deploy(h, s.editor, { configId: 'cfg_nope', value: 2 }).expect(404);
    expect(unknown.body).to.include({ code: 'not_found', field: 'configId' });
    const missing = await action(h, s.reader, 'dep_nope', 'metrics', {
      requests: 1,
      errors: 0,
    }).expect(404);
    expect(missing.body).to.include({ code: 'not_found', field: 'deploymentId' });
    await getDeployment(h, s.reader, 'dep_nope').expect(404);
    expect(await eventCount(h, s.tenantId)).to.equal(before);

    // Metrics: errors above requests, and an unknown side.
    const dep = await startCanary(h, s, {}, 2);
    const counted = await eventCount(h, s.tenantId);
    const tooMany = await action(h, s.reader, dep.id, 'metrics', {
      requests: 1,
      errors: 2,
    }).expect(422);
    expect(tooMany.body).to.include({ code: 'validation', field: 'errors' });
    await action(h, s.reader, dep.id, 'metrics', { requests: 1, errors: 0, side: 'both' }).expect(
      400,
    );
    expect(await eventCount(h, s.tenantId)).to.equal(counted);
    await action(h, s.editor, dep.id, 'rollback', { reason: 'cleanup' }).expect(200);

    // Metrics for a completed deployment.
    const direct = await deploy(h, s.editor, { configId: s.configId, value: 3 }).expect(201);
    const late = await action(h, s.reader, direct.body.deploymentId, 'metrics', {
      requests: 1,
      errors: 0,
    }).expect(409);
    expect(late.body).to.include({ code: 'invalid_state', status: 409 });
  });

  it("hides a deployment from other tenants; a reader reports metrics but can't steer", async function () {
    const s = await seed(h);
    const dep = await startCanary(h, s);
    const other = await seed(h);
    const stranger = other.editor;
    const before = await eventCount(h, s.tenantId, other.tenantId);

    const hidden = await getDeployment(h, stranger, dep.id, dep.position).expect(404);
    expect(hidden.body).to.include({ code: 'not_found', field: 'deploymentId' });
    for (const name of ['rollback', 'pause', 'resume', 'promote']) {
      const r = await action(h, stranger, dep.id, name, name === 'rollback' ? { reason: 'x' } : {});
      expect(r.status, name).to.equal(404);
      expect(r.body, name).to.include({ code: 'not_found', field: 'deploymentId' });
    }
    await action(h, other.reader, dep.id, 'metrics', { requests: 1, errors: 0 }).expect(404);
    await request(h.url)
      .get(`/api/v1/deployments?tenantId=${s.tenantId}`)
      .set('Authorization', `Bearer ${stranger}`)
      .expect(404);
    const foreign = await deploy(h, stranger, { configId: s.configId, value: 'x' }).expect(404);
    expect(foreign.body).to.include({ code: 'not_found', field: 'configId' });
    expect(await eventCount(h, s.tenantId, other.tenantId)).to.equal(before);

    // The tenant's own reader: reads and reports, but does not steer.
    await getDeployment(h, s.reader, dep.id).expect(200);
    const reported = await action(h, s.reader, dep.id, 'metrics', {
      requests: 5,
      errors: 0,
    }).expect(200);
    expect(reported.body).to.include({ rolledBack: false, status: 'InProgress' });
    for (const name of ['pause', 'resume', 'promote', 'rollback']) {
      const r = await action(h, s.reader, dep.id, name, name === 'rollback' ? { reason: 'x' } : {});
      expect(r.status, name).to.equal(403);
    }
    await deploy(h, s.reader, { configId: s.configId, value: 'x' }).expect(403);
    expect(await eventCount(h, s.tenantId, other.tenantId)).to.equal(before + 1);
    const list = await request(h.url)
      .get(
        `/api/v1/deployments?tenantId=${s.tenantId}&minPosition=${reported.headers['x-event-position']}`,
      )
      .set('Authorization', `Bearer ${s.reader}`)
      .expect(200);
    expect(list.body.items.map((d: { deploymentId: string }) => d.deploymentId)).to.deep.equal([
      dep.id,
    ]);
    expect(list.body.items[0].metrics.current.canary).to.deep.equal({ requests: 5, errors: 0 });
    await action(h, s.editor, dep.id, 'rollback', { reason: 'cleanup' }).expect(200);
  });

  it('lists only the environments an environment-limited token may read', async function () {
    // Regression: src/api/routes/workflows.ts GET /deployments authorises the query's environment, which
    // is optional; without it a token limited to Development lists (values included) the
    // deployments of every environment. GET /configs filters by the token's environments.
    const s = await seed(h);
    const devConfig = await request(h.url)
      .post('/api/v1/configs')
      .set('Authorization', `Bearer ${s.editor}`)
      .send({ tenantId: s.tenantId, key: 'greeting', value: 'dev', environment: 'Development' })
      .expect(201);
    const staging = await deploy(h, s.editor, { configId: s.configId, value: 'secret-ish' }).expect(
      201,
    );
    const dev = await deploy(h, s.editor, {
      configId: devConfig.body.configId,
      value: 'dev2',
    }).expect(201);
    const devOnly = h.token('reader', s.tenantId, { environments: ['Development'], sub: 'dev' });
    const position = dev.headers['x-event-position']!;
    await getDeployment(h, devOnly, staging.body.deploymentId, position).expect(403);
    await request(h.url)
      .get(`/api/v1/deployments?tenantId=${s.tenantId}&environment=${ENV}`)
      .set('Authorization', `Bearer ${devOnly}`)
      .expect(403);
    const own = await request(h.url)
      .get(
        `/api/v1/deployments?tenantId=${s.tenantId}&environment=Development&minPosition=${position}`,
      )
      .set('Authorization', `Bearer ${devOnly}`)
      .expect(200);
    expect(own.body.items.map((d: { deploymentId: string }) => d.deploymentId)).to.deep.equal([
      dev.body.deploymentId,
    ]);
    const all = await request(h.url)
      .get(`/api/v1/deployments?tenantId=${s.tenantId}&minPosition=${position}`)
      .set('Authorization', `Bearer ${devOnly}`)
      .expect(200);
    expect(all.body.items.map((d: { environment: string }) => d.environment)).to.deep.equal([
      'Development',
    ]);
  });

  it('rebuilds the deployments table row for row', async function () {
    // Quiet first: nothing may still be moving.
    await settle(h);
    const { rows: live } = await h.services.pool.query<{ deployment_id: string }>(
      `SELECT deployment_id FROM deployments WHERE status IN ('InProgress', 'Paused')`,
    );
    for (const { deployment_id } of live) {
      await h.services.deploymentCommands.rollback(deployment_id, 'quiet', ctx(), () => undefined);
    }
    await settle(h);
    const snapshot = async () =>
      (await h.services.pool.query('SELECT * FROM deployments ORDER BY deployment_id')).rows;
    const before = await snapshot();
    expect(before.length).to.be.at.least(10);
    await rebuildProjections(h.services, h.projector, [], () => {});
    await settle(h);
    const after = await snapshot();
    expect(after).to.deep.equal(before);
  });
});
