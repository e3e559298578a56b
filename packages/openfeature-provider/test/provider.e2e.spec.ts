/**
 * The provider through the official OpenFeature server SDK against the real service: the
 * OpenFeature specification's evaluation scenarios (values of each type, details with variant
 * and reason, zero values, flag not found, type mismatch), change events, and tracking outcomes
 * into a canary.
 */
import { expect } from 'chai';
import request from 'supertest';
import {
  ErrorCode,
  OpenFeature,
  ProviderEvents,
  ProviderStatus,
  StandardResolutionReasons,
  type EventDetails,
} from '@openfeature/server-sdk';
import { ConfigServiceProvider } from '@config-service/openfeature-provider';
import { createClient } from '@config-service/client';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';
import { until } from '../../client/test/fake-service.js';

describe('@config-service/openfeature-provider through the OpenFeature SDK (e2e)', function () {
  let h: Harness;
  let tenantId: string;
  let editor: string;
  let reader: string;
  const ids: Record<string, string> = {};

  const FLAGS: [string, unknown, string][] = [
    ['boolean-flag', true, 'Boolean'],
    ['string-flag', 'hi', 'String'],
    ['integer-flag', 10, 'Integer'],
    ['float-flag', 0.5, 'Number'],
    [
      'object-flag',
      { showImages: true, title: 'Check out these pics!', imagesPerPage: 100 },
      'JSON',
    ],
    ['boolean-zero-flag', false, 'Boolean'],
    ['string-zero-flag', '', 'String'],
    ['integer-zero-flag', 0, 'Integer'],
    ['float-zero-flag', 0.0, 'Number'],
    ['wrong-flag', 'one', 'String'],
  ];

  before(async function () {
    h = await startHarness({ runProjector: true, runWorker: true });
    tenantId = uniqueTenant('of');
    await request(h.url)
      .post('/api/v1/tenants')
      .set('Authorization', `Bearer ${h.admin}`)
      .send({ tenantId, name: 'OF', tier: 'Enterprise' })
      .expect(201);
    editor = h.token('editor', tenantId);
    reader = h.token('reader', tenantId);
    let position = '';
    for (const [key, value, type] of FLAGS) {
      const res = await request(h.url)
        .post('/api/v1/configs')
        .set('Authorization', `Bearer ${editor}`)
        .send({ tenantId, key, value, type, environment: 'Staging' })
        .expect(201);
      ids[key] = res.body.configId;
      position = res.body.position;
    }
    // Every flag is on the read side before a provider starts.
    await request(h.url)
      .get(`/api/v1/tenants/${tenantId}/environments/Staging/configs?minPosition=${position}`)
      .set('Authorization', `Bearer ${reader}`)
      .expect(200);
  });
  afterEach(async function () {
    await OpenFeature.clearProviders();
  });
  after(async function () {
    await h?.close();
  });

  async function ofClient(domain: string, clientId?: string) {
    const provider = new ConfigServiceProvider({
      url: h.url,
      tenant: tenantId,
      environment: 'Staging',
      token: reader,
      clientId,
      lastKnownGood: false,
      reportIntervalMs: 3_600_000,
    });
    await OpenFeature.setProviderAndWait(domain, provider);
    return { provider, client: OpenFeature.getClient(domain) };
  }

  it('resolves the specification’s flags of each type, with variant (version) and reason', async function () {
    const { client } = await ofClient('values');
    expect(client.providerStatus).to.equal(ProviderStatus.READY);
    expect(await client.getBooleanValue('boolean-flag', false)).to.equal(true);
    expect(await client.getStringValue('string-flag', 'bye')).to.equal('hi');
    expect(await client.getNumberValue('integer-flag', 1)).to.equal(10);
    expect(await client.getNumberValue('float-flag', 0.1)).to.equal(0.5);
    expect(await client.getObjectValue('object-flag', {})).to.deep.equal({
      showImages: true,
      title: 'Check out these pics!',
      imagesPerPage: 100,
    });
    const details = await client.getBooleanDetails('boolean-flag', false);
    expect(details).to.deep.include({
      flagKey: 'boolean-flag',
      value: true,
      variant: '1',
      reason: StandardResolutionReasons.STATIC,
    });
    expect(details.errorCode).to.equal(undefined);
    expect(details.flagMetadata).to.deep.equal({ source: 'service', version: 1 });
    // Zero values are values, not defaults.
    expect(await client.getBooleanValue('boolean-zero-flag', true)).to.equal(false);
    expect(await client.getStringValue('string-zero-flag', 'hi')).to.equal('');
    expect(await client.getNumberValue('integer-zero-flag', 1)).to.equal(0);
    expect(await client.getNumberValue('float-zero-flag', 0.1)).to.equal(0);
  });

  it('answers a missing flag with the default, FLAG_NOT_FOUND, and a wrong type with TYPE_MISMATCH', async function () {
    const { client } = await ofClient('errors');
    const missing = await client.getStringDetails('missing-flag', 'uh-oh');
    expect(missing).to.deep.include({
      value: 'uh-oh',
      reason: StandardResolutionReasons.ERROR,
      errorCode: ErrorCode.FLAG_NOT_FOUND,
    });
    const wrong = await client.getNumberDetails('wrong-flag', 13);
    expect(wrong).to.deep.include({
      value: 13,
      reason: StandardResolutionReasons.ERROR,
      errorCode: ErrorCode.TYPE_MISMATCH,
    });
    expect(wrong.errorMessage).to.equal("configuration 'wrong-flag' is string, not number");
    const notObject = await client.getObjectDetails('string-flag', { d: 1 });
    expect(notObject).to.deep.include({ value: { d: 1 }, errorCode: ErrorCode.TYPE_MISMATCH });
  });

  it('emits PROVIDER_CONFIGURATION_CHANGED naming the changed flag, and serves the new version', async function () {
    const { client } = await ofClient('changes');
    const changed: EventDetails[] = [];
    client.addHandler(ProviderEvents.ConfigurationChanged, (d) => changed.push(d!));
    await request(h.url)
      .put(`/api/v1/configs/${ids['wrong-flag']}`)
      .set('Authorization', `Bearer ${editor}`)
      .send({ value: 'two', expectedVersion: 1 })
      .expect(200);
    await until('the change event', () => changed.length > 0);
    expect(changed[0]!.flagsChanged).to.deep.equal(['wrong-flag']);
    const details = await client.getStringDetails('wrong-flag', 'x');
    expect(details).to.deep.include({ value: 'two', variant: '2' });
  });

  it('resolves a canary as SPLIT and takes tracked outcomes into its metrics', async function () {
    const started = await request(h.url)
      .post('/api/v1/deployments')
      .set('Authorization', `Bearer ${editor}`)
      .send({
        configId: ids['integer-flag'],
        value: 20,
        strategy: 'Canary',
        steps: [50, 100],
        bakeTimeSeconds: 3600,
      })
      .expect(201);
    const deploymentId = started.body.deploymentId as string;
    const { client, provider } = await ofClient('canary', 'pod-7');
    await until(
      'the canary',
      () => provider.client.lookup('integer-flag')?.deployment !== undefined,
    );
    const details = await client.getNumberDetails('integer-flag', 0);
    const side = provider.client.lookup('integer-flag')!.deployment!.side;
    expect(details.reason).to.equal(StandardResolutionReasons.SPLIT);
    expect(details.value).to.equal(side === 'canary' ? 20 : 10);
    expect(details.variant).to.equal(side === 'canary' ? '1+canary' : '1');
    expect(details.flagMetadata).to.include({ deploymentId, side });
    for (let i = 0; i < 4; i++) client.track('integer-flag', {}, { ok: i > 0 });
    client.track('integer-flag', {}, { value: 3 }); // not an outcome: ignored
    await provider.client.flushOutcomes();
    const head = (await h.services.store.headPosition()).toString();
    const deployment = await request(h.url)
      .get(`/api/v1/deployments/${deploymentId}?minPosition=${head}`)
      .set('Authorization', `Bearer ${reader}`)
      .expect(200);
    expect(deployment.body.metrics.totals[side]).to.deep.equal({ requests: 4, errors: 1 });
  });

  it('shares a client the app already has, and leaves it open on close', async function () {
    const shared = createClient({
      url: h.url,
      tenant: tenantId,
      environment: 'Staging',
      token: reader,
      lastKnownGood: false,
    });
    try {
      await OpenFeature.setProviderAndWait('shared', new ConfigServiceProvider(shared));
      const client = OpenFeature.getClient('shared');
      expect(await client.getStringValue('string-flag', 'bye')).to.equal('hi');
      await OpenFeature.clearProviders();
      expect(shared.status).to.equal('live');
    } finally {
      await shared.close();
    }
  });
});
