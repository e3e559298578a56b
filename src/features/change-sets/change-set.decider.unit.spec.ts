import { expect } from 'chai';
import { givenFor } from '../../core/testing/given-when-then.js';
import { DomainError } from '../../core/domain-error.js';
import {
  configIdFor,
  evolveConfiguration,
  initialConfigurationState,
  type ConfigurationEvent,
  type ConfigurationState,
} from '../configs/config.decider.js';
import {
  appliesSet,
  decideApplyItems,
  decideChangeSet,
  evolveChangeSet,
  initialChangeSetState,
  planItem,
  type ChangeSetCommand,
  type ChangeSetEvent,
  type ChangeSetItem,
} from './change-set.decider.js';

const given = givenFor(evolveChangeSet, initialChangeSetState);
const when = (command: ChangeSetCommand) => (state: ReturnType<typeof initialChangeSetState>) =>
  decideChangeSet(command, state);

const NOW = new Date('2026-01-01T00:00:00Z');
const item: ChangeSetItem = {
  key: 'timeout',
  configId: configIdFor('acme', 'Production', 'timeout'),
  action: 'Update',
  type: 'Integer',
  value: '30',
  currentValue: '10',
  baseVersion: 1,
  isSensitive: false,
  description: 'd',
  tags: ['t'],
};
const requested: ChangeSetEvent = {
  type: 'ChangeSetRequested',
  data: {
    changeSetId: 'cs_1',
    tenantId: 'acme',
    environment: 'Production',
    source: 'Promotion',
    fromEnvironment: 'Staging',
    description: null,
    items: [item],
    requestedBy: 'alice',
    requiredApprovals: 2,
    expiresAt: '2026-01-02T00:00:00Z',
  },
};
const ids = { changeSetId: 'cs_1', tenantId: 'acme' };
const approve = (approver: string, now = NOW): ChangeSetCommand => ({
  type: 'ApproveChangeSet',
  data: { changeSetId: 'cs_1', approver, comments: null, now },
});

/** A Production config at version 1 (created) or later. */
function config(key: string, type: 'Integer' | 'String', values: string[]): ConfigurationState {
  const configId = configIdFor('acme', 'Production', key);
  const base = { configId, tenantId: 'acme', key, environment: 'Production', type };
  const events: ConfigurationEvent[] = values.map((value, i) =>
    i === 0
      ? {
          type: 'ConfigurationCreated',
          data: {
            ...base,
            version: 1,
            value,
            previousValue: null,
            changeDescription: null,
            isSensitive: false,
            description: 'd',
            tags: ['t'],
            defaultValue: null,
            schemaId: null,
          },
        }
      : {
          type: 'ConfigurationUpdated',
          data: {
            ...base,
            version: i + 1,
            value,
            previousValue: values[i - 1]!,
            changeDescription: null,
            isSensitive: false,
          },
        },
  );
  return events.reduce(evolveConfiguration, initialConfigurationState());
}

