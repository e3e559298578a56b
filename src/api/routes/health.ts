import { Router } from 'express';
import type { Services } from '../../composition.js';
import { REDIS_CACHE_PROJECTION } from '../../../projections/redis-cache.js';

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([
    p,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms),
    ),
  ]);

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
      const head = await withTimeout(s.store.headPosition(), 2000);
      const positions = await s.progress.positions();
      positions[REDIS_CACHE_PROJECTION] = await s.progress
        .redisCheckpoint(REDIS_CACHE_PROJECTION)
        .catch(() => 0n);
      projections = Object.fromEntries(
        Object.entries(positions).map(([name, pos]) => [
          name,
          { position: pos.toString(), behind: (head > pos ? head - pos : 0n).toString() },
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
