/**
 * bull-board at /admin/queues, for platform admins only. Browsers cannot send a bearer header, so
 * an operator opens `/admin/queues?access_token=<platform-admin token>` once: the token moves into
 * an HttpOnly cookie scoped to /admin/queues and the URL is cleaned by a redirect.
 *
 * Read-only unless ConfigService__QueueDashboardActions is true: "Clean", "Retry", "Promote" and
 * the rest change what the scheduler set up (a cleaned step job stalls a canary until the
 * reconciler puts it back), so they are for whoever turns them on deliberately.
 */
import type { RequestHandler, Router } from 'express';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queues } from '../../core/jobs/queues.js';
import { requirePlatformAdmin, type Authenticator } from '../../core/auth/auth.js';
import { HttpProblem, toProblem, writeProblem } from '../../core/http/problem.js';

export const ADMIN_QUEUES_PATH = '/admin/queues';
const COOKIE = 'cfgsvc_admin';

function cookieToken(header: string | undefined): string | undefined {
  for (const part of header?.split(';') ?? []) {
    const [name, ...rest] = part.trim().split('=');
    if (name !== COOKIE) continue;
    try {
      return decodeURIComponent(rest.join('='));
    } catch {
      return undefined; // a mangled cookie is no token
    }
  }
  return undefined;
}

/** What a browser that is not signed in sees: how to sign in. */
const SIGN_IN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in: Config Service jobs</title></head>
<body style="font-family: sans-serif; max-width: 46em; margin: 3em auto; line-height: 1.5">
<h1>Sign in to the job dashboard</h1>
<p>The dashboard is for platform admins. Open it once with a platform-admin token in the address;
the token then moves into a cookie and the address is cleaned:</p>
<pre>${ADMIN_QUEUES_PATH}?access_token=&lt;token&gt;</pre>
<p>Get a token (signed with this deployment's <code>JWT__Secret</code>):</p>
<pre>npm run -s token -- --sub ops --role platform-admin --expires 1h</pre>
<p>%REASON%</p>
</body></html>
`;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function adminQueues(
  auth: Authenticator,
  queues: Queues,
  allowActions = false,
): { guard: RequestHandler; router: Router } {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(ADMIN_QUEUES_PATH);
  createBullBoard({
    queues: queues.all.map((q) => new BullMQAdapter(q, { readOnlyMode: !allowActions })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Config Service jobs' } },
  });
  const guard: RequestHandler = async (req, res, next) => {
    try {
      const fromQuery =
        typeof req.query.access_token === 'string' ? req.query.access_token : undefined;
      const token =
        fromQuery ?? (req.headers.authorization ? undefined : cookieToken(req.headers.cookie));
      const principal = await auth.authenticate(
        token ? `Bearer ${token}` : req.headers.authorization,
      );
      requirePlatformAdmin(principal);
      // bull-board's actions are its PUT/POST/DELETE routes: refused here as well, whatever
      // its own read-only checks cover.
      if (!allowActions && req.method !== 'GET' && req.method !== 'HEAD') {
        throw new HttpProblem(
          405,
          'Method not allowed',
          'The job dashboard is read-only; set ConfigService__QueueDashboardActions=true to allow actions',
        );
      }
      if (fromQuery) {
        const secure = req.secure ? '; Secure' : '';
        res.setHeader(
          'Set-Cookie',
          `${COOKIE}=${encodeURIComponent(fromQuery)}; Path=${ADMIN_QUEUES_PATH}; HttpOnly; SameSite=Strict${secure}`,
        );
        res.redirect(302, ADMIN_QUEUES_PATH);
        return;
      }
      next();
    } catch (error) {
      const problem = toProblem(error);
      if (problem.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
      if (problem.status === 401 && req.accepts(['json', 'html']) === 'html') {
        res
          .status(401)
          .type('html')
          .send(SIGN_IN_PAGE.replace('%REASON%', escapeHtml(problem.message)));
        return;
      }
      writeProblem(res, problem, req.originalUrl);
    }
  };
  return { guard, router: serverAdapter.getRouter() as Router };
}
