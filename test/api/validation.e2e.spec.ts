import { expect } from 'chai';
import request from 'supertest';
import { eventCount, startHarness, uniqueTenant, type Harness } from '../support/harness.js';

const PROBLEM = 'application/problem+json; charset=utf-8';

interface FieldError {
  field: string;
  message: string;
}

describe('request validation (e2e)', function () {
  let h: Harness;
  let tenantId: string;
  let editor: string;
  let configId: string;

  const bearer = (token: string) => `Bearer ${token}`;

  before(async function () {
    h = await startHarness();
    tenantId = uniqueTenant('val');
    const t = await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', bearer(h.admin))
      .send({ tenantId, name: 'Validation', tier: 'Enterprise' });
    expect(t.status).to.equal(201);
    editor = h.token('editor', tenantId);
    const c = await request(h.url)
      .post('/api/v1/configs')
      .set('Authorization', bearer(editor))
      .send({
        tenantId,
        key: 'limits.max',
        value: '10',
        type: 'Integer',
        environment: 'Development',
      });
    expect(c.status).to.equal(201);
    configId = c.body.configId as string;
    await h.project();
  });
  after(async function () {
    await h?.close();
  });

  /**
   * Runs `act`, then checks the status, the problem+json content type, that `field` and
   * `errors[0].field` (when the problem lists errors) name `field`, and that no event was appended.
   */
  async function expectRefused(
    act: () => request.Test,
    status: number,
    field: string,
    options: { errors?: boolean } = {},
  ): Promise<request.Response> {
    const before = await eventCount(h);
    const res = await act();
    expect(res.status, JSON.stringify(res.body)).to.equal(status);
    expect(res.headers['content-type']).to.equal(PROBLEM);
    expect(res.body.status).to.equal(status);
    expect(res.body.type).to.equal('about:blank');
    expect(res.body.field, JSON.stringify(res.body)).to.equal(field);
    if (options.errors === false) {
      expect(res.body).not.to.have.property('errors');
    } else {
      const errors = res.body.errors as FieldError[];
      expect(errors, JSON.stringify(res.body)).to.be.an('array');
      expect(errors.length, JSON.stringify(res.body)).to.be.greaterThan(0);
      expect(errors.map((e) => e.field)).to.include(field);
      for (const e of errors) expect(e.message).to.be.a('string').and.to.have.length.greaterThan(0);
    }
    expect(await eventCount(h)).to.equal(before);
    return res;
  }

  const postTenant = (body: unknown) => () =>
    request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', bearer(h.admin))
      .send(body as object);

  const postConfig = (body: Record<string, unknown>) => () =>
    request(h.url)
      .post('/api/v1/configs')
      .set('Authorization', bearer(editor))
      .send({ tenantId, environment: 'Development', ...body });

  describe('tenants', function () {
    it("rejects tenantId 'bad id!' with 400 naming tenantId", async function () {
      const res = await expectRefused(
        postTenant({ tenantId: 'bad id!', name: 'x', tier: 'Free' }),
        400,
        'tenantId',
      );
      expect(res.body).to.deep.equal({
        type: 'about:blank',
        title: 'Invalid request',
        status: 400,
        detail: 'tenantId: must be 1-50 letters, digits, - or _',
        instance: '/api/v1/tenants',
        field: 'tenantId',
        errors: [{ field: 'tenantId', message: 'must be 1-50 letters, digits, - or _' }],
      });
    });

    it('rejects a tenantId longer than 50 characters', async function () {
      await expectRefused(postTenant({ tenantId: 'a'.repeat(51), name: 'x' }), 400, 'tenantId');
    });

    it('rejects a missing name with 400 naming name', async function () {
      await expectRefused(postTenant({ tenantId: uniqueTenant('val'), tier: 'Free' }), 400, 'name');
    });

    it('rejects a blank name with 400 naming name', async function () {
      await expectRefused(postTenant({ tenantId: uniqueTenant('val'), name: '   ' }), 400, 'name');
    });

    it('rejects an unknown tier with 400 naming tier', async function () {
      await expectRefused(
        postTenant({ tenantId: uniqueTenant('val'), name: 'x', tier: 'Platinum' }),
        400,
        'tier',
      );
    });

    it('rejects an unknown extra property with 400 naming it', async function () {
      // Regression: zod reports unrecognized keys with an empty path, so fromZod() names '(body)', not
      // the offending property (src/core/http/problem.ts fromZod).
      const res = await expectRefused(
        postTenant({ tenantId: uniqueTenant('val'), name: 'x', tier: 'Free', isAdmin: true }),
        400,
        'isAdmin',
      );
      expect(res.body.detail).to.include('isAdmin');
    });

    it('rejects a PATCH with an unknown status with 400 naming status', async function () {
      await expectRefused(
        () =>
          request(h.url)
            .patch(`/api/v1/tenants/${tenantId}`)
            .set('Authorization', bearer(h.admin))
            .send({ status: 'Deleted' }),
        400,
        'status',
      );
    });

    it('rejects a bad tenant id in the path with 400 naming tenantId', async function () {
      await expectRefused(
        () => request(h.url).get('/api/v1/tenants/bad%20id!').set('Authorization', bearer(h.admin)),
        400,
        'tenantId',
      );
    });
  });

  describe('configurations: create', function () {
    it('rejects a bad key with 400 naming key', async function () {
      await expectRefused(postConfig({ key: 'bad key!', value: 'x', type: 'String' }), 400, 'key');
    });

    it('rejects a key starting with a dot with 400 naming key', async function () {
      await expectRefused(postConfig({ key: '.hidden', value: 'x', type: 'String' }), 400, 'key');
    });

    it('rejects an unknown type with 400 naming type', async function () {
      await expectRefused(postConfig({ key: 'k.type', value: 'x', type: 'Float' }), 400, 'type');
    });

    it('rejects a bad environment name with 400 naming environment', async function () {
      await expectRefused(
        postConfig({ key: 'k.env', value: 'x', type: 'String', environment: 'Prod uction' }),
        400,
        'environment',
      );
    });

    it('refuses text the event store cannot keep (NUL, unpaired surrogates), naming the field', async function () {
      await expectRefused(
        postConfig({ key: 'k.nul', value: 'a\u0000b', type: 'String' }),
        400,
        'value',
      );
      await expectRefused(
        postConfig({ key: 'k.sur', value: 'x', description: 'broken \ud800 text' }),
        400,
        'description',
      );
      await expectRefused(
        postConfig({ key: 'k.json', value: { nested: ['ok', 'bad\u0000'] }, type: 'JSON' }),
        400,
        'value.nested[1]',
      );
      await expectRefused(
        postTenant({ tenantId: 'nul-meta', name: 'x', metadata: { 'k\u0000': 1 } }),
        400,
        'metadata.k\u0000',
      );
      // A pair of surrogates is ordinary text (an emoji).
      await postConfig({ key: 'k.emoji', value: 'ok \ud83d\ude00', type: 'String' })().expect(201);
    });

    it('records the socket address, not header text, when X-Forwarded-For is not an address', async function () {
      const res = await postConfig({ key: 'k.xff', value: 'x', type: 'String' })()
        .set('X-Forwarded-For', 'x'.repeat(60))
        .expect(201);
      const { rows } = await h.services.pool.query(
        `SELECT metadata->>'ipAddress' AS ip FROM es_events WHERE position = $1`,
        [res.headers['x-event-position']],
      );
      expect(rows[0].ip).to.be.oneOf(['127.0.0.1', '::1']);
    });

    it('rejects a missing value with 400 naming value', async function () {
      await expectRefused(postConfig({ key: 'k.novalue', type: 'String' }), 400, 'value');
    });

    for (const [type, value, message] of [
      ['Boolean', 'yes', 'value must be true or false for type Boolean'],
      ['Integer', '1.5', 'value must be a whole number for type Integer'],
      ['Integer', 1.5, 'value must be a whole number for type Integer'],
      ['Number', 'abc', 'value must be a finite number for type Number'],
      ['Number', '0x10', 'value must be a finite number for type Number'],
      ['JSON', '{bad', 'value must be valid JSON for type JSON'],
      ['String', 42, 'value must be a string for type String'],
    ] as const) {
      it(`rejects ${type} value ${JSON.stringify(value)} with 422 naming value`, async function () {
        const res = await expectRefused(
          postConfig({ key: `k.${type.toLowerCase()}`, value, type }),
          422,
          'value',
        );
        expect(res.body).to.deep.equal({
          type: 'about:blank',
          title: 'Validation failed',
          status: 422,
          detail: message,
          instance: '/api/v1/configs',
          code: 'validation',
          field: 'value',
          errors: [{ field: 'value', message }],
        });
      });
    }

    it('rejects a defaultValue that does not fit the type with 422 naming defaultValue', async function () {
      await expectRefused(
        postConfig({ key: 'k.default', value: 'true', type: 'Boolean', defaultValue: 'maybe' }),
        422,
        'defaultValue',
      );
    });

    it('accepts each type with a matching value (control)', async function () {
      for (const [type, value] of [
        ['Boolean', 'true'],
        ['Integer', '-42'],
        ['Number', '1.5e3'],
        ['JSON', '{"a":[1,2]}'],
        ['String', 'plain'],
      ] as const) {
        const res = await postConfig({ key: `ok.${type.toLowerCase()}`, value, type })();
        expect(res.status, `${type} ${JSON.stringify(res.body)}`).to.equal(201);
      }
    });
  });

  describe('configurations: update, delete, rollback', function () {
    const put = (body: Record<string, unknown>, ifMatch?: string) => () => {
      const req = request(h.url)
        .put(`/api/v1/configs/${configId}`)
        .set('Authorization', bearer(editor));
      return (ifMatch === undefined ? req : req.set('If-Match', ifMatch)).send(body);
    };

    it('rejects a value of the wrong type with 422 naming value', async function () {
      const res = await expectRefused(put({ value: 'ten' }, '"1"'), 422, 'value');
      expect(res.body.detail).to.equal('value must be a whole number for type Integer');
    });

    it('answers 428 naming expectedVersion without If-Match or expectedVersion', async function () {
      const res = await expectRefused(put({ value: '11' }), 428, 'expectedVersion');
      expect(res.body).to.deep.equal({
        type: 'about:blank',
        title: 'Precondition required',
        status: 428,
        detail: 'Send the version you are changing as an If-Match header or expectedVersion',
        instance: `/api/v1/configs/${configId}`,
        code: 'precondition_required',
        field: 'expectedVersion',
        errors: [
          {
            field: 'expectedVersion',
            message: 'Send the version you are changing as an If-Match header or expectedVersion',
          },
        ],
        currentVersion: 1,
      });
    });

    it('answers 400 naming If-Match for a garbage If-Match', async function () {
      const res = await expectRefused(put({ value: '11' }, 'garbage'), 400, 'If-Match', {
        errors: false,
      });
      expect(res.body).to.deep.equal({
        type: 'about:blank',
        title: 'Invalid request',
        status: 400,
        detail: 'If-Match must be a version such as "3"',
        instance: `/api/v1/configs/${configId}`,
        field: 'If-Match',
      });
    });

    it('answers 400 naming expectedVersion when If-Match and expectedVersion disagree', async function () {
      await expectRefused(put({ value: '11', expectedVersion: 2 }, '"1"'), 400, 'expectedVersion', {
        errors: false,
      });
    });

    it('answers 409 naming expectedVersion for a stale version', async function () {
      const res = await expectRefused(put({ value: '11' }, '"7"'), 409, 'expectedVersion');
      expect(res.body).to.include({ code: 'version_conflict', currentVersion: 1 });
    });

    it('rejects an unknown property in an update with 400 naming it', async function () {
      // Regression: same as the tenant case above: the problem names '(body)' instead of 'type'.
      await expectRefused(put({ value: '11', type: 'String' }, '"1"'), 400, 'type');
    });

    it('answers 400 naming If-Match for a garbage If-Match on DELETE', async function () {
      await expectRefused(
        () =>
          request(h.url)
            .delete(`/api/v1/configs/${configId}`)
            .set('Authorization', bearer(editor))
            .set('If-Match', 'W/"x"'),
        400,
        'If-Match',
        { errors: false },
      );
    });

    it('answers 400 for a malformed JSON body', async function () {
      const res = await expectRefused(
        () =>
          request(h.url)
            .post('/api/v1/configs')
            .set('Authorization', bearer(editor))
            .set('Content-Type', 'application/json')
            .send('{"tenantId": "x", "key": '),
        400,
        '(body)',
      );
      expect(res.body).to.deep.equal({
        type: 'about:blank',
        title: 'Invalid request',
        status: 400,
        detail: '(body): is not valid JSON',
        instance: '/api/v1/configs',
        field: '(body)',
        errors: [{ field: '(body)', message: 'is not valid JSON' }],
      });
    });

    it('answers 415, not 500, for a body in a charset or encoding it cannot read', async function () {
      await expectRefused(
        () =>
          request(h.url)
            .post('/api/v1/configs')
            .set('Authorization', bearer(editor))
            .set('Content-Type', 'application/json; charset=latin9')
            .send('{}'),
        415,
        '(body)',
        { errors: false },
      );
      await expectRefused(
        () =>
          request(h.url)
            .post('/api/v1/configs')
            .set('Authorization', bearer(editor))
            .set('Content-Type', 'application/json')
            .set('Content-Encoding', 'br2')
            .send('{}'),
        415,
        '(body)',
        { errors: false },
      );
    });

    it('answers 400, not 500, for a path that is not valid percent-encoding', async function () {
      await expectRefused(
        () => request(h.url).get('/api/v1/configs/%E0%A4%A').set('Authorization', bearer(editor)),
        400,
        '(path)',
      );
    });

    const rollback = (body: Record<string, unknown>) => () =>
      request(h.url)
        .post(`/api/v1/configs/${configId}/rollback`)
        .set('Authorization', bearer(editor))
        .send(body);

    it('rejects rollback to version 0 with 400 naming version', async function () {
      await expectRefused(rollback({ version: 0 }), 400, 'version');
    });

    it('rejects rollback without a version with 400 naming version', async function () {
      await expectRefused(rollback({}), 400, 'version');
    });

    it('rejects rollback beyond the current version with 422 naming version', async function () {
      const res = await expectRefused(rollback({ version: 2 }), 422, 'version');
      expect(res.body).to.include({
        code: 'validation',
        detail: 'version must be between 1 and 1',
      });
    });

    it('rejects a version path segment that is not a number with 400 naming version', async function () {
      await expectRefused(
        () =>
          request(h.url)
            .get(`/api/v1/configs/${configId}/versions/abc`)
            .set('Authorization', bearer(editor)),
        400,
        'version',
      );
    });
  });

  describe('queries', function () {
    it('rejects audit-logs with a bad from with 400 naming from', async function () {
      await expectRefused(
        () =>
          request(h.url)
            .get(`/api/v1/audit-logs?tenantId=${tenantId}&from=yesterday`)
            .set('Authorization', bearer(editor)),
        400,
        'from',
      );
    });

    it('rejects audit-logs without tenantId for a tenant token with 400 naming tenantId', async function () {
      await expectRefused(
        () => request(h.url).get('/api/v1/audit-logs').set('Authorization', bearer(editor)),
        400,
        'tenantId',
        { errors: false },
      );
    });

    it('rejects a pageSize above 500 with 400 naming pageSize', async function () {
      await expectRefused(
        () =>
          request(h.url)
            .get(`/api/v1/configs?tenantId=${tenantId}&pageSize=501`)
            .set('Authorization', bearer(editor)),
        400,
        'pageSize',
      );
    });

    for (const path of [
      () => `/api/v1/configs?tenantId=${tenantId}&minPosition=abc`,
      () => `/api/v1/tenants/${tenantId}?minPosition=abc`,
      () => `/api/v1/configs/${configId}?minPosition=abc`,
      () => `/api/v1/audit-logs?tenantId=${tenantId}&minPosition=abc`,
      () => `/api/v1/configs/${configId}/versions?minPosition=-1`,
    ]) {
      it(`rejects ?minPosition=abc with 400 naming minPosition (${path().replace(/\?.*/, '')})`, async function () {
        await expectRefused(
          () => request(h.url).get(path()).set('Authorization', bearer(editor)),
          400,
          'minPosition',
          { errors: false },
        );
      });
    }

    it('rejects a bad X-Min-Position header with 400 naming minPosition', async function () {
      await expectRefused(
        () =>
          request(h.url)
            .get(`/api/v1/configs?tenantId=${tenantId}`)
            .set('Authorization', bearer(editor))
            .set('X-Min-Position', '1e3'),
        400,
        'minPosition',
        { errors: false },
      );
    });
  });

  describe('hot read', function () {
    const hot = (env: string, suffix = '') =>
      `/api/v1/tenants/${tenantId}/environments/${env}/configs${suffix}`;

    it('rejects an invalid environment name with 400 naming environment', async function () {
      const res = await expectRefused(
        () => request(h.url).get(hot('bad%20env!')).set('Authorization', bearer(editor)),
        400,
        'environment',
        { errors: false },
      );
      expect(res.body).to.deep.equal({
        type: 'about:blank',
        title: 'Invalid request',
        status: 400,
        detail: 'environment is not a valid environment',
        field: 'environment',
      });
    });

    it('rejects an invalid environment name on the single-key route', async function () {
      await expectRefused(
        () => request(h.url).get(hot('-dash', '/limits.max')).set('Authorization', bearer(editor)),
        400,
        'environment',
        { errors: false },
      );
    });

    it('rejects an invalid tenant id with 400 naming tenantId', async function () {
      await expectRefused(
        () =>
          request(h.url)
            .get('/api/v1/tenants/bad%20id/environments/Development/configs')
            .set('Authorization', bearer(editor)),
        400,
        'tenantId',
        { errors: false },
      );
    });

    it('rejects ?minPosition=abc with 400 naming minPosition', async function () {
      await expectRefused(
        () =>
          request(h.url)
            .get(hot('Development', '?minPosition=abc'))
            .set('Authorization', bearer(editor)),
        400,
        'minPosition',
        { errors: false },
      );
    });

    it('serves the valid environment (control)', async function () {
      const res = await request(h.url)
        .get(hot('Development', '/limits.max'))
        .set('Authorization', bearer(editor));
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ key: 'limits.max', value: 10, type: 'Integer', version: 1 });
    });
  });
});
