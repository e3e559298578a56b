/**
 * The envelope format of an encrypted value: AES-256-GCM under one version of its tenant's data
 * key, written as text so it can sit wherever the plain value used to (event payloads, read
 * tables, Redis):
 *
 *   enc:v1:{keyId}:{keyVersion}:{base64(iv ‖ ciphertext ‖ tag)}
 *
 * `keyId` is the data key's id (the tenant id: one data key per tenant, in versions) and
 * `keyVersion` which version encrypted it, so a reader knows which key to unwrap. The tenant id is
 * also the GCM associated data: a ciphertext copied into another tenant's data does not decrypt.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const CIPHERTEXT_PREFIX = 'enc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const DATA_KEY_BYTES = 32;

export interface CiphertextRef {
  keyId: string;
  keyVersion: number;
  payload: Buffer;
}

export const isCiphertext = (text: unknown): text is string =>
  typeof text === 'string' && text.startsWith(CIPHERTEXT_PREFIX);

/** The key id and version a ciphertext names; undefined when it is not one of ours. */
export function parseCiphertext(text: string): CiphertextRef | undefined {
  if (!isCiphertext(text)) return undefined;
  const [keyId, version, payload, ...rest] = text.slice(CIPHERTEXT_PREFIX.length).split(':');
  if (rest.length || !keyId || !version || !payload || !/^\d+$/.test(version)) return undefined;
  const bytes = Buffer.from(payload, 'base64');
  if (bytes.length < IV_BYTES + TAG_BYTES) return undefined;
  return { keyId, keyVersion: Number(version), payload: bytes };
}

export function sealText(key: Buffer, keyId: string, keyVersion: number, plain: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(keyId));
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  const sealed = Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
  return `${CIPHERTEXT_PREFIX}${keyId}:${keyVersion}:${sealed}`;
}

export function openText(key: Buffer, ref: CiphertextRef): string {
  return openBytes(key, ref.payload, Buffer.from(ref.keyId)).toString('utf8');
}

/** AES-256-GCM of bytes: iv ‖ ciphertext ‖ tag (also how the local master keys wrap data keys). */
export function sealBytes(key: Buffer, plain: Buffer, aad: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

export function openBytes(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  const iv = sealed.subarray(0, IV_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  return Buffer.concat([
    decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
    decipher.final(),
  ]);
}

export const newDataKey = (): Buffer => randomBytes(DATA_KEY_BYTES);

/** The tenant's data keys were destroyed (crypto-shredding): its values are gone for good. */
export class KeyDestroyedError extends Error {
  override readonly name = 'KeyDestroyedError';
  constructor(readonly tenantId: string) {
    super(`The data keys of tenant '${tenantId}' were destroyed: its encrypted values are gone`);
  }
}

/** Neither Encryption__MasterKey nor Vault__Address is set. */
/** The key service (Vault) could not wrap or unwrap a data key: the request can be retried. */
export class KeyServiceError extends Error {
  override readonly name = 'KeyServiceError';
}

export class EncryptionUnavailableError extends Error {
  override readonly name = 'EncryptionUnavailableError';
  constructor() {
    super('Encryption is not configured: set Encryption__MasterKey or Vault__Address');
  }
}
