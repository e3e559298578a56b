/**
 * Data keys wrapped by HashiCorp Vault's Transit engine (`Vault__Address`): the key-encryption
 * key never leaves Vault. Calls its HTTP API (https://developer.hashicorp.com/vault/api-docs/secret/transit):
 *   POST /v1/{mount}/encrypt/{name}  { plaintext: base64 }   → { data: { ciphertext: "vault:vN:…" } }
 *   POST /v1/{mount}/decrypt/{name}  { ciphertext }          → { data: { plaintext: base64 } }
 *   POST /v1/{mount}/rewrap/{name}   { ciphertext }          → { data: { ciphertext } } (newest version)
 * Vault's ciphertext names the key version (`vault:v3:`); rotating the key in Vault and then
 * `npm run keys:rotate` re-wraps every data key under the newest version.
 */
import type { KeyWrapper, WrappedKey } from './key-wrapping.js';
import { KeyServiceError } from './envelope.js';

export interface VaultSettings {
  address: string;
  token: string;
  mount: string;
  keyName: string;
  namespace: string | undefined;
  timeoutMs: number;
}

export class VaultTransitWrapper implements KeyWrapper {
  readonly current: string;

  constructor(private readonly settings: VaultSettings) {
    this.current = `vault:${settings.mount}/${settings.keyName}`;
  }

  async wrap(dataKey: Buffer): Promise<WrappedKey> {
    const data = await this.call('encrypt', { plaintext: dataKey.toString('base64') });
    return { kekId: this.current, wrapped: stringField(data, 'ciphertext') };
  }

  async unwrap(key: WrappedKey): Promise<Buffer> {
    const data = await this.call('decrypt', { ciphertext: key.wrapped });
    return Buffer.from(stringField(data, 'plaintext'), 'base64');
  }

  async rewrap(key: WrappedKey): Promise<WrappedKey | undefined> {
    const data = await this.call('rewrap', { ciphertext: key.wrapped });
    const wrapped = stringField(data, 'ciphertext');
    // Vault re-encrypts even under the same version: only a newer version is worth storing.
    const sameVersion = versionOf(wrapped) === versionOf(key.wrapped);
    return sameVersion && key.kekId === this.current ? undefined : { kekId: this.current, wrapped };
  }

  private async call(op: string, body: Record<string, string>): Promise<Record<string, unknown>> {
    const { address, token, mount, keyName, namespace, timeoutMs } = this.settings;
    const url = `${address.replace(/\/+$/, '')}/v1/${mount}/${op}/${encodeURIComponent(keyName)}`;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-vault-token': token,
    };
    if (namespace) headers['x-vault-namespace'] = namespace;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new KeyServiceError(`Vault transit ${op} failed: ${(error as Error).message}`);
    }
    const json = (await res.json().catch(() => ({}))) as {
      data?: Record<string, unknown>;
      errors?: string[];
    };
    if (!res.ok || !json.data) {
      // Vault's errors never echo the key material: safe to pass on.
      throw new KeyServiceError(
        `Vault transit ${op} answered ${res.status}: ${(json.errors ?? []).join('; ') || 'no data'}`,
      );
    }
    return json.data;
  }
}

function stringField(data: Record<string, unknown>, name: string): string {
  const v = data[name];
  if (typeof v !== 'string' || !v) throw new Error(`Vault transit answered without ${name}`);
  return v;
}

/** The key version a Vault ciphertext names (`vault:v3:…` → 3). */
const versionOf = (ciphertext: string) => /^vault:v(\d+):/.exec(ciphertext)?.[1];
