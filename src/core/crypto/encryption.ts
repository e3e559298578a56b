/**
 * Encryption at rest, as the composition root builds it from settings: the key-encryption key
 * (Vault Transit when `Vault__Address` is set, else `Encryption__MasterKey`), the tenants' data
 * keys, the value cipher, and crypto-shredding across processes (Redis pub/sub).
 */
import type pg from 'pg';
import type { Redis } from 'ioredis';
import type { Settings } from '../settings/settings.js';
import type { RedisKeys } from '../redis/redis.js';
import { DataKeys } from './data-keys.js';
import { ChainedKeyWrapper, LocalKeyWrapper, type KeyWrapper } from './key-wrapping.js';
import { VaultTransitWrapper } from './vault-transit.js';
import { ValueCipher } from './value-cipher.js';
import { EncryptionUnavailableError } from './envelope.js';

/**
 * Vault when `Vault__Address` is set (master keys, if also set, still unwrap the data keys they
 * wrapped until `keys:rotate` moves them to Vault); else the master keys; else none.
 */
export function keyWrapperOf(settings: Settings['encryption']): KeyWrapper | undefined {
  const local = settings.masterKeys && new LocalKeyWrapper(settings.masterKeys);
  if (settings.vault) {
    const vault = new VaultTransitWrapper(settings.vault);
    if (!local) return vault;
    return new ChainedKeyWrapper(vault, [local], (w, kekId) =>
      w === vault ? kekId.startsWith('vault:') : kekId.startsWith('local:'),
    );
  }
  return local;
}

export class Encryption {
  /** Undefined when neither a master key nor Vault is configured. */
  readonly cipher: ValueCipher | undefined;
  private readonly listeners = new Set<(tenantId: string) => void>();

  constructor(
    settings: Settings['encryption'],
    pool: pg.Pool,
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    const wrapper = keyWrapperOf(settings);
    this.cipher = wrapper
      ? new ValueCipher(new DataKeys(pool, wrapper, settings.dataKeyCacheTtlMs))
      : undefined;
  }

  get enabled(): boolean {
    return this.cipher !== undefined;
  }

  requireCipher(): ValueCipher {
    if (!this.cipher) throw new EncryptionUnavailableError();
    return this.cipher;
  }

  /**
   * Follows other processes' crypto-shredding on `subscriber` (a connection in subscriber
   * mode): their keys and decrypted values are dropped here at once.
   */
  listen(subscriber: Redis): void {
    const channel = this.keys.dataKeysDestroyedChannel;
    subscriber.on('message', (ch: string, tenantId: string) => {
      if (ch === channel) this.forget(tenantId);
    });
    subscriber.on('ready', () => void subscriber.subscribe(channel).catch(() => undefined));
  }

  /** Told (in this process) whenever a tenant's keys are destroyed, here or elsewhere. */
  onDestroyed(listener: (tenantId: string) => void): void {
    this.listeners.add(listener);
  }

  /** Crypto-shredding: destroys the tenant's data keys and tells every process. */
  async destroyTenantKeys(tenantId: string): Promise<number> {
    const destroyed = this.cipher ? await this.cipher.destroy(tenantId) : 0;
    this.forget(tenantId);
    await this.redis.publish(this.keys.dataKeysDestroyedChannel, tenantId).catch(() => undefined);
    return destroyed;
  }

  private forget(tenantId: string) {
    this.cipher?.forget(tenantId);
    for (const l of this.listeners) l(tenantId);
  }
}
