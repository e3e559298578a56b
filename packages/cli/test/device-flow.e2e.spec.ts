/**
 * `cfgctl login --oidc`: the RFC 8628 device flow against a local issuer whose tokens the service
 * accepts; the saved sign-in is used and renewed with its refresh token.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { signToken } from '../../../src/core/auth/auth.js';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';
import { cfgctlWith } from './cli-support.js';
import { DeviceIdp } from './device-idp.js';

describe('cfgctl login --oidc (device flow, e2e)', function () {
  let h: Harness;
  let dir: string;
  let tenantId: string;
  const idps: DeviceIdp[] = [];

  before(async function () {
    h = await startHarness({ runProjector: true });
    dir = await mkdtemp(path.join(tmpdir(), 'cfgctl-oidc-'));
    tenantId = uniqueTenant('oidc');
    await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId, name: 'OIDC', tier: 'Enterprise' })
      .expect(201);
  });
  after(async function () {
    await Promise.all(idps.map((i) => i.stop()));
    await h?.close();
    if (dir) await rm(dir, { recursive: true });
  });

  async function idp(options: ConstructorParameters<typeof DeviceIdp>[1] = {}) {
    const mint = (sub: string) =>
      signToken(h.settings.jwt, { sub, roles: ['editor'], tenant_id: tenantId }, '1h');
    const i = await new DeviceIdp(mint, options).start();
    idps.push(i);
    return i;
  }

  /** Runs `login --oidc`, acting as the user in a browser: opens the link it prints. */
  async function login(file: string, issuer: string, deny = false) {
    const cfgctl = cfgctlWith({ CFGCTL_CONFIG: file });
    let err = '';
    let opened: Promise<Response> | undefined;
    const run = cfgctl(
      ['login', '--oidc', '--issuer', issuer, '--client-id', 'cfgctl', '--url', h.url],
      {
        onErr: (s) => {
          err += s;
          const link = /open (\S+) and enter the code/.exec(err)?.[1];
          if (link && !opened) opened = fetch(deny ? `${link}&deny=1` : link);
        },
      },
    );
    const result = await run;
    await opened;
    return { ...result, cfgctl };
  }

  it('signs in through the issuer, uses the token, and renews it with the refresh token', async function () {
    const issuer = await idp({ expiresIn: 1 });
    const file = path.join(dir, 'a.json');
    const done = await login(file, issuer.url);
    expect(done.code, done.err).to.equal(0);
    expect(done.err).to.match(
      new RegExp(
        `^To sign in, open ${issuer.url}/verify\\?user_code=\\w{4}-\\w{4} and enter the code \\w{4}-\\w{4}\\n$`,
      ),
    );
    const grants = issuer.tokenRequests.map((r) => r.grant_type);
    expect(grants.at(-1)).to.equal('urn:ietf:params:oauth:grant-type:device_code');
    expect(issuer.tokenRequests.every((r) => r.client_id === 'cfgctl')).to.equal(true);
    const saved = JSON.parse(await readFile(file, 'utf8')).profiles.default;
    expect(saved.credential).to.include({ type: 'oidc', issuer: issuer.url, clientId: 'cfgctl' });
    expect(saved.credential.refreshToken).to.be.a('string');

    // The token expires within the renewal margin: the next command refreshes it first.
    const set = await done.cfgctl(['set', 'who', 'me', '--tenant', tenantId, '--env', 'Staging']);
    expect(set.code, set.err).to.equal(0);
    expect(issuer.tokenRequests.at(-1)).to.include({
      grant_type: 'refresh_token',
      client_id: 'cfgctl',
    });
    const renewed = JSON.parse(await readFile(file, 'utf8')).profiles.default.credential;
    expect(renewed.expiresAt).to.be.above(saved.credential.expiresAt);
    expect(renewed.refreshToken).to.not.equal(saved.credential.refreshToken);
    const history = await done.cfgctl([
      'history',
      'who',
      '--tenant',
      tenantId,
      '--env',
      'Staging',
      '--json',
    ]);
    expect(JSON.parse(history.out).items[0]).to.include({ changedBy: 'dana' });
  });

  it('says so in one line when the user denies, or the issuer has no device flow', async function () {
    const issuer = await idp();
    const denied = await login(path.join(dir, 'b.json'), issuer.url, true);
    expect(denied).to.include({ code: 1 });
    expect(denied.err.split('\n').at(-2)).to.equal('cfgctl: sign-in was denied');
    const plain = await idp({ withDevice: false });
    const none = await login(path.join(dir, 'c.json'), plain.url);
    expect(none.code).to.equal(1);
    expect(none.err).to.equal(
      `cfgctl: ${plain.url} does not offer the device flow (no device_authorization_endpoint)\n`,
    );
    const missing = await cfgctlWith({ CFGCTL_CONFIG: path.join(dir, 'd.json') })([
      'login',
      '--oidc',
      '--url',
      h.url,
    ]);
    expect(missing.code).to.equal(2);
    expect(missing.err).to.match(/^cfgctl login: --oidc needs --issuer and --client-id/);
  });
});
