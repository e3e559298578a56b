/** Rejects when `promise` has not settled within `ms` (the promise itself is not cancelled). */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

/** setTimeout/setInterval's longest delay; a longer one fires after 1 ms (Node's overflow rule). */
export const MAX_TIMER_MS = 2 ** 31 - 1;
export const timerDelay = (ms: number): number => Math.min(ms, MAX_TIMER_MS);
