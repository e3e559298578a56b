/**
 * bull-board at /admin/queues, for platform admins only. Browsers cannot send a bearer header, so
 * an operator opens `/admin/queues?access_token=<platform-admin token>` once: the token moves into
 * an HttpOnly cookie scoped to /admin/queues and the URL is cleaned by a redirect.
 */
import type { RequestHandler, Router } from 'express';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queues } from '../jobs/queues.js';
import { requirePlatformAdmin, type Authenticator } from './auth.js';
import { toProblem, writeProblem } from './problem.js';

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

export function adminQueues(
  auth: Authenticator,
  queues: Queues,
): { guard: RequestHandler; router: Router } {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(ADMIN_QUEUES_PATH);
  createBullBoard({
    queues: queues.all.map((q) => new BullMQAdapter(q)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Config Service jobs' } },
  });
  const guard: RequestHandler = (req, res, next) => {
    try {
      const fromQuery =
        typeof req.query.access_token === 'string' ? req.query.access_token : undefined;
      const token =
        fromQuery ?? (req.headers.authorization ? undefined : cookieToken(req.headers.cookie));
      const principal = auth.authenticate(token ? `Bearer ${token}` : req.headers.authorization);
      requirePlatformAdmin(principal);
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
      writeProblem(res, problem, req.originalUrl);
    }
  };
  return { guard, router: serverAdapter.getRouter() as Router };
}
