/**
 * Signed tenant checkpoints: the heads (revision and hash) of a tenant's chained streams, read
 * at one log position, their Merkle root signed with the service's Ed25519 key
 * (`ConfigService__Audit__SigningKey`), appended as an event. Whoever can rewrite the database
 * can re-hash a whole chain after an edit; they cannot re-sign the checkpoints that pinned it.
 *
 * Heads come from the PostgreSQL store's stream table (es_streams.head_hash, kept by es_append);
 * the KurrentDB adapter keeps no chain, so there is nothing to sign there.
 */
import { randomUUID, sign as signBytes, type KeyObject } from 'node:crypto';
import type pg from 'pg';
import { WrongExpectedVersionError, type EventStore } from '../../core/event-store/event-store.js';
import type { Settings } from '../../core/settings/settings.js';
import { timerDelay } from '../../core/timeout.js';
import type { Logger } from '../../core/observability/logger.js';
import {
  checkpointMessage,
  encodeOrder,
  merkleRoot,
  publicKeyOf,
} from '../../core/event-store/chain.js';
import { toNewEvents, type CommandContext } from '../../core/commands/command-handling.js';
import {
  CHECKPOINT_EVENT,
  INTEGRITY_PREFIX,
  integrityStream,
  type CheckpointData,
} from './integrity.events.js';

export interface SignedCheckpoint {
  position: bigint;
  checkpoint: CheckpointData;
}

export class CheckpointSigner {
  private readonly publicKey: string;

  constructor(
    private readonly pool: pg.Pool,
    private readonly store: EventStore,
    private readonly key: KeyObject,
  ) {
    this.publicKey = publicKeyOf(key);
  }

  /**
   * Signs the tenant's heads as they are now, unless nothing changed since its last checkpoint
   * (undefined then). Racing signers: one append wins, the other is told the stream moved.
   */
  async sign(tenantId: string, ctx: CommandContext): Promise<SignedCheckpoint | undefined> {
    // The previous checkpoint first: the new one orders the events since its upTo, and its
    // append expects the stream as read here (a racing signer makes it fail, not overlap).
    const stream = integrityStream(tenantId);
    const { events, revision } = await this.store.readStream(stream);
    const last = events.at(-1)?.data as CheckpointData | undefined;
    const { upTo, chainStartedAfter, heads, after, order } = await this.readHeads(
      tenantId,
      last?.upTo,
    );
    if (heads.length === 0) return undefined;
    const root = merkleRoot(heads.map((h) => ({ ...h, revision: BigInt(h.revision) }))).toString(
      'hex',
    );
    if (last && last.root === root && last.publicKey === this.publicKey) return undefined;
    const unsigned = { tenantId, upTo, chainStartedAfter, root, after, order };
    const checkpoint: CheckpointData = {
      ...unsigned,
      heads,
      publicKey: this.publicKey,
      signature: signBytes(null, checkpointMessage(unsigned), this.key).toString('base64'),
    };
    const result = await this.store.append([
      {
        streamId: stream,
        expected: revision < 0n ? 'no_stream' : revision,
        events: toNewEvents([{ type: CHECKPOINT_EVENT, data: checkpoint }], ctx),
      },
    ]);
    return { position: result.position, checkpoint };
  }

  /** Every tenant with chained streams; returns the tenants signed. */
  async signAll(ctx: CommandContext): Promise<string[]> {
    const { rows } = await this.pool.query<{ tenant_id: string }>(
      `SELECT DISTINCT tenant_id FROM es_streams
        WHERE tenant_id IS NOT NULL AND head_hash IS NOT NULL ORDER BY tenant_id`,
    );
    const signed: string[] = [];
    for (const { tenant_id } of rows) {
      if (await this.sign(tenant_id, ctx)) signed.push(tenant_id);
    }
    return signed;
  }

  /**
   * One snapshot: the head position, every head as of it, and the order of the tenant's chained
   * events since `previousUpTo` (or since chaining began).
   */
  private async readHeads(tenantId: string, previousUpTo: string | undefined) {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const head = await client.query<{ position: string }>(
        'SELECT position::text FROM es_global WHERE id',
      );
      const chain = await client.query<{ started_after: string }>(
        'SELECT started_after::text FROM es_chain WHERE id',
      );
      const streams = await client.query<{ stream_id: string; revision: string; hash: string }>(
        `SELECT stream_id, revision::text, encode(head_hash, 'hex') AS hash FROM es_streams
          WHERE tenant_id = $1 AND head_hash IS NOT NULL AND NOT starts_with(stream_id, $2)
          ORDER BY stream_id`,
        [tenantId, INTEGRITY_PREFIX],
      );
      const chainStartedAfter = chain.rows[0]?.started_after ?? '0';
      const after =
        previousUpTo !== undefined && BigInt(previousUpTo) > BigInt(chainStartedAfter)
          ? previousUpTo
          : chainStartedAfter;
      const upTo = head.rows[0]!.position;
      // The tenant's chained events of the window, in log order (the verifier counts the same:
      // events with a hash, of streams attributed to the tenant, its integrity stream aside).
      const inWindow = await client.query<{ stream_id: string }>(
        `SELECT e.stream_id FROM es_events e JOIN es_streams s USING (stream_id)
          WHERE s.tenant_id = $1 AND e.position > $2 AND e.position <= $3
            AND e.hash IS NOT NULL AND NOT starts_with(e.stream_id, $4)
          ORDER BY e.position`,
        [tenantId, after, upTo, INTEGRITY_PREFIX],
      );
      await client.query('COMMIT');
      const index = new Map(streams.rows.map((r, i) => [r.stream_id, i]));
      return {
        upTo,
        chainStartedAfter,
        after,
        order: encodeOrder(inWindow.rows.map((r) => index.get(r.stream_id)!)),
        heads: streams.rows.map((r) => ({
          streamId: r.stream_id,
          revision: r.revision,
          hash: r.hash,
        })),
      };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}

/**
 * The worker signs every tenant's checkpoint each `ConfigService__Audit__CheckpointInterval`
 * (when a signing key is set and the store is PostgreSQL). Several workers may: a tenant whose
 * heads did not change is skipped, and of two racing appends one loses and is ignored.
 */
export function startCheckpointSigning(s: {
  settings: Settings;
  pool: pg.Pool;
  store: EventStore;
  logger: Logger;
}): { stop(): void } {
  const key = s.settings.audit.signingKey;
  if (!key || s.settings.eventStoreConnectionString) return { stop: () => undefined };
  const signer = new CheckpointSigner(s.pool, s.store, key);
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const tenants = await signer.signAll({
        userId: 'system',
        correlationId: `checkpoint-${randomUUID()}`,
      });
      if (tenants.length) s.logger.info({ tenants }, 'signed hash-chain checkpoints');
    } catch (err) {
      if (!(err instanceof WrongExpectedVersionError)) {
        s.logger.error({ err }, 'signing hash-chain checkpoints failed; retrying next interval');
      }
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), timerDelay(s.settings.audit.checkpointIntervalMs));
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
