import { givenFor } from '../../core/testing/given-when-then.js';
import {
  evolveConfiguration,
  initialConfigurationState,
  type ConfigurationEvent,
  type ConfigurationState,
} from '../configs/config.decider.js';
import {
  decideScheduledChange,
  evolveScheduledChange,
  initialScheduledChangeState,
  type ScheduledChangeCommand,
  type ScheduledChangeEvent,
} from './scheduled-change.decider.js';

const given = givenFor(evolveScheduledChange, initialScheduledChangeState);
const when =
  (command: ScheduledChangeCommand) => (state: ReturnType<typeof initialScheduledChangeState>) =>
    decideScheduledChange(command, state);

const ids = { scheduleId: 'sch_1', tenantId: 'acme' };
const AT = '2026-01-01T12:00:00.000Z';
const scheduled: ScheduledChangeEvent = {
  type: 'ChangeScheduled',
  data: {
    ...ids,
    configId: 'cfg_1',
    key: 'k',
    environment: 'Staging',
    type: 'String',
    value: 'new',
    baseVersion: 1,
    applyAt: AT,
    isSensitive: false,
    changeDescription: null,
    requestedBy: 'alice',
  },
};

function config(versions: number, extra: Partial<{ deleted: boolean }> = {}): ConfigurationState {
  const base = { configId: 'cfg_1', tenantId: 'acme', key: 'k', environment: 'Staging' };
  const events: ConfigurationEvent[] = [];
  for (let v = 1; v <= versions; v++) {
    events.push(
      v === 1
        ? {
            type: 'ConfigurationCreated',
            data: {
              ...base,
              type: 'String',
              version: 1,
              value: 'v1',
              previousValue: null,
              changeDescription: null,
              isSensitive: false,
              description: null,
              tags: [],
              defaultValue: null,
              schemaId: null,
            },
          }
        : {
            type: 'ConfigurationUpdated',
            data: {
              ...base,
              type: 'String',
              version: v,
              value: `v${v}`,
              previousValue: `v${v - 1}`,
              changeDescription: null,
              isSensitive: false,
            },
          },
    );
  }
  if (extra.deleted) {
    events.push({
      type: 'ConfigurationDeleted',
      data: {
        ...base,
        type: 'String',
        version: versions + 1,
        value: `v${versions}`,
        previousValue: `v${versions}`,
        changeDescription: null,
        isSensitive: false,
      },
    });
  }
  return events.reduce(evolveConfiguration, initialConfigurationState());
}

const apply = (now: string, c: ConfigurationState, blocked: string | null = null) =>
  when({ type: 'ApplyScheduledChange', data: { ...ids, now: new Date(now), config: c, blocked } });
const LATER = '2026-01-01T12:00:01.000Z';

describe('scheduled change decider', function () {
  it('is scheduled for the future only', function () {
    const { now: _n, ...data } = { ...scheduled.data, now: new Date('2026-01-01T00:00:00Z') };
    given([])
      .when(
        when({ type: 'ScheduleChange', data: { ...data, now: new Date('2026-01-01T00:00:00Z') } }),
      )
      .then([scheduled]);
    given([])
      .when(when({ type: 'ScheduleChange', data: { ...data, now: new Date(AT) } }))
      .thenRefused('validation', 'applyAt');
  });

  it('applies at its time, once, as the next version', function () {
    given([scheduled])
      .when(apply('2026-01-01T11:59:59.000Z', config(1)))
      .thenNothing();
    given([scheduled])
      .when(apply(LATER, config(1)))
      .then([
        {
          type: 'ScheduledChangeApplied',
          data: { ...ids, configId: 'cfg_1', version: 2 },
        },
      ]);
    const applied: ScheduledChangeEvent = {
      type: 'ScheduledChangeApplied',
      data: { ...ids, configId: 'cfg_1', version: 2 },
    };
    given([scheduled, applied])
      .when(apply(LATER, config(2)))
      .thenNothing();
  });

  it('fails visibly, never overwriting, when the configuration moved or is deleted or blocked', function () {
    given([scheduled])
      .when(apply(LATER, config(2)))
      .then([
        {
          type: 'ScheduledChangeFailed',
          data: {
            ...ids,
            configId: 'cfg_1',
            reason: 'stale: scheduled against version 1, the configuration is now at version 2',
            currentVersion: 2,
          },
        },
      ]);
    given([scheduled])
      .when(apply(LATER, config(0, {})))
      .then([
        {
          type: 'ScheduledChangeFailed',
          data: {
            ...ids,
            configId: 'cfg_1',
            reason: 'the configuration was deleted',
            currentVersion: null,
          },
        },
      ]);
    given([scheduled])
      .when(apply(LATER, config(1), 'Changes to Staging need 1 approval(s)'))
      .then([
        {
          type: 'ScheduledChangeFailed',
          data: {
            ...ids,
            configId: 'cfg_1',
            reason: 'Changes to Staging need 1 approval(s)',
            currentVersion: 1,
          },
        },
      ]);
  });

  it('is cancelled while pending only; a cancelled one is never applied', function () {
    const cancelled: ScheduledChangeEvent = {
      type: 'ScheduledChangeCancelled',
      data: { ...ids, cancelledBy: 'bob' },
    };
    given([scheduled])
      .when(when({ type: 'CancelScheduledChange', data: { ...ids, by: 'bob' } }))
      .then([cancelled]);
    given([scheduled, cancelled])
      .when(when({ type: 'CancelScheduledChange', data: { ...ids, by: 'bob' } }))
      .thenRefused('invalid_state');
    given([scheduled, cancelled])
      .when(apply(LATER, config(1)))
      .thenNothing();
    given([])
      .when(when({ type: 'CancelScheduledChange', data: { ...ids, by: 'bob' } }))
      .thenRefused('not_found', 'scheduleId');
  });
});
