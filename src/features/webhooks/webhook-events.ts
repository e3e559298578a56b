/**
 * Which recorded events a webhook can subscribe to, and the payload each sends. Payloads carry
 * what identifies the change, never a secret: a sensitive configuration's value is masked, as
 * reads mask it. Pure: the dispatcher maps each event of the log with this.
 */
import type { RecordedEvent } from '../../core/event-store/event-store.js';
import { MASK } from '../configs/config-values.js';

export const WEBHOOK_EVENT_TYPES = [
  'config.changed',
  'change-request.opened',
  'change-request.approved',
  'change-request.rejected',
  'change-request.cancelled',
  'change-request.expired',
  'deployment.started',
  'deployment.step',
  'deployment.paused',
  'deployment.resumed',
  'deployment.completed',
  'deployment.rolled-back',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export interface WebhookMessage {
  type: WebhookEventType;
  tenantId: string;
  /** The body sent: { type, timestamp, tenantId, eventId, position, data }. */
  payload: Record<string, unknown>;
}

const CONFIG_CHANGES: Record<string, string> = {
  ConfigurationCreated: 'Created',
  ConfigurationUpdated: 'Updated',
  ConfigurationRolledBack: 'RolledBack',
  ConfigurationDeleted: 'Deleted',
  ConfigurationRestored: 'Restored',
};

const SIMPLE: Record<string, WebhookEventType> = {
  ApprovalRequested: 'change-request.opened',
  ApprovalApproved: 'change-request.approved',
  ApprovalRejected: 'change-request.rejected',
  ApprovalCancelled: 'change-request.cancelled',
  ApprovalExpired: 'change-request.expired',
  DeploymentStarted: 'deployment.started',
  DeploymentStepAdvanced: 'deployment.step',
  DeploymentPaused: 'deployment.paused',
  DeploymentResumed: 'deployment.resumed',
  DeploymentCompleted: 'deployment.completed',
  DeploymentRolledBack: 'deployment.rolled-back',
};

type Data = Record<string, unknown>;

/**
 * A change set (promotion or import) awaiting approval is a change request for its keys: the
 * same kinds of events, naming `changeSetId` and its keys instead of `changeRequestId`. A set
 * applied at once (no approval needed) sends only its keys' `config.changed`.
 */
function changeSetMessage(type: string, d: Data): [WebhookEventType, Data] | undefined {
  const id = { changeSetId: d.changeSetId };
  switch (type) {
    case 'ChangeSetRequested': {
      if (typeof d.requiredApprovals !== 'number' || d.requiredApprovals === 0) return undefined;
      const items = Array.isArray(d.items) ? (d.items as { key: string; action: string }[]) : [];
      return [
        'change-request.opened',
        {
          ...id,
          environment: d.environment,
          source: d.source,
          fromEnvironment: d.fromEnvironment,
          keys: items.map((i) => ({ key: i.key, action: i.action })),
          description: d.description,
          requestedBy: d.requestedBy,
          requiredApprovals: d.requiredApprovals,
          expiresAt: d.expiresAt,
        },
      ];
    }
    case 'ChangeSetApplied':
      return d.approved === true
        ? ['change-request.approved', { ...id, approvedBy: d.appliedBy }]
        : undefined;
    case 'ChangeSetRejected':
      return ['change-request.rejected', { ...id, rejectedBy: d.rejectedBy, comments: d.comments }];
    case 'ChangeSetCancelled':
      return [
        'change-request.cancelled',
        { ...id, cancelledBy: d.cancelledBy, comments: d.comments },
      ];
    case 'ChangeSetExpired':
      return ['change-request.expired', { ...id, expiresAt: d.expiresAt }];
    default:
      return undefined;
  }
}

/** The fields of an event's data that a subscriber may see (values masked when sensitive). */
function visible(type: string, d: Data): Data {
  // Encrypted values are never sent, not even as ciphertext.
  const sensitive = d.isSensitive === true || d.isEncrypted === true;
  const mask = (v: unknown) => (sensitive && v !== null && v !== undefined ? MASK : v);
  switch (type) {
    case 'ApprovalRequested':
      return {
        changeRequestId: d.approvalId,
        configId: d.configId,
        key: d.key,
        environment: d.environment,
        action: d.action ?? 'Update',
        proposedValue: d.action === 'Delete' ? null : mask(d.proposedValue),
        description: d.description,
        requestedBy: d.requestedBy,
        requiredApprovals: d.requiredApprovals,
        expiresAt: d.expiresAt,
      };
    case 'ApprovalApproved':
      return {
        changeRequestId: d.approvalId,
        approvedBy: d.approvedBy,
        deploymentId: d.deploymentId,
      };
    case 'ApprovalRejected':
      return { changeRequestId: d.approvalId, rejectedBy: d.rejectedBy, comments: d.comments };
    case 'ApprovalCancelled':
      return { changeRequestId: d.approvalId, cancelledBy: d.cancelledBy, comments: d.comments };
    case 'ApprovalExpired':
      return { changeRequestId: d.approvalId, expiresAt: d.expiresAt };
    default: {
      // Deployment events: identity and progress; their values only where not sensitive.
      const { value, previousValue, tenantId: _t, isSensitive: _s, isEncrypted: _x, ...rest } = d;
      return {
        ...rest,
        ...(value !== undefined ? { value: mask(value) } : {}),
        ...(previousValue !== undefined ? { previousValue: mask(previousValue) } : {}),
      };
    }
  }
}

export function webhookMessageOf(e: RecordedEvent): WebhookMessage | undefined {
  const d = e.data as Data;
  const tenantId = typeof d.tenantId === 'string' ? d.tenantId : undefined;
  if (!tenantId) return undefined;
  const envelope = (type: WebhookEventType, data: Data): WebhookMessage => ({
    type,
    tenantId,
    payload: {
      type,
      timestamp:
        typeof e.metadata.timestamp === 'string'
          ? e.metadata.timestamp
          : e.recordedAt.toISOString(),
      tenantId,
      eventId: e.id,
      position: e.position.toString(),
      data,
    },
  });
  const change = CONFIG_CHANGES[e.type];
  if (change) {
    const sensitive = d.isSensitive === true || d.isEncrypted === true;
    return envelope('config.changed', {
      configId: d.configId,
      key: d.key,
      environment: d.environment,
      type: d.type,
      version: d.version,
      changeType: change,
      value: change === 'Deleted' ? null : sensitive ? MASK : d.value,
      changedBy: e.metadata.userId ?? null,
    });
  }
  const set = changeSetMessage(e.type, d);
  if (set) return envelope(set[0], set[1]);
  const simple = SIMPLE[e.type];
  return simple ? envelope(simple, visible(e.type, d)) : undefined;
}
