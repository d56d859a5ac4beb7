import type { FastifyBaseLogger } from 'fastify';
import type { Pool } from 'pg';
import type { Services } from '../services.js';
import { createFileFineTuneStore } from './fine-tune-store.js';
import { createFineTunes, type FineTunes } from './fine-tunes.js';
import type { FineTuneAliases, FineTuneRuns } from './job-steps.js';

/**
 * The fine-tuning jobs of this process, in the store RUNS_STORE chooses: REPORTS_DIR/fine-tunes, or the
 * database's fine_tune_jobs table (PostgreSQL's module is loaded only then, as the run store's is).
 */
export async function openFineTunes(deps: {
  services: Services;
  pool: Pool | undefined;
  aliases: FineTuneAliases;
  runs: FineTuneRuns;
  log: FastifyBaseLogger;
}): Promise<FineTunes> {
  const { config } = deps.services;
  const store =
    config.RUNS_STORE === 'postgres' && deps.pool
      ? (await import('./postgres-fine-tune-store.js')).createPostgresFineTuneStore(deps.pool)
      : createFileFineTuneStore(config.REPORTS_DIR);
  return createFineTunes({ services: deps.services, store, aliases: deps.aliases, runs: deps.runs, log: deps.log });
}
