import { Router } from 'express';
import type { Services } from '../../composition.js';
import { withTimeout } from '../../infrastructure/timeout.js';

export function healthRoutes(s: Services): Router {
  const r = Router();

  /** Liveness: the process answers. Dependencies are /health/ready's business. */
  r.get('/health', (_req, res) => {
    res.json({ status: 'Healthy' });
  });

  r.get('/health/ready', async (_req, res) => {
    const check = async (fn: () => Promise<unknown>) => {
      const started = performance.now();
      try {
        await withTimeout(fn(), 2000);
        return { status: 'Healthy', durationMs: Math.round(performance.now() - started) };
      } catch (error) {
        return { status: 'Unhealthy', error: (error as Error).message };
      }
    };
    const [postgres, redis, eventStore] = await Promise.all([
      check(() => s.pool.query('SELECT 1')),
      check(() => s.redis.ping()),
      check(() => s.store.ping()),
    ]);
    let projections: Record<string, { position: string; behind: string }> = {};
    try {
      const lag = await s.progress.lag(await withTimeout(s.store.headPosition(), 2000));
      projections = Object.fromEntries(
        lag.map((l) => [
          l.projection,
          { position: l.position.toString(), behind: l.behind.toString() },
        ]),
      );
    } catch {
      // Reported through the checks above.
    }
    const healthy = [postgres, redis, eventStore].every((c) => c.status === 'Healthy');
    res.status(healthy ? 200 : 503).json({
      status: healthy ? 'Healthy' : 'Unhealthy',
      checks: { postgres, redis, eventStore },
      projections,
    });
  });

  return r;
}
