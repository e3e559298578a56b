/**
 * Sign-in with the OpenID Connect provider the API trusts (JWT__Authority): authorization code
 * with PKCE, as a public client (no secret in the page). The verifier and state wait in this
 * tab's sessionStorage while the browser visits the provider; the code comes back in the query
 * of /ui/ and is exchanged for an access token at the provider's token endpoint.
 */

export interface OidcSettings {
  authority: string;
  clientId: string;
  scope: string;
}

const PENDING = 'config-service.console.oidc';

export async function consoleSettings(): Promise<{ oidc: OidcSettings | null }> {
  const res = await fetch('/ui/settings.json', { cache: 'no-store' });
  return res.ok ? ((await res.json()) as { oidc: OidcSettings | null }) : { oidc: null };
}

const base64Url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');

const random = (n: number) => base64Url(crypto.getRandomValues(new Uint8Array(n)));

/** Where the provider sends the browser back: the console's own address. */
const redirectUri = () => `${location.origin}/ui/`;

/** Leaves for the provider's sign-in page. */
export async function startSignIn(oidc: OidcSettings): Promise<void> {
  const res = await fetch(`${oidc.authority.replace(/\/$/, '')}/.well-known/openid-configuration`);
  if (!res.ok) throw new Error(`The identity provider cannot be reached (${res.status})`);
  const discovery = (await res.json()) as {
    authorization_endpoint: string;
    token_endpoint: string;
  };
  const verifier = random(32);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  const state = random(16);
  sessionStorage.setItem(
    PENDING,
    JSON.stringify({
      verifier,
      state,
      tokenEndpoint: discovery.token_endpoint,
      clientId: oidc.clientId,
    }),
  );
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: oidc.clientId,
    redirect_uri: redirectUri(),
    scope: oidc.scope,
    state,
    code_challenge: base64Url(new Uint8Array(digest)),
    code_challenge_method: 'S256',
  }).toString();
  location.assign(url.toString());
}

/** Back from the provider: the access token, or null when this is not a return from it. */
export async function finishSignIn(): Promise<string | null> {
  const q = new URLSearchParams(location.search);
  const code = q.get('code');
  const error = q.get('error');
  if (!code && !error) return null;
  // The code is used once: off the address (and the history) at once.
  history.replaceState(null, '', `${location.pathname}#/signin`);
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null') as {
    verifier: string;
    state: string;
    tokenEndpoint: string;
    clientId: string;
  } | null;
  sessionStorage.removeItem(PENDING);
  if (error)
    throw new Error(`The identity provider refused: ${q.get('error_description') ?? error}`);
  if (!pending || pending.state !== q.get('state')) {
    throw new Error('This sign-in answer does not belong to a sign-in started here: start again.');
  }
  const res = await fetch(pending.tokenEndpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: code!,
      redirect_uri: redirectUri(),
      client_id: pending.clientId,
      code_verifier: pending.verifier,
    }),
  });
  const body = (await res.json().catch(() => ({}))) as {
    access_token?: string;
    error?: string;
    error_description?: string;
  };
  if (!res.ok || !body.access_token) {
    throw new Error(
      `The identity provider gave no token: ${body.error_description ?? body.error ?? res.status}`,
    );
  }
  return body.access_token;
}
