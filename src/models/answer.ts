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
  type WireReading,
  type WireResult,
} from './openai-wire.js';
import type { UpstreamReply } from './upstream-http.js';
import type { KnowledgeBase } from '../knowledge/knowledge-base.js';
import type { ModelRegistry, OpenAIModelEntry } from './registry.js';
import { answerFromKnowledgeBase } from './retrieval-model.js';
import type { TrafficLane, UpstreamClients } from './upstream-clients.js';
import { redactSecrets } from '../secrets.js';

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
}

export interface AnswerContext {
  log: FastifyBaseLogger;
  signal?: AbortSignal;
  /** Evaluation runs send their calls on the batch lane, so that interactive callers never queue behind them. */
  lane?: TrafficLane;
}

export interface AnswerDeps {
  registry: ModelRegistry;
  clients: UpstreamClients;
  knowledgeBase: KnowledgeBase;
  config: { RETRIEVAL_MIN_CONFIDENCE: number };
}

/** Checks what can be refused before anything is sent, then returns the call to make. */
function prepareOpenAICall(deps: AnswerDeps, entry: OpenAIModelEntry, params: AnswerParams, lane: TrafficLane | undefined) {
  if (entry.upstream.api_style === 'chat' && params.prompt) {
    throw new AppError(400, 'prompt_not_supported', `Model '${entry.alias}' uses the chat wire style; stored prompts need the responses style.`);
  }
  const http = deps.clients.httpFor(entry, lane);
  const resultOf = (reply: UpstreamReply<unknown>, reading: WireReading) => {
    if (!reading.ok) throw upstreamInvalidReply(entry.alias, reading.problem, { issues: reading.issues, upstreamRequestId: reply.requestId });
    return { result: reading.result, attempts: reply.attempts };
  };
  return async (signal?: AbortSignal): Promise<{ result: WireResult; attempts: number }> => {
    if (entry.upstream.api_style === 'chat') {
      const reply = await http.postJson<unknown>('/chat/completions', toChatRequest(entry, params), signal);
      return resultOf(reply, readChatReply(reply.body));
    }
    const reply = await http.postJson<unknown>('/responses', toResponsesRequest(entry, params), signal);
    return resultOf(reply, readResponsesReply(reply.body));
  };
}

/** One answer from the model behind `modelName`, with one log line per upstream call. */
export async function answerInquiry(deps: AnswerDeps, modelName: string, params: AnswerParams, ctx: AnswerContext): Promise<ModelAnswer> {
  const entry = deps.registry.resolve(modelName);
  if (entry.kind === 'retrieval') {
    const answer = answerFromKnowledgeBase(deps.knowledgeBase, entry, params.inquiry, deps.config.RETRIEVAL_MIN_CONFIDENCE);
    ctx.log.info({ alias: entry.alias, model_id: entry.model_id, latency_ms: answer.latency_ms, outcome: answer.status, match_line: answer.match?.line }, 'offline model answered');
    return answer;
  }
  const call = prepareOpenAICall(deps, entry, params, ctx.lane);
  const started = performance.now();
  // Objects here are written out field by field, not spread: on Node 20 a spread copy given more
  // keys leaves garbage that only a full collection frees, at a cost on every call.
  try {
    const { result, attempts } = await deps.clients.call(entry, call, ctx.signal);
    const latency_ms = Math.round(performance.now() - started);
    ctx.log.info(
      { alias: entry.alias, model_id: entry.model_id, api_style: entry.upstream.api_style, latency_ms, attempts, usage: result.usage, outcome: result.status },
      'upstream call',
    );
    return {
      // A model can be made to quote the key it was called with; its answer is stored, scored and shown.
      answer: redactSecrets(result.answer),
      model: entry.alias,
      model_id: entry.model_id,
      usage: result.usage,
      latency_ms,
      response_id: result.response_id,
      status: result.status,
    };
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
