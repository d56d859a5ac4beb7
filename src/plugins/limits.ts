import fastifyRateLimit from '@fastify/rate-limit';
import fastifyUnderPressure from '@fastify/under-pressure';
import fp from 'fastify-plugin';
import type { Pool } from 'pg';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { callerOf, isPublicRoute } from './access-control.js';
import { postgresRateLimitStore } from './rate-limit-store.js';

export type LimitsOptions = Pick<
  Config,
  'RATE_LIMIT_MAX' | 'RATE_LIMIT_WINDOW_MS' | 'MAX_EVENT_LOOP_DELAY_MS' | 'MAX_EVENT_LOOP_UTILIZATION' | 'EVENT_LOOP_SAMPLE_INTERVAL_MS'
> & {
  /** With RUNS_STORE=postgres, the counts live in the database, shared by every replica; in memory otherwise. */
  database?: Pool;
};

// Probes from orchestrators must not spend a caller's budget nor be refused when many arrive at once.
// An overloaded process is still alive: failing liveness would get it restarted mid-work.
// /ready does shed, which takes the instance out of rotation until it recovers.
const UNSHED_ROUTES = new Set(['/health']);

const OVERLOAD_RETRY_AFTER_SECONDS = 1;


const describeWindow = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);

/**
 * Load shedding and the per-caller rate limit. The rate limit hooks each route, so it runs after
 * every instance-level onRequest hook, including the one that verifies the caller's key.
 */
export const requestLimits = fp<LimitsOptions>(
  async (app, options) => {
    if (options.MAX_EVENT_LOOP_DELAY_MS > 0 || options.MAX_EVENT_LOOP_UTILIZATION > 0) {
      const overloaded = new AppError(503, 'overloaded', 'The service is overloaded. Retry shortly.', {
        headers: { 'retry-after': String(OVERLOAD_RETRY_AFTER_SECONDS) },
      });
      await app.register(fastifyUnderPressure, {
        maxEventLoopDelay: options.MAX_EVENT_LOOP_DELAY_MS,
        maxEventLoopUtilization: options.MAX_EVENT_LOOP_UTILIZATION,
        // The default, cumulative since boot, would barely move after a long quiet period.
        eventLoopUtilizationMode: 'interval',
        sampleInterval: options.EVENT_LOOP_SAMPLE_INTERVAL_MS,
        pressureHandler: async (request) => {
          if (UNSHED_ROUTES.has(request.routeOptions.url ?? '')) return;
          throw overloaded;
        },
      });
    }

    if (options.RATE_LIMIT_MAX > 0) {
      await app.register(fastifyRateLimit, {
        max: options.RATE_LIMIT_MAX,
        timeWindow: options.RATE_LIMIT_WINDOW_MS,
        keyGenerator: callerOf,
        ...(options.database
          ? {
              store: postgresRateLimitStore(options.database),
              // A database that does not answer lets requests through rather than failing them: what needs the
              // database answers 503 on its own, and the rest (an offline /answer) keeps working.
              skipOnError: true,
            }
          : {}),
        // What needs no key holds no data (probes, docs, the report pages' shells and assets): a page that loads
        // its script and styles, or polls a live run, spends the caller's budget only on the API calls it makes.
        allowList: (request) => isPublicRoute(request.routeOptions.url),
        errorResponseBuilder: (_request, context) => {
          const retryAfter = String(Math.max(1, Math.ceil(context.ttl / 1000)));
          return new AppError(
            429,
            'rate_limited',
            `Rate limit exceeded: at most ${context.max} requests per ${describeWindow(options.RATE_LIMIT_WINDOW_MS)}. Retry in ${retryAfter} s.`,
            { headers: { 'retry-after': retryAfter } },
          );
        },
      });
    }
  },
  { name: 'request-limits' },
);
