/**
 * Acknowledgements: which values this instance applied or rejected, sent to
 * `POST /api/v1/tenants/{t}/environments/{env}/acknowledgements`. The service keeps which
 * instances run which version; a canary can wait for its canary side to apply a value, and
 * rolls back when too many reject it.
 *
 * Cheap on the hot path: noting an acknowledgement is a Map write; a key is sent again only when
 * what it runs (version, canary, side) or its status changes; everything noted within
 * `intervalMs` goes in one request (at most one in flight), and otherwise one empty request per
 * heartbeat (the service says how often) keeps the instance counted.
 */
import { ConfigServiceError } from './errors.js';
import { failure, type Http } from './http.js';

export interface Acknowledgement {
  key: string;
  version: number;
  status: 'applied' | 'rejected';
  reason?: string;
  deploymentId?: string;
  side?: 'canary' | 'stable';
}

/** The service takes this many per request. */
const MAX_BATCH = 1000;
/** Refusals that retrying will not fix: acknowledgements stop (said once as an error). */
const REFUSED = [401, 403, 404];

const sameValue = (a: Acknowledgement, b: Acknowledgement) =>
  a.version === b.version && a.deploymentId === b.deploymentId && a.side === b.side;

export class Acknowledgements {
  /** The newest acknowledgement of each key: what this instance runs (sent again on `resend`). */
  private readonly last = new Map<string, Acknowledgement>();
  private readonly pending = new Map<string, Acknowledgement>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private heartbeatMs = 60_000;
  private sending: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly http: Http,
    private readonly path: string,
    private readonly instanceId: string,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /**
   * Notes what this instance does with a key's value. The same value again is not news (a
   * rejection stays a rejection when other keys change) unless `force` (the app's own reject).
   */
  note(ack: Acknowledgement, force = false): void {
    if (this.stopped) return;
    const before = this.last.get(ack.key);
    if (before && sameValue(before, ack)) {
      if (!force) return;
      if (before.status === ack.status && before.reason === ack.reason) return;
    }
    this.last.set(ack.key, ack);
    this.pending.set(ack.key, ack);
    this.schedule(this.intervalMs);
  }

  /** Keys gone from the environment run nothing any more. */
  forget(keys: Iterable<string>): void {
    for (const key of keys) {
      this.last.delete(key);
      this.pending.delete(key);
    }
  }

  /** Sends what is noted now (an empty report when `heartbeat`). */
  async flush(heartbeat = false): Promise<void> {
    while (this.sending) await this.sending;
    if (this.stopped || (!this.pending.size && !heartbeat)) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending.values()].slice(0, MAX_BATCH);
    for (const a of batch) this.pending.delete(a.key);
    this.sending = this.send(batch).finally(() => (this.sending = undefined));
    await this.sending;
    if (this.pending.size) this.schedule(this.intervalMs);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.heartbeat);
  }

  private schedule(ms: number) {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, ms);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private startHeartbeat(ms: number) {
    if (this.heartbeat && ms === this.heartbeatMs) return;
    clearInterval(this.heartbeat);
    this.heartbeatMs = ms;
    this.heartbeat = setInterval(() => void this.flush(true), ms);
    (this.heartbeat as { unref?: () => void }).unref?.();
  }

  private async send(batch: Acknowledgement[]) {
    try {
      const res = await this.http.request(
        this.path,
        {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ instanceId: this.instanceId, acknowledgements: batch }),
        },
        AbortSignal.timeout(5000),
      );
      if (!res.ok) throw await failure(res);
      const answer = (await res.json()) as { resend?: boolean; heartbeatSeconds?: number };
      if (typeof answer.heartbeatSeconds === 'number' && answer.heartbeatSeconds > 0) {
        this.startHeartbeat(answer.heartbeatSeconds * 1000);
      } else this.startHeartbeat(this.heartbeatMs);
      if (answer.resend) {
        // The service did not know this instance (new, or silent too long): all it runs.
        for (const [key, ack] of this.last) if (!this.pending.has(key)) this.pending.set(key, ack);
        const sent = new Set(batch.map((a) => a.key));
        for (const key of sent) this.pending.delete(key);
        if (this.pending.size) this.schedule(this.intervalMs);
      }
    } catch (error) {
      if (error instanceof ConfigServiceError && REFUSED.includes(error.status)) {
        // Misconfigured (a key without the report-metrics scope, say): say so once and stop.
        this.stop();
        this.onError(error);
        return;
      }
      // Kept for the next attempt, unless something newer was noted meanwhile.
      for (const a of batch) if (!this.pending.has(a.key)) this.pending.set(a.key, a);
      this.startHeartbeat(this.heartbeatMs);
      this.onError(error);
    }
  }
}
