import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';

const PROBLEM = 'application/problem+json; charset=utf-8';
const MANAGEMENT = '/api/v1/tenants/x';
const HOT_READ = '/api/v1/tenants/x/environments/Development/configs';

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('authentication (e2e)', function () {
  let h: Harness;
  before(async function () {
    h = await startHarness();
  });
  after(async function () {
    await h?.close();
  });

  const adminClaims = () => ({ sub: 'mallory', roles: ['platform-admin'] });
  /** The hot read route answers for a tenant's declared environments: a tenant that exists. */
  const existingTenant = async () => {
    const tenantId = uniqueTenant('auth');
    await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId, name: 'Auth' })
      .expect(201);
    await h.project();
    return tenantId;
  };
  const sign = (claims: object, options: jwt.SignOptions & { secret?: string } = {}): string => {
    const { secret = h.settings.jwt.secret, ...rest } = options;
    return jwt.sign(claims, secret, {
      algorithm: 'HS256',
      issuer: h.settings.jwt.issuer,
      audience: h.settings.jwt.audience,
      expiresIn: '1h',
      ...rest,
    });
  };

  /** The 401 both routes answer; the hot read path does not echo the URL as `instance`. */
  function expectUnauthorized(res: request.Response, path: string, detail: string) {
    expect(res.status).to.equal(401);
    expect(res.headers['www-authenticate']).to.equal('Bearer');
    expect(res.headers['content-type']).to.equal(PROBLEM);
    expect(res.body).to.deep.equal({
      type: 'about:blank',
      title: 'Unauthorized',
      status: 401,
      detail,
      ...(path === HOT_READ ? {} : { instance: path }),
      field: 'Authorization',
    });
  }

  for (const path of [MANAGEMENT, HOT_READ]) {
    describe(path === HOT_READ ? 'hot read route' : 'management route', function () {
      it('answers 401 with WWW-Authenticate: Bearer when Authorization is missing', async function () {
        const res = await request(h.url).get(path);
        expectUnauthorized(res, path, 'Send a bearer token in the Authorization header');
      });

      it('answers 401 for a non-Bearer scheme', async function () {
        const res = await request(h.url)
          .get(path)
          .set('Authorization', `Basic ${Buffer.from('root:root').toString('base64')}`);
        expectUnauthorized(res, path, 'Send a bearer token in the Authorization header');
      });

      it('answers 401 for a garbage bearer token', async function () {
        const res = await request(h.url).get(path).set('Authorization', 'Bearer not-a-jwt');
        expectUnauthorized(res, path, 'Invalid token: jwt malformed');
      });

      it('answers 401 for an expired token', async function () {
        const token = sign(adminClaims(), { expiresIn: -10 });
        const res = await request(h.url).get(path).set('Authorization', `Bearer ${token}`);
        expectUnauthorized(res, path, 'The token has expired');
      });

      it('answers 401 for a token whose exp claim is in the past', async function () {
        const token = jwt.sign(
          { ...adminClaims(), exp: Math.floor(Date.now() / 1000) - 60 },
          h.settings.jwt.secret,
          {
            algorithm: 'HS256',
            issuer: h.settings.jwt.issuer,
            audience: h.settings.jwt.audience,
          },
        );
        const res = await request(h.url).get(path).set('Authorization', `Bearer ${token}`);
        expectUnauthorized(res, path, 'The token has expired');
      });

      it('answers 401 for a token signed with another secret', async function () {
        const token = sign(adminClaims(), { secret: 'another-secret-that-is-long-enough-0123' });
        const res = await request(h.url).get(path).set('Authorization', `Bearer ${token}`);
        expectUnauthorized(res, path, 'Invalid token: invalid signature');
      });

      it('answers 401 for a token from another issuer', async function () {
        const token = sign(adminClaims(), { issuer: 'https://evil.example.com' });
        const res = await request(h.url).get(path).set('Authorization', `Bearer ${token}`);
        expectUnauthorized(
          res,
          path,
          `Invalid token: jwt issuer invalid. expected: ${h.settings.jwt.issuer}`,
        );
      });

      it('answers 401 for a token for another audience', async function () {
        const token = sign(adminClaims(), { audience: 'some-other-api' });
        const res = await request(h.url).get(path).set('Authorization', `Bearer ${token}`);
        expectUnauthorized(
          res,
          path,
          `Invalid token: jwt audience invalid. expected: ${h.settings.jwt.audience}`,
        );
      });

      it('answers 401 for an unsigned alg:none token', async function () {
        const now = Math.floor(Date.now() / 1000);
        const token = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({
          ...adminClaims(),
          iss: h.settings.jwt.issuer,
          aud: h.settings.jwt.audience,
          iat: now,
          exp: now + 3600,
        })}.`;
        const res = await request(h.url).get(path).set('Authorization', `Bearer ${token}`);
        expectUnauthorized(res, path, 'Invalid token: jwt signature is required');
      });

      it('answers 401 for an HS512 token signed with the right secret (HS256 only)', async function () {
        const token = sign(adminClaims(), { algorithm: 'HS512' });
        const res = await request(h.url).get(path).set('Authorization', `Bearer ${token}`);
        expectUnauthorized(res, path, 'Invalid token: invalid algorithm');
      });

      it('answers 401 for a non-admin token without tenant_id', async function () {
        const token = h.token('editor');
        const res = await request(h.url).get(path).set('Authorization', `Bearer ${token}`);
        expectUnauthorized(res, path, 'The token has no tenant_id claim');
      });

      it('answers 401 for a token without sub', async function () {
        const token = sign({ roles: ['platform-admin'] });
        const res = await request(h.url).get(path).set('Authorization', `Bearer ${token}`);
        expectUnauthorized(res, path, 'The token has no sub claim');
      });

      it('answers 401 for a sub that is too long or not printable (it is stored on every event)', async function () {
        for (const sub of ['u'.repeat(256), 'bad\u0000sub', 'line\nbreak']) {
          const token = sign({ sub, roles: ['platform-admin'] });
          const res = await request(h.url).get(path).set('Authorization', `Bearer ${token}`);
          expectUnauthorized(
            res,
            path,
            "The token's sub claim must be at most 255 printable characters",
          );
        }
      });

      it('answers 401 for a token without exp (it could never be taken back)', async function () {
        const token = jwt.sign(adminClaims(), h.settings.jwt.secret, {
          algorithm: 'HS256',
          issuer: h.settings.jwt.issuer,
          audience: h.settings.jwt.audience,
        });
        const res = await request(h.url).get(path).set('Authorization', `Bearer ${token}`);
        expectUnauthorized(res, path, 'The token has no exp claim');
      });

      it('answers 401 for an environments claim that is not a list of names', async function () {
        for (const environments of [{ Development: true }, ['Development', 7], 42]) {
          const token = sign({ sub: 'eve', roles: ['reader'], tenant_id: 'x', environments });
          const res = await request(h.url).get(path).set('Authorization', `Bearer ${token}`);
          expectUnauthorized(
            res,
            path,
            "The token's environments claim must be a list of environment names",
          );
        }
      });
    });
  }

  describe('valid tokens (control: the checks above are about the token, not the route)', function () {
    it('lets a platform admin through on the management route (404: no such tenant)', async function () {
      const tenantId = uniqueTenant('auth');
      const res = await request(h.url)
        .get(`/api/v1/tenants/${tenantId}`)
        .set('Authorization', `Bearer ${h.admin}`);
      expect(res.status).to.equal(404);
      expect(res.body).to.deep.equal({
        type: 'about:blank',
        title: 'Not found',
        status: 404,
        detail: `Tenant '${tenantId}' not found`,
        instance: `/api/v1/tenants/${tenantId}`,
        field: 'tenantId',
      });
    });

    it('lets a platform admin through on the hot read route', async function () {
      const tenantId = await existingTenant();
      const res = await request(h.url)
        .get(`/api/v1/tenants/${tenantId}/environments/Development/configs`)
        .set('Authorization', `Bearer ${h.admin}`);
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({
        tenantId,
        environment: 'Development',
        version: 0,
        configs: {},
      });
    });

    it('accepts a token signed with jsonwebtoken directly when all claims are right', async function () {
      const token = sign(adminClaims());
      const res = await request(h.url)
        .get('/api/v1/audit-logs?pageSize=1')
        .set('Authorization', `Bearer ${token}`);
      expect(res.status).to.equal(200);
    });

    it('reads an environments claim given as one string as that one environment', async function () {
      const tenantId = await existingTenant();
      const token = sign({
        sub: 'dev',
        roles: ['reader'],
        tenant_id: tenantId,
        environments: 'Development',
      });
      await request(h.url)
        .get(`/api/v1/tenants/${tenantId}/environments/Development/configs`)
        .set('Authorization', `Bearer ${token}`)
        .expect(200);
      // Not "every environment": the limit holds.
      await request(h.url)
        .get(`/api/v1/tenants/${tenantId}/environments/Production/configs`)
        .set('Authorization', `Bearer ${token}`)
        .expect(403);
    });

    it('accepts a tenant token with tenant_id for its own tenant', async function () {
      const tenantId = await existingTenant();
      const res = await request(h.url)
        .get(`/api/v1/tenants/${tenantId}/environments/Development/configs`)
        .set('Authorization', `Bearer ${h.token('reader', tenantId)}`);
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({
        tenantId,
        environment: 'Development',
        version: 0,
        configs: {},
      });
    });
  });

  describe('/health', function () {
    it('needs no token', async function () {
      const res = await request(h.url).get('/health');
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ status: 'Healthy' });
      expect(res.headers['www-authenticate']).to.equal(undefined);
    });

    it('ignores a bad token', async function () {
      const res = await request(h.url).get('/health').set('Authorization', 'Bearer garbage');
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ status: 'Healthy' });
    });
  });
});
