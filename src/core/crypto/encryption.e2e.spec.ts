import { expect } from 'chai';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';
import { redisUrl } from '../../../test/support/test-env.js';
import { npmRun, processEnv } from '../../../test/support/processes.js';
import { startVaultTransit, type VaultTransitServer } from '../../../test/support/vault-transit.js';
import { exportEvents } from '../../features/backup/event-transfer.js';
import { rebuildProjections } from '../projections/rebuild.js';
import { createProjector } from '../../composition.js';
import { MASK } from '../../features/configs/config-values.js';
import { KeyDestroyedError, isCiphertext, parseCiphertext } from './envelope.js';
import { DataKeys } from './data-keys.js';
import { LocalKeyWrapper, parseMasterKeys } from './key-wrapping.js';
import { ValueCipher } from './value-cipher.js';
import { VaultTransitWrapper } from './vault-transit.js';

const newMasterKey = () => randomBytes(32).toString('base64');
const secret = (label: string) => `${label}-${randomBytes(8).toString('hex')}`;

/** Every log line the service writes, as text. */
function capturedLogger() {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level: 'trace' }, sink), text: () => chunks.join('') };
}

/** Every row of every table of the service's schema, as PostgreSQL prints it (`row::text`). */
async function tableTexts(h: Harness): Promise<Map<string, string>> {
  const { rows: tables } = await h.services.pool.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
  );
  const out = new Map<string, string>();
  for (const { table_name: t } of tables) {
    const { rows } = await h.services.pool.query<{ row: string }>(
      `SELECT x::text AS row FROM "${t}" x`,
    );
    out.set(t, rows.map((r) => r.row).join('\n'));
  }
  return out;
}

/** Every Redis key of the run's prefix with its content, whatever its type. */
async function redisTexts(prefix: string): Promise<Map<string, string>> {
  const redis = new Redis(redisUrl.includes('://') ? redisUrl : `redis://${redisUrl}`);
  const out = new Map<string, string>();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        const content =
          type === 'string'
            ? await redis.get(key)
            : type === 'hash'
              ? JSON.stringify(await redis.hgetall(key))
              : type === 'list'
                ? JSON.stringify(await redis.lrange(key, 0, -1))
                : type === 'set'
                  ? JSON.stringify(await redis.smembers(key))
                  : type === 'zset'
                    ? JSON.stringify(await redis.zrange(key, 0, -1))
                    : type === 'stream'
                      ? JSON.stringify(await redis.xrange(key, '-', '+'))
                      : '';
        out.set(key, content ?? '');
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return out;
}

async function exported(h: Harness, tenantId?: string): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await exportEvents(h.services.store, { out, tenantId });
  out.end();
  return Buffer.concat(chunks).toString();
}

/** Where any of the secrets appears (table, Redis key, log, export), by name. */
function leaks(places: Map<string, string>, secrets: string[]): string[] {
  const found: string[] = [];
  for (const [where, text] of places) {
    for (const s of secrets) if (text.includes(s)) found.push(`${where}: ${s}`);
  }
  return found;
}

/** The first server-sent event of a stream. */
function firstEvent(url: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      url,
      { headers: { Accept: 'text/event-stream', Authorization: `Bearer ${token}` } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
          const end = text.indexOf('\n\n', text.indexOf('event: snapshot'));
          if (text.includes('event: snapshot') && end >= 0) {
            req.destroy();
            resolve(text.slice(0, end));
          }
        });
        res.on('error', () => undefined);
      },
    );
    req.on('error', (e) => (e.message === 'socket hang up' ? undefined : reject(e)));
  });
}

interface Tenant {
  tenantId: string;
  name: string;
  admin: string;
  editor: string;
  reader: string;
  approver: string;
}

