/**
 * Rebuilds projections from position zero: empties a projection's tables and moves its checkpoint
 * to zero in one transaction (taking the checkpoint row lock, so a running batch finishes first
 * and a live runner elsewhere notices and starts over), then replays the log into it.
 */
import type { Projector, Services } from '../src/composition.js';
import { inTransaction } from '../src/infrastructure/postgres.js';

export async function rebuildProjections(
  s: Services,
  projector: Projector,
  names: string[],
  log: (msg: string) => void = () => undefined,
  onProgress?: (done: number, total: number) => void | Promise<void>,
): Promise<string[]> {
  const all = [...projector.runners.map((r) => r.projection.name), projector.redisCache.name];
  const unknown = names.filter((n) => !all.includes(n));
  if (unknown.length)
    throw new Error(`unknown projection(s): ${unknown.join(', ')}; known: ${all.join(', ')}`);
  const chosen = names.length ? names : all;
  const head = await s.store.headPosition();
  const steps = chosen.length;
  let done = 0;
  for (const runner of projector.runners) {
    const { name, tables } = runner.projection;
    if (!chosen.includes(name)) continue;
    await inTransaction(s.pool, async (client) => {
      await client.query(
        'INSERT INTO projection_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT DO NOTHING',
        [name],
      );
      await client.query('SELECT 1 FROM projection_checkpoints WHERE name = $1 FOR UPDATE', [name]);
      // CASCADE: the read model's tables reference each other.
      await client.query(`TRUNCATE ${tables.join(', ')} CASCADE`);
      await client.query(
        'UPDATE projection_checkpoints SET position = 0, updated_at = now() WHERE name = $1',
        [name],
      );
    });
    log(`${name}: emptied ${tables.join(', ')}; replaying ${head} events`);
    await runner.catchUpOnce();
    await onProgress?.(++done, steps);
    log(`${name}: rebuilt`);
  }
  if (chosen.includes(projector.redisCache.name)) {
    await projector.redisCache.reset();
    await projector.redisCache.catchUpOnce();
    await onProgress?.(++done, steps);
    log(`${projector.redisCache.name}: rebuilt`);
  }
  return chosen;
}
