/**
 * The provider's states through the OpenFeature SDK, with a fake service on 127.0.0.1: not ready
 * while nothing arrived, ERROR when the start fails, STALE when the service goes away, READY when
 * it is back.
 */
import { expect } from 'chai';
import {
  ErrorCode,
  OpenFeature,
  ProviderEvents,
  ProviderStatus,
  StandardResolutionReasons,
} from '@openfeature/server-sdk';
import { ConfigServiceProvider } from '@config-service/openfeature-provider';
import { ENV_PATH, FakeService, envBody, until } from '../../client/test/fake-service.js';

const event = (id: string, configs: Record<string, unknown>) =>
  `id: ${id}\nevent: snapshot\ndata: ${JSON.stringify(envBody(configs))}\n\n`;

describe('@config-service/openfeature-provider states (unit, fake service)', function () {
  let service: FakeService;
  beforeEach(async function () {
    service = await new FakeService().start();
  });
  afterEach(async function () {
    await OpenFeature.clearProviders();
    await service.stop();
  });

  const provider = (extra: Record<string, unknown> = {}) =>
    new ConfigServiceProvider(
      {
        url: service.url,
        tenant: 't1',
        environment: 'Staging',
        apiKey: 'cfgk_x',
        lastKnownGood: false,
        minBackoffMs: 5,
        maxBackoffMs: 20,
        ...extra,
      },
      { readyTimeoutMs: 5000 },
    );

  it('is PROVIDER_NOT_READY until values arrive, then READY', async function () {
    let hold: (() => void) | undefined;
    service.answer((req, res) => {
      // Held until the test lets it answer.
      hold = () => service.openStream(res, event('e1', { a: true }));
    });
    OpenFeature.setProvider('not-ready', provider());
    const client = OpenFeature.getClient('not-ready');
    const early = await client.getBooleanDetails('a', false);
    expect(early).to.deep.include({
      value: false,
      reason: StandardResolutionReasons.ERROR,
      errorCode: ErrorCode.PROVIDER_NOT_READY,
    });
    const ready: unknown[] = [];
    client.addHandler(ProviderEvents.Ready, () => ready.push(1));
    await until('the request', () => hold !== undefined);
    hold!();
    await until('READY', () => client.providerStatus === ProviderStatus.READY);
    expect(await client.getBooleanValue('a', false)).to.equal(true);
  });

  it('is ERROR when the start is refused, READY once values come after all', async function () {
    let refuse = true;
    service.answer((req, res) => {
      if (refuse) res.writeHead(403, { 'Content-Type': 'application/problem+json' }).end('{}');
      else service.openStream(res, event('e1', { a: 'x' }));
    });
    const errors: unknown[] = [];
    const onError = (d: unknown) => errors.push(d);
    OpenFeature.addHandler(ProviderEvents.Error, onError);
    try {
      const failed = await OpenFeature.setProviderAndWait('refused', provider()).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((failed as Error).message).to.include('403');
      const client = OpenFeature.getClient('refused');
      expect(client.providerStatus).to.equal(ProviderStatus.ERROR);
      refuse = false;
      await until('READY', () => client.providerStatus === ProviderStatus.READY);
      expect(await client.getStringValue('a', 'd')).to.equal('x');
      expect(errors.length).to.be.at.least(1);
    } finally {
      OpenFeature.removeHandler(ProviderEvents.Error, onError);
    }
  });

  it('goes STALE when the service is lost (values still served), READY when it is back', async function () {
    service.answer((req, res) => service.openStream(res, event('e1', { a: 1 })));
    await OpenFeature.setProviderAndWait('stale', provider());
    const client = OpenFeature.getClient('stale');
    const seen: string[] = [];
    client.addHandler(ProviderEvents.Stale, () => seen.push('stale'));
    client.addHandler(ProviderEvents.Ready, () => seen.push('ready'));
    let down = true;
    service.answer((req, res) => {
      if (down) res.writeHead(503).end();
      else service.openStream(res);
    });
    for (const s of service.streams) s.end();
    await until('STALE', () => client.providerStatus === ProviderStatus.STALE);
    expect(await client.getNumberValue('a', 0)).to.equal(1);
    down = false;
    await until('READY', () => client.providerStatus === ProviderStatus.READY);
    // A READY handler added while READY runs at once (OpenFeature spec 5.3.3), hence the first.
    expect(seen).to.deep.equal(['ready', 'stale', 'ready']);
  });

  it('starts STALE on bootstrap values when the service is down, READY when it answers', async function () {
    const port = service.port;
    await service.stop();
    const p = provider({ url: `http://127.0.0.1:${port}`, bootstrap: { a: 'boot' } });
    await OpenFeature.setProviderAndWait('boot', p);
    const client = OpenFeature.getClient('boot');
    await until('STALE', () => client.providerStatus === ProviderStatus.STALE);
    const details = await client.getStringDetails('a', 'd');
    expect(details).to.deep.include({ value: 'boot', reason: StandardResolutionReasons.STALE });
    expect(details.variant).to.equal(undefined);
    service = await new FakeService().start(port);
    service.answer((req, res) => {
      if (req.url?.startsWith(ENV_PATH)) service.openStream(res, event('e1', { a: 'live' }));
    });
    await until('READY', () => client.providerStatus === ProviderStatus.READY);
    expect(await client.getStringValue('a', 'd')).to.equal('live');
  });
});
