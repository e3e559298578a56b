/**
 * Signing keys of an OpenID Connect provider (`JWT__Authority`): its discovery document names the
 * issuer and the JWKS; the keys are kept in memory and fetched again when a token names a `kid`
 * not seen yet (the provider rotated its keys), at most once a second, so that tokens with made-up
 * kids cannot turn into a stream of requests to the provider. RS256 and ES256 (P-256) only.
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { HttpProblem } from '../http/problem.js';

export const OIDC_ALGORITHMS = ['RS256', 'ES256'] as const;
export type OidcAlgorithm = (typeof OIDC_ALGORITHMS)[number];

interface SigningKey {
  key: KeyObject;
  alg: OidcAlgorithm;
}

const unauthorized = (detail: string) =>
  new HttpProblem(401, 'Unauthorized', detail, { field: 'Authorization' });

/** What a JWK can verify: RSA for RS256, EC P-256 for ES256; nothing else. */
function algorithmOf(jwk: JsonWebKey & { alg?: string; use?: string }): OidcAlgorithm | undefined {
  if (jwk.use !== undefined && jwk.use !== 'sig') return undefined;
  const natural =
    jwk.kty === 'RSA' ? 'RS256' : jwk.kty === 'EC' && jwk.crv === 'P-256' ? 'ES256' : undefined;
  if (!natural) return undefined;
  if (jwk.alg !== undefined && jwk.alg !== natural) return undefined;
  return natural;
}

export class OidcKeys {
  private keys = new Map<string, SigningKey>();
  private issuerValue: string;
  private lastFetch = 0;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly authority: string,
    private readonly options: { minRefreshMs?: number; timeoutMs?: number } = {},
  ) {
    this.issuerValue = authority;
  }

  /** The issuer tokens must name: the discovery document's (the authority's, until fetched). */
  get issuer(): string {
    return this.issuerValue;
  }

  /** The key for `kid`: at once when known, else after fetching the JWKS again. */
  key(kid: string | undefined, alg: OidcAlgorithm): SigningKey | Promise<SigningKey> {
    const known = kid !== undefined ? this.keys.get(kid) : undefined;
    if (known) return this.checked(known, kid, alg);
    return this.refresh().then(() => {
      const found = kid !== undefined ? this.keys.get(kid) : undefined;
      if (!found) {
        throw unauthorized(
          kid === undefined
            ? 'Invalid token: no kid in its header'
            : `Invalid token: unknown signing key '${kid}'`,
        );
      }
      return this.checked(found, kid, alg);
    });
  }

  private checked(k: SigningKey, kid: string | undefined, alg: OidcAlgorithm): SigningKey {
    if (k.alg !== alg) {
      throw unauthorized(`Invalid token: key '${kid}' signs ${k.alg}, not ${alg}`);
    }
    return k;
  }

  /** Fetches discovery and JWKS (one fetch at a time, at most once per minRefreshMs). */
  refresh(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    if (Date.now() - this.lastFetch < (this.options.minRefreshMs ?? 1000)) return Promise.resolve();
    this.inFlight = this.fetchKeys().finally(() => {
      this.lastFetch = Date.now();
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async fetchKeys(): Promise<void> {
    const timeout = this.options.timeoutMs ?? 5000;
    const get = async (url: string) => {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeout) });
      if (!res.ok) throw new Error(`${url} answered ${res.status}`);
      return (await res.json()) as Record<string, unknown>;
    };
    try {
      const base = this.authority.replace(/\/+$/, '');
      const discovery = await get(`${base}/.well-known/openid-configuration`);
      const issuer = discovery.issuer;
      // OpenID Connect Discovery: the document's issuer must be the authority itself.
      if (typeof issuer !== 'string' || issuer.replace(/\/+$/, '') !== base) {
        throw new Error(`the discovery document names issuer ${String(issuer)}, not ${base}`);
      }
      if (typeof discovery.jwks_uri !== 'string') throw new Error('no jwks_uri in discovery');
      const jwks = await get(discovery.jwks_uri);
      const keys = new Map<string, SigningKey>();
      for (const jwk of Array.isArray(jwks.keys) ? (jwks.keys as JsonWebKey[]) : []) {
        const alg = algorithmOf(jwk);
        if (!alg || typeof jwk.kid !== 'string') continue;
        try {
          keys.set(jwk.kid, { key: createPublicKey({ key: jwk, format: 'jwk' }), alg });
        } catch {
          // A key node cannot read is a key no token can be verified with: skip it.
        }
      }
      this.issuerValue = issuer;
      this.keys = keys;
    } catch (error) {
      // Known keys stay in use; a token signed with an unknown one cannot be checked now.
      throw new HttpProblem(
        503,
        'Identity provider unavailable',
        `Cannot fetch the signing keys of ${this.authority}: ${(error as Error).message}`,
        { retryAfter: 5 },
      );
    }
  }
}
