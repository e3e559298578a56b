import { withTimeout } from '../../src/core/timeout.js';

/**
 * Polls `probe` until it gives a value (anything but undefined) and returns it; past the timeout
 * it fails naming what it waited for. `retryErrors`: a probe that throws counts as "not yet" (a
 * service that is coming back).
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  options: number | { timeoutMs?: number; everyMs?: number; retryErrors?: boolean } = {},
): Promise<T> {
  const {
    timeoutMs = 30_000,
    everyMs = 100,
    retryErrors = false,
  } = typeof options === 'number' ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = retryErrors
      ? await Promise.resolve()
          .then(probe)
          .catch(() => undefined)
      : await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * 'closed' when `work` ends within `ms`, else a sentence naming what is still closing (for
 * `expect(...).to.equal('closed')`, whose failure then says so). A failure of `work` is thrown.
 */
export async function closedWithin(what: string, work: Promise<unknown>, ms: number) {
  const settled = await withTimeout(
    work.then(() => 'closed' as const),
    ms,
  ).catch((error: unknown) => {
    if (error instanceof Error && error.message === `timed out after ${ms} ms`) return undefined;
    throw error;
  });
  return settled ?? `${what} still closing after ${ms} ms`;
}
