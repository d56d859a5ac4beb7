import type { Config } from './config.js';
import { buildModelRegistry, type ModelRegistry } from './models/registry.js';
import { createUpstreamClients, type UpstreamClients } from './models/upstream-clients.js';

/** Everything routes share, built once at boot from the validated config. */
export interface Services {
  config: Config;
  registry: ModelRegistry;
  clients: UpstreamClients;
}

export function createServices(config: Config): Services {
  const registry = buildModelRegistry(config);
  const clients = createUpstreamClients(config, registry);
  return { config, registry, clients };
}

export async function closeServices(services: Services): Promise<void> {
  await services.clients.close();
}
