/**
 * Future preview: an environment as it would be at a future time if what is waiting went through:
 * scheduled changes at their `applyAt`, and pending change requests as if approved (at their own
 * `applyAt` when they carry one, else as soon as approved: now). Pure: the environment's current
 * configurations and the waiting changes in, the environment then and the changes applied (in
 * order) or not (and why) out.
 *
 * Each change is applied with the rule its own command would apply: it names the version it was
 * made against (`baseVersion`, 0 for a new key), and a change whose configuration moved first is
 * stale (a schedule fails, an approval is refused), so two waiting changes of one key never both
 * apply. A canary's value is shown as it will be once its rollout completes.
 */
import type { ConfigType } from '../configs/config-values.js';
import { typedValue } from '../configs/config-values.js';
import { masked } from '../configs/config.view.js';

export interface CurrentConfig {
  configId: string;
  key: string;
  type: ConfigType;
  value: string;
  version: number;
  deleted: boolean;
  sensitive: boolean;
  /** A running or paused deployment holds it now (no other change goes through meanwhile). */
  heldBy: string | null;
}

export type PendingKind = 'ScheduledChange' | 'ChangeRequest';

export interface PendingChange {
  kind: PendingKind;
  /** scheduleId or approvalId. */
  id: string;
  configId: string;
  key: string;
  /** Null on requests recorded before types were: the configuration's own. */
  type: ConfigType | null;
  action: 'Update' | 'Delete';
  /** The proposed value (a Delete's is ignored). */
  value: string;
  /** The configuration version it was made against; 0 for a new key; null: not recorded. */
  baseVersion: number | null;
  /** When it takes effect: a schedule's time; a request's `applyAt` when it has one. */
  applyAt: string | null;
  createdAt: string;
  /** A request still waiting for approval expires then. */
  expiresAt: string | null;
  sensitive: boolean;
  /** The rollout a request asks for (null: a scheduled change, which writes directly). */
  strategy: 'Direct' | 'Canary' | null;
  requestedBy: string | null;
  /** A scheduled change carrying out an approved request (not a direct write). */
  approved: boolean;
}

export interface AppliedChange {
  kind: PendingKind;
  id: string;
  configId: string;
  key: string;
  action: 'Update' | 'Delete';
  effectiveAt: string;
  fromVersion: number | null;
  toVersion: number;
  strategy: 'Direct' | 'Canary' | null;
  /** What the preview assumes: a request is approved (by then). */
  assumes: 'approval' | null;
  requestedBy: string | null;
}

export interface NotApplied {
  kind: PendingKind;
  id: string;
  configId: string;
  key: string;
  effectiveAt: string;
  reason: string;
}

export interface FuturePreview {
  /** Each live key's value then (typed; sensitive ones masked) and its version. */
  configs: Record<string, unknown>;
  versions: Record<string, number>;
  /** In the order they apply. */
  applied: AppliedChange[];
  /** Due by then but would fail, in the order they come due. */
  notApplied: NotApplied[];
  /** Waiting changes that take effect after the time asked for. */
  later: number;
}

interface Slot {
  configId: string;
  type: ConfigType;
  value: string;
  version: number;
  deleted: boolean;
  sensitive: boolean;
  heldBy: string | null;
}

/** When a change takes effect: its own time, or (a request without one) on approval, now. */
export const effectiveAt = (c: PendingChange, now: Date): string => c.applyAt ?? now.toISOString();

export function previewEnvironment(
  current: readonly CurrentConfig[],
  pending: readonly PendingChange[],
  when: {
    at: Date;
    now: Date;
    /** Why the environment takes no direct write (it needs approvals), if it does not. */
    directWritesBlocked?: string | null;
  },
): FuturePreview {
  const slots = new Map<string, Slot>(current.map((c) => [c.key, { ...c }]));
  const due = pending
    .map((change) => ({ change, at: effectiveAt(change, when.now) }))
    .sort(
      (a, b) =>
        Date.parse(a.at) - Date.parse(b.at) ||
        Date.parse(a.change.createdAt) - Date.parse(b.change.createdAt) ||
        (a.change.id < b.change.id ? -1 : a.change.id > b.change.id ? 1 : 0),
    );
  const applied: AppliedChange[] = [];
  const notApplied: NotApplied[] = [];
  let later = 0;
  for (const { change: c, at } of due) {
    if (Date.parse(at) > when.at.getTime()) {
      later += 1;
      continue;
    }
    const slot = slots.get(c.key);
    const refuse = (reason: string) =>
      notApplied.push({
        kind: c.kind,
        id: c.id,
        configId: c.configId,
        key: c.key,
        effectiveAt: at,
        reason,
      });
    if (
      c.kind === 'ChangeRequest' &&
      c.expiresAt !== null &&
      Date.parse(c.expiresAt) < Date.parse(at)
    ) {
      refuse(`the request expires at ${c.expiresAt}, before it takes effect`);
      continue;
    }
    if (c.kind === 'ScheduledChange' && !c.approved && when.directWritesBlocked) {
      refuse(when.directWritesBlocked);
      continue;
    }
    if (slot?.heldBy) {
      refuse(`a deployment (${slot.heldBy}) holds the configuration now`);
      continue;
    }
    const live = slot !== undefined && !slot.deleted;
    if (c.baseVersion === 0) {
      if (live) {
        refuse(`the key exists by then (version ${slot.version}): made for a new key`);
        continue;
      }
    } else if (!live) {
      if (c.baseVersion !== null || c.action === 'Delete') {
        refuse('the configuration is deleted by then');
        continue;
      }
    } else if (c.baseVersion !== null && slot.version !== c.baseVersion) {
      refuse(
        `stale: made against version ${c.baseVersion}, the configuration is at version ` +
          `${slot.version} by then`,
      );
      continue;
    }
    const fromVersion = slot ? slot.version : null;
    const toVersion = (slot?.version ?? 0) + 1;
    slots.set(c.key, {
      configId: c.configId,
      type: c.type ?? slot?.type ?? 'String',
      value: c.action === 'Delete' ? (slot?.value ?? '') : c.value,
      version: toVersion,
      deleted: c.action === 'Delete',
      // Once a secret, always: the value of a key that was sensitive stays masked.
      sensitive: c.sensitive || (slot?.sensitive ?? false),
      heldBy: null,
    });
    applied.push({
      kind: c.kind,
      id: c.id,
      configId: c.configId,
      key: c.key,
      action: c.action,
      effectiveAt: at,
      fromVersion,
      toVersion,
      strategy: c.strategy,
      assumes: c.kind === 'ChangeRequest' ? 'approval' : null,
      requestedBy: c.requestedBy,
    });
  }
  const configs: Record<string, unknown> = {};
  const versions: Record<string, number> = {};
  for (const [key, s] of [...slots].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (s.deleted) continue;
    configs[key] = s.sensitive ? masked(s.value, true) : typedValue(s.type, s.value);
    versions[key] = s.version;
  }
  return { configs, versions, applied, notApplied, later };
}
