/**
 * The credential an app sends: `cfgk_<keyId>_<secret>`. The key id (16 hex characters) is public
 * (lists show `cfgk_<keyId>`); the secret is 32 random bytes (base64url), so a plain SHA-256 of it
 * is enough to store (no password stretching: it cannot be guessed), compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { API_KEY_TOKEN_PREFIX } from '../../core/auth/principal.js';

const FORMAT = /^cfgk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export const newApiKeyId = () => randomBytes(8).toString('hex');
export const newApiKeySecret = () => randomBytes(32).toString('base64url');

export const apiKeyToken = (keyId: string, secret: string) =>
  `${API_KEY_TOKEN_PREFIX}${keyId}_${secret}`;

/** What lists show of a key: enough to recognise it, nothing to use it. */
export const apiKeyPrefix = (keyId: string) => `${API_KEY_TOKEN_PREFIX}${keyId}`;

export const hashApiKeySecret = (secret: string) =>
  createHash('sha256').update(secret).digest('hex');

/** The key id and secret of a credential, or undefined when it is not one. */
export function parseApiKey(credential: string): { keyId: string; secret: string } | undefined {
  const m = FORMAT.exec(credential);
  return m ? { keyId: m[1]!, secret: m[2]! } : undefined;
}

/** Whether `secret` hashes to `hash` (hex), in constant time. */
export function secretMatches(secret: string, hash: string): boolean {
  const expected = Buffer.from(hash, 'hex');
  const actual = createHash('sha256').update(secret).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
