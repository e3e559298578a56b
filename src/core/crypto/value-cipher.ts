/**
 * Encrypts and decrypts values for a tenant with its data key (`envelope.ts`, `data-keys.ts`).
 * Decrypted values are cached per process and tenant (bounded), so a value read again costs a
 * Map lookup; forgetting a tenant (its keys destroyed) drops them too.
 */
import { KeyDestroyedError, openText, parseCiphertext, sealText } from './envelope.js';
import type { DataKeys } from './data-keys.js';

const MAX_CACHED_PER_TENANT = 10_000;

export class ValueCipher {
  private readonly plain = new Map<string, Map<string, string>>();

  constructor(readonly keys: DataKeys) {}

  async encrypt(tenantId: string, value: string): Promise<string> {
    const { version, key } = await this.keys.currentKey(tenantId);
    return sealText(key, tenantId, version, value);
  }

  /** Decrypts a value of `tenantId`; throws KeyDestroyedError once its keys are gone. */
  async decrypt(tenantId: string, ciphertext: string): Promise<string> {
    const hit = this.plain.get(tenantId)?.get(ciphertext);
    if (hit !== undefined) return hit;
    const ref = parseCiphertext(ciphertext);
    // A ciphertext naming another tenant's key is never opened for this one.
    if (!ref || ref.keyId !== tenantId) throw new Error('Not a ciphertext of this tenant');
    const key = await this.keys.key(tenantId, ref.keyVersion);
    const value = openText(key, ref);
    this.remember(tenantId, ciphertext, value);
    return value;
  }

  /** `decrypt`, answering undefined where the value cannot be read (shredded, bad data). */
  async tryDecrypt(tenantId: string, ciphertext: string): Promise<string | undefined> {
    try {
      return await this.decrypt(tenantId, ciphertext);
    } catch (error) {
      if (error instanceof KeyDestroyedError) return undefined;
      throw error;
    }
  }

  /** Crypto-shredding: destroys the tenant's data keys and what this process decrypted. */
  async destroy(tenantId: string): Promise<number> {
    this.plain.delete(tenantId);
    const destroyed = await this.keys.destroy(tenantId);
    this.plain.delete(tenantId);
    return destroyed;
  }

  forget(tenantId: string): void {
    this.plain.delete(tenantId);
    this.keys.forget(tenantId);
  }

  private remember(tenantId: string, ciphertext: string, value: string) {
    let values = this.plain.get(tenantId);
    if (!values) this.plain.set(tenantId, (values = new Map()));
    if (values.size >= MAX_CACHED_PER_TENANT) values.delete(values.keys().next().value!);
    values.set(ciphertext, value);
  }
}
