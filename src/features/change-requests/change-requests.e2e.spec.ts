import { expect } from 'chai';
import request from 'supertest';
import { rebuildProjections } from '../../core/projections/rebuild.js';
import { Queues, expiryJobId } from '../../core/jobs/queues.js';
import { startHarness, uniqueTenant, type Harness, auth } from '../../../test/support/harness.js';
import { until } from '../../../test/support/until.js';

/** Polls `probe` until it returns something other than undefined, or fails after the deadline. */

const APPROVAL_REQUIRED = {
  code: 'approval_required',
  field: 'environment',
  requiredApprovals: 1,
  changeRequests: '/api/v1/approvals',
};

describe('change requests and approval policies (e2e)', function () {
  let h: Harness;
  before(async function () {
    h = await startHarness({
      runProjector: true,
      runWorker: true,
      overrides: { ConfigService__ApprovalMinExpiry: 'PT0.1S' },
    });
  });
  after(async function () {
    await h?.close();
  });

  type Tenant = Awaited<ReturnType<typeof tenant>>;

  async function tenant(extra: Record<string, unknown> = {}) {
    const tenantId = uniqueTenant('apr');
    await request(h.url)
      .post('/api/v1/tenants')
      .set(auth(h.admin))
      .send({ tenantId, name: 'T', tier: 'Free', ...extra })
      .expect(201);
    return {
      tenantId,
      tenantAdmin: h.token('tenant-admin', tenantId, { sub: 'tadmin' }),
      // Alice requests changes; she may also approve (so self-approval reaches the domain).
      editor: h.token(['editor', 'approver'], tenantId, { sub: 'alice' }),
      editor2: h.token('editor', tenantId, { sub: 'erin' }),
      approver: h.token('approver', tenantId, { sub: 'bob' }),
      approver2: h.token('approver', tenantId, { sub: 'carol' }),
      approver3: h.token('approver', tenantId, { sub: 'dave' }),
      reader: h.token('reader', tenantId, { sub: 'rita' }),
    };
  }

  function setPolicy(t: Tenant, environment: string, requiredApprovals: unknown, token?: string) {
    return request(h.url)
      .put(`/api/v1/tenants/${t.tenantId}/approval-policies/${environment}`)
      .set(auth(token ?? t.tenantAdmin))
      .send({ requiredApprovals });
  }

  function createConfig(t: Tenant, body: Record<string, unknown>) {
    return request(h.url)
      .post('/api/v1/configs')
      .set(auth(t.editor))
      .send({ tenantId: t.tenantId, ...body });
  }

  /** A Production config made while the policy is 0, the policy then set back to 1. */
  async function productionConfig(
    t: Tenant,
    key: string,
    value: unknown,
    type = 'String',
    changes: unknown[] = [],
  ) {
    await setPolicy(t, 'Production', 0).expect(200);
    const created = await createConfig(t, { key, value, type, environment: 'Production' }).expect(
      201,
    );
    const configId = created.body.configId as string;
    let version = 1;
    for (const next of changes) {
      await request(h.url)
        .put(`/api/v1/configs/${configId}`)
        .set(auth(t.editor))
        .send({ value: next, expectedVersion: version++ })
        .expect(200);
    }
    await setPolicy(t, 'Production', 1).expect(200);
    return configId;
  }

  function requestChange(token: string, body: Record<string, unknown>) {
    return request(h.url).post('/api/v1/approvals').set(auth(token)).send(body);
  }

  function act(
    token: string,
    approvalId: string,
    action: 'approve' | 'reject' | 'cancel',
    comments?: string,
  ) {
    return request(h.url)
      .post(`/api/v1/approvals/${approvalId}/${action}`)
      .set(auth(token))
      .send(comments === undefined ? {} : { comments });
  }

  /** The log's head now: reading with it as minPosition sees every write made so far. */
  const head = async () => (await h.services.store.headPosition()).toString();

  async function readApproval(token: string, approvalId: string, position?: string) {
    const res = await request(h.url)
      .get(`/api/v1/approvals/${approvalId}?minPosition=${position ?? (await head())}`)
      .set(auth(token))
      .expect(200);
    return res.body;
  }

  async function readConfig(token: string, configId: string, position?: string) {
    const res = await request(h.url)
      .get(`/api/v1/configs/${configId}?minPosition=${position ?? (await head())}`)
      .set(auth(token))
      .expect(200);
    return res.body;
  }

  /** Every event of a tenant (each event's data names its tenant). */
  async function tenantEvents(tenantId: string): Promise<number> {
    const { rows } = await h.services.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM es_events WHERE data->>'tenantId' = $1`,
      [tenantId],
    );
    return rows[0]!.n;
  }

  async function streamEvents(streamId: string): Promise<string[]> {
    const { rows } = await h.services.pool.query<{ event_type: string }>(
      'SELECT event_type FROM es_events WHERE stream_id = $1 ORDER BY stream_revision',
      [streamId],
    );
    return rows.map((r) => r.event_type);
  }

  async function countEvents(type: string, field: string, id: string): Promise<number> {
    const { rows } = await h.services.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM es_events WHERE event_type = $1 AND data->>'${field}' = $2`,
      [type, id],
    );
    return rows[0]!.n;
  }

  describe('approval policy', function () {
    it('defaults to one approval for Production', async function () {
      const t = await tenant();
      const res = await request(h.url)
        .get(`/api/v1/tenants/${t.tenantId}/approval-policies?minPosition=${await head()}`)
        .set(auth(t.reader))
        .expect(200);
      expect(res.body).to.deep.equal({
        tenantId: t.tenantId,
        defaults: { Production: 1 },
        requiredApprovals: { Production: 1 },
      });
    });

    it('refuses direct writes to Production with 409 approval_required, appending nothing', async function () {
      const t = await tenant();
      const configId = await productionConfig(t, 'db.pool', 'a', 'String', ['b']);
      // A deleted one, to try restoring.
      await setPolicy(t, 'Production', 0).expect(200);
      const gone = await createConfig(t, { key: 'gone', value: 'x', environment: 'Production' });
      await request(h.url)
        .delete(`/api/v1/configs/${gone.body.configId}`)
        .set(auth(t.editor))
        .expect(200);
      await setPolicy(t, 'Production', 1).expect(200);

      const before = await tenantEvents(t.tenantId);
      const attempts: [string, request.Test][] = [
        [
          'PUT',
          request(h.url)
            .put(`/api/v1/configs/${configId}`)
            .set(auth(t.editor))
            .set('If-Match', '"2"')
            .send({ value: 'c' }),
        ],
        ['create', createConfig(t, { key: 'brand.new', value: 'x', environment: 'Production' })],
        [
          'DELETE',
          request(h.url)
            .delete(`/api/v1/configs/${configId}`)
            .set(auth(t.editor))
            .set('If-Match', '"2"'),
        ],
        [
          'rollback',
          request(h.url)
            .post(`/api/v1/configs/${configId}/rollback`)
            .set(auth(t.editor))
            .send({ version: 1 }),
        ],
        [
          'restore',
          request(h.url)
            .post(`/api/v1/configs/${gone.body.configId}/restore`)
            .set(auth(t.editor))
            .send({}),
        ],
        [
          'deployment',
          request(h.url)
            .post('/api/v1/deployments')
            .set(auth(t.editor))
            .send({ configId, value: 'z' }),
        ],
      ];
      for (const [label, attempt] of attempts) {
        const res = await attempt;
        expect(res.status, label).to.equal(409);
        expect(res.headers['content-type'], label).to.match(/application\/problem\+json/);
        expect(res.body, label).to.include(APPROVAL_REQUIRED);
      }
      expect(await tenantEvents(t.tenantId)).to.equal(before);
      const config = await readConfig(t.reader, configId);
      expect(config).to.include({ value: 'b', version: 2 });
    });

    it('lets a tenant admin require approvals for Staging, and lift them for Production', async function () {
      const t = await tenant();
      const staging = await setPolicy(t, 'Staging', 2).expect(200);
      expect(staging.body).to.deep.include({
        tenantId: t.tenantId,
        environment: 'Staging',
        requiredApprovals: 2,
      });
      const position = staging.headers['x-event-position'];
      expect(position).to.match(/^\d+$/);
      const policy = await request(h.url)
        .get(`/api/v1/tenants/${t.tenantId}/approval-policies?minPosition=${position}`)
        .set(auth(t.reader))
        .expect(200);
      expect(policy.body.requiredApprovals).to.deep.equal({ Production: 1, Staging: 2 });

      const before = await tenantEvents(t.tenantId);
      const refused = await createConfig(t, {
        key: 'k',
        value: 'x',
        environment: 'Staging',
      }).expect(409);
      expect(refused.body).to.include({ ...APPROVAL_REQUIRED, requiredApprovals: 2 });
      expect(await tenantEvents(t.tenantId)).to.equal(before);
      // Other environments are untouched.
      await createConfig(t, { key: 'k', value: 'x', environment: 'Development' }).expect(201);

      const prod = await setPolicy(t, 'Production', 0).expect(200);
      expect(prod.body).to.deep.include({ environment: 'Production', requiredApprovals: 0 });
      const created = await createConfig(t, {
        key: 'k',
        value: 'x',
        environment: 'Production',
      }).expect(201);
      await request(h.url)
        .put(`/api/v1/configs/${created.body.configId}`)
        .set(auth(t.editor))
        .send({ value: 'y', expectedVersion: 1 })
        .expect(200);
      const after = await request(h.url)
        .get(
          `/api/v1/tenants/${t.tenantId}/approval-policies?minPosition=${prod.headers['x-event-position']}`,
        )
        .set(auth(t.reader))
        .expect(200);
      expect(after.body.requiredApprovals).to.deep.equal({ Production: 0, Staging: 2 });
    });

    it('refuses policy changes from editors and approvers (403)', async function () {
      const t = await tenant();
      const before = await tenantEvents(t.tenantId);
      for (const token of [t.editor2, t.approver, t.reader]) {
        const res = await setPolicy(t, 'Production', 0, token).expect(403);
        expect(res.body.status).to.equal(403);
      }
      // Another tenant's admin cannot see this tenant at all.
      const other = await tenant();
      await setPolicy(t, 'Production', 0, other.tenantAdmin).expect(404);
      // A tenant admin limited to Development sets Development's policy only.
      const devAdmin = h.token('tenant-admin', t.tenantId, {
        sub: 'dev-admin',
        environments: ['Development'],
      });
      await setPolicy(t, 'Production', 0, devAdmin).expect(403);
      expect(await tenantEvents(t.tenantId)).to.equal(before);
      await setPolicy(t, 'Development', 1, devAdmin).expect(200);
    });

    it('rejects an invalid requiredApprovals with 400 naming the field', async function () {
      const t = await tenant();
      const before = await tenantEvents(t.tenantId);
      for (const bad of [11, -1, 1.5, '2', null, undefined]) {
        const res = await setPolicy(t, 'Production', bad).expect(400);
        expect(res.body.field, JSON.stringify(bad)).to.equal('requiredApprovals');
        expect(res.body.errors.map((e: { field: string }) => e.field)).to.deep.equal([
          'requiredApprovals',
        ]);
      }
      expect(await tenantEvents(t.tenantId)).to.equal(before);
    });
  });

  describe('approving', function () {
    it('applies an approved change to an existing Production config with a Direct deployment', async function () {
      const t = await tenant();
      const configId = await productionConfig(t, 'feature.color', 'blue');
      const created = await requestChange(t.editor, {
        configId,
        value: 'green',
        description: 'go green',
      }).expect(201);
      const id = created.body.approvalId as string;
      expect(id).to.match(/^apr_[\da-f]{32}$/);
      expect(created.headers.location).to.equal(`/api/v1/approvals/${id}`);
      expect(created.body).to.deep.include({
        tenantId: t.tenantId,
        configId,
        key: 'feature.color',
        environment: 'Production',
        type: 'String',
        proposedValue: 'green',
        currentValue: 'blue',
        baseVersion: 1,
        description: 'go green',
        requestedBy: 'alice',
        requiredApprovals: 1,
        status: 'Pending',
        approvers: [],
        newConfig: null,
        isSensitive: false,
        rollout: {
          strategy: 'Direct',
          steps: [100],
          bakeTimeSeconds: 0,
          errorThreshold: 1,
          minRequests: 0,
        },
      });
      const deploymentId = created.body.deploymentId as string;
      expect(deploymentId).to.match(/^dep_/);
      const pending = await readApproval(t.reader, id, created.headers['x-event-position']);
      expect(pending).to.include({
        approvalId: id,
        status: 'Pending',
        requiredApprovalLevel: 1,
        currentApprovalLevel: 0,
        key: 'feature.color',
        proposedValue: 'green',
        currentValue: 'blue',
        changeDescription: 'go green',
        deploymentId: null,
      });
      // Nothing changes until it is approved.
      expect(await readConfig(t.reader, configId)).to.include({ value: 'blue', version: 1 });

      const approved = await act(t.approver, id, 'approve', 'lgtm').expect(200);
      expect(approved.body).to.deep.include({ approvalId: id, status: 'Approved', deploymentId });
      expect(approved.body.approvers.map((a: { userId: string }) => a.userId)).to.deep.equal([
        'bob',
      ]);
      const position = approved.headers['x-event-position'] as string;
      expect(approved.body.position).to.equal(position);

      expect(await readConfig(t.reader, configId, position)).to.include({
        value: 'green',
        version: 2,
        updatedBy: 'bob',
      });
      const hot = await request(h.url)
        .get(
          `/api/v1/tenants/${t.tenantId}/environments/Production/configs/feature.color?minPosition=${position}`,
        )
        .set(auth(t.reader))
        .expect(200);
      expect(hot.body).to.include({ key: 'feature.color', value: 'green', version: 2 });

      const deployment = await request(h.url)
        .get(`/api/v1/deployments/${deploymentId}?minPosition=${position}`)
        .set(auth(t.reader))
        .expect(200);
      expect(deployment.body).to.include({
        deploymentId,
        configId,
        environment: 'Production',
        strategy: 'Direct',
        status: 'Completed',
        value: 'green',
        previousValue: 'blue',
        progress: 100,
        deployedBy: 'bob',
      });
      expect(deployment.body.metrics).to.include({ approvalId: id, version: 2 });
      expect(await streamEvents(`deployment-${deploymentId}`)).to.deep.equal([
        'DeploymentStarted',
        'DeploymentCompleted',
      ]);
      expect(await streamEvents(`approval-${id}`)).to.deep.equal([
        'ApprovalRequested',
        'ApprovalGranted',
        'ApprovalApproved',
      ]);

      const { rows } = await h.services.pool.query(
        'SELECT * FROM approval_requests WHERE approval_id = $1',
        [id],
      );
      expect(rows).to.have.length(1);
      const row = rows[0];
      expect(row).to.include({
        status: 'Approved',
        current_approval_level: 1,
        required_approval_level: 1,
        deployment_id: deploymentId,
        resolved_by: 'bob',
        requested_by: 'alice',
      });
      expect(row.resolved_at).to.be.instanceOf(Date);
      expect(row.approvers).to.have.length(1);
      expect(row.approvers[0]).to.include({ userId: 'bob', comments: 'lgtm' });
      expect(Number.isNaN(Date.parse(row.approvers[0].at))).to.equal(false);

      const list = await request(h.url)
        .get(`/api/v1/approvals?tenantId=${t.tenantId}&status=Approved&minPosition=${position}`)
        .set(auth(t.reader))
        .expect(200);
      expect(list.body.total).to.equal(1);
      expect(list.body.items.map((a: { approvalId: string }) => a.approvalId)).to.deep.equal([id]);
      const pendingList = await request(h.url)
        .get(`/api/v1/approvals?tenantId=${t.tenantId}&status=Pending`)
        .set(auth(t.reader))
        .expect(200);
      expect(pendingList.body.total).to.equal(0);
    });

    it('creates a new config (version 1) on approval, counting against the quota', async function () {
      const t = await tenant({ maxConfigurations: 1 });
      const created = await requestChange(t.editor, {
        tenantId: t.tenantId,
        key: 'new.flag',
        environment: 'Production',
        type: 'Boolean',
        value: true,
        description: 'a new flag',
        tags: ['launch'],
      }).expect(201);
      const id = created.body.approvalId as string;
      const configId = created.body.configId as string;
      expect(created.body).to.deep.include({
        key: 'new.flag',
        type: 'Boolean',
        proposedValue: 'true',
        currentValue: null,
        baseVersion: 0,
        newConfig: { description: 'a new flag', tags: ['launch'] },
        status: 'Pending',
      });
      await request(h.url)
        .get(`/api/v1/configs/${configId}?minPosition=${created.headers['x-event-position']}`)
        .set(auth(t.reader))
        .expect(404);

      const approved = await act(t.approver, id, 'approve').expect(200);
      expect(approved.body.status).to.equal('Approved');
      const position = approved.headers['x-event-position'] as string;
      expect(await readConfig(t.reader, configId, position)).to.include({
        configId,
        key: 'new.flag',
        environment: 'Production',
        type: 'Boolean',
        value: 'true',
        version: 1,
        description: 'a new flag',
      });
      const versions = await request(h.url)
        .get(`/api/v1/configs/${configId}/versions`)
        .set(auth(t.reader))
        .expect(200);
      expect(versions.body.total).to.equal(1);
      expect(versions.body.items[0]).to.include({ version: 1, changeType: 'Created' });
      const deployment = await request(h.url)
        .get(`/api/v1/deployments/${approved.body.deploymentId}?minPosition=${position}`)
        .set(auth(t.reader))
        .expect(200);
      expect(deployment.body).to.include({
        status: 'Completed',
        value: 'true',
        previousValue: null,
      });
      expect(await streamEvents(`tenant-${t.tenantId}`)).to.include('ConfigurationRegistered');

      // The one slot is taken: a second new config cannot be approved, nor created directly.
      const second = await requestChange(t.editor, {
        tenantId: t.tenantId,
        key: 'other.flag',
        environment: 'Production',
        type: 'Boolean',
        value: false,
      }).expect(201);
      const before = await tenantEvents(t.tenantId);
      const full = await act(t.approver, second.body.approvalId, 'approve').expect(409);
      expect(full.body).to.include({ code: 'quota_exceeded', limit: 1, used: 1 });
      expect(await tenantEvents(t.tenantId)).to.equal(before);
      const stillPending = await readApproval(t.reader, second.body.approvalId);
      expect(stillPending).to.include({ status: 'Pending', currentApprovalLevel: 0 });
      const direct = await createConfig(t, {
        key: 'dev.one',
        value: 'x',
        environment: 'Development',
      });
      expect(direct.status).to.equal(409);
      expect(direct.body.code).to.equal('quota_exceeded');
    });

    it('deletes a Production config through a Delete request, freeing its quota slot', async function () {
      const t = await tenant({ maxConfigurations: 1 });
      const configId = await productionConfig(t, 'old.flag', 'x');
      await request(h.url)
        .delete(`/api/v1/configs/${configId}`)
        .set(auth(t.editor))
        .set('If-Match', '"1"')
        .expect(409);

      // A delete proposes no value and deploys nothing: those fields are refused, by name.
      const before = await tenantEvents(t.tenantId);
      for (const [field, extra] of [
        ['value', { value: 'y' }],
        ['rollout', { rollout: { strategy: 'Direct' } }],
        ['type', { type: 'String' }],
      ] as const) {
        const bad = await requestChange(t.editor, {
          configId,
          action: 'Delete',
          ...extra,
        }).expect(400);
        expect(bad.body.field).to.equal(field);
      }
      const unknownAction = await requestChange(t.editor, { configId, action: 'Drop' }).expect(400);
      expect(unknownAction.body.field).to.equal('action');
      const noValue = await requestChange(t.editor, { configId }).expect(400);
      expect(noValue.body.field).to.equal('value');
      expect(await tenantEvents(t.tenantId)).to.equal(before);

      const created = await requestChange(t.editor, {
        configId,
        action: 'Delete',
        description: 'retire the flag',
      }).expect(201);
      const id = created.body.approvalId as string;
      expect(created.body).to.deep.include({
        action: 'Delete',
        proposedValue: null,
        currentValue: 'x',
        baseVersion: 1,
        deploymentId: null,
        status: 'Pending',
      });
      expect(await readApproval(t.reader, id)).to.include({
        action: 'Delete',
        proposedValue: null,
        currentValue: 'x',
        status: 'Pending',
      });
      // Still there until approved.
      expect(await readConfig(t.reader, configId)).to.include({ value: 'x', version: 1 });

      const approved = await act(t.approver, id, 'approve', 'ok').expect(200);
      expect(approved.body).to.include({ status: 'Approved', deploymentId: null });
      const position = approved.headers['x-event-position'] as string;
      expect(await readApproval(t.reader, id, position)).to.include({
        status: 'Approved',
        resolvedBy: 'bob',
        deploymentId: null,
      });
      await request(h.url)
        .get(`/api/v1/tenants/${t.tenantId}/environments/Production/configs/old.flag`)
        .set(auth(t.reader))
        .expect(404);
      const versions = await request(h.url)
        .get(`/api/v1/configs/${configId}/versions?minPosition=${position}`)
        .set(auth(t.reader))
        .expect(200);
      // Newest first.
      expect(versions.body.items.map((v: { changeType: string }) => v.changeType)).to.deep.equal([
        'Deleted',
        'Created',
      ]);
      expect(await streamEvents(`tenant-${t.tenantId}`)).to.include('ConfigurationReleased');
      expect(await countEvents('DeploymentStarted', 'configId', configId)).to.equal(0);

      // The slot is free again, and the deleted config cannot be deleted twice.
      await createConfig(t, { key: 'dev.one', value: 'x', environment: 'Development' }).expect(201);
      const twice = await requestChange(t.editor, { configId, action: 'Delete' }).expect(404);
      expect(twice.body.field).to.equal('configId');
    });

    it('brings a deleted Production config back through an Update request, continuing its history', async function () {
      const t = await tenant();
      const configId = await productionConfig(t, 'back.flag', 'x');
      const del = await requestChange(t.editor, { configId, action: 'Delete' }).expect(201);
      await act(t.approver, del.body.approvalId, 'approve').expect(200);
      const back = await requestChange(t.editor, { configId, value: 'x' }).expect(201);
      expect(back.body).to.include({ action: 'Update', proposedValue: 'x', currentValue: null });
      const approved = await act(t.approver, back.body.approvalId, 'approve').expect(200);
      expect(
        await readConfig(t.reader, configId, approved.headers['x-event-position'] as string),
      ).to.include({ value: 'x', version: 3 });
    });

    it('refuses a Delete request that went stale: the newer value stays', async function () {
      const t = await tenant();
      const configId = await productionConfig(t, 'busy.flag', 'x');
      const del = await requestChange(t.editor, { configId, action: 'Delete' }).expect(201);
      const update = await requestChange(t.editor, { configId, value: 'y' }).expect(201);
      await act(t.approver, update.body.approvalId, 'approve').expect(200);
      const stale = await act(t.approver, del.body.approvalId, 'approve').expect(409);
      expect(stale.body.code).to.equal('stale');
      expect(await readConfig(t.reader, configId)).to.include({ value: 'y', version: 2 });
      expect(await readApproval(t.reader, del.body.approvalId)).to.include({ status: 'Pending' });
    });

    it('reverts a completed Production deployment only through a change request', async function () {
      const t = await tenant();
      const configId = await productionConfig(t, 'revert.me', 'v1');
      const created = await requestChange(t.editor, { configId, value: 'v2' }).expect(201);
      const approved = await act(t.approver, created.body.approvalId, 'approve').expect(200);
      const deploymentId = approved.body.deploymentId as string;
      const before = await tenantEvents(t.tenantId);
      const refused = await request(h.url)
        .post(`/api/v1/deployments/${deploymentId}/rollback`)
        .set(auth(t.editor))
        .send({ reason: 'undo' })
        .expect(409);
      expect(refused.body).to.deep.include(APPROVAL_REQUIRED);
      expect(await tenantEvents(t.tenantId)).to.equal(before);
      // The way back: a change request with the old value.
      const back = await requestChange(t.editor, { configId, value: 'v1' }).expect(201);
      await act(t.approver, back.body.approvalId, 'approve').expect(200);
      expect(await readConfig(t.reader, configId)).to.include({ value: 'v1', version: 3 });
    });

    it('lets an editor stop a running Production canary at once (the safe direction)', async function () {
      const t = await tenant();
      const configId = await productionConfig(t, 'stop.me', 'v1');
      const created = await requestChange(t.editor, {
        configId,
        value: 'v2',
        rollout: { strategy: 'Canary', steps: [10, 100], bakeTimeSeconds: 3600 },
      }).expect(201);
      const approved = await act(t.approver, created.body.approvalId, 'approve').expect(200);
      const stopped = await request(h.url)
        .post(`/api/v1/deployments/${approved.body.deploymentId}/rollback`)
        .set(auth(t.editor))
        .send({ reason: 'errors in the logs' })
        .expect(200);
      expect(stopped.body.status).to.equal('RolledBack');
      expect(await readConfig(t.reader, configId)).to.include({ value: 'v1', version: 1 });
    });

    it('validates the value up front: 422 naming value, nothing appended', async function () {
      const t = await tenant();
      const configId = await productionConfig(t, 'flag', 'true', 'Boolean');
      const before = await tenantEvents(t.tenantId);
      const existing = await requestChange(t.editor, { configId, value: 'maybe' }).expect(422);
      expect(existing.body).to.include({ code: 'validation', field: 'value' });
      const fresh = await requestChange(t.editor, {
        tenantId: t.tenantId,
        key: 'new.flag',
        environment: 'Production',
        type: 'Boolean',
        value: 'maybe',
      }).expect(422);
      expect(fresh.body).to.include({ code: 'validation', field: 'value' });
      // The current value is no change.
      const same = await requestChange(t.editor, { configId, value: true }).expect(422);
      expect(same.body).to.include({ code: 'validation', field: 'value' });
      // A new config needs a type; an existing one keeps its own.
      const untyped = await requestChange(t.editor, {
        tenantId: t.tenantId,
        key: 'untyped',
        environment: 'Production',
        value: 'x',
      }).expect(422);
      expect(untyped.body).to.include({ code: 'validation', field: 'type' });
      const retyped = await requestChange(t.editor, {
        configId,
        type: 'String',
        value: 'false',
      }).expect(422);
      expect(retyped.body).to.include({ code: 'validation', field: 'type' });
      // A new config is created directly, never by a canary.
      const canary = await requestChange(t.editor, {
        tenantId: t.tenantId,
        key: 'new.canary',
        environment: 'Production',
        type: 'String',
        value: 'x',
        rollout: { strategy: 'Canary' },
      }).expect(422);
      expect(canary.body).to.include({ code: 'validation', field: 'strategy' });
      expect(await tenantEvents(t.tenantId)).to.equal(before);
    });

    it('refuses self-approval, a repeated approver, and callers without approve on the environment', async function () {
      const t = await tenant();
      const configId = await productionConfig(t, 'limit', 10, 'Integer');
      await setPolicy(t, 'Production', 2).expect(200);
      const { body } = await requestChange(t.editor, { configId, value: 20 }).expect(201);
      const id = body.approvalId as string;
      expect(body.requiredApprovals).to.equal(2);
      const before = await tenantEvents(t.tenantId);

      const self = await act(t.editor, id, 'approve').expect(403);
      expect(self.body).to.include({ code: 'forbidden', field: 'approver' });
      for (const token of [t.reader, t.editor2, t.tenantAdmin]) {
        const res = await act(token, id, 'approve').expect(403);
        expect(res.body.status).to.equal(403);
      }
      const stagingOnly = h.token('approver', t.tenantId, {
        sub: 'sam',
        environments: ['Staging'],
      });
      const limited = await act(stagingOnly, id, 'approve').expect(403);
      expect(limited.body.field).to.equal('environment');
      expect(await tenantEvents(t.tenantId)).to.equal(before);

      await act(t.approver, id, 'approve').expect(200);
      const again = await act(t.approver, id, 'approve').expect(409);
      expect(again.body).to.include({ code: 'already_exists', field: 'approver' });
      const row = await readApproval(t.reader, id);
      expect(row).to.include({ status: 'Pending', currentApprovalLevel: 1 });
    });

    it('counts approval levels up to the required level', async function () {
      const t = await tenant();
      const configId = await productionConfig(t, 'timeout', 30, 'Integer');
      await setPolicy(t, 'Production', 2).expect(200);
      const { body } = await requestChange(t.editor, { configId, value: 60 }).expect(201);
      const id = body.approvalId as string;

      const first = await act(t.approver, id, 'approve', 'one').expect(200);
      expect(first.body).to.include({ status: 'Pending', requiredApprovals: 2 });
      expect(first.body.approvers).to.have.length(1);
      const afterFirst = await readApproval(t.reader, id, first.headers['x-event-position']);
      expect(afterFirst).to.include({
        status: 'Pending',
        requiredApprovalLevel: 2,
        currentApprovalLevel: 1,
        deploymentId: null,
      });
      expect(await readConfig(t.reader, configId)).to.include({ value: '30', version: 1 });
      expect(await countEvents('DeploymentStarted', 'approvalId', id)).to.equal(0);

      const second = await act(t.approver2, id, 'approve', 'two').expect(200);
      expect(second.body.status).to.equal('Approved');
      const position = second.headers['x-event-position'] as string;
      const afterSecond = await readApproval(t.reader, id, position);
      expect(afterSecond).to.include({
        status: 'Approved',
        currentApprovalLevel: 2,
        resolvedBy: 'carol',
        deploymentId: body.deploymentId,
      });
      expect(
        afterSecond.approvers.map((a: { userId: string; comments: string }) => [
          a.userId,
          a.comments,
        ]),
      ).to.deep.equal([
        ['bob', 'one'],
        ['carol', 'two'],
      ]);
      expect(await readConfig(t.reader, configId, position)).to.include({
        value: '60',
        version: 2,
      });
    });

    it('refuses a stale request (409 stale) and keeps the newer value', async function () {
      const t = await tenant();
      const configId = await productionConfig(t, 'mode', 'a');
      const { body } = await requestChange(t.editor, { configId, value: 'b' }).expect(201);
      expect(body.baseVersion).to.equal(1);
      // The config moves on meanwhile.
      await setPolicy(t, 'Production', 0).expect(200);
      await request(h.url)
        .put(`/api/v1/configs/${configId}`)
        .set(auth(t.editor))
        .send({ value: 'c', expectedVersion: 1 })
        .expect(200);
      await setPolicy(t, 'Production', 1).expect(200);

      const before = await tenantEvents(t.tenantId);
      const stale = await act(t.approver, body.approvalId, 'approve').expect(409);
      expect(stale.body).to.include({ code: 'stale', baseVersion: 1, currentVersion: 2 });
      expect(await tenantEvents(t.tenantId)).to.equal(before);
      expect(await readConfig(t.reader, configId)).to.include({ value: 'c', version: 2 });
      expect(await readApproval(t.reader, body.approvalId)).to.include({
        status: 'Pending',
        currentApprovalLevel: 0,
      });
    });

    it('starts exactly one deployment when two approvers give the final approval at once', async function () {
      const t = await tenant();
      await setPolicy(t, 'Production', 0).expect(200);
      const configIds: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await createConfig(t, {
          key: `race.${i}`,
          value: 'old',
          environment: 'Production',
        }).expect(201);
        configIds.push(res.body.configId);
      }
      await setPolicy(t, 'Production', 2).expect(200);
      for (const configId of configIds) {
        const { body } = await requestChange(t.editor, { configId, value: 'new' }).expect(201);
        const id = body.approvalId as string;
        await act(t.approver, id, 'approve').expect(200);
        const results = await Promise.all([
          act(t.approver2, id, 'approve'),
          act(t.approver3, id, 'approve'),
        ]);
        expect(results.map((r) => r.status).sort()).to.deep.equal([200, 409]);
        const loser = results.find((r) => r.status === 409)!;
        // The loser sees the request approved (invalid_state) or, when it read the approval
        // before and the config after the winner's append, the config moved on (stale).
        // The loser re-decides on the resolved request (not 'stale' from the winner's new version).
        expect(loser.body.code).to.equal('invalid_state');

        expect(await countEvents('DeploymentStarted', 'deploymentId', body.deploymentId)).to.equal(
          1,
        );
        expect(await countEvents('DeploymentStarted', 'approvalId', id)).to.equal(1);
        expect(await countEvents('ApprovalApproved', 'approvalId', id)).to.equal(1);
        expect(await countEvents('ApprovalGranted', 'approvalId', id)).to.equal(2);
        const winner = results.find((r) => r.status === 200)!;
        await readApproval(t.reader, id, winner.headers['x-event-position']);
        const { rows } = await h.services.pool.query(
          `SELECT deployment_id FROM deployments WHERE metrics->>'approvalId' = $1`,
          [id],
        );
        expect(rows.map((r) => r.deployment_id)).to.deep.equal([body.deploymentId]);
        expect(await readConfig(t.reader, configId)).to.include({ value: 'new', version: 2 });
      }
    });

    it('answers racing resolutions (approve, reject, cancel) with one 200 and one 409', async function () {
      const t = await tenant();
      await setPolicy(t, 'Production', 0).expect(200);
      const configIds: string[] = [];
      for (let i = 0; i < 12; i++) {
        const res = await createConfig(t, {
          key: `rr.${i}`,
          value: 'old',
          environment: 'Production',
        }).expect(201);
        configIds.push(res.body.configId);
      }
      await setPolicy(t, 'Production', 1).expect(200);
      const races: [string, (id: string) => ReturnType<typeof act>][] = [
        ['approve', (id) => act(t.approver, id, 'approve')],
        ['reject', (id) => act(t.approver, id, 'reject', 'no')],
        ['cancel', (id) => act(t.editor, id, 'cancel', 'withdrawn')],
      ];
      const outcomes: string[] = [];
      for (const [i, configId] of configIds.entries()) {
        const { body } = await requestChange(t.editor, { configId, value: 'new' }).expect(201);
        const [name, first] = races[i % races.length]!;
        const results = await Promise.all([
          first(body.approvalId),
          act(t.approver2, body.approvalId, 'reject', 'racing'),
        ]);
        outcomes.push(`${name} vs reject: ${results.map((r) => r.status).join(', ')}`);
        // Whatever the answers, the request was resolved exactly once.
        const events = await streamEvents(`approval-${body.approvalId}`);
        expect(events.filter((e) => /Approved|Rejected|Cancelled/.test(e))).to.have.length(1);
      }
      // Regression: the loser of a race on the approval stream re-reads and gets 409, not 500.
      expect(outcomes.filter((o) => o.includes('500'))).to.deep.equal([]);
      for (const o of outcomes) expect(o).to.match(/: (200, 409|409, 200)$/);
    });
  });

  describe('rejecting and cancelling', function () {
    it('rejects with comments; a rejected request cannot be approved', async function () {
      const t = await tenant();
      const configId = await productionConfig(t, 'r', 'a');
      const { body } = await requestChange(t.editor, { configId, value: 'b' }).expect(201);
      const id = body.approvalId as string;
      await act(t.editor2, id, 'reject').expect(403);

      const rejected = await act(t.approver2, id, 'reject', 'not now').expect(200);
      expect(rejected.body).to.include({ status: 'Rejected' });
      const row = await readApproval(t.reader, id, rejected.headers['x-event-position']);
      expect(row).to.include({
        status: 'Rejected',
        resolvedBy: 'carol',
        resolvedComments: 'not now',
        deploymentId: null,
      });
      expect(row.resolvedAt).to.be.a('string');

      const approve = await act(t.approver, id, 'approve').expect(409);
      expect(approve.body).to.include({ code: 'invalid_state', status: 409, state: 'Rejected' });
      await act(t.approver, id, 'reject').expect(409);
      await act(t.editor, id, 'cancel').expect(409);
      expect(await readConfig(t.reader, configId)).to.include({ value: 'a', version: 1 });
      expect(await countEvents('DeploymentStarted', 'approvalId', id)).to.equal(0);
    });

    it('lets only the requester cancel', async function () {
      const t = await tenant();
      const configId = await productionConfig(t, 'c', 'a');
      const { body } = await requestChange(t.editor, { configId, value: 'b' }).expect(201);
      const id = body.approvalId as string;
      const before = await tenantEvents(t.tenantId);
      const other = await act(t.editor2, id, 'cancel').expect(403);
      expect(other.body).to.include({ code: 'forbidden' });
      await act(t.approver, id, 'cancel').expect(403);
      expect(await tenantEvents(t.tenantId)).to.equal(before);

      const cancelled = await act(t.editor, id, 'cancel', 'oops').expect(200);
      expect(cancelled.body).to.include({ status: 'Cancelled' });
      const row = await readApproval(t.reader, id, cancelled.headers['x-event-position']);
      expect(row).to.include({
        status: 'Cancelled',
        resolvedBy: 'alice',
        resolvedComments: 'oops',
      });
      const approve = await act(t.approver, id, 'approve').expect(409);
      expect(approve.body).to.include({ code: 'invalid_state', status: 409, state: 'Cancelled' });
      expect(await readConfig(t.reader, configId)).to.include({ value: 'a', version: 1 });
    });
  });

  describe('expiry', function () {
    const system = { userId: 'system', correlationId: 'approvals-e2e' };

    it('expires a pending request after its deadline, exactly once', async function () {
      const t = await tenant();
      const configId = await productionConfig(t, 'e', 'a');
      const { body } = await requestChange(t.editor, {
        configId,
        value: 'b',
        expiresInSeconds: 1,
      }).expect(201);
      const id = body.approvalId as string;
      expect(Date.parse(body.expiresAt) - Date.now()).to.be.within(0, 1000);

      const expired = await until('the request to expire', async () => {
        const row = await readApproval(t.reader, id);
        return row.status === 'Expired' ? row : undefined;
      });
      expect(expired).to.include({ status: 'Expired', resolvedBy: null, deploymentId: null });
      expect(await countEvents('ApprovalExpired', 'approvalId', id)).to.equal(1);

      const approve = await act(t.approver, id, 'approve').expect(409);
      // The HTTP status stays the problem's `status`; the request's state has its own member.
      expect(approve.body).to.include({ code: 'invalid_state', status: 409, state: 'Expired' });

      // The job running again (late, twice) appends nothing more.
      const again = await h.services.changeRequestCommands.expire(id, system);
      const third = await h.services.changeRequestCommands.expire(id, system);
      expect(again.position).to.equal(undefined);
      expect(third.position).to.equal(undefined);
      expect(await countEvents('ApprovalExpired', 'approvalId', id)).to.equal(1);
      expect(await readConfig(t.reader, configId)).to.include({ value: 'a', version: 1 });
    });

    it('never expires a request approved before its deadline', async function () {
      const t = await tenant();
      const configId = await productionConfig(t, 'e', 'a');
      const { body } = await requestChange(t.editor, {
        configId,
        value: 'b',
        expiresInSeconds: 1.5,
      }).expect(201);
      const id = body.approvalId as string;
      await act(t.approver, id, 'approve').expect(200);

      const queues = new Queues(h.settings);
      try {
        const job = await until('the expiry job to run', async () => {
          const j = await queues.expiry.getJob(expiryJobId(id));
          return j?.finishedOn ? j : undefined;
        });
        expect(job.returnvalue).to.deep.equal({ expired: false });
        expect(job.finishedOn).to.be.at.least(Date.parse(body.expiresAt));
      } finally {
        await queues.close();
      }
      expect(await countEvents('ApprovalExpired', 'approvalId', id)).to.equal(0);
      const after = await h.services.changeRequestCommands.expire(id, system);
      expect(after.position).to.equal(undefined);
      expect(await countEvents('ApprovalExpired', 'approvalId', id)).to.equal(0);
      expect(await readApproval(t.reader, id)).to.include({ status: 'Approved' });
    });

    it('appends nothing when expiry runs before the deadline', async function () {
      const t = await tenant();
      const configId = await productionConfig(t, 'e', 'a');
      const { body } = await requestChange(t.editor, { configId, value: 'b' }).expect(201);
      const before = await tenantEvents(t.tenantId);
      const result = await h.services.changeRequestCommands.expire(body.approvalId, system);
      expect(result.position).to.equal(undefined);
      expect(result.state).to.deep.include({ status: 'Pending' });
      expect(await tenantEvents(t.tenantId)).to.equal(before);
      // An unknown request is ignored quietly.
      const unknown = await h.services.changeRequestCommands.expire('apr_doesnotexist', system);
      expect(unknown.position).to.equal(undefined);
      // The default deadline is ConfigService__ApprovalExpiry (3 days) away.
      const days = (Date.parse(body.expiresAt) - Date.now()) / 86_400_000;
      expect(days).to.be.within(2.99, 3);
    });

    it('rejects expiresInSeconds out of bounds, naming it', async function () {
      const t = await tenant();
      const configId = await productionConfig(t, 'e', 'a');
      const before = await tenantEvents(t.tenantId);
      for (const expiresInSeconds of [0, 0.05, 31 * 86_400]) {
        const res = await requestChange(t.editor, { configId, value: 'b', expiresInSeconds });
        expect(res.status, String(expiresInSeconds)).to.equal(422);
        expect(res.body).to.include({ code: 'validation', field: 'expiresInSeconds' });
      }
      for (const expiresInSeconds of [-1, 366 * 86_400, '60']) {
        const res = await requestChange(t.editor, { configId, value: 'b', expiresInSeconds });
        expect(res.status, String(expiresInSeconds)).to.equal(400);
        expect(res.body.field).to.equal('expiresInSeconds');
      }
      expect(await tenantEvents(t.tenantId)).to.equal(before);
    });
  });

  describe('tenant isolation', function () {
    it("hides one tenant's change requests from another tenant (404)", async function () {
      const a = await tenant();
      const b = await tenant();
      const configId = await productionConfig(a, 'secret', 'a');
      const { body, headers } = await requestChange(a.editor, { configId, value: 'b' }).expect(201);
      const id = body.approvalId as string;
      await readApproval(a.reader, id, headers['x-event-position']);
      const before = await tenantEvents(a.tenantId);

      for (const action of ['approve', 'reject'] as const) {
        const res = await act(b.approver, id, action).expect(404);
        expect(res.body).to.include({ code: 'not_found', field: 'approvalId' });
      }
      await act(b.editor, id, 'cancel').expect(404);
      const read = await request(h.url)
        .get(`/api/v1/approvals/${id}`)
        .set(auth(b.approver))
        .expect(404);
      expect(read.body.field).to.equal('approvalId');
      await request(h.url)
        .get(`/api/v1/approvals?tenantId=${a.tenantId}`)
        .set(auth(b.approver))
        .expect(404);
      const byConfig = await requestChange(b.editor, { configId, value: 'c' }).expect(404);
      expect(byConfig.body.field).to.equal('configId');
      await requestChange(b.editor, {
        tenantId: a.tenantId,
        key: 'x',
        environment: 'Production',
        type: 'String',
        value: 'c',
      }).expect(404);
      expect(await tenantEvents(a.tenantId)).to.equal(before);
      expect(await readApproval(a.reader, id)).to.include({
        status: 'Pending',
        currentApprovalLevel: 0,
      });
    });
  });

  describe('projection rebuild', function () {
    it('rebuilds approval_requests and deployments row for row', async function () {
      // Some of every kind, whatever else ran before.
      const t = await tenant();
      const configId = await productionConfig(t, 'rebuild', 'a');
      await setPolicy(t, 'Production', 2).expect(200);
      const twoLevels = await requestChange(t.editor, { configId, value: 'b' }).expect(201);
      await act(t.approver, twoLevels.body.approvalId, 'approve', 'first').expect(200);
      await act(t.approver2, twoLevels.body.approvalId, 'approve', 'second').expect(200);
      const half = await requestChange(t.editor, { configId, value: 'c' }).expect(201);
      await act(t.approver, half.body.approvalId, 'approve').expect(200);
      const rejected = await requestChange(t.editor, { configId, value: 'd' }).expect(201);
      await act(t.approver, rejected.body.approvalId, 'reject', 'no').expect(200);
      const created = await requestChange(t.editor, {
        tenantId: t.tenantId,
        key: 'rebuild.new',
        environment: 'Production',
        type: 'JSON',
        value: { a: 1 },
      }).expect(201);
      await act(t.approver, created.body.approvalId, 'approve').expect(200);
      await act(t.approver2, created.body.approvalId, 'approve').expect(200);
      const deleted = await requestChange(t.editor, {
        configId: created.body.configId,
        action: 'Delete',
      }).expect(201);
      await act(t.approver, deleted.body.approvalId, 'approve').expect(200);
      await act(t.approver2, deleted.body.approvalId, 'approve').expect(200);

      const snapshot = async () => {
        const head = await h.services.store.headPosition();
        await h.services.progress.waitFor(head, ['read-model']);
        const approvals = await h.services.pool.query(
          'SELECT * FROM approval_requests ORDER BY approval_id',
        );
        const deployments = await h.services.pool.query(
          'SELECT * FROM deployments ORDER BY deployment_id',
        );
        return { head, approvals: approvals.rows, deployments: deployments.rows };
      };
      const before = await snapshot();
      const mine = before.approvals.filter((r) => r.tenant_id === t.tenantId);
      expect(mine.map((r) => r.action).sort()).to.deep.equal([
        'Delete',
        'Update',
        'Update',
        'Update',
        'Update',
      ]);
      expect(before.deployments.filter((r) => r.tenant_id === t.tenantId)).to.have.length(2);

      await rebuildProjections(h.services, h.projector, [], () => {});

      const after = await snapshot();
      expect(after.head).to.equal(before.head);
      expect(after.approvals).to.deep.equal(before.approvals);
      expect(after.deployments).to.deep.equal(before.deployments);
    });
  });
});
