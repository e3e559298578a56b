/**
 * A small HTTP server speaking the parts of HashiCorp Vault's Transit API the service calls
 * (encrypt, decrypt, rewrap) plus key rotation, for tests: no Vault binary is available here.
 * Keys are AES-256-GCM in versions; ciphertexts are `vault:v{N}:{base64}` as Vault writes them;
 * requests without the expected X-Vault-Token are refused with 403 as Vault does.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export interface VaultTransitServer {
  url: string;
  token: string;
  /** Every call: operation and key name. */
  calls: { op: string; key: string }[];
  rotate(key: string): void;
  close(): Promise<void>;
}

export async function startVaultTransit(token = `hvs.${randomBytes(8).toString('hex')}`) {
  const keys = new Map<string, Buffer[]>();
  const calls: { op: string; key: string }[] = [];
  const versions = (name: string) => {
    let v = keys.get(name);
    if (!v) keys.set(name, (v = [randomBytes(32)]));
    return v;
  };
  const seal = (name: string, plain: Buffer) => {
    const v = versions(name);
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', v[v.length - 1]!, iv);
    const body = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
    return `vault:v${v.length}:${Buffer.concat([iv, body]).toString('base64')}`;
  };
  const open = (name: string, ciphertext: string) => {
    const m = /^vault:v(\d+):(.+)$/.exec(ciphertext);
    const key = m && versions(name)[Number(m[1]) - 1];
    if (!m || !key) throw new Error('invalid ciphertext: unknown key version');
    const raw = Buffer.from(m[2]!, 'base64');
    const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    d.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]);
  };
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.headers['x-vault-token'] !== token)
        return reply(403, { errors: ['permission denied'] });
      const m = /^\/v1\/transit\/(encrypt|decrypt|rewrap|keys)\/([^/]+)(\/rotate)?$/.exec(
        req.url ?? '',
      );
      if (!m || req.method !== 'POST') return reply(404, { errors: ['no handler for route'] });
      const [, op, name] = m as unknown as [string, string, string];
      calls.push({ op: m[3] ? 'rotate' : op, key: name });
      try {
        const body = (text ? JSON.parse(text) : {}) as { plaintext?: string; ciphertext?: string };
        if (op === 'keys' && m[3]) {
          versions(name).push(randomBytes(32));
          return reply(204, {});
        }
        if (op === 'encrypt') {
          return reply(200, {
            data: {
              ciphertext: seal(name, Buffer.from(body.plaintext!, 'base64')),
              key_version: versions(name).length,
            },
          });
        }
        if (op === 'decrypt') {
          return reply(200, {
            data: { plaintext: open(name, body.ciphertext!).toString('base64') },
          });
        }
        if (op === 'rewrap') {
          return reply(200, { data: { ciphertext: seal(name, open(name, body.ciphertext!)) } });
        }
        return reply(404, { errors: ['no handler for route'] });
      } catch (error) {
        return reply(400, { errors: [(error as Error).message] });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    calls,
    rotate: (name: string) => void versions(name).push(randomBytes(32)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  } satisfies VaultTransitServer;
}
