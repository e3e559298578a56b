/**
 * A stand-in for the service's environment and metrics routes on 127.0.0.1, for the client's unit
 * tests: each test says how the next requests are answered and reads what the client sent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  /** Raw bytes of X-Client-Id as Node read them (Latin-1 per byte). */
  rawClientId: string | undefined;
  body: string;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

export class FakeService {
  readonly requests: Seen[] = [];
  /** Open event streams, to write to or end. */
  readonly streams = new Set<ServerResponse>();
  private handler: Handler = (_req, res) => {
    res.writeHead(500).end();
  };
  private server!: Server;
  url = '';

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        const raw = req.rawHeaders.findIndex((h) => h.toLowerCase() === 'x-client-id');
        this.requests.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          rawClientId: raw >= 0 ? req.rawHeaders[raw + 1] : undefined,
          body,
        });
        this.handler(req, res, body);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  answer(handler: Handler): void {
    this.handler = handler;
  }

  /** Opens an event stream on `res` and keeps it until the test ends it. */
  openStream(res: ServerResponse, first?: string): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.flushHeaders();
    if (first) res.write(first);
    this.streams.add(res);
    res.on('close', () => this.streams.delete(res));
  }

  /** Writes to every open stream. */
  push(chunk: string): void {
    for (const s of this.streams) s.write(chunk);
  }

  requestsTo(path: string): Seen[] {
    return this.requests.filter((r) => r.url.split('?')[0] === path);
  }

  async stop(): Promise<void> {
    for (const s of this.streams) s.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The environment route's body for `configs` (and versions 1 for each key). */
export function envBody(
  configs: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    tenantId: 't1',
    environment: 'Staging',
    version: 1,
    configs,
    versions: Object.fromEntries(Object.keys(configs).map((k) => [k, 1])),
    ...extra,
  };
}

export const ENV_PATH = '/api/v1/tenants/t1/environments/Staging/configs';

/** Polls `probe` until it is true, or fails after `ms`. */
export async function until(what: string, probe: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
