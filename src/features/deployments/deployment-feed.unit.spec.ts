import { expect } from 'chai';
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import { RedisKeys } from '../../core/redis/redis.js';
import { DeploymentFeed, deploymentChanges, snapshotOf } from './deployment-feed.js';

let position = 0n;
const event = (streamId: string, type: string, data: object): RecordedEvent => ({
  id: `e${position}`,
  type,
  data,
  metadata: { timestamp: new Date().toISOString(), schemaVersion: 1 },
  streamId,
  revision: 0n,
  position: position++,
  recordedAt: new Date(),
});

describe('deployment feed: what the projector announces, and who hears it', function () {
  it('names each deployment a batch changed once, with its tenant, and nothing else', function () {
    const ids = { tenantId: 'acme', deploymentId: 'dep_1' };
    const changes = deploymentChanges([
      event('deployment-dep_1', 'DeploymentStepAdvanced', ids),
      event('config-cfg_1', 'ConfigurationUpdated', { tenantId: 'acme', configId: 'cfg_1' }),
      event('deployment-dep_1', 'DeploymentMetricsReported', ids),
      event('deployment-dep_2', 'DeploymentPaused', { tenantId: 'globex', deploymentId: 'dep_2' }),
    ]);
    expect(changes).to.deep.equal([ids, { tenantId: 'globex', deploymentId: 'dep_2' }]);
  });

  it('wakes the followers of the deployment and of its tenant only', function () {
    const feed = new DeploymentFeed(new RedisKeys('unit:'));
    const heard: string[] = [];
    const stops = [
      feed.watch({ deploymentId: 'dep_1' }, () => heard.push('dep_1')),
      feed.watch({ deploymentId: 'dep_2' }, () => heard.push('dep_2')),
      feed.watch({ tenantId: 'acme' }, () => heard.push('acme')),
      feed.watch({ tenantId: 'globex' }, () => heard.push('globex')),
    ];
    feed.changed({ tenantId: 'acme', deploymentId: 'dep_1' });
    expect(heard).to.deep.equal(['dep_1', 'acme']);
    stops.forEach((stop) => stop());
    feed.changed({ tenantId: 'acme', deploymentId: 'dep_1' });
    expect(heard).to.have.length(2);
  });

  it('names a snapshot by its content', function () {
    expect(snapshotOf({ a: 1 }).id).to.equal(snapshotOf({ a: 1 }).id);
    expect(snapshotOf({ a: 1 }).id).not.to.equal(snapshotOf({ a: 2 }).id);
    expect(snapshotOf({ a: 1 }).json).to.equal('{"a":1}');
  });
});
