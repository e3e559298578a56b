import type { EventStore } from './event-store.js';

/** Times every append (event_append_duration_seconds); everything else passes through. */
export function instrumentAppends(
  store: EventStore,
  observe: (seconds: number) => void,
): EventStore {
  return {
    async append(requests) {
      const started = performance.now();
      try {
        return await store.append(requests);
      } finally {
        observe((performance.now() - started) / 1000);
      }
    },
    readStream: (id, options) => store.readStream(id, options),
    readAll: (o) => store.readAll(o),
    headPosition: () => store.headPosition(),
    waitForEvents: (ms, signal, since) => store.waitForEvents(ms, signal, since),
    wakeMark: () => store.wakeMark(),
    ping: () => store.ping(),
    close: () => store.close(),
  };
}
