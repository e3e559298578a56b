/**
 * Server-sent event streams of the API, read with fetch (EventSource cannot send a bearer
 * header): the apps' stream of an environment (`Accept: text/event-stream` on the hot read
 * route), so an open page sees changes made elsewhere without a reload, and the deployments'
 * streams (`/events`), which carry a deployment's progress and error rates as the read model
 * records them. Reconnects with a capped, jittered back-off and `Last-Event-ID` until stopped.
 */
import { useEffect, useState } from 'preact/hooks';
import { authHeaders, type Deployment, type RunningDeployments } from './api';

export interface Snapshot {
  configs: Record<string, unknown>;
  versions?: Record<string, number>;
  deployments?: Record<string, { deploymentId: string; side: 'canary' | 'stable' }>;
}

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'closed';

/**
 * Follows `url`'s `snapshot` events until stopped. `readYourWrites` sends the tab's newest
 * write position (the deployments' streams wait for it; the apps' stream does not take it).
 * A 401, 403 or 404 ends it (`closed`): nothing there to follow, or not for this user.
 */
export function followSnapshots<T>(
  url: string,
  onSnapshot: (s: T) => void,
  options: { readYourWrites?: boolean; onState?: (s: StreamState) => void } = {},
): () => void {
  const stop = new AbortController();
  let lastId = '';
  let failures = 0;
  const state = (s: StreamState) => !stop.signal.aborted && options.onState?.(s);
  const run = async () => {
    state('connecting');
    while (!stop.signal.aborted) {
      try {
        const { 'X-Min-Position': position, ...headers } = authHeaders();
        const res = await fetch(url, {
          headers: {
            ...headers,
            ...(options.readYourWrites && position ? { 'X-Min-Position': position } : {}),
            Accept: 'text/event-stream',
            ...(lastId ? { 'Last-Event-ID': lastId } : {}),
          },
          signal: stop.signal,
          cache: 'no-store',
        });
        if (res.status === 404 || res.status === 403 || res.status === 401) {
          state('closed');
          return;
        }
        if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
        failures = 0;
        state('live');
        await readEvents(res.body, (event, data, id) => {
          if (id) lastId = id;
          if (event === 'snapshot') onSnapshot(JSON.parse(data) as T);
        });
      } catch {
        if (stop.signal.aborted) return;
      }
      state('reconnecting');
      failures++;
      const delay = Math.min(30_000, 250 * 2 ** Math.min(failures, 7)) * (0.5 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  };
  void run();
  return () => stop.abort();
}

/** One environment as the apps get it (values and their versions). */
export function watchEnvironment(
  tenantId: string,
  environment: string,
  onSnapshot: (s: Snapshot) => void,
): () => void {
  const url = `/api/v1/tenants/${encodeURIComponent(tenantId)}/environments/${encodeURIComponent(environment)}/configs`;
  return followSnapshots(url, onSnapshot);
}

/** The newest snapshot of a deployments stream, and whether it is following. */
export function useDeploymentStream<T extends Deployment | RunningDeployments>(
  url: string,
): { view: T | undefined; state: StreamState } {
  const [view, setView] = useState<T | undefined>(undefined);
  const [state, setState] = useState<StreamState>('connecting');
  useEffect(() => {
    setView(undefined);
    return followSnapshots<T>(url, setView, { readYourWrites: true, onState: setState });
  }, [url]);
  return { view, state };
}

async function readEvents(
  body: ReadableStream<Uint8Array>,
  dispatch: (event: string, data: string, id: string) => void,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = 'message';
  let data: string[] = [];
  let id = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = buffer.search(/\r?\n/)) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer[nl] === '\r' ? 2 : 1));
      if (line === '') {
        if (data.length) dispatch(event, data.join('\n'), id);
        event = 'message';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = val;
      else if (field === 'data') data.push(val);
      else if (field === 'id') id = val;
    }
  }
}
