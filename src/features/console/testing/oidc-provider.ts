/**
 * A local OpenID Connect provider for the console's browser test: discovery, JWKS, an
 * authorization endpoint that signs the user in at once (no login form), and a token endpoint
 * that checks the PKCE verifier against the challenge before issuing an RS256 access token.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';

export class TestOidcProvider {
  issuer = '';
  /** Codes issued, and whether the PKCE check passed when they were exchanged. */
  readonly exchanges: { clientId: string; verified: boolean }[] = [];
  private readonly pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  private readonly codes = new Map<
    string,
    { challenge: string; clientId: string; redirect: string }
  >();
  private server = http.createServer((req, res) => void this.handle(req, res));

  constructor(
    /** The claims of the access token it issues (sub, roles, tenant_id …). */
    private readonly claims: Record<string, unknown>,
    private readonly audience: string,
  ) {}

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.issuer = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const url = new URL(req.url ?? '/', this.issuer);
    // The console's page calls discovery and the token endpoint from its own origin.
    res.setHeader('Access-Control-Allow-Origin', '*');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    };
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(200, {
        issuer: this.issuer,
        authorization_endpoint: `${this.issuer}/authorize`,
        token_endpoint: `${this.issuer}/token`,
        jwks_uri: `${this.issuer}/jwks`,
      });
    }
    if (url.pathname === '/jwks') {
      const key = this.pair.publicKey.export({ format: 'jwk' });
      return json(200, { keys: [{ ...key, kid: 'k1', alg: 'RS256', use: 'sig' }] });
    }
    if (url.pathname === '/authorize') {
      const q = url.searchParams;
      if (q.get('response_type') !== 'code' || q.get('code_challenge_method') !== 'S256') {
        return json(400, { error: 'invalid_request' });
      }
      const code = randomBytes(16).toString('hex');
      this.codes.set(code, {
        challenge: q.get('code_challenge')!,
        clientId: q.get('client_id')!,
        redirect: q.get('redirect_uri')!,
      });
      const back = new URL(q.get('redirect_uri')!);
      back.search = new URLSearchParams({ code, state: q.get('state')! }).toString();
      res.writeHead(302, { Location: back.toString() }).end();
      return;
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      let raw = '';
      for await (const chunk of req) raw += chunk;
      const form = new URLSearchParams(raw);
      const issued = this.codes.get(form.get('code') ?? '');
      this.codes.delete(form.get('code') ?? '');
      const verifier = form.get('code_verifier') ?? '';
      const verified =
        !!issued &&
        createHash('sha256').update(verifier).digest('base64url') === issued.challenge &&
        form.get('redirect_uri') === issued.redirect &&
        form.get('client_id') === issued.clientId;
      this.exchanges.push({ clientId: form.get('client_id') ?? '', verified });
      if (!verified) return json(400, { error: 'invalid_grant' });
      const accessToken = jwt.sign(this.claims, this.pair.privateKey, {
        algorithm: 'RS256',
        keyid: 'k1',
        issuer: this.issuer,
        audience: this.audience,
        expiresIn: '10m',
      });
      return json(200, { access_token: accessToken, token_type: 'Bearer', expires_in: 600 });
    }
    json(404, { error: 'not_found' });
  }
}
