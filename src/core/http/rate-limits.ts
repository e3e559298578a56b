/**
 * Rate limits per tenant and caller, counted in Redis (rate-limiter-flexible) so that every API
 * replica shares them: `RateLimiting__ConfigGet`, `RateLimiting__ConfigCreate`,
 * `RateLimiting__Deployments` requests per minute. Over the limit: 429 with Retry-After.
 *
 * The hot read path cannot afford a Redis round trip per request, so each replica leases points
 * in blocks of 1 % of the limit and spends them locally: Redis is asked once per block. A replica
 * can therefore let through at most one block more than the limit per window, and the last
 * partial block of a window may be refused early; with small limits a block is one point, exact.
 */
import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RequestHandler } from 'express';
import { HttpProblem } from './problem.js';
import { soleTenant, type Principal } from '../auth/auth.js';

export type LimitCategory = 'configGet' | 'configCreate' | 'deployments';

interface Lease {
  remaining: number;
  /** When the window the lease was taken in ends. */
  until: number;
}

class LeasedLimiter {
  private readonly leases = new Map<string, Lease>();
  private readonly block: number;

  constructor(
    private readonly limiter: RateLimiterRedis,
    readonly points: number,
  ) {
    this.block = Math.max(1, Math.floor(points / 100));
  }

  /** Resolves when allowed; throws a 429 HttpProblem otherwise. */
  take(key: string): void | Promise<void> {
    const now = Date.now();
    const lease = this.leases.get(key);
    if (lease && lease.remaining > 0 && lease.until > now) {
      lease.remaining--;
      return;
    }
    return this.refill(key, now);
  }

  private async refill(key: string, now: number): Promise<void> {
    try {
      const res = await this.limiter.consume(key, this.block);
      if (this.leases.size > 100_000) this.leases.clear();
      this.leases.set(key, { remaining: this.block - 1, until: now + res.msBeforeNext });
    } catch (error) {
      if (error instanceof RateLimiterRes) {
        const retryAfter = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
        throw new HttpProblem(
          429,
          'Too many requests',
          `More than ${this.points} requests a minute; retry in ${retryAfter} s`,
          { retryAfter },
        );
      }
      // Redis down: do not turn an outage of the limiter into an outage of the service.
      return;
    }
  }
}

export class RateLimits {
  private readonly limiters: Record<LimitCategory, LeasedLimiter>;

  constructor(redis: Redis, prefix: string, limits: Record<LimitCategory, number>) {
    const make = (category: LimitCategory) =>
      new LeasedLimiter(
        new RateLimiterRedis({
          storeClient: redis,
          keyPrefix: `${prefix}ratelimit:${category}`,
          points: limits[category],
          duration: 60,
        }),
        limits[category],
      );
    this.limiters = {
      configGet: make('configGet'),
      configCreate: make('configCreate'),
      deployments: make('deployments'),
    };
  }

  /** The key: the tenant acted on and the caller, so one tenant's burst never limits another. */
  static key(principal: Principal, tenantId: string | undefined): string {
    return `${tenantId ?? soleTenant(principal) ?? '*'}:${principal.userId}`;
  }

  take(category: LimitCategory, key: string): void | Promise<void> {
    return this.limiters[category].take(key);
  }

  /**
   * Express middleware. The bucket is the token's tenant and user (or API key): nothing the
   * request says can pick another bucket (a `?tenantId=` that changes per request would otherwise
   * reset the budget). Platform admins and people of several tenants share one bucket per user.
   */
  middleware(category: LimitCategory): RequestHandler {
    return async (_req, res, next) => {
      const principal = res.locals.principal as Principal;
      try {
        await this.take(category, RateLimits.key(principal, undefined));
        next();
      } catch (error) {
        next(error);
      }
    };
  }
}
