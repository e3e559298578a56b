/**
 * The hash chain over the event log: the one definition of how an event is hashed. Every stream is
 * a chain: an event's hash covers the previous event's hash in its stream, the stream, its
 * revision and its content, so editing, deleting or re-ordering a stored event breaks the link
 * from it onwards (`src/features/integrity/` verifies; signed checkpoints pin the heads).
 *
 *   digest = SHA-256( canonicalJson({ id, type, data, metadata }) )          (this module)
 *   hash   = SHA-256( prev ‖ utf8(streamId) ‖ 0x00 ‖ int64be(revision) ‖ digest )
 *
 * `prev` is the previous event's hash in the stream, or 32 zero bytes for the first chained
 * event. The digest is computed here when an event is appended; the link is computed where the
 * revision and the previous hash are known for certain, inside the append (`es_append`, migration
 * 1764230400050, which repeats the one line above): appends from several processes interleave,
 * so no process could know the previous hash ahead of the append. The verifier recomputes both.
 *
 * canonicalJson: the value as JSON.stringify would write it, object keys sorted by UTF-16 code
 * units, no whitespace. Numbers and strings round-trip through jsonb unchanged, so the digest of
 * an event read back equals the digest computed before it was stored.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

export const GENESIS_HASH = Buffer.alloc(32);

export function canonicalJson(value: unknown): string {
  // JSON.stringify first: the same toJSON, undefined and non-finite handling as the append.
  return canonical(JSON.parse(JSON.stringify(value ?? null)) as unknown);
}

function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`).join(',')}}`;
}

export interface HashedContent {
  id: string;
  type: string;
  data: unknown;
  metadata: unknown;
}

/** SHA-256 of the event's content (what the link hash covers besides its place in the chain). */
export function contentDigest(e: HashedContent): Buffer {
  return createHash('sha256')
    .update(canonicalJson({ id: e.id, type: e.type, data: e.data, metadata: e.metadata }))
    .digest();
}

/** The event's hash: its content at its place in its stream, after `prev`. */
export function linkHash(
  prev: Buffer | null,
  streamId: string,
  revision: bigint,
  digest: Buffer,
): Buffer {
  const rev = Buffer.alloc(8);
  rev.writeBigInt64BE(revision);
  return createHash('sha256')
    .update(prev ?? GENESIS_HASH)
    .update(Buffer.from(streamId, 'utf8'))
    .update(Buffer.from([0]))
    .update(rev)
    .update(digest)
    .digest();
}

// -------------------------------------------------------------------------------------------
// Checkpoints: a Merkle root over a tenant's stream heads, signed with Ed25519.

export interface StreamHead {
  streamId: string;
  revision: bigint;
  /** Hex. */
  hash: string;
}

/** Leaves sorted by stream id; a node is SHA-256(0x01 ‖ left ‖ right); an odd node moves up. */
export function merkleRoot(heads: readonly StreamHead[]): Buffer {
  let level: Buffer[] = [...heads]
    .sort((a, b) => (a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0))
    .map((h) => {
      const rev = Buffer.alloc(8);
      rev.writeBigInt64BE(h.revision);
      return createHash('sha256')
        .update(Buffer.from([0]))
        .update(Buffer.from(h.streamId, 'utf8'))
        .update(Buffer.from([0]))
        .update(rev)
        .update(Buffer.from(h.hash, 'hex'))
        .digest();
    });
  if (level.length === 0) return createHash('sha256').update('').digest();
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const right = level[i + 1];
      next.push(
        right
          ? createHash('sha256')
              .update(Buffer.from([1]))
              .update(level[i]!)
              .update(right)
              .digest()
          : level[i]!,
      );
    }
    level = next;
  }
  return level[0]!;
}

/**
 * The bytes a checkpoint's signature covers. Version 2 adds the tenant's log order since the
 * previous checkpoint (`after`, and the SHA-256 of `order`): per-stream chains pin each stream's
 * content and sequence, the order pins how the tenant's streams interleave in the log.
 */
export function checkpointMessage(c: {
  tenantId: string;
  upTo: string;
  chainStartedAfter: string;
  root: string;
  after?: string | undefined;
  order?: string | undefined;
}): Buffer {
  const v1 = `${c.tenantId}\n${c.upTo}\n${c.chainStartedAfter}\n${c.root}`;
  if (c.order === undefined) return Buffer.from(`cfgsvc-checkpoint-v1\n${v1}`, 'utf8');
  const orderDigest = createHash('sha256').update(c.order, 'utf8').digest('hex');
  return Buffer.from(`cfgsvc-checkpoint-v2\n${v1}\n${c.after ?? ''}\n${orderDigest}`, 'utf8');
}

/**
 * A checkpoint's `order`: the streams of the tenant's chained events in the window
 * (after, upTo], in log order, as indexes into its `heads`; runs of one stream written `i*n`,
 * comma-separated ("2*3,0,1" = three events of heads[2], one of heads[0], one of heads[1]).
 */
export function encodeOrder(indexes: readonly number[]): string {
  const runs: string[] = [];
  for (let i = 0; i < indexes.length;) {
    let n = 1;
    while (indexes[i + n] === indexes[i]) n += 1;
    runs.push(n === 1 ? `${indexes[i]}` : `${indexes[i]}*${n}`);
    i += n;
  }
  return runs.join(',');
}

/** The indexes an `order` lists; throws on a malformed one. */
export function decodeOrder(order: string): number[] {
  if (order === '') return [];
  const out: number[] = [];
  for (const run of order.split(',')) {
    const m = /^(\d+)(?:\*(\d+))?$/.exec(run);
    if (!m) throw new Error(`malformed order run '${run}'`);
    const n = m[2] === undefined ? 1 : Number(m[2]);
    for (let k = 0; k < n; k++) out.push(Number(m[1]));
  }
  return out;
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * The setting's key: a PKCS#8 PEM Ed25519 private key, or the base64 of its 32-byte seed
 * (`openssl rand -base64 32`). Throws a message naming what is wrong.
 */
export function signingKeyFrom(value: string): KeyObject {
  const text = value.trim();
  let key: KeyObject;
  if (text.startsWith('-----BEGIN')) {
    key = createPrivateKey(text);
  } else {
    const seed = Buffer.from(text, 'base64');
    if (seed.length !== 32) {
      throw new Error('must be an Ed25519 private key: PKCS#8 PEM, or 32 bytes in base64');
    }
    key = createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
      format: 'der',
      type: 'pkcs8',
    });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('must be an Ed25519 key');
  return key;
}

/** The raw 32-byte public key, base64: what `audit:verify --public-key` takes. */
export function publicKeyOf(key: KeyObject): string {
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return spki.subarray(spki.length - 32).toString('base64');
}
