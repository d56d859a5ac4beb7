import OpenAI from 'openai';
import { Agent } from 'undici';
import type { Config } from '../config.js';
import { createUpstreamFetch } from './upstream-fetch.js';
import { createUpstreamHttp, type UpstreamHttp } from './upstream-http.js';
import { createUpstreamBreaker, type CircuitStatus, type UpstreamBreaker } from './circuit-breaker.js';
import { missingApiKeyFor, type ModelRegistry, type OpenAIModelEntry } from './registry.js';

/**
 * Which connections a call uses: interactive calls (/answer, /compare) and evaluation runs each have
 * their own pool per upstream, so a run holding every connection it may have never makes an
 * interactive caller queue behind it.
 */
export const TRAFFIC_LANES = ['interactive', 'batch'] as const;
export type TrafficLane = (typeof TRAFFIC_LANES)[number];

export interface UpstreamClients {
  /** The shared SDK client for the entry's upstream (the judge's calls); throws our 503 when its key is not configured. */
  clientFor(entry: OpenAIModelEntry, lane?: TrafficLane): OpenAI;
  /** The lean HTTP client for the entry's upstream (answer calls); throws our 503 when its key is not configured. */
  httpFor(entry: OpenAIModelEntry, lane?: TrafficLane): UpstreamHttp;
  /**
   * Runs one upstream call through the circuit breaker of the entry's upstream; `call` gets the
   * caller's signal. While the breaker is open this throws our 503 and nothing is sent.
   */
  call<T>(entry: OpenAIModelEntry, call: (signal: AbortSignal | undefined) => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** The breaker state of the entry's upstream; null before its first call or when breakers are disabled. */
  circuitOf(entry: OpenAIModelEntry): CircuitStatus | null;
  /** How many distinct upstream clients exist so far. */
  readonly size: number;
  close(): Promise<void>;
}

interface Upstream {
  clients: Record<TrafficLane, { client: OpenAI; http: UpstreamHttp }>;
  breaker: UpstreamBreaker | null;
}

/**
 * Per distinct upstream (base URL + key), created on first use and shared by every route: a lean
 * HTTP client for answers (upstream-http.ts), an SDK client for the judge, and one circuit breaker
 * for both; each client in two lanes (interactive and batch), each lane over its own undici Agent:
 * keep-alive connections, at most OPENAI_MAX_CONNECTIONS per upstream origin and lane. Timeouts and retries (the SDK's rule and backoff, which honour Retry-After, in
 * both clients) and the cap on a reply's size come from the config; the breaker only sees what is
 * left after them. The total deadline (OPENAI_TOTAL_TIMEOUT_MS) bounds answer calls; the judge's SDK
 * calls keep the SDK's own per-attempt timeout.
 */
export function createUpstreamClients(config: Config, registry: ModelRegistry): UpstreamClients {
  const agentFor = () =>
    new Agent({
      connections: config.OPENAI_MAX_CONNECTIONS,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
    });
  const agents: Record<TrafficLane, Agent> = { interactive: agentFor(), batch: agentFor() };
  const fetches: Record<TrafficLane, ReturnType<typeof createUpstreamFetch>> = {
    interactive: createUpstreamFetch(agents.interactive, config.UPSTREAM_MAX_REPLY_BYTES),
    batch: createUpstreamFetch(agents.batch, config.UPSTREAM_MAX_REPLY_BYTES),
  };
  const upstreams = new Map<string, Upstream>();
  const keyOf = (entry: OpenAIModelEntry, apiKey: string) => `${entry.upstream.base_url}\n${apiKey}`;

  function upstreamFor(entry: OpenAIModelEntry): Upstream {
    const apiKey = registry.apiKeyFor(entry);
    if (!apiKey) throw missingApiKeyFor(registry, entry);
    const key = keyOf(entry, apiKey);
    let upstream = upstreams.get(key);
    if (!upstream) {
      const clientsOn = (lane: TrafficLane) => ({
        client: new OpenAI({
          apiKey,
          baseURL: entry.upstream.base_url,
          timeout: config.OPENAI_TIMEOUT_MS,
          maxRetries: config.OPENAI_MAX_RETRIES,
          fetch: fetches[lane],
        }),
        http: createUpstreamHttp({
          baseURL: entry.upstream.base_url,
          apiKey,
          timeoutMs: config.OPENAI_TIMEOUT_MS,
          totalTimeoutMs: config.OPENAI_TOTAL_TIMEOUT_MS,
          maxRetries: config.OPENAI_MAX_RETRIES,
          maxReplyBytes: config.UPSTREAM_MAX_REPLY_BYTES,
          dispatcher: agents[lane],
        }),
      });
      upstream = {
        clients: { interactive: clientsOn('interactive'), batch: clientsOn('batch') },
        // One breaker per upstream whatever the lane: an outage is the upstream's, not a pool's.
        breaker:
          config.CIRCUIT_BREAKER_FAILURES > 0
            ? createUpstreamBreaker({ failures: config.CIRCUIT_BREAKER_FAILURES, cooldownMs: config.CIRCUIT_BREAKER_COOLDOWN_MS })
            : null,
      };
      upstreams.set(key, upstream);
    }
    return upstream;
  }

  return {
    clientFor(entry, lane = 'interactive') {
      return upstreamFor(entry).clients[lane].client;
    },
    httpFor(entry, lane = 'interactive') {
      return upstreamFor(entry).clients[lane].http;
    },
    async call(entry, call, signal) {
      const { breaker } = upstreamFor(entry);
      return breaker ? breaker.execute(entry.alias, call, signal) : call(signal);
    },
    circuitOf(entry) {
      const apiKey = registry.apiKeyFor(entry);
      if (!apiKey) return null;
      return upstreams.get(keyOf(entry, apiKey))?.breaker?.status ?? null;
    },
    get size() {
      return upstreams.size;
    },
    async close() {
      upstreams.clear();
      await Promise.all([agents.interactive.close(), agents.batch.close()]);
    },
  };
}
