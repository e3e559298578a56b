/**
 * Re-reads on demand without overlap: `check()` starts `run`, and a check while it runs makes it
 * run once more afterwards, so the last run always starts after the last check (no change
 * announced meanwhile is missed) and runs never pile up. `run` handles its own errors.
 */
export interface Coalesced {
  check(): void;
  stop(): void;
  readonly stopped: boolean;
}

export function coalesced(run: () => Promise<void>): Coalesced {
  let running = false;
  let dirty = false;
  let stopped = false;
  const check = () => {
    if (stopped) return;
    if (running) {
      dirty = true;
      return;
    }
    running = true;
    void (async () => {
      do {
        dirty = false;
        await run().catch(() => undefined);
      } while (dirty && !stopped);
      running = false;
    })();
  };
  return {
    check,
    stop: () => {
      stopped = true;
    },
    get stopped() {
      return stopped;
    },
  };
}
