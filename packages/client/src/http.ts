/** Requests to the service with the client's credential and id. */
import { ConfigServiceError } from './errors.js';
import type { TokenSource } from './types.js';

export interface HttpOptions {
  url: string;
  apiKey?: string;
  token?: TokenSource;
  clientId?: string;
  fetch?: typeof fetch;
}

export class Http {
  readonly base: string;
  private readonly fetchFn: typeof fetch;
  private cachedToken: string | undefined;
  /** The client id as header bytes: headers carry bytes, and the service decodes them as UTF-8. */
  private readonly clientIdHeader: string | undefined;

  constructor(private readonly options: HttpOptions) {
    if (!options.apiKey && !options.token) throw new TypeError('give apiKey or token');
    this.base = options.url.replace(/\/+$/, '');
    // Bound, not called as a method of this object: some runtimes' fetch insists on its `this`.
    const f = options.fetch ?? globalThis.fetch;
    this.fetchFn = (input, init) => f(input, init);
    this.clientIdHeader = options.clientId
      ? String.fromCharCode(...new TextEncoder().encode(options.clientId))
      : undefined;
  }

  async request(path: string, init: RequestInit, signal: AbortSignal): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('Authorization', `Bearer ${await this.credential()}`);
    if (this.clientIdHeader) headers.set('X-Client-Id', this.clientIdHeader);
    return this.fetchFn(`${this.base}${path}`, { ...init, headers, signal });
  }

  /** Forget the token: the next request asks the token function again. */
  renewToken(): void {
    this.cachedToken = undefined;
  }

  private async credential(): Promise<string> {
    if (this.options.apiKey) return this.options.apiKey;
    const t = this.options.token!;
    if (typeof t === 'string') return t;
    this.cachedToken ??= await t();
    return this.cachedToken;
  }
}

/** The error for a response that is not what was asked for (problem+json detail if any). */
export async function failure(res: Response): Promise<ConfigServiceError> {
  let detail = '';
  try {
    const problem = (await res.json()) as { detail?: string; title?: string };
    detail = problem.detail ?? problem.title ?? '';
  } catch {
    // not problem+json
  }
  return new ConfigServiceError(
    res.status,
    `config service answered ${res.status}${detail ? `: ${detail}` : ''}`,
    retryAfterOf(res),
  );
}

/** Retry-After in seconds, when given as a positive number. */
export function retryAfterOf(res: Response): number | undefined {
  const retry = Number(res.headers.get('retry-after'));
  return Number.isFinite(retry) && retry > 0 ? retry : undefined;
}

/** Resolves after `ms`, or at once when `signal` aborts; never keeps a process alive by itself. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    (timer as { unref?: () => void }).unref?.();
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
