/**
 * OAuth 2.0 Device Authorization Grant (RFC 8628) against an OpenID Connect issuer: endpoints
 * from its discovery document, the user approves in a browser while we poll the token endpoint;
 * and the refresh-token grant (RFC 6749 §6) to renew what it gave.
 */
import { CliError } from './errors.js';

export interface DeviceFlowOptions {
  issuer: string;
  clientId: string;
  scope?: string;
  fetch?: typeof fetch;
  /** Tells the user where to go and which code to enter. */
  prompt(verificationUri: string, userCode: string, verificationUriComplete?: string): void;
  signal?: AbortSignal;
}

export interface Tokens {
  tokenEndpoint: string;
  accessToken: string;
  idToken?: string;
  refreshToken?: string;
  /** ms since the epoch */
  expiresAt?: number;
}

interface TokenAnswer {
  access_token?: string;
  id_token?: string;
  refresh_token?: string;
  expires_in?: number;
  error?: string;
  error_description?: string;
}

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export async function deviceLogin(o: DeviceFlowOptions): Promise<Tokens> {
  const f = o.fetch ?? fetch;
  const discovery = await json<Record<string, unknown>>(
    f,
    `${o.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`,
    undefined,
    'the discovery document',
  );
  const deviceEndpoint = discovery.device_authorization_endpoint;
  const tokenEndpoint = discovery.token_endpoint;
  if (typeof deviceEndpoint !== 'string' || typeof tokenEndpoint !== 'string') {
    throw new CliError(
      `${o.issuer} does not offer the device flow (no device_authorization_endpoint)`,
    );
  }
  const device = await json<{
    device_code?: string;
    user_code?: string;
    verification_uri?: string;
    verification_uri_complete?: string;
    expires_in?: number;
    interval?: number;
  }>(
    f,
    deviceEndpoint,
    form({ client_id: o.clientId, scope: o.scope ?? 'openid' }),
    'device authorization',
  );
  if (!device.device_code || !device.user_code || !device.verification_uri) {
    throw new CliError('the issuer answered the device authorization without a code');
  }
  o.prompt(device.verification_uri, device.user_code, device.verification_uri_complete);
  let interval = (device.interval ?? 5) * 1000;
  const deadline = Date.now() + (device.expires_in ?? 600) * 1000;
  for (;;) {
    await wait(interval, o.signal);
    if (Date.now() > deadline) throw new CliError('the code expired before it was approved');
    const res = await f(tokenEndpoint, {
      method: 'POST',
      ...form({ grant_type: DEVICE_GRANT, device_code: device.device_code, client_id: o.clientId }),
      signal: o.signal,
    });
    const answer = (await res.json().catch(() => ({}))) as TokenAnswer;
    if (res.ok && answer.access_token) return tokensOf(answer, tokenEndpoint);
    switch (answer.error) {
      case 'authorization_pending':
        continue;
      case 'slow_down':
        interval += 5000; // RFC 8628 §3.5
        continue;
      case 'access_denied':
        throw new CliError('sign-in was denied');
      case 'expired_token':
        throw new CliError('the code expired before it was approved');
      default:
        throw new CliError(
          `the token endpoint answered ${res.status}: ${answer.error_description ?? answer.error ?? 'no token'}`,
        );
    }
  }
}

/** New tokens for a refresh token (the old refresh token is kept if no new one is given). */
export async function refresh(
  tokenEndpoint: string,
  clientId: string,
  refreshToken: string,
  f: typeof fetch = fetch,
): Promise<Tokens> {
  const answer = await json<TokenAnswer>(
    f,
    tokenEndpoint,
    form({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }),
    'the token refresh',
  );
  if (!answer.access_token) throw new CliError('the token refresh gave no access token');
  return { refreshToken, ...tokensOf(answer, tokenEndpoint) };
}

function tokensOf(answer: TokenAnswer, tokenEndpoint: string): Tokens {
  const tokens: Tokens = { tokenEndpoint, accessToken: answer.access_token! };
  if (answer.id_token) tokens.idToken = answer.id_token;
  if (answer.refresh_token) tokens.refreshToken = answer.refresh_token;
  if (answer.expires_in) tokens.expiresAt = Date.now() + answer.expires_in * 1000;
  return tokens;
}

function form(fields: Record<string, string>): RequestInit {
  return {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams(fields).toString(),
  };
}

async function json<T>(f: typeof fetch, url: string, init: RequestInit | undefined, what: string) {
  let res: Response;
  try {
    res = await f(url, init);
  } catch (error) {
    throw new CliError(`cannot reach ${url} for ${what}: ${causeOf(error)}`);
  }
  const body = (await res.json().catch(() => undefined)) as
    (T & { error?: string; error_description?: string }) | undefined;
  if (!res.ok || body === undefined) {
    const why = body?.error_description ?? body?.error ?? '';
    throw new CliError(`${what} at ${url} answered ${res.status}${why ? `: ${why}` : ''}`);
  }
  return body;
}

export const causeOf = (error: unknown): string => {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
};

function wait(ms: number, signal?: AbortSignal) {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new CliError('sign-in interrupted'));
      },
      { once: true },
    );
  });
}
