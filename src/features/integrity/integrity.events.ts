/**
 * Events of the integrity feature: a tenant's signed checkpoints, in stream `integrity-{tenantId}`
 * (so a tenant's export carries them: `data.tenantId`).
 */
export const INTEGRITY_PREFIX = 'integrity-';
export const integrityStream = (tenantId: string) => `${INTEGRITY_PREFIX}${tenantId}`;

export const CHECKPOINT_EVENT = 'ChainCheckpointSigned';

export interface CheckpointData {
  tenantId: string;
  /** The log's head position the heads were read at (decimal). */
  upTo: string;
  /** Events at or below this position are not chained (decimal). */
  chainStartedAfter: string;
  /** Every chained stream of the tenant at `upTo`, but its integrity stream. */
  heads: { streamId: string; revision: string; hash: string }[];
  /**
   * The window this checkpoint orders: the previous checkpoint's `upTo` (decimal), or
   * `chainStartedAfter` for the tenant's first. Absent on version-1 checkpoints.
   */
  after?: string;
  /**
   * The tenant's chained events in (after, upTo], in log order, as indexes into `heads`
   * (chain.ts encodeOrder). Pins how the tenant's streams interleave: re-ordering events of
   * different streams shows against it. Absent on version-1 checkpoints.
   */
  order?: string;
  /** Hex Merkle root over `heads` (chain.ts merkleRoot). */
  root: string;
  /** Raw Ed25519 public key, base64. */
  publicKey: string;
  /** Ed25519 over chain.ts checkpointMessage, base64. */
  signature: string;
}
