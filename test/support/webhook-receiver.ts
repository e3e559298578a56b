/** A webhook receiver for tests: records what it was sent and answers as told. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { auth, uniqueTenant, type Harness } from './harness.js';

export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  answered: number;
}

/** A receiver on 127.0.0.1 that answers 500 to the first `failures` requests, then 204. */
export async function receiver(failures = 0) {
  const received: Received[] = [];
  let remaining = failures;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const answered = remaining-- > 0 ? 500 : 204;
      received.push({
        id: String(req.headers['webhook-id']),
        timestamp: String(req.headers['webhook-timestamp']),
        signature: String(req.headers['webhook-signature']),
        body,
        answered,
      });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { url, received, close: () => new Promise((r) => server.close(r)) };
}

/** A new tenant (id from `label`) with a webhook on `config.changed` to `url`: its id. */
export async function tenantWithWebhook(h: Harness, label: string, url: string): Promise<string> {
  const tenantId = uniqueTenant(label);
  await request(h.url)
    .post('/api/v1/tenants')
    .set(auth(h.admin))
    .send({ tenantId, name: tenantId })
    .expect(201);
  await request(h.url)
    .post(`/api/v1/tenants/${tenantId}/webhooks`)
    .set(auth(h.token('tenant-admin', tenantId)))
    .send({ url, events: ['config.changed'] })
    .expect(201);
  return tenantId;
}
