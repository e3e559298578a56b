/**
 * For fault tests under hot reads: one key an app reads, and readers that read it in a loop,
 * recording every answer with the phase of the test it came in.
 */
import request from 'supertest';
import { uniqueTenant, type Harness } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ReadKey {
  tenantId: string;
  editor: string;
  reader: string;
  configId: string;
  /** The hot read route of the key. */
  path: string;
}

/** A tenant and a Development key with `value`, read once (so its environment is cached). */
export async function readKey(h: Harness, value: string): Promise<ReadKey> {
  const tenantId = uniqueTenant('reads');
  await request(h.url)
    .post('/api/v1/tenants')
    .set('Authorization', `Bearer ${h.admin}`)
    .send({ tenantId, name: 'Reads' })
    .expect(201);
  const editor = h.token('editor', tenantId);
  const reader = h.token('reader', tenantId);
  const { body } = await request(h.url)
    .post('/api/v1/configs')
    .set('Authorization', `Bearer ${editor}`)
    .send({ tenantId, key: 'k', value, environment: 'Development' })
    .expect(201);
  const path = `/api/v1/tenants/${tenantId}/environments/Development/configs/k`;
  await request(h.url)
    .get(`${path}?minPosition=${body.position}`)
    .set('Authorization', `Bearer ${reader}`)
    .expect(200);
  return { tenantId, editor, reader, configId: body.configId, path };
}

export interface Seen {
  phase: string;
  status: number;
  value: unknown;
}

/** `n` readers of the key until stopped; `phase` labels what they see from now on. */
export function startReaders(h: Harness, key: ReadKey, phase: string, n = 4) {
  const seen: Seen[] = [];
  const state = { phase, stopped: false };
  const loops = Array.from({ length: n }, async () => {
    while (!state.stopped) {
      const res = await request(h.url).get(key.path).set('Authorization', `Bearer ${key.reader}`);
      seen.push({ phase: state.phase, status: res.status, value: res.body.value });
      await sleep(2);
    }
  });
  return {
    seen,
    set phase(p: string) {
      state.phase = p;
    },
    /** Answers seen in a phase. */
    count: (p: string) => seen.filter((s) => s.phase === p).length,
    async stop() {
      state.stopped = true;
      await Promise.all(loops);
    },
  };
}
