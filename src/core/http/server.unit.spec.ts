import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Express } from 'express';
import { createHttpServer } from './server.js';

/**
 * Where the hot read path answers: in the server's own emit, before whatever wraps
 * http.Server's emit (OpenTelemetry's HTTP instrumentation does, to open a span per request),
 * unless the caller sends a traceparent.
 */
describe('HTTP server: hot read path before the wrapped emit (unit)', function () {
  const original = http.Server.prototype.emit;
  let wrapped: string[];
  let server: http.Server | undefined;
  let close: (() => Promise<void>) | undefined;

  beforeEach(function () {
    wrapped = [];
    // Stands in for OpenTelemetry's patch: it sees every request it wraps.
    http.Server.prototype.emit = function (
      this: http.Server,
      event: string | symbol,
      ...args: unknown[]
    ) {
      if (event === 'request') wrapped.push((args[0] as http.IncomingMessage).url!);
      return Reflect.apply(original, this, [event, ...args]) as boolean;
    } as typeof original;
  });

  afterEach(async function () {
    http.Server.prototype.emit = original;
    await close?.();
    server = undefined;
    close = undefined;
  });

  async function start(): Promise<string> {
    const app = ((_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('express');
    }) as unknown as Express;
    const hot = (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (req.url !== '/hot') return false;
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('hot');
      return true;
    };
    const created = createHttpServer(app, hot);
    server = created.server;
    close = () => created.close(1000, () => undefined);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('answers a hot read without entering the wrapped emit, and the rest through it', async function () {
    const url = await start();
    expect(await (await fetch(`${url}/hot`)).text()).to.equal('hot');
    expect(await (await fetch(`${url}/other`)).text()).to.equal('express');
    expect(wrapped).to.deep.equal(['/other']);
  });

  it('sends a caller with a traceparent through the wrapped emit, to the same answer', async function () {
    const url = await start();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const hot = await fetch(`${url}/hot`, { headers: { traceparent } });
    expect(await hot.text()).to.equal('hot');
    const other = await fetch(`${url}/other`, { headers: { traceparent } });
    expect(await other.text()).to.equal('express');
    expect(wrapped).to.deep.equal(['/hot', '/other']);
  });
});
