/**
 * Reading a hot-read request: its route (tenant, environment, key, query), `?wait=`, the canary
 * client id and `If-None-Match`. Pure string work, kept off the handler's hit path where it can be.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { HttpProblem } from '../../core/http/problem.js';
import { MAX_WAIT_SECONDS } from './watch.js';

const PREFIX = '/api/v1/tenants/';

/** What the hot read path reads of a request: Node's `IncomingMessage`, or the fast lane's. */
export interface HotRequest {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
  socket: Socket;
}

export interface Route {
  tenantId: string;
  environment: string;
  key: string | undefined;
  query: string;
  /** `?wait=` in ms: how long a conditional GET may wait for a change. */
  waitMs?: number;
  /** The environment's key in the cache, set once the route is remembered. */
  cacheKey?: string;
}

/** Parses the two hot-read routes; undefined for anything else. */
export function matchHotRead(url: string): Route | undefined {
  if (!url.startsWith(PREFIX)) return undefined;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const t = path.indexOf('/', PREFIX.length);
  if (t < 0 || !path.startsWith('/environments/', t)) return undefined;
  const envStart = t + '/environments/'.length;
  const e = path.indexOf('/', envStart);
  if (e < 0 || !path.startsWith('/configs', e)) return undefined;
  const rest = path.slice(e + '/configs'.length);
  let key: string | undefined;
  if (rest === '' || rest === '/') key = undefined;
  else if (rest[0] === '/') key = rest.slice(1);
  else return undefined;
  try {
    return {
      tenantId: decodeURIComponent(path.slice(PREFIX.length, t)),
      environment: decodeURIComponent(path.slice(envStart, e)),
      key: key === undefined ? undefined : decodeURIComponent(key),
      query: q < 0 ? '' : url.slice(q + 1),
    };
  } catch {
    return undefined;
  }
}

/** `X-Client-Id` or `?clientId=`: which side of a canary a client is on. Only read when needed. */
export function clientIdOf(req: HotRequest, route: Route): string | undefined {
  const header = req.headers['x-client-id'];
  if (typeof header === 'string' && header) return utf8Header(header).slice(0, 200);
  if (!route.query.includes('clientId=')) return undefined;
  return new URLSearchParams(route.query).get('clientId')?.slice(0, 200) || undefined;
}

/**
 * Node reads header bytes as Latin-1; clients send UTF-8. Decoded, `X-Client-Id: pod-é` is the
 * same id as `?clientId=pod-%C3%A9` (and so on the same canary side). Bytes that are not UTF-8
 * are kept as they came.
 */
function utf8Header(value: string): string {
  if (/^[\x00-\x7f]*$/.test(value)) return value;
  const decoded = Buffer.from(value, 'latin1').toString('utf8');
  return decoded.includes('\ufffd') ? value : decoded;
}

/** `?wait=N` (whole seconds, 1..60); undefined when absent. */
export function waitOf(query: string): number | undefined {
  if (!query.includes('wait=')) return undefined;
  const raw = new URLSearchParams(query).get('wait');
  if (raw === null) return undefined;
  const seconds = /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(seconds >= 1 && seconds <= MAX_WAIT_SECONDS)) {
    throw new HttpProblem(
      400,
      'Invalid request',
      `wait must be a whole number of seconds from 1 to ${MAX_WAIT_SECONDS}`,
      { field: 'wait' },
    );
  }
  return seconds * 1000;
}

export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header === etag || header === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}
