import { expect } from 'chai';
import request from 'supertest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';

/** A local OpenID Connect provider: discovery and JWKS on 127.0.0.1, keys made here. */
class LocalProvider {
  readonly keys = new Map<string, { privateKey: KeyObject; publicKey: KeyObject; alg: string }>();
  jwksRequests = 0;
  private server = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') {
      res.end(JSON.stringify({ issuer: this.issuer, jwks_uri: `${this.issuer}/jwks` }));
    } else if (req.url === '/jwks') {
      this.jwksRequests++;
      const keys = [...this.keys].map(([kid, k]) => ({
        ...(k.publicKey.export({ format: 'jwk' }) as object),
        kid,
        alg: k.alg,
        use: 'sig',
      }));
      res.end(JSON.stringify({ keys }));
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  issuer = '';

  async start() {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.issuer = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  stop() {
    return new Promise((r) => this.server.close(r));
  }
  addKey(kid: string, alg: 'RS256' | 'ES256') {
    const pair =
      alg === 'RS256'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.keys.set(kid, { ...pair, alg });
    return pair.privateKey;
  }
}

describe('OpenID Connect tokens (e2e)', function () {
  const provider = new LocalProvider();
  let h: Harness;
  let rsa: KeyObject;
  let ec: KeyObject;
  const audience = 'config-service-api';

  before(async function () {
    await provider.start();
    rsa = provider.addKey('rsa-1', 'RS256');
    ec = provider.addKey('ec-1', 'ES256');
    h = await startHarness({
      runProjector: true,
      overrides: {
        JWT__Authority: provider.issuer,
        JWT__Audience: audience,
        JWT__RolesClaim: 'realm_access.roles',
        JWT__TenantsClaim: 'tenants',
      },
    });
  });
  after(async function () {
    await h?.close();
    await provider.stop();
  });

  const sign = (
    claims: object,
    key: KeyObject,
    options: { kid?: string; alg?: jwt.Algorithm; issuer?: string } = {},
  ) =>
    jwt.sign(claims, key, {
      algorithm: options.alg ?? 'RS256',
      // { kid: undefined }: a header without a kid.
      ...('kid' in options ? (options.kid ? { keyid: options.kid } : {}) : { keyid: 'rsa-1' }),
      issuer: options.issuer ?? provider.issuer,
      audience,
      expiresIn: '10m',
      subject: 'alice@example.com',
    });
  const admin = () => sign({ realm_access: { roles: ['platform-admin'] } }, rsa);
  const get = (path: string, token: string) =>
    request(h.url).get(path).set('Authorization', `Bearer ${token}`);

  async function tenant() {
    const tenantId = uniqueTenant('oidc');
    const created = await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${admin()}`)
      .send({ tenantId, name: 'OIDC', tier: 'Free' })
      .expect(201);
    // Read your write once, so the reads below find the tenant.
    await get(`/api/v1/tenants/${tenantId}?minPosition=${created.body.position}`, admin()).expect(
      200,
    );
    return tenantId;
  }

  it("accepts RS256 and ES256 tokens signed with the provider's keys, with mapped claims", async function () {
    const [acme, globex] = [await tenant(), await tenant()];
    const person = {
      realm_access: { roles: [] },
      tenants: { [acme]: ['tenant-admin'], [globex]: ['reader'] },
    };
    for (const token of [sign(person, rsa), sign(person, ec, { kid: 'ec-1', alg: 'ES256' })]) {
      await get(`/api/v1/tenants/${acme}`, token).expect(200);
      await get(`/api/v1/tenants/${globex}`, token).expect(200);
      // Roles per tenant: admin in one, reader in the other.
      await request(h.url)
        .patch(`/api/v1/tenants/${acme}`)
        .set('Authorization', `Bearer ${token}`)
        .send({ name: 'Acme' })
        .expect(200);
      await request(h.url)
        .patch(`/api/v1/tenants/${globex}`)
        .set('Authorization', `Bearer ${token}`)
        .send({ name: 'Globex' })
        .expect(403);
    }
    // Changes are recorded as the token's subject.
    const audit = await get(`/api/v1/audit-logs?tenantId=${acme}`, sign(person, rsa)).expect(200);
    expect(audit.body.items.map((e: { userId: string }) => e.userId)).to.include(
      'alice@example.com',
    );
  });

  it('refuses a wrong kid, a wrong algorithm and a wrong issuer with 401', async function () {
    const tenantId = await tenant();
    const path = `/api/v1/tenants/${tenantId}`;
    const claims = { realm_access: { roles: ['reader'] }, tenants: tenantId };
    await get(path, sign(claims, rsa)).expect(200);
    const refused = async (token: string, detail: RegExp) => {
      const res = await get(path, token).expect(401);
      expect(res.body.detail).to.match(detail);
      // The hot read path refuses it too.
      await get(`/api/v1/tenants/${tenantId}/environments/Staging/configs`, token).expect(401);
    };
    await refused(sign(claims, rsa, { kid: 'no-such-key' }), /unknown signing key 'no-such-key'/);
    await refused(sign(claims, rsa, { kid: undefined }), /no kid/);
    // RS384 is not accepted, even with a known key; nor ES256 claimed for an RSA key.
    await refused(sign(claims, rsa, { alg: 'RS384' }), /invalid algorithm/);
    await refused(sign(claims, ec, { kid: 'rsa-1', alg: 'ES256' }), /signs RS256, not ES256/);
    // HS256 signed with something else than JWT__Secret (the public key, say): refused.
    const publicPem = provider.keys.get('rsa-1')!.publicKey.export({ type: 'spki', format: 'pem' });
    const confused = jwt.sign(claims, String(publicPem), {
      algorithm: 'HS256',
      issuer: provider.issuer,
      audience,
      expiresIn: '10m',
      subject: 'mallory',
    });
    await refused(confused, /invalid signature|issuer invalid/);
    await refused(sign(claims, rsa, { issuer: 'https://evil.example.com' }), /issuer invalid/);
    // A key of another provider under a known kid.
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    await refused(sign(claims, stranger), /invalid signature/);
  });

  it('caches the JWKS and fetches it again when a token names a new kid (rotation)', async function () {
    const tenantId = await tenant();
    const path = `/api/v1/tenants/${tenantId}`;
    const claims = { realm_access: { roles: ['reader'] }, tenants: [tenantId] };
    await get(path, sign(claims, rsa)).expect(200);
    const fetched = provider.jwksRequests;
    for (let i = 0; i < 5; i++) await get(path, sign({ ...claims, n: i }, rsa)).expect(200);
    expect(provider.jwksRequests).to.equal(fetched);
    const rotated = provider.addKey('rsa-2', 'RS256');
    // Refreshes are at most one a second: the new key is accepted once the next one runs.
    const token = sign(claims, rotated, { kid: 'rsa-2' });
    const deadline = Date.now() + 5000;
    for (;;) {
      const res = await get(path, token);
      if (res.status === 200) break;
      expect(res.status).to.equal(401);
      expect(Date.now(), 'the rotated key is never accepted').to.be.below(deadline);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(provider.jwksRequests).to.be.greaterThan(fetched);
  });
});
