import pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import { ConfigError } from '../config.js';
import { publicUrl, redactSecrets } from '../secrets.js';
import { migrate, SchemaTooNewError, type Migration, MIGRATIONS } from './migrations.js';

/** How long the boot waits for the first connection before saying the database cannot be reached. */
export const CONNECT_TIMEOUT_MS = 10_000;
/**
 * Connections per process: results are recorded one statement each while a run's jobs go on (up to
 * WORKER_CONCURRENCY at once), beside the job queue's fetches and the API's reads.
 */
export const DATABASE_POOL_SIZE = 12;
/** How long /ready waits for `select 1`: a readiness probe must answer well within its own timeout. */
export const READY_TIMEOUT_MS = 2000;

export interface Database {
  readonly pool: pg.Pool;
  /** The schema version after the boot's migrations. */
  readonly schemaVersion: number;
  /** Resolves when `select 1` answers within `timeoutMs`; rejects with the reason otherwise. */
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Why a connection failed, in words fit for a boot message: the driver's code and text, never the URL. */
function reasonOf(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  return redactSecrets([code, message].filter(Boolean).join(': ') || String(error));
}

/**
 * Connects to DATABASE_URL and brings its schema up to date. Anything that stops it (a URL the driver cannot
 * use, a database that does not answer, refused credentials, a schema from a newer release) is a
 * ConfigError naming DATABASE_URL, so the boot stops with a message and no stack trace.
 */
export async function openDatabase(url: string, log: FastifyBaseLogger, migrations: readonly Migration[] = MIGRATIONS): Promise<Database> {
  const shown = publicUrl(url);
  let pool: pg.Pool;
  try {
    pool = new pg.Pool({ connectionString: url, max: DATABASE_POOL_SIZE, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, idleTimeoutMillis: 30_000 });
  } catch (error) {
    throw new ConfigError(`Invalid configuration:\n  DATABASE_URL: ${shown} cannot be used (${reasonOf(error)}).`);
  }
  // An idle connection that breaks (the server restarts) is reported here; without a listener it would end the process.
  pool.on('error', (error) => log.warn({ reason: reasonOf(error) }, 'a PostgreSQL connection was lost'));
  let schemaVersion: number;
  try {
    ({ version: schemaVersion } = await migrate(pool, migrations));
  } catch (error) {
    await pool.end().catch(() => undefined);
    if (error instanceof SchemaTooNewError) throw new ConfigError(`Invalid configuration:\n  DATABASE_URL: ${shown}: ${error.message}`);
    throw new ConfigError(
      `Invalid configuration:\n  DATABASE_URL: cannot connect to ${shown} or prepare its schema (${reasonOf(error)}). Check DATABASE_URL and that the database is running and reachable.`,
    );
  }
  log.info({ database: shown, schema_version: schemaVersion }, 'connected to PostgreSQL');
  return {
    pool,
    schemaVersion,
    async ping(timeoutMs = READY_TIMEOUT_MS) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      // The query may outlive a timed-out probe; its eventual failure is already reported by the probe.
      const query = pool.query('select 1');
      query.catch(() => undefined);
      try {
        await Promise.race([query, timeout]);
      } catch (error) {
        throw new Error(reasonOf(error));
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => pool.end(),
  };
}
