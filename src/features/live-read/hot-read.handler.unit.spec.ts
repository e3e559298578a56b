import { expect } from 'chai';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createHotReadHandler } from './hot-read.handler.js';

/**
 * An invalid tenant id on the one-key route is a 400 counted under the route it names ('key'),
 * by Node's way and by the fast lane alike (the route is refused before it is remembered).
 */
describe('hot read handler: a refused route is counted under its route (unit)', function () {
  const path = '/api/v1/tenants/Bad%20Id/environments/Staging/configs/greeting';
  function handler() {
    const served: unknown[][] = [];
    const hot = createHotReadHandler({
      auth: { onApiKeyRevoked: () => undefined } as never,
      cache: {} as never,
      progress: {} as never,
      observer: { served: (...args: unknown[]) => void served.push(args.slice(1)) },
    });
    return { hot, served };
  }

  it("on Node's way", function () {
    const { hot, served } = handler();
    const res = {
      statusCode: 200,
      setHeader: () => undefined,
      end: () => undefined,
    } as unknown as ServerResponse;
    const req = { method: 'GET', url: path, headers: {}, socket: {} } as unknown as IncomingMessage;
    expect(hot(req, res)).to.equal(true);
    expect(res.statusCode).to.equal(400);
    expect(served).to.deep.equal([['error', 400, 'key']]);
  });

  it('in the fast lane', function () {
    const { hot, served } = handler();
    const answer = hot.lane({ method: 'GET', url: path, headers: {}, socket: {} as Socket });
    expect(answer).to.include({ status: 400 });
    expect(served).to.deep.equal([['error', 400, 'key']]);
  });
});
