import { createHash } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { z } from 'zod';
import type { ApiStyle } from '../config.js';
import { redactSecrets } from '../secrets.js';
import type { AnswerStatus, Usage } from './openai-wire.js';

/** What answerInquiry returns of an upstream answer, kept so that the same request later is not paid twice. */
export interface CachedAnswer {
  answer: string;
  status: AnswerStatus;
  usage: Usage;
  model_id: string;
  response_id: string | null;
}

/** One answer to keep, its document already redacted, with the times its storage orders and expires it by. */
export interface ResponseCacheEntry {
  key: string;
  model_id: string;
  /** The CachedAnswer as JSON text. */
  document: string;
  created_at: Date;
  expires_at: Date;
}

/** Where kept answers live: one file per key (response-cache-file.ts) or a PostgreSQL table (response-cache-postgres.ts). */
export interface ResponseCacheStorage {
  readonly kind: 'file' | 'postgres';
  /** The parsed document under `key`, or null when there is none or it expired by `now`. */
  read(key: string, now: Date): Promise<unknown>;
  /** Stores the entry whole or not at all, replacing any under the same key. */
  write(entry: ResponseCacheEntry): Promise<void>;
  /** Deletes the entries expired by `now`, then those that expire first until at most `maxEntries` are left; returns how many went. */
  sweep(now: Date, maxEntries: number): Promise<number>;
}

/**
 * Evaluation runs' answers, kept for RESPONSE_CACHE_TTL_S. A cache that cannot be read or written is logged and
 * otherwise ignored: the model is asked, and the run goes on as if there were no cache.
 */
export interface ResponseCache {
  readonly kind: ResponseCacheStorage['kind'];
  get(key: string): Promise<CachedAnswer | null>;
  put(key: string, value: CachedAnswer): Promise<void>;
  /** Starts a sweep unless one is under way; resolves when it has ended. */
  sweep(): Promise<void>;
  /** Waits for a sweep under way. */
  close(): Promise<void>;
}

export interface UpstreamRequest {
  baseUrl: string;
  modelId: string;
  apiStyle: ApiStyle;
  /** The body exactly as it is sent (JSON.stringify of it is the request's text). */
  body: unknown;
}

/**
 * SHA-256 of what decides the answer: the upstream, the model, the wire style and the request body as sent (system
 * prompt, inquiry, temperature, seed, token limit). No part of the API key is in it, so two keys for the same
 * upstream share entries: a team repeating an evaluation pays once, whoever's key the first run used.
 */
export function responseCacheKey(request: UpstreamRequest): string {
  const material = JSON.stringify([request.baseUrl, request.modelId, request.apiStyle, JSON.stringify(request.body)]);
  return createHash('sha256').update(material).digest('hex');
}

/**
 * Only whole answers are kept. A truncated one is the length the sampling happened to take, and a filtered one the
 * upstream filter's call of the day: asking again can give a whole answer. An empty answer (a refusal part, or
 * reasoning with no message) is not worth reusing either. Errors never reach the cache.
 */
export const isCacheable = (value: Pick<CachedAnswer, 'status' | 'answer'>) => value.status === 'completed' && value.answer !== '';

const TokenCount = z.int().min(0).nullable();
/** A stored document is read back through this: one written by another release, or damaged, is a miss rather than a wrong answer. */
const CachedAnswerSchema = z.object({
  answer: z.string(),
  status: z.enum(['completed', 'truncated', 'content_filtered', 'no_match']),
  usage: z.object({ input_tokens: TokenCount, output_tokens: TokenCount, total_tokens: TokenCount }),
  model_id: z.string(),
  response_id: z.string().nullable(),
}) satisfies z.ZodType<CachedAnswer>;

export interface ResponseCacheOptions {
  ttlSeconds: number;
  maxEntries: number;
  log: FastifyBaseLogger;
  /** Milliseconds since the epoch; tests move it. */
  now?: () => number;
}

/**
 * Sweeps once at creation, then after every tenth of `maxEntries` new entries: the storage holds at most 10% more
 * than the cap between two sweeps, and never grows without bound.
 */
export function createResponseCache(storage: ResponseCacheStorage, options: ResponseCacheOptions): ResponseCache {
  const now = options.now ?? Date.now;
  const { log, maxEntries } = options;
  const sweepEvery = Math.max(1, Math.ceil(maxEntries / 10));
  let writtenSinceSweep = 0;
  let sweeping: Promise<void> | null = null;

  function sweep(): Promise<void> {
    sweeping ??= storage
      .sweep(new Date(now()), maxEntries)
      .then(
        (removed) => {
          if (removed > 0) log.info({ cache: storage.kind, removed }, 'response cache: expired or surplus answers removed');
        },
        (error: unknown) => log.warn({ err: error, cache: storage.kind }, 'response cache: the sweep failed; it is tried again later'),
      )
      .finally(() => {
        sweeping = null;
      });
    return sweeping;
  }

  void sweep();
  return {
    kind: storage.kind,
    async get(key) {
      try {
        const parsed = CachedAnswerSchema.safeParse(await storage.read(key, new Date(now())));
        return parsed.success ? parsed.data : null;
      } catch (error) {
        log.warn({ err: error, cache: storage.kind }, 'response cache: could not read; the model is asked');
        return null;
      }
    },
    async put(key, value) {
      const created = now();
      const entry = {
        key,
        model_id: value.model_id,
        document: redactSecrets(JSON.stringify(value)),
        created_at: new Date(created),
        expires_at: new Date(created + options.ttlSeconds * 1000),
      };
      try {
        await storage.write(entry);
      } catch (error) {
        log.warn({ err: error, cache: storage.kind }, 'response cache: could not keep an answer; the run goes on without it');
        return;
      }
      writtenSinceSweep += 1;
      if (writtenSinceSweep >= sweepEvery) {
        writtenSinceSweep = 0;
        void sweep();
      }
    },
    sweep,
    async close() {
      await sweeping;
    },
  };
}
