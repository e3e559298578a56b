/**
 * A varied history over HTTP, for rebuild and restore tests: tenants, creates, updates, rollbacks,
 * deletes and restores, direct deployments, an approval policy, an approved and a rejected change
 * request, a suspended tenant. Returns the tenant ids.
 */
import request from 'supertest';
import { auth, uniqueTenant, type Harness } from './harness.js';

export async function history(h: Harness): Promise<string[]> {
  const tenants: string[] = [];
  for (let n = 0; n < 3; n++) {
    const tenantId = uniqueTenant('xfer');
    tenants.push(tenantId);
    await request(h.url)
      .post('/api/v1/tenants')
      .set(auth(h.admin))
      .send({ tenantId, name: `T${n}`, tier: 'Professional', metadata: { n } })
      .expect(201);
    const editor = h.token('editor', tenantId, { sub: 'alice' });
    const configIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { body } = await request(h.url)
        .post('/api/v1/configs')
        .set(auth(editor))
        .send({
          tenantId,
          key: `k${i}`,
          value: i,
          type: 'Integer',
          environment: i % 2 ? 'Staging' : 'Development',
          tags: ['a', `t${i}`],
          isSensitive: i === 4,
        })
        .expect(201);
      configIds.push(body.configId);
      await request(h.url)
        .put(`/api/v1/configs/${body.configId}`)
        .set(auth(editor))
        .send({ value: i * 10, expectedVersion: 1, description: 'd' })
        .expect(200);
      if (i % 3 === 0)
        await request(h.url)
          .post(`/api/v1/configs/${body.configId}/rollback`)
          .set(auth(editor))
          .send({ version: 1 })
          .expect(200);
      if (i === 2) {
        await request(h.url)
          .delete(`/api/v1/configs/${body.configId}`)
          .set(auth(editor))
          .expect(200);
        await request(h.url)
          .post(`/api/v1/configs/${body.configId}/restore`)
          .set(auth(editor))
          .expect(200);
      }
    }
    // A direct deployment of a Development config: completes at once.
    await request(h.url)
      .post('/api/v1/deployments')
      .set(auth(editor))
      .send({ configId: configIds[0], value: 99 })
      .expect(201);
    if (n === 1) {
      // Staging changes now need one approval: one request approved (deploys), one rejected.
      await request(h.url)
        .put(`/api/v1/tenants/${tenantId}/approval-policies/Staging`)
        .set(auth(h.token('tenant-admin', tenantId, { sub: 'tadmin' })))
        .send({ requiredApprovals: 1 })
        .expect(200);
      const approver = h.token('approver', tenantId, { sub: 'bob' });
      const approved = await request(h.url)
        .post('/api/v1/approvals')
        .set(auth(editor))
        .send({ configId: configIds[1], value: 7, description: 'please' })
        .expect(201);
      await request(h.url)
        .post(`/api/v1/approvals/${approved.body.approvalId}/approve`)
        .set(auth(approver))
        .send({ comments: 'ok' })
        .expect(200);
      const rejected = await request(h.url)
        .post('/api/v1/approvals')
        .set(auth(editor))
        .send({ tenantId, key: 'new.flag', environment: 'Staging', type: 'Boolean', value: true })
        .expect(201);
      await request(h.url)
        .post(`/api/v1/approvals/${rejected.body.approvalId}/reject`)
        .set(auth(approver))
        .send({ comments: 'no' })
        .expect(200);
    }
    await request(h.url)
      .patch(`/api/v1/tenants/${tenantId}`)
      .set(auth(h.admin))
      .send({ status: n === 2 ? 'Suspended' : 'Active', contactEmail: 'ops@example.com' })
      .expect(200);
  }
  return tenants;
}
