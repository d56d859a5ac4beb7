import type { FastifyBaseLogger } from 'fastify';
import type { Pool } from 'pg';
import type { Config } from '../config.js';
import { createFileAliasStore } from './model-alias-file-store.js';
import { createModelAliases, type ModelAliases } from './model-aliases.js';
import type { ModelRegistry } from './registry.js';

/**
 * The run-time aliases, kept where the runs are (RUNS_STORE): REPORTS_DIR/model-aliases.jsonl, or the table
 * model_alias_assignments. Stored assignments are applied to the registry before this resolves, and read
 * again every RUN_SWEEP_INTERVAL_MS for other replicas' assignments.
 */
export async function openModelAliases(
  config: Pick<Config, 'RUNS_STORE' | 'REPORTS_DIR' | 'RUN_SWEEP_INTERVAL_MS'>,
  registry: ModelRegistry,
  log: FastifyBaseLogger,
  pool?: Pool,
): Promise<ModelAliases> {
  const store =
    config.RUNS_STORE === 'postgres' && pool
      ? (await import('./model-alias-postgres-store.js')).createPostgresAliasStore(pool)
      : createFileAliasStore(config.REPORTS_DIR);
  return createModelAliases({ registry, store, log, refreshIntervalMs: config.RUN_SWEEP_INTERVAL_MS });
}
