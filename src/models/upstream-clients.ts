import OpenAI from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';
import type { Config } from '../config.js';
import { missingApiKey } from '../errors.js';
import type { ModelRegistry, OpenAIModelEntry } from './registry.js';

export interface UpstreamClients {
  /** The shared client for the entry's upstream; throws our 503 when its key is not configured. */
  clientFor(entry: OpenAIModelEntry): OpenAI;
  /** How many distinct upstream clients exist so far. */
  readonly size: number;
  close(): Promise<void>;
}

/**
 * One OpenAI client per distinct upstream (base URL + key), created on first use and shared by
 * every route, all over one undici Agent: keep-alive connections, at most
 * OPENAI_MAX_CONNECTIONS per upstream origin. Timeouts and retries (with the SDK's backoff,
 * which honours Retry-After) come from the config.
 */
export function createUpstreamClients(config: Config, registry: ModelRegistry): UpstreamClients {
  const agent = new Agent({
    connections: config.OPENAI_MAX_CONNECTIONS,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 600_000,
  });
  const clients = new Map<string, OpenAI>();

  return {
    clientFor(entry) {
      const apiKey = registry.apiKeyFor(entry);
      if (!apiKey) throw missingApiKey(entry.alias, entry.upstream.api_key_env ?? 'OPENAI_API_KEY');
      const key = `${entry.upstream.base_url}\n${apiKey}`;
      let client = clients.get(key);
      if (!client) {
        client = new OpenAI({
          apiKey,
          baseURL: entry.upstream.base_url,
          timeout: config.OPENAI_TIMEOUT_MS,
          maxRetries: config.OPENAI_MAX_RETRIES,
          // undici's own fetch, so that the dispatcher below is the one that carries the requests.
          fetch: undiciFetch as unknown as typeof globalThis.fetch,
          fetchOptions: { dispatcher: agent } as Record<string, unknown>,
        });
        clients.set(key, client);
      }
      return client;
    },
    get size() {
      return clients.size;
    },
    async close() {
      clients.clear();
      await agent.close();
    },
  };
}
