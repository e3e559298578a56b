/**
 * What the API shows of a configuration and its versions: one view, built from the read tables
 * (queries) or from the state a command left (command answers). The rule for secrets lives here.
 */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import {
  int,
  page,
  position,
  recordedTime,
  recordedUser,
  timestamp,
} from '../../core/http/common.schemas.js';
import { iso } from '../../core/postgres/paging.js';
import { CONFIG_TYPES, MASK } from './config-values.js';
import type { ConfigurationState } from './config.decider.js';
import { DEFAULT_VALUE_MEANING } from './configs.schemas.js';

/**
 * The one masking rule: a value of a configuration that is sensitive (in history: is or ever
 * was) is shown as MASK; no value stays no value. Which answers mask is each view's call.
 */
export function masked<T extends string | null>(value: T, sensitive: boolean): T | typeof MASK {
  return sensitive && value !== null ? MASK : value;
}

/**
 * An encrypted value (at rest it is ciphertext) is shown only decrypted, to a caller allowed to
 * reveal it (`canReveal`), who gets it from `revealed`; every other answer masks it, lists and
 * single reads alike.
 */
export const hiddenValue = (encrypted: boolean, sensitive: boolean, mask: boolean): boolean =>
  encrypted || (mask && sensitive);

/** The same rule over a record (recorded event data, audit details): every text field named …value. */
export function maskedValues<T extends Record<string, unknown>>(record: T, sensitive: boolean): T {
  if (!sensitive) return record;
  const out: Record<string, unknown> = { ...record };
  for (const [k, v] of Object.entries(record)) {
    if (/value$/i.test(k) && typeof v === 'string') out[k] = MASK;
  }
  return out as T;
}

export const configuration = named(
  'Configuration',
  z
    .strictObject({
      configId: z.string(),
      tenantId: z.string(),
      key: z.string(),
      environment: z.string(),
      type: z.enum(CONFIG_TYPES),
      value: z
        .string()
        .describe(
          'the value as text; masked (********) in lists when sensitive, and everywhere when ' +
            'encrypted unless the caller may reveal it',
        ),
      version: int,
      description: z.string().nullable(),
      tags: z.array(z.string()),
      isEncrypted: z
        .boolean()
        .describe(
          'values encrypted at rest; shown in plain text only to callers allowed to reveal',
        ),
      isSensitive: z.boolean(),
      defaultValue: z.string().nullable().describe(DEFAULT_VALUE_MEANING),
      schemaId: z.string().nullable().describe('a config schema its values must match'),
      deleted: z.boolean().describe('soft-deleted (restore undoes it)'),
      activeDeploymentId: z
        .string()
        .nullable()
        .describe('the deployment holding it (no direct writes meanwhile)'),
      createdBy: recordedUser,
      updatedBy: recordedUser,
      createdAt: recordedTime,
      updatedAt: recordedTime,
      deletedAt: recordedTime,
    })
    .describe('A configuration'),
);
export type ConfigurationView = z.infer<typeof configuration>;

export const configurationResult = named(
  'ConfigurationResult',
  configuration
    .extend({ position })
    .describe('The configuration after the command (ETag: its version), and the event position'),
);

/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * A configurations row (with `active_deployment_id`), masked when asked and sensitive, and
 * always when encrypted (`revealed` replaces such values for callers allowed to see them).
 */
export const configurationOfRow = (r: any, mask = false): ConfigurationView => ({
  configId: r.config_id,
  tenantId: r.tenant_id,
  key: r.key,
  environment: r.environment,
  type: r.type,
  value: masked(r.value, hiddenValue(r.is_encrypted, r.is_sensitive, mask)),
  version: r.version,
  description: r.description,
  tags: r.tags ?? [],
  isEncrypted: r.is_encrypted,
  isSensitive: r.is_sensitive,
  defaultValue: masked(r.default_value, hiddenValue(r.is_encrypted, r.is_sensitive, mask)),
  schemaId: r.schema_id,
  deleted: r.deleted_at !== null,
  activeDeploymentId: r.active_deployment_id ?? null,
  createdBy: r.created_by,
  updatedBy: r.updated_by,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
  deletedAt: iso(r.deleted_at),
});
/* eslint-enable @typescript-eslint/no-explicit-any */

/**
 * The configuration as a command left it (its writer sees the value, unless it is encrypted and
 * the writer may not reveal it).
 */
export function configurationOfState(state: ConfigurationState, reveal = false): ConfigurationView {
  if (!state.exists) throw new Error('a command answered with no configuration');
  const { configId, tenantId, key, environment, type, version, description, tags } = state;
  const { isSensitive, isEncrypted, schemaId, deleted, activeDeploymentId } = state;
  const hidden = isEncrypted && !reveal;
  const value = masked(state.value, hidden);
  const defaultValue = masked(state.defaultValue, hidden);
  const identity = { configId, tenantId, key, environment, type, value, version };
  const attributes = { description, tags, isSensitive, defaultValue, schemaId };
  return {
    ...identity,
    ...attributes,
    isEncrypted,
    deleted,
    activeDeploymentId,
    ...RECORDED_UNKNOWN,
  };
}

/** Recorded with the events, not in the state: a command's answer leaves them null. */
const RECORDED_UNKNOWN = {
  createdBy: null,
  updatedBy: null,
  createdAt: null,
  updatedAt: null,
  deletedAt: null,
};

export const configurationVersion = named(
  'ConfigurationVersion',
  z.strictObject({
    versionId: z.string(),
    configId: z.string(),
    version: int,
    value: z.string().describe('masked when the configuration is or ever was sensitive'),
    previousValue: z.string().nullable(),
    changeType: z.enum(['Created', 'Updated', 'RolledBack', 'Deleted', 'Restored']),
    changeDescription: z.string().nullable(),
    changedBy: z.string(),
    environment: z.string(),
    ipAddress: z.string().nullable(),
    traceId: z.string().nullable(),
    createdAt: timestamp,
  }),
);

/* eslint-disable @typescript-eslint/no-explicit-any */
export const configurationVersionOfRow = (
  r: any,
  sensitive: boolean,
): z.infer<typeof configurationVersion> => ({
  versionId: r.version_id,
  configId: r.config_id,
  version: r.version,
  value: masked(r.value, sensitive),
  previousValue: masked(r.previous_value, sensitive),
  changeType: r.change_type,
  changeDescription: r.change_description,
  changedBy: r.changed_by,
  environment: r.environment,
  ipAddress: r.ip_address,
  traceId: r.trace_id,
  createdAt: iso(r.created_at)!,
});
/* eslint-enable @typescript-eslint/no-explicit-any */

export const configurationPage = named('ConfigurationPage', page(configuration, 'configurations'));
export const configurationVersionPage = named(
  'ConfigurationVersionPage',
  page(configurationVersion, 'versions, newest first'),
);
