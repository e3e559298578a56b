/**
 * The API client: openapi-fetch typed by `api.gen.ts`, which is generated from the service's own
 * OpenAPI document (build/api-types.ts), so paths, parameters and answers are never written twice.
 */
import createClient from 'openapi-fetch';
import type { components, paths } from './api.gen';

export type Schemas = components['schemas'];
export type Problem = Schemas['Problem'];
export type Config = Schemas['Configuration'];
export type ConfigType = Config['type'];
export type Version = Schemas['ConfigurationVersion'];
export type ChangeRequest = Schemas['ChangeRequest'];
export type Deployment = Schemas['Deployment'];
export type RunningDeployments = Schemas['RunningDeployments'];
export type Tenant = Schemas['Tenant'];
export type AuditEntry = Schemas['AuditLogPage']['items'][number];

let token = '';
let onUnauthorized: () => void = () => undefined;
/**
 * The newest event position this tab wrote. Reads send it (X-Min-Position) so that they wait for
 * the read side to include the tab's own changes: what you just did is always on the next page.
 */
let lastPosition: bigint | null = null;

export function useToken(value: string, unauthorized: () => void): void {
  token = value;
  onUnauthorized = unauthorized;
}

export function notePosition(position: string | null | undefined): void {
  if (!position) return;
  const p = BigInt(position);
  if (lastPosition === null || p > lastPosition) lastPosition = p;
}

export const authHeaders = (): Record<string, string> => ({
  Authorization: `Bearer ${token}`,
  ...(lastPosition !== null ? { 'X-Min-Position': String(lastPosition) } : {}),
});

// no-store: every read is current (the API's own read-your-writes does the rest), and the
// browser never revalidates with If-None-Match behind the page's back.
export const api = createClient<paths>({ baseUrl: location.origin, cache: 'no-store' });
api.use({
  onRequest({ request }) {
    request.headers.set('Authorization', `Bearer ${token}`);
    if (request.method === 'GET' && lastPosition !== null) {
      request.headers.set('X-Min-Position', String(lastPosition));
    }
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401) onUnauthorized();
    return response;
  },
});

/** A refused or failed call, with the API's problem document. */
export class ApiProblem extends Error {
  constructor(
    readonly problem: Problem,
    readonly status: number,
  ) {
    super(problem.detail);
  }
}

/** The answer's body; a problem is thrown as ApiProblem. Commands' positions are noted. */
export async function unwrap<D>(
  call: Promise<{ data?: D; error?: unknown; response: Response }>,
): Promise<D> {
  let result: { data?: D; error?: unknown; response: Response };
  try {
    result = await call;
  } catch (error) {
    throw new ApiProblem(
      {
        type: 'about:blank',
        title: 'The service cannot be reached',
        status: 0,
        detail: `${(error as Error).message}. Check your connection and try again.`,
      },
      0,
    );
  }
  const { data, error, response } = result;
  if (!response.ok || data === undefined) {
    const problem =
      error && typeof error === 'object' && 'detail' in error
        ? (error as Problem)
        : ({
            type: 'about:blank',
            title: response.statusText || 'Error',
            status: response.status,
            detail: `The service answered ${response.status}`,
          } satisfies Problem);
    throw new ApiProblem(problem, response.status);
  }
  if (data && typeof data === 'object' && 'position' in data) {
    notePosition((data as { position?: string | null }).position);
  }
  return data;
}
