import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ConfigError, type Config } from './config.js';
import { loadKnowledgeBase, type KnowledgeBase } from './knowledge/knowledge-base.js';
import { buildModelRegistry, readModelsFile, type ModelRegistry } from './models/registry.js';
import { createUpstreamClients, type UpstreamClients } from './models/upstream-clients.js';
import { collectSecrets, registerSecrets } from './secrets.js';

/** Everything routes share, built once at boot from the validated config. */
export interface Services {
  config: Config;
  registry: ModelRegistry;
  clients: UpstreamClients;
  /** The training file's examples: the offline model's answers and the contamination check. */
  knowledgeBase: KnowledgeBase;
}

export const TRAINING_FILE = 'amazon_electronics_adapted_train.jsonl';

/**
 * Runs are written under REPORTS_DIR from the first POST /evaluate on: a folder that cannot be created or
 * written stops the boot with the variable's name, instead of failing (or, as it once did, spinning) later.
 */
export function ensureReportsDirWritable(reportsDir: string): void {
  const probe = join(reportsDir, `.write-probe-${process.pid}`);
  try {
    mkdirSync(join(reportsDir, 'runs'), { recursive: true });
    writeFileSync(probe, '');
    rmSync(probe, { force: true });
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(`Invalid configuration:\n  REPORTS_DIR: ${reportsDir} cannot be created or written (${reason}). Point REPORTS_DIR at a writable folder.`);
  }
}

export function createServices(config: Config): Services {
  ensureReportsDirWritable(config.REPORTS_DIR);
  const knowledgeBase = loadKnowledgeBase(join(config.DATA_DIR, TRAINING_FILE));
  const registry = buildModelRegistry(config, config.MODELS_FILE ? readModelsFile(config.MODELS_FILE) : undefined, {
    model_id: `bm25:${basename(TRAINING_FILE, '.jsonl')}`,
    pricing: { input_per_million: 0, output_per_million: 0 },
    description: `Offline: the reference answer of the closest of ${knowledgeBase.examples.length} training examples (BM25), or a safe hand-off below the confidence threshold. Needs no key and no network.`,
  });
  // Before any client exists, so that no text can leave the process before its secrets are known.
  registerSecrets(collectSecrets(config, registry));
  const clients = createUpstreamClients(config, registry);
  return { config, registry, clients, knowledgeBase };
}

export async function closeServices(services: Services): Promise<void> {
  await services.clients.close();
}