async function newTenant(h: Harness): Promise<Tenant> {
  const tenantId = uniqueTenant('enc');
  const name = `Tenant ${tenantId}`;
  await request(h.url)
    .post('/api/v1/tenants')
    .set('Authorization', `Bearer ${h.admin}`)
    .send({ tenantId, name, tier: 'Enterprise' })
    .expect(201);
  return {
    tenantId,
    name,
    admin: h.token('tenant-admin', tenantId),
    editor: h.token('editor', tenantId),
    reader: h.token('reader', tenantId),
    approver: h.token('approver', tenantId, { sub: 'an-approver' }),
  };
}

async function createEncrypted(
  h: Harness,
  t: Tenant,
  key: string,
  value: string,
  extra: Record<string, unknown> = {},
) {
  const res = await request(h.url)
    .post('/api/v1/configs')
    .set('Authorization', `Bearer ${t.editor}`)
    .send({
      tenantId: t.tenantId,
      key,
      value,
      environment: 'Development',
      isEncrypted: true,
      ...extra,
    })
    .expect(201);
  return res.body as { configId: string; version: number; value: string };
}

const hotPath = (t: Tenant, env = 'Development') =>
  `/api/v1/tenants/${t.tenantId}/environments/${env}/configs`;

describe('encryption at rest (e2e)', function () {
  this.timeout(120_000);

  describe('with master keys', function () {
    let h: Harness;
    const log = capturedLogger();
    const k1 = newMasterKey();
    before(async function () {
      h = await startHarness({
        overrides: {
          Encryption__MasterKey: `k1:${k1}`,
          Logging__LogLevel__Default: 'Trace',
          ConfigService__AccessLogSampleRate: '1',
          ConfigService__HotReadLogSampleRate: '1',
          ConfigService__Webhooks__AllowPrivateNetworks: 'true',
        },
        logger: log.logger,
      });
    });
    after(async function () {
      await h?.close();
    });

    it('keeps an encrypted value out of every table, Redis key, log line and export', async function () {
      const t = await newTenant(h);
      const [v1, v2, dflt, proposed, canary] = ['v1', 'v2', 'default', 'proposed', 'canary'].map(
        secret,
      ) as [string, string, string, string, string];
      const created = await createEncrypted(h, t, 'db.password', v1, { defaultValue: dflt });
      // The writer is an editor: not allowed to reveal, so even the answer is masked.
      expect(created.value).to.equal(MASK);
      await request(h.url)
        .put(`/api/v1/configs/${created.configId}`)
        .set('Authorization', `Bearer ${t.editor}`)
        .set('If-Match', '"1"')
        .send({ value: v2 })
        .expect(200);
      // A change request that creates an encrypted config in Production, approved.
      const cr = await request(h.url)
        .post('/api/v1/approvals')
        .set('Authorization', `Bearer ${t.editor}`)
        .send({
          tenantId: t.tenantId,
          key: 'api.token',
          environment: 'Production',
          type: 'String',
          value: proposed,
          isEncrypted: true,
        })
        .expect(201);
      expect(cr.body.isSensitive).to.equal(true);
      await request(h.url)
        .post(`/api/v1/approvals/${cr.body.approvalId}/approve`)
        .set('Authorization', `Bearer ${t.approver}`)
        .send({})
        .expect(200);
      // The hot read path fills Redis; then a canary puts its value beside it.
      await h.project();
      await request(h.url).get(hotPath(t)).set('Authorization', `Bearer ${t.reader}`).expect(200);
      const deployment = await request(h.url)
        .post('/api/v1/deployments')
        .set('Authorization', `Bearer ${t.editor}`)
        .send({
          configId: created.configId,
          value: canary,
          strategy: 'Canary',
          steps: [10, 50, 100],
          bakeTimeSeconds: 3600,
        })
        .expect(201)
        .then((r) => {
          // Its answer masks the encrypted values too.
          expect(r.body).to.include({ value: MASK, previousValue: MASK });
          return r;
        });
      // A webhook: its signing secret is shown once and stored encrypted.
      const hook = await request(h.url)
        .post(`/api/v1/tenants/${t.tenantId}/webhooks`)
        .set('Authorization', `Bearer ${t.admin}`)
        .send({ url: 'http://127.0.0.1:9/hook', events: ['config.changed'] })
        .expect(201);
      const hookSecret = hook.body.secret as string;
      expect(hookSecret).to.be.a('string').with.length.greaterThan(10);
      await h.project();
      // Served: masked to a reader, plain to the tenant admin, on the hot path and its stream.
      const masked = await request(h.url)
        .get(`${hotPath(t)}/db.password`)
        .set('Authorization', `Bearer ${t.reader}`)
        .expect(200);
      expect(masked.body.value).to.equal(MASK);
      const plain = await request(h.url)
        .get(`${hotPath(t)}/db.password`)
        .set('Authorization', `Bearer ${t.admin}`)
        .expect(200);
      expect(plain.body.value).to.equal(v2);
      const frame = await firstEvent(`${h.url}${hotPath(t)}`, t.reader);
      expect(frame).to.include(MASK).and.not.include(v2);
      const adminFrame = await firstEvent(`${h.url}${hotPath(t)}`, t.admin);
      expect(adminFrame).to.include(v2);

      const secrets = [v1, v2, dflt, proposed, canary, hookSecret];
      const tables = await tableTexts(h);
      expect(leaks(tables, secrets), 'tables holding a plain value').to.deep.equal([]);
      // The values are there, encrypted: the event log names the key id and version.
      expect(tables.get('es_events')).to.match(new RegExp(`enc:v1:${t.tenantId}:1:`));
      for (const table of [
        'configurations',
        'config_versions',
        'approval_requests',
        'deployments',
      ]) {
        expect(tables.get(table), table).to.include(`enc:v1:${t.tenantId}:1:`);
      }
      expect(tables.get('audit_logs')).to.include(t.tenantId);
      const redis = await redisTexts(h.settings.redisKeyPrefix);
      expect(leaks(redis, secrets), 'Redis keys holding a plain value').to.deep.equal([]);
      const hash = redis.get(`${h.settings.redisKeyPrefix}env:${t.tenantId}:Development`);
      expect(hash, 'the environment is cached').to.include('enc:v1:').and.include('~canary:');
      const exportText = await exported(h);
      expect(leaks(new Map([['export', exportText]]), secrets)).to.deep.equal([]);
      expect(exportText).to.include(`enc:v1:${t.tenantId}:`);
      const logText = log.text();
      expect(logText.length, 'the service logged').to.be.greaterThan(0);
      expect(leaks(new Map([['log', logText]]), secrets)).to.deep.equal([]);
      // No canary left running: other tests' harnesses (without this key) advance every one.
      await request(h.url)
        .post(`/api/v1/deployments/${deployment.body.deploymentId}/rollback`)
        .set('Authorization', `Bearer ${t.editor}`)
        .send({ reason: 'test done' })
        .expect(200);
    });

    it('reveals to platform and tenant admins only; lists and history stay masked', async function () {
      const t = await newTenant(h);
      const v = secret('reveal');
      const { configId } = await createEncrypted(h, t, 'smtp.password', v);
      await h.project();
      const get = (token: string) =>
        request(h.url)
          .get(`/api/v1/configs/${configId}`)
          .set('Authorization', `Bearer ${token}`)
          .expect(200);
      expect((await get(t.reader)).body.value).to.equal(MASK);
      expect((await get(t.editor)).body.value).to.equal(MASK);
      expect((await get(t.admin)).body).to.include({
        value: v,
        isEncrypted: true,
        isSensitive: true,
      });
      expect((await get(h.admin)).body.value).to.equal(v);
      const list = await request(h.url)
        .get(`/api/v1/configs?tenantId=${t.tenantId}`)
        .set('Authorization', `Bearer ${t.admin}`)
        .expect(200);
      expect(list.body.items[0].value).to.equal(MASK);
      const versions = await request(h.url)
        .get(`/api/v1/configs/${configId}/versions`)
        .set('Authorization', `Bearer ${t.admin}`)
        .expect(200);
      expect(versions.body.items[0].value).to.equal(MASK);
      // The hot path: the same snapshot answers both, each as it may see it.
      for (let i = 0; i < 2; i++) {
        const r = await request(h.url).get(hotPath(t)).set('Authorization', `Bearer ${t.reader}`);
        expect(r.body.configs['smtp.password']).to.equal(MASK);
        const a = await request(h.url).get(hotPath(t)).set('Authorization', `Bearer ${t.admin}`);
        expect(a.body.configs['smtp.password']).to.equal(v);
      }
      // An encrypted config cannot be made non-sensitive.
      await request(h.url)
        .put(`/api/v1/configs/${configId}`)
        .set('Authorization', `Bearer ${t.editor}`)
        .set('If-Match', '"1"')
        .send({ isSensitive: false })
        .expect(422);
    });

    it('a tenant-wide setting encrypts every new configuration', async function () {
      const t = await newTenant(h);
      const patched = await request(h.url)
        .patch(`/api/v1/tenants/${t.tenantId}`)
        .set('Authorization', `Bearer ${t.admin}`)
        .send({ encryptValues: true })
        .expect(200);
      expect(patched.body.encryptValues).to.equal(true);
      const v = secret('tenant-wide');
      const created = await request(h.url)
        .post('/api/v1/configs')
        .set('Authorization', `Bearer ${t.editor}`)
        .send({ tenantId: t.tenantId, key: 'plain.asked', value: v, environment: 'Development' })
        .expect(201);
      expect(created.body).to.include({ isEncrypted: true, isSensitive: true, value: MASK });
      // Opting out is refused, naming the field.
      const refused = await request(h.url)
        .post('/api/v1/configs')
        .set('Authorization', `Bearer ${t.editor}`)
        .send({
          tenantId: t.tenantId,
          key: 'opt.out',
          value: 'x',
          environment: 'Development',
          isEncrypted: false,
        })
        .expect(422);
      expect(refused.body.field).to.equal('isEncrypted');
      await h.project();
      const got = await request(h.url)
        .get(`/api/v1/tenants/${t.tenantId}`)
        .set('Authorization', `Bearer ${t.reader}`)
        .expect(200);
      expect(got.body.encryptValues).to.equal(true);
      const { rows } = await h.services.pool.query<{ all: string }>(
        `SELECT string_agg(data::text, '') AS all FROM es_events WHERE data->>'tenantId' = $1`,
        [t.tenantId],
      );
      expect(rows[0]!.all).to.not.include(v);
    });

    it('rotates the master key: data keys re-wrapped, events untouched, values still read', async function () {
      const t = await newTenant(h);
      const v = secret('rotate');
      const { configId } = await createEncrypted(h, t, 'rotated', v);
      const events = async () =>
        (
          await h.services.pool.query<{ data: string }>(
            `SELECT data::text AS data FROM es_events WHERE stream_id = $1 ORDER BY stream_revision`,
            [`config-${configId}`],
          )
        ).rows.map((r) => r.data);
      const before = await events();
      const k2 = newMasterKey();
      // The CLI as the README runs it: the new key first, the old one still listed.
      const run = await npmRun(
        'keys:rotate',
        // Only this test's tenant: the run's database holds other tests' keys too.
        ['--tenant', t.tenantId],
        processEnv({ Encryption__MasterKey: `k2:${k2},k1:${k1}` }),
      );
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.match(/re-wrapped \d+ of \d+ data keys under local:k2/);
      const { rows } = await h.services.pool.query<{ kek_id: string }>(
        'SELECT kek_id FROM tenant_data_keys WHERE tenant_id = $1',
        [t.tenantId],
      );
      expect(rows.map((r) => r.kek_id)).to.deep.equal(['local:k2']);
      expect(await events()).to.deep.equal(before);
      // A process that knows only the new key (nothing cached) reads the value.
      const fresh = await startHarness({ overrides: { Encryption__MasterKey: `k2:${k2}` } });
      try {
        await fresh.project();
        const got = await request(fresh.url)
          .get(`/api/v1/configs/${configId}`)
          .set('Authorization', `Bearer ${fresh.admin}`)
          .expect(200);
        expect(got.body.value).to.equal(v);
      } finally {
        await fresh.close();
      }
    });

    it('purge destroys the keys: nothing decrypts, after a rebuild and a restore too', async function () {
      const t = await newTenant(h);
      const v = secret('purged');
      const { configId } = await createEncrypted(h, t, 'doomed', v);
      await h.project();
      const del = (query: string, token = h.admin) =>
        request(h.url)
          .delete(`/api/v1/tenants/${t.tenantId}${query}`)
          .set('Authorization', `Bearer ${token}`);
      // Confirmed by name, by a platform admin only.
      expect((await del('?purge=true').expect(422)).body.field).to.equal('confirm');
      await del('?purge=true&confirm=wrong').expect(422);
      await del(`?purge=true&confirm=${encodeURIComponent(t.name)}`, t.admin).expect(403);
      await request(h.url)
        .delete(`/api/v1/tenants/${t.tenantId}?purge=true`)
        .set('Authorization', `Bearer ${h.admin}`)
        .set('X-Confirm-Tenant-Name', t.name)
        .expect(200);
      // The raw event log: ciphertext only, which no process can open any more.
      const { rows } = await h.services.pool.query<{ value: string }>(
        `SELECT data->>'value' AS value FROM es_events
          WHERE stream_id = $1 AND data ? 'value'`,
        [`config-${configId}`],
      );
      expect(rows.length).to.be.greaterThan(0);
      const { rows: raw } = await h.services.pool.query<{ all: string }>(
        `SELECT string_agg(data::text, '') AS all FROM es_events WHERE data->>'tenantId' = $1`,
        [t.tenantId],
      );
      expect(raw[0]!.all).to.not.include(v);
      const fresh = new ValueCipher(
        new DataKeys(h.services.pool, new LocalKeyWrapper(parseMasterKeys(`k1:${k1}`)), 60_000),
      );
      for (const r of rows) {
        expect(isCiphertext(r.value)).to.equal(true);
        let failure: unknown;
        await fresh.decrypt(t.tenantId, r.value).catch((e: unknown) => (failure = e));
        expect(failure).to.be.instanceOf(KeyDestroyedError);
        // Not even this process, which had the key cached.
        expect(await h.services.encryption.cipher!.tryDecrypt(t.tenantId, r.value)).to.equal(
          undefined,
        );
      }
      // A full rebuild still succeeds; the value stays unreadable to everyone.
      const projector = createProjector(h.services);
      try {
        await rebuildProjections(h.services, projector, [], () => undefined);
      } finally {
        await projector.stop();
      }
      const after = await request(h.url)
        .get(`/api/v1/configs/${configId}`)
        .set('Authorization', `Bearer ${h.admin}`)
        .expect(200);
      expect(after.body.value).to.equal(MASK);
      // A restore from an export: the events come back, the keys do not.
      const text = await exported(h, t.tenantId);
      expect(text).to.include(configId).and.not.include(v);
      const ref = parseCiphertext(rows[0]!.value)!;
      expect(ref.keyId).to.equal(t.tenantId);
      // No new key is ever made for a purged tenant.
      let refused: unknown;
      await fresh.encrypt(t.tenantId, 'x').catch((e: unknown) => (refused = e));
      expect(refused).to.be.instanceOf(KeyDestroyedError);
    });
  });

  describe('with Vault Transit (a local server speaking its HTTP API)', function () {
    let vault: VaultTransitServer;
    let h: Harness;
    before(async function () {
      vault = await startVaultTransit();
      h = await startHarness({
        overrides: { Vault__Address: vault.url, Vault__Token: vault.token },
      });
    });
    after(async function () {
      await h?.close();
      await vault?.close();
    });

    it('wraps data keys in Vault, re-wraps them after a Vault key rotation', async function () {
      const t = await newTenant(h);
      const v = secret('vault');
      const { configId } = await createEncrypted(h, t, 'vaulted', v);
      await h.project();
      const wrapped = async () =>
        (
          await h.services.pool.query<{ wrapped_key: string; kek_id: string }>(
            'SELECT wrapped_key, kek_id FROM tenant_data_keys WHERE tenant_id = $1',
            [t.tenantId],
          )
        ).rows[0]!;
      expect(await wrapped()).to.include({ kek_id: 'vault:transit/config-service' });
      expect((await wrapped()).wrapped_key).to.match(/^vault:v1:/);
      expect(vault.calls.map((c) => c.op)).to.include('encrypt');
      vault.rotate('config-service');
      const keys = new DataKeys(
        h.services.pool,
        new VaultTransitWrapper(h.settings.encryption.vault!),
        60_000,
      );
      const report = await keys.rewrapAll({ tenantId: t.tenantId });
      expect(report.rewrapped).to.be.greaterThan(0);
      expect((await wrapped()).wrapped_key).to.match(/^vault:v2:/);
      expect(vault.calls.map((c) => c.op)).to.include('rewrap');
      // A fresh cipher unwraps through Vault (decrypt) and reads the value.
      const decrypts = vault.calls.filter((c) => c.op === 'decrypt').length;
      const cipher = new ValueCipher(keys);
      const { rows } = await h.services.pool.query<{ value: string }>(
        'SELECT value FROM configurations WHERE config_id = $1',
        [configId],
      );
      expect(await cipher.decrypt(t.tenantId, rows[0]!.value)).to.equal(v);
      // Cached per process: a second read does not ask Vault again.
      expect(await cipher.decrypt(t.tenantId, rows[0]!.value)).to.equal(v);
      expect(vault.calls.filter((c) => c.op === 'decrypt').length).to.equal(decrypts + 1);
      const got = await request(h.url)
        .get(`/api/v1/configs/${configId}`)
        .set('Authorization', `Bearer ${h.admin}`)
        .expect(200);
      expect(got.body.value).to.equal(v);
    });

    it('refuses a wrong Vault token with the reason, appending nothing', async function () {
      const bad = await startHarness({
        overrides: { Vault__Address: vault.url, Vault__Token: 'wrong' },
      });
      try {
        const t = await newTenant(bad);
        const res = await request(bad.url)
          .post('/api/v1/configs')
          .set('Authorization', `Bearer ${t.editor}`)
          .send({
            tenantId: t.tenantId,
            key: 'k',
            value: 'v',
            environment: 'Development',
            isEncrypted: true,
          });
        expect(res.status).to.equal(503);
        expect(res.body.detail).to.equal('Vault transit encrypt answered 403: permission denied');
        const { rows } = await bad.services.pool.query(
          `SELECT 1 FROM es_events WHERE stream_id LIKE 'config-%' AND data->>'tenantId' = $1`,
          [t.tenantId],
        );
        expect(rows).to.have.length(0);
      } finally {
        await bad.close();
      }
    });
  });

  it('refuses isEncrypted where no key is configured (422 naming the field)', async function () {
    const h = await startHarness();
    try {
      const t = await newTenant(h);
      const res = await request(h.url)
        .post('/api/v1/configs')
        .set('Authorization', `Bearer ${t.editor}`)
        .send({
          tenantId: t.tenantId,
          key: 'k',
          value: 'v',
          environment: 'Development',
          isEncrypted: true,
        })
        .expect(422);
      expect(res.body.field).to.equal('isEncrypted');
    } finally {
      await h.close();
    }
  });
});
