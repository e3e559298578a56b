import http from 'node:http';
import { expect } from 'chai';
import request from 'supertest';
import { startHarness, uniqueTenant, type Harness, auth } from '../../../test/support/harness.js';

const LIMIT = 6 * 1024 * 1024;

/** POSTs a body in chunks with Transfer-Encoding: chunked (no Content-Length): a real stream. */
function postChunked(
  url: string,
  headers: Record<string, string>,
  body: Buffer,
  chunk = 256 * 1024,
): Promise<{ status: number; type: string; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          type: String(res.headers['content-type'] ?? ''),
          text: Buffer.concat(parts).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    const write = (at: number) => {
      if (at >= body.length) return req.end();
      const more = req.write(body.subarray(at, at + chunk));
      if (more) setImmediate(() => write(at + chunk));
      else req.once('drain', () => write(at + chunk));
    };
    write(0);
  });
}

describe('import of big files as raw bodies, with progress (e2e)', function () {
  this.timeout(60_000);
  let h: Harness;
  before(async function () {
    h = await startHarness({
      runProjector: true,
      overrides: {
        ConfigService__Import__MaxBytes: String(LIMIT),
        // Projecting 600 keys of 5 KB takes a while on a busy test machine.
        ConfigService__ReadYourWritesTimeout: 'PT40S',
      },
    });
  });
  after(async function () {
    await h?.close();
  });

  async function tenant() {
    const tenantId = uniqueTenant('imps');
    await request(h.url)
      .post('/api/v1/tenants')
      .set(auth(h.admin))
      .send({
        tenantId,
        name: 'T',
        tier: 'Free',
        maxConfigurations: 1000,
        environments: ['Development', 'Staging', 'Production', 'QA'],
      })
      .expect(201);
    return { tenantId, editor: h.token('editor', tenantId, { sub: 'alice' }), position: '0' };
  }
  type Tenant = Awaited<ReturnType<typeof tenant>>;
  const importUrl = (t: Tenant, env: string, query = '') =>
    `${h.url}/api/v1/tenants/${t.tenantId}/environments/${env}/import${query}`;

  /** Every key of the environment, as an .env export lists it. */
  async function keys(t: Tenant, environment: string) {
    const res = await request(h.url)
      .get(`/api/v1/tenants/${t.tenantId}/environments/${environment}/export`)
      .query({ format: 'env', minPosition: t.position })
      .set(auth(t.editor))
      .expect(200);
    return res.text
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => l.slice(0, l.indexOf('=')));
  }

  /** A .env file of `count` keys, each with a value of `size` characters. */
  const bigEnv = (count: number, size: number) => {
    const lines = ['# generated'];
    for (let i = 0; i < count; i++) {
      lines.push('# @type String', `big.k${i}=${String(i).padStart(6, '0')}${'v'.repeat(size)}`);
    }
    return Buffer.from(`${lines.join('\n')}\n`);
  };

  it('streams a multi-MB .env, line by line, answering NDJSON progress and then the result', async function () {
    const t = await tenant();
    const file = bigEnv(600, 5000);
    expect(file.length).to.be.above(3_000_000);
    const res = await postChunked(
      importUrl(t, 'QA'),
      {
        ...auth(t.editor),
        'Content-Type': 'text/plain',
        Accept: 'application/x-ndjson',
      },
      file,
    );
    expect(res.status).to.equal(200);
    expect(res.type).to.match(/^application\/x-ndjson/);
    const lines = res.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const parsing = lines.filter((l) => l.phase === 'parsing');
    // Progress while reading (every MiB), each further on, then the whole file.
    expect(parsing.length).to.be.at.least(3);
    const counts = parsing.map((l) => l.lines as number);
    expect(counts).to.deep.equal([...counts].sort((a, b) => a - b));
    expect(parsing.at(-1)).to.deep.equal({
      phase: 'parsing',
      bytes: file.length,
      lines: 1202,
      done: true,
    });
    expect(lines).to.deep.include({ phase: 'validating', keys: 600, of: 600 });
    expect(lines).to.deep.include({ phase: 'applying', keys: 600 });
    const result = lines.at(-1)!;
    expect(result.outcome).to.equal('Applied');
    expect(result.summary).to.deep.equal({ create: 600, update: 0, unchanged: 0 });
    t.position = result.position as string;
    const written = await keys(t, 'QA');
    expect(written).to.have.length(600);
    expect(written).to.include('big.k599');
  });

  it('without Accept: application/x-ndjson, answers as the JSON form does', async function () {
    const t = await tenant();
    const res = await request(importUrl(t, 'QA', '?format=properties&dryRun=true'))
      .post('')
      .set(auth(t.editor))
      .set('Content-Type', 'text/plain')
      .send('a.b=1\nlong=first \\\n  second\n');
    expect(res.status, res.text).to.equal(200);
    expect(res.body.outcome).to.equal('DryRun');
    expect(res.body.summary).to.deep.equal({ create: 2, update: 0, unchanged: 0 });
    expect(await keys(t, 'QA')).to.deep.equal([]);
  });

  it('takes YAML and JSON files as raw bodies', async function () {
    const t = await tenant();
    const yaml = 'http.timeout:\n  type: Integer\n  value: 30\nbanner: Welcome\n';
    const dry = await request(importUrl(t, 'QA', '?dryRun=true'))
      .post('')
      .set(auth(t.editor))
      .set('Content-Type', 'application/yaml')
      .send(yaml);
    expect(dry.status, dry.text).to.equal(200);
    expect(dry.body.outcome).to.equal('DryRun');
    expect(await keys(t, 'QA')).to.deep.equal([]);
    const done = await request(importUrl(t, 'QA'))
      .post('')
      .set(auth(t.editor))
      .set('Content-Type', 'text/yaml')
      .send(yaml);
    expect(done.status, done.text).to.equal(200);
    expect(done.body.outcome).to.equal('Applied');
    t.position = done.body.position;
    expect(await keys(t, 'QA')).to.deep.equal(['banner', 'http.timeout']);

    // application/json with ?format= is the file itself.
    const json = await request(importUrl(t, 'Staging', '?format=json'))
      .post('')
      .set(auth(t.editor))
      .set('Content-Type', 'application/json')
      .send('{"format": {"type": "String", "value": "a key named format"}}');
    expect(json.status, json.text).to.equal(200);
    expect(json.body.summary).to.deep.equal({ create: 1, update: 0, unchanged: 0 });
  });

  it('refuses a body over ConfigService__Import__MaxBytes with 413 naming the limit; nothing is written', async function () {
    const t = await tenant();
    const file = bigEnv(300, 24_000); // ~7.2 MB
    expect(file.length).to.be.above(LIMIT);
    // Content-Length says so: refused before reading.
    const declared = await request(importUrl(t, 'QA'))
      .post('')
      .set(auth(t.editor))
      .set('Content-Type', 'text/plain')
      .send(file);
    expect(declared.status).to.equal(413);
    expect(declared.headers['content-type']).to.match(/^application\/problem\+json/);
    expect(declared.body).to.deep.include({ field: '(body)', limit: LIMIT });
    expect(declared.body.detail).to.include('ConfigService__Import__MaxBytes');
    // Streamed without a length: refused once the limit is passed.
    const streamed = await postChunked(
      importUrl(t, 'QA'),
      { ...auth(t.editor), 'Content-Type': 'text/plain' },
      file,
    );
    expect(streamed.status).to.equal(413);
    expect(JSON.parse(streamed.text)).to.deep.include({ field: '(body)', limit: LIMIT });
    expect(await keys(t, 'QA')).to.deep.equal([]);
  });

  it('refuses bad input naming the line, also after progress started; nothing is written', async function () {
    const t = await tenant();
    const plain = await request(importUrl(t, 'QA'))
      .post('')
      .set(auth(t.editor))
      .set('Content-Type', 'text/plain')
      .send('a=1\nb=2\nthis line is wrong\n');
    expect(plain.status).to.equal(422);
    expect(plain.body).to.deep.include({ field: 'content', line: 3 });

    // A bad line deep in a big file: the problem is the last NDJSON line.
    const file = Buffer.concat([bigEnv(300, 5000), Buffer.from('oops\n')]);
    const res = await postChunked(
      importUrl(t, 'QA'),
      { ...auth(t.editor), 'Content-Type': 'text/plain', Accept: 'application/x-ndjson' },
      file,
    );
    expect(res.status).to.equal(200);
    const last = JSON.parse(res.text.trimEnd().split('\n').at(-1)!) as Record<string, unknown>;
    expect(last).to.deep.include({ status: 422, field: 'content', line: 602 });

    const octet = await request(importUrl(t, 'QA'))
      .post('')
      .set(auth(t.editor))
      .set('Content-Type', 'application/octet-stream')
      .send(Buffer.from('a=1\n'));
    expect(octet.status).to.equal(400);
    expect(octet.body.field).to.equal('format');
    expect(await keys(t, 'QA')).to.deep.equal([]);
  });
});