describe('change set decider', function () {
  describe('planning a key against the target', function () {
    it('updates a key whose value differs, keeping its type and remembering its version', function () {
      const planned = planItem(config('timeout', 'Integer', ['10']), 'acme', 'Production', {
        key: 'timeout',
        value: 30,
      });
      expect(planned).to.deep.equal({ key: 'timeout', action: 'Update', item });
    });

    it('leaves an equal value unchanged', function () {
      expect(
        planItem(config('timeout', 'Integer', ['10']), 'acme', 'Production', {
          key: 'timeout',
          value: '10',
        }),
      ).to.deep.equal({ key: 'timeout', action: 'Unchanged' });
    });

    it('creates a key the target lacks, with the type it is given', function () {
      const planned = planItem(initialConfigurationState(), 'acme', 'Production', {
        key: 'name',
        type: 'String',
        value: 'x',
        tags: ['a'],
      });
      expect(planned.action).to.equal('Create');
      expect(planned.item).to.include({ baseVersion: 0, type: 'String', value: 'x' });
    });

    it('keeps a secret given back masked, and never stores the mask', function () {
      const secret = config('token', 'String', ['s3cret']);
      if (secret.exists) secret.isSensitive = true;
      expect(
        planItem(secret, 'acme', 'Production', { key: 'token', value: '********' }),
      ).to.deep.equal({ key: 'token', action: 'Unchanged' });
      expect(() =>
        planItem(initialConfigurationState(), 'acme', 'Production', {
          key: 'token',
          type: 'String',
          value: '********',
        }),
      ).to.throw(DomainError, /masked/);
    });

    it('gives a new key the type a file implies, but never to a key that has one', function () {
      const fresh = planItem(initialConfigurationState(), 'acme', 'Production', {
        key: 'name',
        typeIfNew: 'String',
        value: '10',
      });
      expect(fresh.item).to.include({ type: 'String', value: '10' });
      const kept = planItem(config('timeout', 'Integer', ['10']), 'acme', 'Production', {
        key: 'timeout',
        typeIfNew: 'String',
        value: '11',
      });
      expect(kept.item).to.include({ type: 'Integer', value: '11' });
    });

    it('never re-types a key and names the key it refuses', function () {
      const refuse = (fn: () => unknown) => {
        try {
          fn();
        } catch (error) {
          return error as DomainError;
        }
        throw new Error('not refused');
      };
      const retyped = refuse(() =>
        planItem(config('timeout', 'Integer', ['10']), 'acme', 'Production', {
          key: 'timeout',
          type: 'String',
          value: 'x',
        }),
      );
      expect(retyped.code).to.equal('validation');
      expect(retyped.field).to.equal('keys.timeout');
      const invalid = refuse(() =>
        planItem(config('timeout', 'Integer', ['10']), 'acme', 'Production', {
          key: 'timeout',
          value: 'ten',
        }),
      );
      expect(invalid.field).to.equal('keys.timeout');
      const untyped = refuse(() =>
        planItem(initialConfigurationState(), 'acme', 'Production', { key: 'new', value: 'x' }),
      );
      expect(untyped.field).to.equal('keys.new');
    });
  });

  describe('applying items', function () {
    const ctx = { tenantId: 'acme', environment: 'Production', description: 'Change set cs_1' };

    it('gives each key its next version, creating the new ones', function () {
      const fresh = planItem(initialConfigurationState(), 'acme', 'Production', {
        key: 'name',
        type: 'String',
        value: 'x',
      }).item!;
      const states = new Map([[item.configId, config('timeout', 'Integer', ['10'])]]);
      const events = decideApplyItems([item, fresh], states, ctx);
      expect(
        events.get(item.configId)!.map((e) => [e.type, (e.data as { version?: number }).version]),
      ).to.deep.equal([['ConfigurationUpdated', 2]]);
      expect(
        events.get(fresh.configId)!.map((e) => [e.type, (e.data as { version?: number }).version]),
      ).to.deep.equal([['ConfigurationCreated', 1]]);
    });

    it('refuses the whole set as stale, naming every key that moved', function () {
      const other = { ...item, key: 'name', configId: configIdFor('acme', 'Production', 'name') };
      const states = new Map([
        [item.configId, config('timeout', 'Integer', ['10', '20'])],
        [other.configId, config('name', 'Integer', ['10'])],
      ]);
      let error: DomainError | undefined;
      try {
        decideApplyItems([item, { ...other, baseVersion: 0, action: 'Create' }], states, ctx);
      } catch (e) {
        error = e as DomainError;
      }
      expect(error?.code).to.equal('stale');
      expect(error?.details).to.deep.equal({
        conflicts: [
          { key: 'timeout', expectedVersion: 1, currentVersion: 2 },
          { key: 'name', expectedVersion: 0, currentVersion: 1 },
        ],
      });
    });
  });

  describe('approval', function () {
    it('is requested once, and not for nothing; needing no approval, it applies at once', function () {
      given([])
        .when(when({ type: 'RequestChangeSet', data: requested.data }))
        .then([requested]);
      given([requested])
        .when(when({ type: 'RequestChangeSet', data: requested.data }))
        .thenRefused('already_exists', 'changeSetId');
      const direct = { ...requested.data, requiredApprovals: 0 };
      given([])
        .when(when({ type: 'RequestChangeSet', data: direct }))
        .then([
          { type: 'ChangeSetRequested', data: direct },
          { type: 'ChangeSetApplied', data: { ...ids, appliedBy: 'alice' } },
        ]);
      given([])
        .when(when({ type: 'RequestChangeSet', data: { ...requested.data, items: [] } }))
        .thenRefused('validation', 'keys');
    });

    it('applies with the last approval needed, never by the requester or twice by one approver', function () {
      const granted = (approver: string): ChangeSetEvent => ({
        type: 'ChangeSetApprovalGranted',
        data: { ...ids, approver, comments: null },
      });
      given([requested])
        .when(when(approve('alice')))
        .thenRefused('forbidden', 'approver');
      const first = decideChangeSet(approve('bob'), given([requested]).state);
      expect(first).to.deep.equal([granted('bob')]);
      expect(appliesSet(first)).to.equal(false);
      given([requested, granted('bob')])
        .when(when(approve('bob')))
        .thenRefused('already_exists', 'approver');
      const last = given([requested, granted('bob')])
        .when(when(approve('carol')))
        .then([
          granted('carol'),
          { type: 'ChangeSetApplied', data: { ...ids, appliedBy: 'carol', approved: true } },
        ]);
      expect(last.exists && last.status).to.equal('Applied');
      const applied: ChangeSetEvent = {
        type: 'ChangeSetApplied',
        data: { ...ids, appliedBy: 'carol' },
      };
      given([requested, granted('bob'), granted('carol'), applied])
        .when(when(approve('dave')))
        .thenRefused('invalid_state');
    });

    it('cannot be approved after it expired', function () {
      given([requested])
        .when(when(approve('bob', new Date('2026-01-02T00:00:00Z'))))
        .thenRefused('invalid_state');
    });

    it('expires once at its deadline if still pending, never before, never once resolved', function () {
      const expire = (now: string): ChangeSetCommand => ({
        type: 'ExpireChangeSet',
        data: { now: new Date(now) },
      });
      const expired: ChangeSetEvent = {
        type: 'ChangeSetExpired',
        data: { ...ids, expiresAt: '2026-01-02T00:00:00Z' },
      };
      given([requested])
        .when(when(expire('2026-01-01T23:59:59Z')))
        .thenNothing();
      const after = given([requested])
        .when(when(expire('2026-01-02T00:00:00Z')))
        .then([expired]);
      expect(after.exists && after.status).to.equal('Expired');
      given([requested, expired])
        .when(when(expire('2026-01-03T00:00:00Z')))
        .thenNothing();
      given([requested, expired])
        .when(when(approve('bob')))
        .thenRefused('invalid_state');
      const applied: ChangeSetEvent = {
        type: 'ChangeSetApplied',
        data: { ...ids, appliedBy: 'carol' },
      };
      given([requested, applied])
        .when(when(expire('2026-01-03T00:00:00Z')))
        .thenNothing();
      given([])
        .when(when(expire('2026-01-03T00:00:00Z')))
        .thenNothing();
    });

    it('is rejected by anyone reviewing it and cancelled only by its requester', function () {
      const cmd = { changeSetId: 'cs_1', comments: 'no', now: NOW };
      given([requested])
        .when(when({ type: 'RejectChangeSet', data: { ...cmd, by: 'bob' } }))
        .then([{ type: 'ChangeSetRejected', data: { ...ids, rejectedBy: 'bob', comments: 'no' } }]);
      given([requested])
        .when(when({ type: 'CancelChangeSet', data: { ...cmd, by: 'bob' } }))
        .thenRefused('forbidden', 'changeSetId');
      given([requested])
        .when(when({ type: 'CancelChangeSet', data: { ...cmd, by: 'alice' } }))
        .then([
          { type: 'ChangeSetCancelled', data: { ...ids, cancelledBy: 'alice', comments: 'no' } },
        ]);
    });
  });
});
