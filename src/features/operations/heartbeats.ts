/**
 * Heartbeats: whether a worker and each projection are alive, for /health/ready and the
 * `worker_heartbeat_age_seconds` / `projection_heartbeat_age_seconds` metrics.
 *
 * A component is marked alive in memory each time it does its work (a projection after every
 * read of the log, idle or not; the worker while its queues run) and the marks are written to
 * PostgreSQL (`service_heartbeats`, one row per component and process) every few seconds. A
 * process that died, or a projection stuck failing on an event, stops moving its row: its age
 * grows past `ConfigService__HeartbeatTimeout` and it is reported dead. A clean stop deletes the
 * process's rows.
 */
import { hostname } from 'node:os';
import type pg from 'pg';

export const WORKER_COMPONENT = 'worker';
export const projectionComponent = (name: string) => `projection:${name}`;

export interface ComponentHealth {
  component: string;
  /** Seconds since the youngest instance's last beat. */
  ageSeconds: number;
  /** Instances that beat within the timeout. */
  aliveInstances: number;
}

export class Heartbeats {
  private readonly marks = new Map<string, number>();
  private readonly written = new Map<string, number>();
  private readonly probes = new Map<string, () => boolean>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private lastPrune = 0;

  constructor(
    private readonly pool: pg.Pool,
    readonly intervalMs: number,
    readonly instance = `${hostname()}:${process.pid}`,
  ) {}

  /** Marks a component alive now; written at the next tick. */
  alive(component: string): void {
    this.marks.set(component, Date.now());
    this.timer ??= setInterval(() => void this.flush(), this.intervalMs).unref();
  }

  /** Marks a component alive at every tick while `isAlive` says so (the worker). */
  keepAlive(component: string, isAlive: () => boolean): void {
    this.probes.set(component, isAlive);
    if (isAlive()) this.alive(component);
  }

  /** Writes the marks that moved since the last write. Errors wait for the next tick. */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async write(): Promise<void> {
    for (const [component, isAlive] of this.probes) if (isAlive()) this.alive(component);
    const now = Date.now();
    const due = [...this.marks].filter(([c, at]) => (this.written.get(c) ?? 0) < at);
    if (due.length === 0) return;
    try {
      // The database's clock, less how long ago the mark was made here: no clock skew between
      // machines enters the ages.
      await this.pool.query(
        `INSERT INTO service_heartbeats (component, instance, beat_at)
         SELECT c, $1, now() - make_interval(secs => ms / 1000.0)
           FROM unnest($2::text[], $3::float8[]) AS t(c, ms)
         ON CONFLICT (component, instance) DO UPDATE SET beat_at = EXCLUDED.beat_at`,
        [this.instance, due.map(([c]) => c), due.map(([, at]) => now - at)],
      );
      for (const [c, at] of due) this.written.set(c, at);
      if (now - this.lastPrune > 3_600_000) {
        this.lastPrune = now;
        // Rows of processes long gone (replaced pods) say nothing any more.
        await this.pool.query(
          `DELETE FROM service_heartbeats WHERE beat_at < now() - interval '1 day'`,
        );
      }
    } catch {
      // PostgreSQL away: the rows age, which is what readiness should then see.
    }
  }

  /** Stops beating and deletes this process's rows (a clean stop is not a death). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    const components = [...new Set([...this.marks.keys(), ...this.probes.keys()])];
    this.marks.clear();
    this.probes.clear();
    if (components.length === 0) return;
    await this.pool
      .query('DELETE FROM service_heartbeats WHERE instance = $1 AND component = ANY($2)', [
        this.instance,
        components,
      ])
      .catch(() => undefined);
  }
}

/** Every component's freshest beat, and how many instances beat within `timeoutMs`. */
export async function heartbeatReport(
  db: Pick<pg.Pool, 'query'>,
  timeoutMs: number,
): Promise<ComponentHealth[]> {
  const { rows } = await db.query<ComponentHealth>(
    `SELECT component,
            EXTRACT(EPOCH FROM now() - max(beat_at))::float8 AS "ageSeconds",
            count(*) FILTER (WHERE beat_at > now() - make_interval(secs => $1 / 1000.0))::int
              AS "aliveInstances"
       FROM service_heartbeats GROUP BY component ORDER BY component`,
    [timeoutMs],
  );
  return rows;
}
