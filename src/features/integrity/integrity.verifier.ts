/**
 * Verifies the log's hash chains (src/core/event-store/chain.ts) and the tenants' signed
 * checkpoints, from a live store or an export file: anything that yields the events in global
 * order. Pure apart from the source: `npm run audit:verify` and the tests drive it.
 *
 * Two passes: the first collects the signed checkpoints (few events; they come after the events
 * they pin), the second walks the log and checks every event against its stream's chain and
 * against every checkpoint that pinned it.
 */
import { createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import {
  checkpointMessage,
  contentDigest,
  decodeOrder,
  linkHash,
  merkleRoot,
} from '../../core/event-store/chain.js';
import { CHECKPOINT_EVENT, INTEGRITY_PREFIX, type CheckpointData } from './integrity.events.js';

export interface ChainEvent {
  position: bigint;
  streamId: string;
  revision: bigint;
  id: string;
  type: string;
  data: unknown;
  metadata: unknown;
  /** Hex; absent for an unchained event. */
  hash?: string;
}

export interface ChainBreak {
  /** Position of the event where the break shows (the next one, for a deleted event). */
  position: bigint;
  streamId: string;
  revision: bigint;
  eventId?: string;
  problem: string;
  expected?: string;
  found?: string;
}

export interface VerifyReport {
  ok: boolean;
  events: number;
  /** Events chained and checked. */
  chained: number;
  /** Events at or below this position predate the chain and are not covered. */
  chainStartedAfter: bigint;
  streams: number;
  checkpoints: { verified: number; tenants: string[] };
  /** In log order: the first one is the first broken event. */
  breaks: ChainBreak[];
  warnings: string[];
}

export type EventSource = () => AsyncIterable<ChainEvent>;

export interface VerifyOptions {
  /**
   * Where chaining began (live stores know: es_chain). Unknown for a file: taken from the signed
   * checkpoints, else the position before the first event that carries a hash.
   */
  chainStartedAfter?: bigint;
  /** Ed25519 public keys (raw 32 bytes, base64) whose checkpoint signatures are trusted. */
  trustedKeys?: readonly string[];
  /** The stores's own stream heads (live only): a deleted last event shows against them. */
  heads?: Map<string, bigint>;
  /** Stop collecting after this many breaks. */
  maxBreaks?: number;
}

interface Claim {
  hash: string;
  checkpointPosition: bigint;
  seen: boolean;
}

/** A version-2 checkpoint's window: the order of the tenant's events it signed. */
interface Window {
  checkpointPosition: bigint;
  after: bigint;
  upTo: bigint;
  /** The greatest signed index among the window's events seen so far, and that event. */
  furthest?: { index: number; at: Omit<ChainBreak, 'problem'>; named?: boolean };
}

/** Where the signed order puts an event (stream, revision): its window and index there. */
interface Placement {
  window: Window;
  index: number;
}

const placementKey = (streamId: string, revision: bigint) => `${streamId}\u0000${revision}`;
const label = (b: { streamId: string; revision: bigint }) => `${b.streamId} revision ${b.revision}`;

/**
 * The tenant a stream belongs to, as es_append attributes it (migration 1764230400050): the first
 * `data.tenantId` among its events, else a tenant stream's own name.
 */
function attribute(current: string | null | undefined, e: ChainEvent): string | null {
  if (current) return current;
  const t = (e.data as { tenantId?: unknown } | null)?.tenantId;
  if (t !== undefined && t !== null && typeof t !== 'object') return String(t);
  return e.streamId.startsWith('tenant-') ? e.streamId.slice('tenant-'.length) : null;
}

export async function verifyChain(
  source: EventSource,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const maxBreaks = options.maxBreaks ?? 100;
  const breaks: ChainBreak[] = [];
  const warnings: string[] = [];
  const trusted = new Map((options.trustedKeys ?? []).map((k) => [k, publicKeyFrom(k)]));

  // Pass 1: checkpoints.
  const claims = new Map<string, Claim>();
  const claimKey = (streamId: string, revision: bigint) => `${streamId}\u0000${revision}`;
  let checkpointStart: bigint | undefined;
  let verified = 0;
  const tenants = new Set<string>();
  let firstHashed: bigint | undefined;
  const windows = new Map<string, Window[]>();
  const placements = new Map<string, Placement>();
  for await (const e of source()) {
    if (firstHashed === undefined && e.hash) firstHashed = e.position;
    if (!e.streamId.startsWith(INTEGRITY_PREFIX) || e.type !== CHECKPOINT_EVENT) continue;
    const c = e.data as CheckpointData;
    const fail = (problem: string) =>
      breaks.push({
        position: e.position,
        streamId: e.streamId,
        revision: e.revision,
        eventId: e.id,
        problem,
      });
    const heads = c.heads.map((h) => ({ ...h, revision: BigInt(h.revision) }));
    const root = merkleRoot(heads).toString('hex');
    if (root !== c.root) {
      fail(`checkpoint root ${c.root} does not match its heads (${root})`);
      continue;
    }
    const key = trusted.get(c.publicKey);
    if (!key) {
      if (trusted.size) fail(`checkpoint signed by an untrusted key ${c.publicKey}`);
      else
        warnings.push(`checkpoint at ${e.position}: signature not checked (no public key given)`);
    } else if (
      !verifySignature(null, checkpointMessage(c), key, Buffer.from(c.signature, 'base64'))
    ) {
      fail('checkpoint signature does not verify');
      continue;
    } else {
      verified += 1;
      tenants.add(c.tenantId);
    }
    const start = BigInt(c.chainStartedAfter);
    if (checkpointStart === undefined || start < checkpointStart) checkpointStart = start;
    for (const h of heads) {
      claims.set(claimKey(h.streamId, h.revision), {
        hash: h.hash,
        checkpointPosition: e.position,
        seen: false,
      });
    }
    if (c.order !== undefined) {
      let streamsInOrder: { streamId: string; revision: bigint }[];
      try {
        streamsInOrder = decodeOrder(c.order).map((i) => {
          const head = heads[i];
          if (!head) throw new Error(`order names heads[${i}], which the checkpoint lacks`);
          return head;
        });
      } catch (error) {
        fail(`checkpoint order unreadable: ${(error as Error).message}`);
        continue;
      }
      const window: Window = {
        checkpointPosition: e.position,
        after: BigInt(c.after ?? c.chainStartedAfter),
        upTo: BigInt(c.upTo),
      };
      // Each entry's revision, counted back from its stream's head at upTo.
      const back = new Map<string, bigint>();
      for (let i = streamsInOrder.length - 1; i >= 0; i--) {
        const { streamId, revision: head } = streamsInOrder[i]!;
        const n = back.get(streamId) ?? 0n;
        back.set(streamId, n + 1n);
        const key = placementKey(streamId, head - n);
        if (!placements.has(key)) placements.set(key, { window, index: i });
      }
      const list = windows.get(c.tenantId) ?? [];
      list.push(window);
      windows.set(c.tenantId, list);
    }
  }
  for (const list of windows.values()) list.sort((a, b) => (a.upTo < b.upTo ? -1 : 1));
  const chainStartedAfter =
    options.chainStartedAfter ??
    checkpointStart ??
    (firstHashed !== undefined ? firstHashed - 1n : 0n);
  if (
    options.chainStartedAfter !== undefined &&
    checkpointStart !== undefined &&
    checkpointStart !== options.chainStartedAfter
  ) {
    breaks.push({
      position: 0n,
      streamId: '',
      revision: -1n,
      problem: `chaining began after ${options.chainStartedAfter}, but signed checkpoints say after ${checkpointStart}`,
    });
  }

  // Pass 2: the chains.
  const streams = new Map<string, { revision: bigint; hash: Buffer | null; position?: bigint }>();
  const tenantOf = new Map<string, string | null>();
  /** Per tenant, the first of its windows that may still hold the next event. */
  const windowCursor = new Map<string, number>();
  let events = 0;
  let chained = 0;
  const record = (b: ChainBreak) => {
    if (breaks.length < maxBreaks) breaks.push(b);
  };
  for await (const e of source()) {
    events += 1;
    const at = { position: e.position, streamId: e.streamId, revision: e.revision, eventId: e.id };
    const prev = streams.get(e.streamId);
    const tenant = attribute(tenantOf.get(e.streamId), e);
    tenantOf.set(e.streamId, tenant);
    const expectedRevision = prev ? prev.revision + 1n : 0n;
    if (e.revision !== expectedRevision) {
      record({
        ...at,
        problem:
          e.revision > expectedRevision
            ? `revision ${expectedRevision}${e.revision - expectedRevision > 1n ? `..${e.revision - 1n}` : ''} of the stream is missing`
            : `out of order: revision ${e.revision} comes after revision ${prev!.revision}`,
        expected: `revision ${expectedRevision}`,
        found: `revision ${e.revision}`,
      });
    }
    if (e.position <= chainStartedAfter) {
      streams.set(e.streamId, { revision: e.revision, hash: null, position: e.position });
      continue;
    }
    chained += 1;
    if (!e.hash) {
      record({ ...at, problem: 'no hash: the event is not chained' });
      streams.set(e.streamId, { revision: e.revision, hash: null, position: e.position });
      continue;
    }
    const computed = linkHash(prev?.hash ?? null, e.streamId, e.revision, contentDigest(e));
    if (computed.toString('hex') !== e.hash) {
      record({
        ...at,
        problem: 'hash does not match the event (content, place or previous link changed)',
        expected: computed.toString('hex'),
        found: e.hash,
      });
    }
    const claim = claims.get(claimKey(e.streamId, e.revision));
    if (claim) {
      claim.seen = true;
      if (claim.hash !== e.hash) {
        record({
          ...at,
          problem: `differs from the signed checkpoint at position ${claim.checkpointPosition}`,
          expected: claim.hash,
          found: e.hash,
        });
      }
    }
    if (tenant !== null && !e.streamId.startsWith(INTEGRITY_PREFIX)) {
      const window = windowOf(windows.get(tenant), windowCursor, tenant, e.position);
      for (const b of checkOrder(placements.get(placementKey(e.streamId, e.revision)), window, at))
        record(b);
    }
    // Go on from the stored hash: one changed event is reported once, not for all after it.
    streams.set(e.streamId, {
      revision: e.revision,
      hash: Buffer.from(e.hash, 'hex'),
      position: e.position,
    });
  }
  for (const [key, claim] of claims) {
    if (claim.seen) continue;
    const [streamId, revision] = key.split('\u0000') as [string, string];
    const last = streams.get(streamId);
    if (last && last.revision >= BigInt(revision)) continue; // pre-chain, or reported above
    record({
      position: claim.checkpointPosition,
      streamId,
      revision: BigInt(revision),
      problem: `missing: the signed checkpoint at position ${claim.checkpointPosition} pins this revision`,
      expected: claim.hash,
    });
  }
  for (const [streamId, revision] of options.heads ?? []) {
    const last = streams.get(streamId);
    if ((last?.revision ?? -1n) !== revision) {
      record({
        // Shown after the stream's last event left: that is where the log breaks off.
        position: (last?.position ?? 0n) + 1n,
        streamId,
        revision,
        problem: `missing: the store's head of the stream is revision ${revision}, the log ends at ${last?.revision ?? 'nothing'}`,
      });
    }
  }
  breaks.sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
  return {
    ok: breaks.length === 0,
    events,
    chained,
    chainStartedAfter,
    streams: streams.size,
    checkpoints: { verified, tenants: [...tenants].sort() },
    breaks,
    warnings,
  };
}

/** The tenant's window that holds a log position, if a signed checkpoint covers it. */
function windowOf(
  list: Window[] | undefined,
  cursor: Map<string, number>,
  tenant: string,
  position: bigint,
): Window | undefined {
  if (!list) return undefined;
  let i = cursor.get(tenant) ?? 0;
  while (i < list.length && list[i]!.upTo < position) i += 1;
  cursor.set(tenant, i);
  const w = list[i];
  return w && position > w.after ? w : undefined;
}

/**
 * A tenant's chained event against the signed order. Events of different streams that traded
 * places show as an inversion: the later-signed one comes first; both are named. An event found
 * in another window than the one that signed it, or in a window that never signed it, is named
 * too. A signed event that is missing is left to the chain checks (they name deletions).
 */
function checkOrder(
  placement: Placement | undefined,
  window: Window | undefined,
  at: Omit<ChainBreak, 'problem'>,
): ChainBreak[] {
  if (!placement) {
    return window
      ? [
          {
            ...at,
            problem: `not in the order the signed checkpoint at position ${window.checkpointPosition} gives the tenant's events after ${window.after}`,
          },
        ]
      : [];
  }
  const signed = placement.window;
  if (signed !== window) {
    return [
      {
        ...at,
        problem:
          `out of place: the signed checkpoint at position ${signed.checkpointPosition} puts ` +
          `it among the tenant's events after ${signed.after} up to ${signed.upTo}`,
        expected: `position in (${signed.after}, ${signed.upTo}]`,
        found: `position ${at.position}`,
      },
    ];
  }
  const furthest = signed.furthest;
  if (!furthest || placement.index > furthest.index) {
    signed.furthest = { index: placement.index, at };
    return [];
  }
  const by = `the signed checkpoint at position ${signed.checkpointPosition}`;
  const late: ChainBreak = {
    ...at,
    problem: `out of place: ${by} orders it before ${label(furthest.at)}, which the log has first`,
    expected: `before ${label(furthest.at)}`,
    found: `after ${label(furthest.at)}`,
  };
  if (furthest.named) return [late];
  furthest.named = true;
  return [
    {
      ...furthest.at,
      problem: `out of place: ${by} orders it after ${label(at)}, which the log has after it`,
      expected: `after ${label(at)}`,
      found: `before ${label(at)}`,
    },
    late,
  ];
}

/** A raw 32-byte Ed25519 public key (base64) as a KeyObject. */
export function publicKeyFrom(raw: string): KeyObject {
  const bytes = Buffer.from(raw, 'base64');
  if (bytes.length !== 32) throw new Error('an Ed25519 public key is 32 bytes (base64)');
  return createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), bytes]),
    format: 'der',
    type: 'spki',
  });
}
