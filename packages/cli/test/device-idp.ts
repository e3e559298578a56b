/**
 * A small OpenID Connect issuer on 127.0.0.1 for the device flow tests (RFC 8628): discovery,
 * device authorization, a verification page the "user" opens to approve or deny, and a token
 * endpoint for the device-code and refresh-token grants. Access tokens are minted by `mint`,
 * so the service under test accepts them.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

interface Pending {
  deviceCode: string;
  userCode: string;
  clientId: string;
  scope: string;
  state: 'pending' | 'approved' | 'denied';
}

export class DeviceIdp {
  url = '';
  /** Every token request's form, in order. */
  readonly tokenRequests: Record<string, string>[] = [];
  private readonly pending = new Map<string, Pending>();
  private readonly refreshTokens = new Map<string, string>();
  private server!: Server;

  constructor(
    private readonly mint: (sub: string) => string,
    private readonly options: { expiresIn?: number; withDevice?: boolean } = {},
  ) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', this.url);
        const form = Object.fromEntries(new URLSearchParams(body));
        const json = (status: number, value: unknown) => {
          res.writeHead(status, {
            'Content-Type': 'application/json',
            'Cache-Control': 'no-store',
          });
          res.end(JSON.stringify(value));
        };
        if (url.pathname === '/.well-known/openid-configuration') {
          json(200, {
            issuer: this.url,
            token_endpoint: `${this.url}/token`,
            ...(this.options.withDevice === false
              ? {}
              : { device_authorization_endpoint: `${this.url}/device` }),
          });
        } else if (url.pathname === '/device' && req.method === 'POST') {
          if (!form.client_id) return json(400, { error: 'invalid_client' });
          const userCode = `${hex(2)}-${hex(2)}`.toUpperCase();
          const p: Pending = {
            deviceCode: hex(16),
            userCode,
            clientId: form.client_id,
            scope: form.scope ?? '',
            state: 'pending',
          };
          this.pending.set(p.deviceCode, p);
          json(200, {
            device_code: p.deviceCode,
            user_code: userCode,
            verification_uri: `${this.url}/verify`,
            verification_uri_complete: `${this.url}/verify?user_code=${userCode}`,
            expires_in: 60,
            interval: 0.05, // seconds; real issuers say 5
          });
        } else if (url.pathname === '/verify') {
          const p = [...this.pending.values()].find(
            (x) => x.userCode === url.searchParams.get('user_code'),
          );
          if (!p) return json(404, { error: 'unknown code' });
          p.state = url.searchParams.get('deny') ? 'denied' : 'approved';
          res.writeHead(200, { 'Content-Type': 'text/plain' }).end('You may close this page.');
        } else if (url.pathname === '/token' && req.method === 'POST') {
          this.tokenRequests.push(form);
          this.token(form, json);
        } else json(404, { error: 'not_found' });
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  private token(form: Record<string, string>, json: (s: number, v: unknown) => void) {
    const issue = (sub: string) => {
      const refresh = hex(16);
      this.refreshTokens.set(refresh, sub);
      json(200, {
        access_token: this.mint(sub),
        token_type: 'Bearer',
        expires_in: this.options.expiresIn ?? 3600,
        refresh_token: refresh,
      });
    };
    if (form.grant_type === 'urn:ietf:params:oauth:grant-type:device_code') {
      const p = this.pending.get(form.device_code ?? '');
      if (!p || p.clientId !== form.client_id) return json(400, { error: 'invalid_grant' });
      if (p.state === 'pending') return json(400, { error: 'authorization_pending' });
      this.pending.delete(p.deviceCode);
      if (p.state === 'denied') return json(400, { error: 'access_denied' });
      return issue('dana');
    }
    if (form.grant_type === 'refresh_token') {
      const sub = this.refreshTokens.get(form.refresh_token ?? '');
      if (!sub) return json(400, { error: 'invalid_grant' });
      this.refreshTokens.delete(form.refresh_token!);
      return issue(sub);
    }
    json(400, { error: 'unsupported_grant_type' });
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
