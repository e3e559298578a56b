/** Small pure helpers of the client: snapshots, acknowledgements, comparing values. */
import type { ConfigSnapshot, DeploymentSide, SnapshotSource, ValueKind } from './types.js';

export function snapshotOf(
  values: Record<string, unknown>,
  source: SnapshotSource,
): ConfigSnapshot {
  return Object.freeze({
    etag: '',
    version: 0,
    configs: Object.freeze({ ...values }),
    versions: Object.freeze({}),
    deployments: Object.freeze({}),
    source,
  });
}

/** An acknowledgement of one key's value as received. */
export function ackOf(
  key: string,
  version: number | undefined,
  deployment: DeploymentSide | undefined,
) {
  return {
    key,
    version: version ?? 0,
    ...(deployment ? { deploymentId: deployment.deploymentId, side: deployment.side } : {}),
  };
}

export const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export const messageOf = (error: unknown) =>
  (error instanceof Error ? error.message : String(error)).slice(0, 2000) || 'rejected';

export function changedKeys(previous: ConfigSnapshot, next: ConfigSnapshot): string[] {
  const keys = new Set([...Object.keys(previous.configs), ...Object.keys(next.configs)]);
  return [...keys].filter(
    (k) => JSON.stringify(previous.configs[k]) !== JSON.stringify(next.configs[k]),
  );
}

export function kindOfFallback(fallback: unknown): ValueKind | undefined {
  switch (typeof fallback) {
    case 'boolean':
    case 'number':
    case 'string':
      return typeof fallback as ValueKind;
    case 'object':
      return fallback === null ? undefined : 'json';
    default:
      return undefined;
  }
}
