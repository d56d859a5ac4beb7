import type { Pool } from 'pg';

interface RateLimitState {
  current: number;
  ttl: number;
}
type Callback = (error: Error | null, state?: RateLimitState) => void;

/** One request in this many also deletes the windows that have ended, so the table holds only live callers. */
const CLEANUP_EVERY = 500;

/**
 * Counts one request of a caller in its window and gives the count and the window's time left; a window that
 * has ended starts again at 1. One statement: replicas counting the same caller at once each get their own count.
 */
const INCREMENT = `
  insert into rate_limits (key, count, window_ends) values ($1, 1, now() + $2::int * interval '1 millisecond')
  on conflict (key) do update set
    count = case when rate_limits.window_ends <= now() then 1 else rate_limits.count + 1 end,
    window_ends = case when rate_limits.window_ends <= now() then excluded.window_ends else rate_limits.window_ends end
  returning count, greatest(0, ceil(extract(epoch from (window_ends - now())) * 1000))::int as ttl`;
const READ = `
  select count, greatest(0, ceil(extract(epoch from (window_ends - now())) * 1000))::int as ttl
  from rate_limits where key = $1 and window_ends > now()`;

/**
 * A store for @fastify/rate-limit on PostgreSQL (migration 4's rate_limits table), so that with
 * RUNS_STORE=postgres every replica counts a caller's requests together: behind a load balancer, N replicas
 * would otherwise each allow RATE_LIMIT_MAX, N times the limit. The plugin constructs the store itself, hence
 * a class made for the pool.
 */
export function postgresRateLimitStore(pool: Pool) {
  let requests = 0;
  return class PostgresRateLimitStore {
    incr(key: string, callback: Callback, timeWindow: number): void {
      requests += 1;
      if (requests % CLEANUP_EVERY === 0) void pool.query('delete from rate_limits where window_ends <= now()').catch(() => undefined);
      pool.query<{ count: number; ttl: number }>(INCREMENT, [key, timeWindow]).then(
        ({ rows }) => callback(null, { current: rows[0]?.count ?? 1, ttl: rows[0]?.ttl ?? timeWindow }),
        (error: Error) => callback(error),
      );
    }

    read(key: string, callback: Callback): void {
      pool.query<{ count: number; ttl: number }>(READ, [key]).then(
        ({ rows }) => callback(null, { current: rows[0]?.count ?? 0, ttl: rows[0]?.ttl ?? 0 }),
        (error: Error) => callback(error),
      );
    }

    child(): PostgresRateLimitStore {
      return new PostgresRateLimitStore();
    }
  };
}
