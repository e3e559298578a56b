/**
 * The packages as users get them: `npm pack` of each workspace, installed into a fresh project
 * outside the repository (no workspace links; dependencies from the npm cache or registry), then
 * run as separate processes against the real service: the client reads a value and sees a live
 * change, the OpenFeature provider resolves a flag through the SDK, cfgctl signs in, sets and
 * gets, exports and imports; the emitted types compile in a consumer.
 */
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness } from './support/harness.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const PACKAGES = [
  '@config-service/client',
  '@config-service/openfeature-provider',
  '@config-service/cli',
];

/** The environment of the processes a user would run: none of this test runner's loaders. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  return env;
}

async function run(file: string, args: string[], cwd: string, env = cleanEnv()) {
  return promisify(execFile)(file, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string; message: string }) => ({
      code: typeof e.code === 'number' ? e.code : -1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? e.message,
    }),
  );
}

describe('packed packages installed into a fresh project (e2e)', function () {
  this.timeout(240_000);
  let h: Harness;
  let dir: string;
  let project: string;
  let tenantId: string;
  let editor: string;
  let reader: string;
  let greeting: string;

  before(async function () {
    h = await startHarness({ runProjector: true });
    dir = await mkdtemp(path.join(tmpdir(), 'cfg-packed-'));
    project = path.join(dir, 'app');
    // Packing builds each package (prepack); the tarballs carry dist only.
    const packed = await run(
      'npm',
      ['pack', ...PACKAGES.flatMap((p) => ['-w', p]), '--pack-destination', dir, '--json'],
      root,
    );
    expect(packed.code, packed.stderr).to.equal(0);
    const tarballs = (
      JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[]
    ).map((p) => {
      expect(
        p.files.every(
          (f) => f.path === 'package.json' || f.path === 'README.md' || f.path.startsWith('dist/'),
        ),
      ).to.equal(true);
      expect(p.files.some((f) => f.path === 'dist/index.d.ts')).to.equal(true);
      return path.join(dir, p.filename);
    });
    await run('mkdir', [project], dir);
    await writeFile(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    const lock = JSON.parse(await readFile(path.join(root, 'package-lock.json'), 'utf8'));
    const sdk = lock.packages['node_modules/@openfeature/server-sdk'].version as string;
    const installed = await run(
      'npm',
      [
        'install',
        ...tarballs,
        `@openfeature/server-sdk@${sdk}`,
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
      ],
      project,
    );
    expect(installed.code, installed.stderr).to.equal(0);

    tenantId = uniqueTenant('packed');
    await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId, name: 'Packed', tier: 'Enterprise' })
      .expect(201);
    editor = h.token('editor', tenantId);
    reader = h.token('reader', tenantId);
    const created = await request(h.url)
      .post('/api/v1/configs')
      .set('Authorization', `Bearer ${editor}`)
      .send({ tenantId, key: 'greeting', value: 'hello', type: 'String', environment: 'Staging' })
      .expect(201);
    greeting = created.body.configId;
    const flag = await request(h.url)
      .post('/api/v1/configs')
      .set('Authorization', `Bearer ${editor}`)
      .send({ tenantId, key: 'new-checkout', value: true, type: 'Boolean', environment: 'Staging' })
      .expect(201);
    await request(h.url)
      .get(
        `/api/v1/tenants/${tenantId}/environments/Staging/configs?minPosition=${flag.body.position}`,
      )
      .set('Authorization', `Bearer ${reader}`)
      .expect(200);
  });
  after(async function () {
    await h?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('installs real copies, not links to the workspace', async function () {
    const { lstat, realpath } = await import('node:fs/promises');
    for (const p of PACKAGES) {
      const at = path.join(project, 'node_modules', p);
      expect((await lstat(at)).isSymbolicLink(), p).to.equal(false);
      expect(await realpath(at)).to.not.include(path.join(root, 'packages'));
    }
  });

  it('client: loads without Node built-ins (browsers, edge runtimes)', async function () {
    const { readdir } = await import('node:fs/promises');
    const dist = path.join(project, 'node_modules', '@config-service', 'client', 'dist');
    for (const file of (await readdir(dist)).filter((f) => f.endsWith('.js'))) {
      const code = await readFile(path.join(dist, file), 'utf8');
      // Static imports resolve at load; only eventsource-parser and its own files may appear.
      const imports = [...code.matchAll(/^(?:import|export)\b[^;]*?from '([^']+)'/gm)].map(
        (m) => m[1],
      );
      expect(
        imports.filter((i) => !i!.startsWith('./') && i !== 'eventsource-parser'),
        file,
      ).to.deep.equal([]);
    }
  });

  it('client: reads a value and sees a live change', async function () {
    await writeFile(
      path.join(project, 'client.mjs'),
      `import { createClient } from '@config-service/client';
const client = createClient({
  url: process.env.URL, token: process.env.TOKEN, tenant: process.env.TENANT,
  environment: 'Staging', lastKnownGood: false,
});
const first = await client.ready({ timeout: 10000 });
console.log(JSON.stringify({ value: client.getString('greeting', 'fallback'), source: first.source }));
client.on('change', async (_s, keys) => {
  if (!keys.includes('greeting')) return;
  console.log(JSON.stringify({ value: client.getString('greeting', 'fallback') }));
  await client.close();
});
`,
    );
    const child = spawn(process.execPath, ['client.mjs'], {
      cwd: project,
      env: cleanEnv({ URL: h.url, TOKEN: reader, TENANT: tenantId }),
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const lines: string[] = [];
    let changed = false;
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      lines.splice(0, lines.length, ...out.split('\n').filter(Boolean));
      if (lines.length === 1 && !changed) {
        changed = true;
        void request(h.url)
          .put(`/api/v1/configs/${greeting}`)
          .set('Authorization', `Bearer ${editor}`)
          .send({ value: 'hello again', expectedVersion: 1 })
          .expect(200)
          .then(() => undefined);
      }
    });
    const code = await exited;
    expect(code, err).to.equal(0);
    expect(lines.map((l) => JSON.parse(l))).to.deep.equal([
      { value: 'hello', source: 'service' },
      { value: 'hello again' },
    ]);
  });

  it('provider: resolves a flag through the OpenFeature SDK', async function () {
    await writeFile(
      path.join(project, 'provider.mjs'),
      `import { OpenFeature } from '@openfeature/server-sdk';
import { ConfigServiceProvider } from '@config-service/openfeature-provider';
const provider = new ConfigServiceProvider({
  url: process.env.URL, token: process.env.TOKEN, tenant: process.env.TENANT,
  environment: 'Staging', lastKnownGood: false,
});
await OpenFeature.setProviderAndWait(provider);
const client = OpenFeature.getClient();
const on = await client.getBooleanDetails('new-checkout', false);
const missing = await client.getBooleanDetails('no-such-flag', false);
console.log(JSON.stringify({ value: on.value, variant: on.variant, reason: on.reason, missing: missing.errorCode }));
await OpenFeature.close();
`,
    );
    const r = await run(
      process.execPath,
      ['provider.mjs'],
      project,
      cleanEnv({ URL: h.url, TOKEN: reader, TENANT: tenantId }),
    );
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal({
      value: true,
      variant: '1',
      reason: 'STATIC',
      missing: 'FLAG_NOT_FOUND',
    });
  });

  /** The installed cfgctl, signed in (a profile in its own config file) as the editor. */
  async function signedIn(configFile: string) {
    const bin = path.join(project, 'node_modules', '.bin', 'cfgctl');
    const env = cleanEnv({ CFGCTL_CONFIG: path.join(dir, configFile) });
    const cfgctl = (...args: string[]) => run(bin, args, project, env);
    const login = await cfgctl(
      'login',
      '--url',
      h.url,
      '--tenant',
      tenantId,
      '--env',
      'Staging',
      '--token',
      editor,
    );
    expect(login.code, login.stderr).to.equal(0);
    return cfgctl;
  }

  it('cfgctl: signs in, sets and gets', async function () {
    const cfgctl = await signedIn('cfgctl.json');
    const set = await cfgctl('set', 'limit', '42', '--type', 'Integer');
    expect(set).to.deep.include({ code: 0, stdout: 'limit = 42 (version 1)\n' });
    const get = await cfgctl('get', 'limit');
    expect(get).to.deep.include({ code: 0, stdout: '42\n' });
    expect((await cfgctl('--help')).code).to.equal(0);
    const bad = await cfgctl('get', '--nope');
    expect(bad.code).to.equal(2);
  });

  it('cfgctl: exports an environment, imports it elsewhere (dry run first), compares them', async function () {
    const cfgctl = await signedIn('cfgctl-files.json');
    // The profile remembers this write's position (later than any write before it), so the
    // export that follows reads Staging as it is now.
    const noted = await cfgctl('set', 'files.note', 'hello');
    expect(noted.code, noted.stderr).to.equal(0);
    const file = path.join(dir, 'staging.env');
    const exported = await cfgctl('export', file);
    expect(exported.code, exported.stderr).to.equal(0);
    expect(await readFile(file, 'utf8'))
      .to.include('greeting=')
      .and.include('files.note=hello');
    const dry = await cfgctl('import', file, '-e', 'Development', '--dry-run');
    expect(dry.code, dry.stderr).to.equal(0);
    expect(dry.stdout).to.match(
      /^import .*staging\.env into Development \(dry run\): \d+ to create, 0 to update, 0 unchanged, 0 errors; nothing written\n/,
    );
    const done = await cfgctl('import', file, '-e', 'Development');
    expect(done.code, done.stderr).to.equal(0);
    const compared = await cfgctl('compare', 'Staging', 'Development', '--json');
    expect(compared.code, compared.stderr).to.equal(0);
    const summary = JSON.parse(compared.stdout).summary;
    expect(summary).to.deep.include({ different: 0, onlyInFrom: 0, onlyInTo: 0 });
    expect(summary.equal).to.be.above(0);
    const bad = path.join(dir, 'bad.env');
    await writeFile(bad, 'a=1\nthis line is wrong\n');
    const refused = await cfgctl('import', bad, '-e', 'Development');
    expect(refused).to.deep.include({ code: 5, stdout: '' });
    expect(refused.stderr).to.match(/refused, 1 error; nothing written\n {2}line 2: /);
  });

  it('types: a consumer compiles against the emitted declarations', async function () {
    await writeFile(
      path.join(project, 'consumer.ts'),
      `import { createClient, ConfigTimeoutError, type ConfigSnapshot } from '@config-service/client';
import { ConfigServiceProvider } from '@config-service/openfeature-provider';
const client = createClient({ url: 'http://x', apiKey: 'cfgk_x', tenant: 't', environment: 'e' });
const n: number = client.getNumber('n', 1);
const s: string = client.get('s', 'x');
client.on('change', (snapshot: ConfigSnapshot, keys: string[]) => void [snapshot.version, keys]);
new ConfigServiceProvider(client);
export const used = [n, s, ConfigTimeoutError];
// @ts-expect-error a number getter does not give a string
export const wrong: string = client.getNumber('n', 1);
`,
    );
    // No @types/node: what a browser or edge project would have.
    await writeFile(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          lib: ['es2022', 'dom'],
          types: [],
          skipLibCheck: true,
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = await run(process.execPath, [tsc, '-p', '.'], project);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
  });
});
