import { basename, join } from 'node:path';
import type { Config } from './config.js';
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

export function createServices(config: Config): Services {
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
