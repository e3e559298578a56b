/**
 * Key-encryption keys: what wraps (encrypts) the tenants' data keys. Either master keys from
 * settings (`Encryption__MasterKey`) or HashiCorp Vault's Transit engine (`vault-transit.ts`).
 * A wrapped data key records which key-encryption key wrapped it (`kekId`), so keys can rotate:
 * old ones stay listed for unwrapping until `npm run keys:rotate` has re-wrapped everything.
 */
import { openBytes, sealBytes } from './envelope.js';

export interface WrappedKey {
  /** Which key-encryption key (and, for Vault, the ciphertext names its version). */
  kekId: string;
  wrapped: string;
}

export interface KeyWrapper {
  /** For logs and the rotate report: `local:k2`, `vault:transit/config-service`. */
  readonly current: string;
  wrap(dataKey: Buffer, tenantId: string): Promise<WrappedKey>;
  unwrap(key: WrappedKey, tenantId: string): Promise<Buffer>;
  /** The key wrapped under the newest key-encryption key; undefined when it already is. */
  rewrap(key: WrappedKey, tenantId: string): Promise<WrappedKey | undefined>;
}

export interface MasterKey {
  id: string;
  key: Buffer;
}

const MASTER_KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * `Encryption__MasterKey`: one base64 key of 32 bytes (its id is `default`), or several as
 * `id:base64,id:base64`: the first wraps new data keys, the others only unwrap (rotation).
 * Throws naming what is wrong.
 */
export function parseMasterKeys(text: string): MasterKey[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (!parts.length) throw new Error('no key given');
  const keys = parts.map((part) => {
    const colon = part.indexOf(':');
    const id = colon < 0 ? 'default' : part.slice(0, colon);
    const b64 = colon < 0 ? part : part.slice(colon + 1);
    if (!MASTER_KEY_ID.test(id))
      throw new Error(`key id '${id}' must be 1-64 of A-Z a-z 0-9 _ . -`);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error(`key '${id}' is not base64`);
    const key = Buffer.from(b64, 'base64');
    if (key.length !== 32) throw new Error(`key '${id}' must be 32 bytes (got ${key.length})`);
    return { id, key };
  });
  const ids = new Set(keys.map((k) => k.id));
  if (ids.size !== keys.length) throw new Error('key ids must be unique');
  return keys;
}

/** Master keys held by the process: AES-256-GCM, the tenant id as associated data. */
export class LocalKeyWrapper implements KeyWrapper {
  private readonly byId: Map<string, Buffer>;
  readonly current: string;

  constructor(private readonly keys: MasterKey[]) {
    if (!keys.length) throw new Error('LocalKeyWrapper needs a key');
    this.byId = new Map(keys.map((k) => [`local:${k.id}`, k.key]));
    this.current = `local:${keys[0]!.id}`;
  }

  wrap(dataKey: Buffer, tenantId: string): Promise<WrappedKey> {
    const sealed = sealBytes(this.byId.get(this.current)!, dataKey, Buffer.from(tenantId));
    return Promise.resolve({ kekId: this.current, wrapped: sealed.toString('base64') });
  }

  unwrap(key: WrappedKey, tenantId: string): Promise<Buffer> {
    const kek = this.byId.get(key.kekId);
    if (!kek) {
      return Promise.reject(
        new Error(
          `Data key of tenant '${tenantId}' is wrapped by ${key.kekId}, which Encryption__MasterKey no longer lists`,
        ),
      );
    }
    return Promise.resolve(
      openBytes(kek, Buffer.from(key.wrapped, 'base64'), Buffer.from(tenantId)),
    );
  }

  async rewrap(key: WrappedKey, tenantId: string): Promise<WrappedKey | undefined> {
    if (key.kekId === this.current) return undefined;
    return this.wrap(await this.unwrap(key, tenantId), tenantId);
  }
}

/**
 * Several key-encryption keys at once: the first wraps, each unwraps what it wrapped (by
 * `kekId`). Moving from master keys to Vault: set Vault__Address, keep Encryption__MasterKey,
 * run `npm run keys:rotate`, then drop the master keys.
 */
export class ChainedKeyWrapper implements KeyWrapper {
  readonly current: string;

  constructor(
    private readonly first: KeyWrapper,
    private readonly others: KeyWrapper[],
    private readonly owns: (wrapper: KeyWrapper, kekId: string) => boolean,
  ) {
    this.current = first.current;
  }

  wrap(dataKey: Buffer, tenantId: string): Promise<WrappedKey> {
    return this.first.wrap(dataKey, tenantId);
  }

  unwrap(key: WrappedKey, tenantId: string): Promise<Buffer> {
    return this.ownerOf(key).unwrap(key, tenantId);
  }

  async rewrap(key: WrappedKey, tenantId: string): Promise<WrappedKey | undefined> {
    const owner = this.ownerOf(key);
    if (owner === this.first) return this.first.rewrap(key, tenantId);
    return this.first.wrap(await owner.unwrap(key, tenantId), tenantId);
  }

  private ownerOf(key: WrappedKey): KeyWrapper {
    return [this.first, ...this.others].find((w) => this.owns(w, key.kekId)) ?? this.first;
  }
}
