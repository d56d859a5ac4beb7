import type { FastifyBaseLogger } from 'fastify';
import { AppError, mapUpstreamError, upstreamInvalidReply } from '../errors.js';
import {
  readChatReply,
  readResponsesReply,
  toChatRequest,
  toResponsesRequest,
  type AnswerParams,
  type AnswerStatus,
  type Usage,
  type WireResult,
} from './openai-wire.js';
import type { KnowledgeBase } from '../knowledge/knowledge-base.js';
import { pinnedEntry, type ModelRegistry, type OpenAIModelEntry } from './registry.js';
import { answerFromKnowledgeBase } from './retrieval-model.js';
import type { TrafficLane, UpstreamClients } from './upstream-clients.js';
import { redactSecrets } from '../secrets.js';
import { isCacheable, responseCacheKey, type CachedAnswer, type ResponseCache } from './response-cache.js';

/** Which training example the offline model used, and how close it was. */
export interface RetrievalMatch {
  source: string;
  line: number;
  inquiry: string;
  score: number;
  confidence: number;
  min_confidence: number;
}

export interface ModelAnswer {
  answer: string;
  /** The alias that answered. */
  model: string;
  /** The upstream model id behind the alias. */
  model_id: string;
  usage: Usage;
  latency_ms: number;
  response_id: string | null;
  status: AnswerStatus;
  /** Offline model only. */
  match?: RetrievalMatch | null;
  /** Set when the answer was read from the response cache: latency_ms is the read's, the usage the original call's. */
  cache_hit?: boolean;
}

export interface AnswerContext {
  log: FastifyBaseLogger;
  signal?: AbortSignal;
  /** Evaluation runs send their calls on the batch lane, so that interactive callers never queue behind them. */
  lane?: TrafficLane;
  /**
   * The model id a run was created with. An alias re-pointed since (a promote, a fine-tune registered under it)
   * must not change what the rest of the run answers with: its record and summary name this model.
   */
  modelId?: string;
}

export interface AnswerDeps {
  registry: ModelRegistry;
  clients: UpstreamClients;
  knowledgeBase: KnowledgeBase;
  config: { RETRIEVAL_MIN_CONFIDENCE: number };
  /** Set when RESPONSE_CACHE_TTL_S > 0; only calls on the batch lane (evaluation runs) use it. */
  responseCache?: ResponseCache | null;
}

/** The request sent for an answer, in the entry's wire style, and how its reply is read. */
function upstreamRequestOf(entry: OpenAIModelEntry, params: AnswerParams) {
  return entry.upstream.api_style === 'chat'
    ? { path: '/chat/completions', body: toChatRequest(entry, params), read: readChatReply }
    : { path: '/responses', body: toResponsesRequest(entry, params), read: readResponsesReply };
}

/** Checks what can be refused before anything is sent, then returns the call to make. */
function prepareOpenAICall(deps: AnswerDeps, entry: OpenAIModelEntry, request: ReturnType<typeof upstreamRequestOf>, params: AnswerParams, lane: TrafficLane | undefined) {
  if (entry.upstream.api_style === 'chat' && params.prompt) {
    throw new AppError(400, 'prompt_not_supported', `Model '${entry.alias}' uses the chat wire style; stored prompts need the responses style.`);
  }
  const http = deps.clients.httpFor(entry, lane);
  return async (signal?: AbortSignal): Promise<{ result: WireResult; attempts: number }> => {
    const reply = await http.postJson<unknown>(request.path, request.body, signal);
    const reading = request.read(reply.body);
    if (!reading.ok) throw upstreamInvalidReply(entry.alias, reading.problem, { issues: reading.issues, upstreamRequestId: reply.requestId });
    return { result: reading.result, attempts: reply.attempts };
  };
}

const toCached = (answer: ModelAnswer): CachedAnswer => ({
  answer: answer.answer,
  status: answer.status,
  usage: answer.usage,
  model_id: answer.model_id,
  response_id: answer.response_id,
});

const fromCache = (alias: string, cached: CachedAnswer, latency_ms: number): ModelAnswer => ({
  answer: cached.answer,
  model: alias,
  model_id: cached.model_id,
  usage: cached.usage,
  latency_ms,
  response_id: cached.response_id,
  status: cached.status,
  cache_hit: true,
});

/** One answer from the model behind `modelName`, with one log line per upstream call. */
export async function answerInquiry(deps: AnswerDeps, modelName: string, params: AnswerParams, ctx: AnswerContext): Promise<ModelAnswer> {
  const entry = pinnedEntry(deps.registry.resolve(modelName), ctx.modelId);
  if (entry.kind === 'retrieval') {
    const answer = answerFromKnowledgeBase(deps.knowledgeBase, entry, params.inquiry, deps.config.RETRIEVAL_MIN_CONFIDENCE);
    ctx.log.info({ alias: entry.alias, model_id: entry.model_id, latency_ms: answer.latency_ms, outcome: answer.status, match_line: answer.match?.line }, 'offline model answered');
    return answer;
  }
  const request = upstreamRequestOf(entry, params);
  const call = prepareOpenAICall(deps, entry, request, params, ctx.lane);
  const started = performance.now();
  // Interactive callers always get a fresh answer: the cache is for repeating an evaluation without paying twice.
  const cache = ctx.lane === 'batch' ? (deps.responseCache ?? null) : null;
  const cacheKey = cache
    ? responseCacheKey({ baseUrl: entry.upstream.base_url, modelId: entry.model_id, apiStyle: entry.upstream.api_style, body: request.body })
    : null;
  const cached = cache && cacheKey ? await cache.get(cacheKey) : null;
  if (cached) {
    const latency_ms = Math.round(performance.now() - started);
    ctx.log.info({ alias: entry.alias, model_id: entry.model_id, latency_ms, outcome: cached.status }, 'answer read from the response cache');
    return fromCache(entry.alias, cached, latency_ms);
  }
  // Objects here are written out field by field, not spread: on Node 20 a spread copy given more
  // keys leaves garbage that only a full collection frees, at a cost on every call.
  try {
    const { result, attempts } = await deps.clients.call(entry, call, ctx.signal);
    const latency_ms = Math.round(performance.now() - started);
    ctx.log.info(
      { alias: entry.alias, model_id: entry.model_id, api_style: entry.upstream.api_style, latency_ms, attempts, usage: result.usage, outcome: result.status },
      'upstream call',
    );
    const answer: ModelAnswer = {
      // A model can be made to quote the key it was called with; its answer is stored, scored and shown.
      answer: redactSecrets(result.answer),
      model: entry.alias,
      model_id: entry.model_id,
      usage: result.usage,
      latency_ms,
      response_id: result.response_id,
      status: result.status,
    };
    if (cache && cacheKey && isCacheable(answer)) await cache.put(cacheKey, toCached(answer));
    return answer;
  } catch (error) {
    const mapped = mapUpstreamError(error, entry.alias);
    const latency_ms = Math.round(performance.now() - started);
    ctx.log.warn(
      {
        alias: entry.alias,
        model_id: entry.model_id,
        api_style: entry.upstream.api_style,
        latency_ms,
        outcome: mapped.code,
        upstream_status: mapped.upstreamStatus,
        upstream_request_id: mapped.upstreamRequestId,
      },
      'upstream call failed',
    );
    throw mapped;
  }
}
