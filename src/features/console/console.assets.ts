/**
 * Serves the web console at /ui: the page built by `npm run build:console` (dist/console) and
 * its content-hashed assets. Public like /swagger: the page holds no data, and every call it
 * makes goes to /api/v1 with the user's token. Same origin, no CDN.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Router, type Request, type Response } from 'express';

export const CONSOLE_PATH = '/ui';

/** The package root: the nearest folder above this file with a package.json (src/ or dist/src/). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) {
    dir = path.dirname(dir);
  }
  return dir;
}

export const CONSOLE_DIST = path.join(packageRoot(), 'dist', 'console');

/** The page may run only its own script and talk only to its own origin (and its provider). */
const csp = (provider?: string) =>
  [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${provider ? ` ${provider}` : ''}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');

/** Sign-in with an OpenID Connect provider (authorization code + PKCE, a public client). */
export interface ConsoleOidc {
  /** The issuer URL (JWT__Authority): the API accepts its tokens. */
  authority: string;
  clientId: string;
  scope: string;
}

const NOT_BUILT = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Console not built</title></head>
<body><h1>The console is not built</h1>
<p>Run <code>npm run build:console</code> (or <code>npm run build</code>) and reload.</p></body></html>
`;

const ASSET_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

export function consoleRouter(options: { dist?: string; oidc?: ConsoleOidc } = {}): Router {
  const dist = options.dist ?? CONSOLE_DIST;
  const { oidc } = options;
  const CSP = csp(oidc ? new URL(oidc.authority).origin : undefined);
  const r = Router();
  // What the page needs to offer the provider's sign-in (nothing secret: a public client).
  r.get('/settings.json', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.json({ oidc: oidc ?? null });
  });
  const sendIndex = (_req: Request, res: Response) => {
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    // The page names the current build's assets: never cached, so a deploy shows at once.
    res.setHeader('Cache-Control', 'no-cache');
    const index = path.join(dist, 'index.html');
    if (!existsSync(index)) {
      res.status(503).type('text/html; charset=utf-8').send(NOT_BUILT);
      return;
    }
    res.type('text/html; charset=utf-8').sendFile(index);
  };
  r.get('/', sendIndex); // /ui and /ui/ (the router is mounted at /ui)
  r.get('/index.html', sendIndex);
  r.get('/assets/:file', (req, res, next) => {
    const file = req.params.file;
    const type = ASSET_TYPES[path.extname(file)];
    if (!type || !/^[\w.-]+$/.test(file)) {
      next();
      return;
    }
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.type(type);
    // Names carry a hash of their content: cache them for good.
    res.sendFile(
      file,
      { root: path.join(dist, 'assets'), maxAge: '365d', immutable: true },
      (error?: Error & { status?: number }) => {
        if (error) next(error.status === 404 ? undefined : error);
      },
    );
  });
  return r;
}
