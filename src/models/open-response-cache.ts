import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { Pool } from 'pg';
import type { Config } from '../config.js';
import { createResponseCache, type ResponseCache } from './response-cache.js';
import { createFileResponseCacheStorage } from './response-cache-file.js';
import { createPostgresResponseCacheStorage } from './response-cache-postgres.js';

type ResponseCacheConfig = Pick<Config, 'RESPONSE_CACHE_TTL_S' | 'RESPONSE_CACHE_MAX_ENTRIES' | 'REPORTS_DIR'>;

/**
 * The response cache where the runs are kept: the database's table when runs are (`pool`, RUNS_STORE=postgres), so
 * every replica shares it; REPORTS_DIR/cache otherwise. None when RESPONSE_CACHE_TTL_S is 0.
 */
export function openResponseCache(config: ResponseCacheConfig, log: FastifyBaseLogger, pool?: Pool | null): ResponseCache | null {
  if (config.RESPONSE_CACHE_TTL_S === 0) return null;
  const storage = pool ? createPostgresResponseCacheStorage(pool) : createFileResponseCacheStorage(join(config.REPORTS_DIR, 'cache'));
  return createResponseCache(storage, { ttlSeconds: config.RESPONSE_CACHE_TTL_S, maxEntries: config.RESPONSE_CACHE_MAX_ENTRIES, log });
}
