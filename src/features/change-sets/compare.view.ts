/** What a comparison of two environments shows: per key, each side and whether they differ. */
import { z } from 'zod';
import { named } from '../../core/http/route.js';
import { int, recordedTime, recordedUser } from '../../core/http/common.schemas.js';
import { iso } from '../../core/postgres/paging.js';
import { CONFIG_TYPES } from '../configs/config-values.js';
import { masked } from '../configs/config.view.js';

export const COMPARE_STATUSES = ['Equal', 'Different', 'OnlyInFrom', 'OnlyInTo'] as const;
export type CompareStatus = (typeof COMPARE_STATUSES)[number];

const side = z
  .strictObject({
    configId: z.string(),
    type: z.enum(CONFIG_TYPES),
    value: z.string().describe('masked (********) when the key is or ever was sensitive'),
    version: int,
    isSensitive: z.boolean(),
    updatedAt: recordedTime.describe('its last change'),
    updatedBy: recordedUser.describe('who made its last change'),
  })
  .nullable()
  .describe('null: the key is not in this environment');

export const comparison = named(
  'EnvironmentComparison',
  z.strictObject({
    tenantId: z.string(),
    from: z.string(),
    to: z.string(),
    summary: z.strictObject({
      equal: int,
      different: int,
      onlyInFrom: int,
      onlyInTo: int,
    }),
    items: z.array(
      z.strictObject({
        key: z.string(),
        status: z
          .enum(COMPARE_STATUSES)
          .describe('Different also when the types differ; secrets compare by value, unshown'),
        from: side,
        to: side,
      }),
    ),
  }),
);
export type Comparison = z.infer<typeof comparison>;

/* eslint-disable @typescript-eslint/no-explicit-any */
const sideOf = (r: any) =>
  r
    ? {
        configId: r.config_id,
        type: r.type,
        value: masked(r.value, r.is_sensitive || r.ever_sensitive),
        version: r.version,
        isSensitive: r.is_sensitive,
        updatedAt: iso(r.updated_at),
        updatedBy: r.updated_by,
      }
    : null;

/** Pairs the live rows of two environments by key (rows: both environments, any order). */
export function compareRows(tenantId: string, from: string, to: string, rows: any[]): Comparison {
  const byKey = new Map<string, { from?: any; to?: any }>();
  for (const r of rows) {
    const pair = byKey.get(r.key) ?? {};
    if (r.environment === from) pair.from = r;
    else pair.to = r;
    byKey.set(r.key, pair);
  }
  const summary = { equal: 0, different: 0, onlyInFrom: 0, onlyInTo: 0 };
  const items = [...byKey.keys()].sort().map((key) => {
    const p = byKey.get(key)!;
    const status: CompareStatus = !p.to
      ? 'OnlyInFrom'
      : !p.from
        ? 'OnlyInTo'
        : p.from.type === p.to.type && p.from.value === p.to.value
          ? 'Equal'
          : 'Different';
    summary[(status[0]!.toLowerCase() + status.slice(1)) as keyof typeof summary]++;
    return { key, status, from: sideOf(p.from), to: sideOf(p.to) };
  });
  return { tenantId, from, to, summary, items };
}
/* eslint-enable @typescript-eslint/no-explicit-any */
