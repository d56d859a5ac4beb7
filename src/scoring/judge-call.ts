/**
 * One structured call to the LLM judge, shared by the pointwise and the pairwise judge: the request
 * in either wire style, the reply read defensively, every failure turned into one AppError, one log
 * line per call. A reply that is not a valid verdict is a failure, never a score.
 */
import { createHash } from 'node:crypto';
import type { OpenAI } from 'openai';
import { ContentFilterFinishReasonError, LengthFinishReasonError } from 'openai/core/error';
import { zodResponseFormat, zodTextFormat } from 'openai/helpers/zod';
import type { AutoParseableResponseFormat, AutoParseableTextFormat } from 'openai/lib/parser';
import type { ParsedChatCompletion } from 'openai/resources/chat/completions';
import type { ParsedResponse } from 'openai/resources/responses/responses';
import { z } from 'zod';
import { AppError, mapUpstreamError } from '../errors.js';
import { fromChatResult, fromResponsesResult, responseOutputText, type Usage } from '../models/openai-wire.js';
import { JUDGE_ALIAS, pinnedEntry, type ModelRegistry, type OpenAIModelEntry } from '../models/registry.js';
import type { UpstreamClients } from '../models/upstream-clients.js';
import type { ScoreContext } from './score-answer.js';

export interface JudgeDeps {
  registry: ModelRegistry;
  clients: UpstreamClients;
}

export interface JudgeMessage {
  role: 'system' | 'user';
  content: string;
}

/** A verdict's zod schema with the two wire forms the SDK sends and parses (the same strict JSON schema in both). */
export interface VerdictFormat<T> {
  name: string;
  schema: z.ZodType<T>;
  text: AutoParseableTextFormat<T>;
  response: AutoParseableResponseFormat<T>;
}

export function verdictFormat<T>(schema: z.ZodType<T>, name: string): VerdictFormat<T> {
  return { name, schema, text: zodTextFormat(schema, name), response: zodResponseFormat(schema, name) };
}

/**
 * SHA-256 (hex) of what decides a judge's verdict: its system prompt, which holds the rubric, and the
 * verdict format as sent upstream. Recorded with every score so that two numbers are only compared
 * when they came from the same prompt.
 */
export function promptSha256(systemPrompt: string, formatName: string, formatSchema: Record<string, unknown>): string {
  const material = JSON.stringify({ system_prompt: systemPrompt, format_name: formatName, format_schema: formatSchema });
  return createHash('sha256').update(material).digest('hex');
}

export const MAX_JUDGE_SAMPLES = 5;
/** How many times the judge is asked about one answer (or, pairwise, about each order of one pair). */
export const JudgeSamplesSchema = z
  .int()
  .min(1)
  .max(MAX_JUDGE_SAMPLES)
  .describe(`How many times the judge is asked (1 to ${MAX_JUDGE_SAMPLES}); scores are the mean of the samples, preferences their majority.`);

/** The validated sample count; the routes validate first, so a bad value here is a caller's request that slipped through. */
export function judgeSamples(samples: number | undefined): number {
  const parsed = JudgeSamplesSchema.safeParse(samples ?? 1);
  if (!parsed.success) {
    throw new AppError(400, 'validation_error', `Invalid request: judge_samples must be an integer from 1 to ${MAX_JUDGE_SAMPLES} (got ${String(samples)}).`);
  }
  return parsed.data;
}

/**
 * The temperature of repeated samples when the judge alias is set to 0 (its default). At temperature
 * 0 a second sample repeats the first and measures nothing; 0.7 lets the judge's real uncertainty
 * between two levels show, while staying well below the range where verdicts turn erratic.
 */
export const JUDGE_SAMPLE_TEMPERATURE = 0.7;

export interface Sampling {
  /** null: not sent (reasoning models reject any temperature but their default). */
  temperature: number | null;
  /** null: not sent; only the chat style has a seed. */
  seed: number | null;
}

/**
 * One sample asks with the alias's settings. Several samples use the alias's temperature when it is
 * above 0, else JUDGE_SAMPLE_TEMPERATURE, and none when the alias sends none. The seed moves by the
 * sample's index: one seed for every sample would repeat the same sample, while seed + index keeps
 * a run as reproducible as the upstream's best-effort seed allows.
 */
export function samplingFor(entry: OpenAIModelEntry, samples: number, index: number): Sampling {
  const { temperature, seed } = entry.defaults;
  if (samples === 1) return { temperature, seed };
  return {
    temperature: temperature === null ? null : temperature > 0 ? temperature : JUDGE_SAMPLE_TEMPERATURE,
    seed: seed === null ? null : seed + index,
  };
}

/** The judge: the `judge` alias, or another alias a run names as its judge. */
export function judgeEntry(registry: ModelRegistry, alias: string = JUDGE_ALIAS, modelId?: string | null): OpenAIModelEntry {
  const entry = pinnedEntry(registry.resolve(alias), modelId);
  if (entry.kind !== 'openai') {
    throw new AppError(503, 'judge_unavailable', `The '${alias}' alias must be an OpenAI or OpenAI-compatible model to score answers; it is '${entry.model_id}'.`);
  }
  return entry;
}

const MAX_RATIONALE_CHARS = 500;

export function cleanRationale(text: string): string {
  const trimmed = text.trim();
  return trimmed.length > MAX_RATIONALE_CHARS ? `${trimmed.slice(0, MAX_RATIONALE_CHARS - 1).trimEnd()}…` : trimmed;
}

type JudgeOutcome = { kind: 'verdict'; value: unknown } | { kind: 'refused'; refusal: string } | { kind: 'unparsable'; problem: string };

interface JudgeReply {
  usage: Usage;
  outcome: JudgeOutcome;
}

const unparsable = (problem: string, cause?: unknown) => new AppError(502, 'judge_unparsable', problem, { cause });

function truncationProblem(entry: OpenAIModelEntry): string {
  return `The judge's reply was cut by the token limit (${entry.defaults.max_output_tokens} output tokens) before the verdict was complete.`;
}

const FILTERED_PROBLEM = "The judge's reply was stopped by the upstream's content filter.";
const EMPTY_PROBLEM = 'The judge returned no verdict (empty output).';

function fromJudgeResponse(response: ParsedResponse<unknown>, entry: OpenAIModelEntry): JudgeReply {
  const { usage, status } = fromResponsesResult(response);
  const refusal = response.output
    .flatMap((item) => (item.type === 'message' ? item.content : []))
    .find((part) => part.type === 'refusal');
  if (refusal) return { usage, outcome: { kind: 'refused', refusal: refusal.refusal } };
  if (status === 'truncated') return { usage, outcome: { kind: 'unparsable', problem: truncationProblem(entry) } };
  if (status === 'content_filtered') return { usage, outcome: { kind: 'unparsable', problem: FILTERED_PROBLEM } };
  if (response.output_parsed === null) return { usage, outcome: { kind: 'unparsable', problem: EMPTY_PROBLEM } };
  return { usage, outcome: { kind: 'verdict', value: response.output_parsed } };
}

function fromJudgeCompletion(completion: ParsedChatCompletion<unknown>): JudgeReply {
  const { usage } = fromChatResult(completion);
  const message = completion.choices[0]?.message;
  if (message?.refusal) return { usage, outcome: { kind: 'refused', refusal: message.refusal } };
  if (!message?.parsed) return { usage, outcome: { kind: 'unparsable', problem: EMPTY_PROBLEM } };
  return { usage, outcome: { kind: 'verdict', value: message.parsed } };
}

export interface JudgeRequest<T> {
  messages: JudgeMessage[];
  format: VerdictFormat<T>;
  sampling: Sampling;
  /** Added to the call's log line (kind, sample, order). */
  log: Record<string, unknown>;
}

/** The judge's Chat Completions request: what askJudge sends, and what a batch run's judge line carries. */
export function judgeChatBody<T>(entry: OpenAIModelEntry, request: Pick<JudgeRequest<T>, 'messages' | 'format' | 'sampling'>) {
  const { max_output_tokens } = entry.defaults;
  const { temperature, seed } = request.sampling;
  return {
    model: entry.model_id,
    messages: request.messages,
    ...(entry.upstream.max_tokens_param === 'max_tokens' ? { max_tokens: max_output_tokens } : { max_completion_tokens: max_output_tokens }),
    ...(temperature === null ? {} : { temperature }),
    ...(seed === null ? {} : { seed }),
    response_format: request.format.response,
  };
}

/** The judge's Responses request: what askJudge sends, and what a batch run's judge line carries. */
export function judgeResponsesBody<T>(entry: OpenAIModelEntry, request: Pick<JudgeRequest<T>, 'messages' | 'format' | 'sampling'>) {
  const { temperature } = request.sampling;
  return {
    model: entry.model_id,
    input: request.messages,
    max_output_tokens: entry.defaults.max_output_tokens,
    // Answers under review are customer conversations; they are not kept upstream for 30 days by default.
    store: false,
    ...(temperature === null ? {} : { temperature }),
    text: { format: request.format.text },
  };
}

async function askJudge<T>(client: OpenAI, entry: OpenAIModelEntry, request: JudgeRequest<T>, signal: AbortSignal | undefined): Promise<JudgeReply> {
  if (entry.upstream.api_style === 'chat') return fromJudgeCompletion(await client.chat.completions.parse(judgeChatBody(entry, request), { signal }));
  return fromJudgeResponse(await client.responses.parse(judgeResponsesBody(entry, request), { signal }), entry);
}

/**
 * A judge reply that came back as a body in a batch output file, read as the SDK's parse reads a synchronous
 * one (the verdict parsed from the text, a cut reply refused) and checked the same way: the verdict, or the
 * same AppError a synchronous call would have thrown.
 */
export function verdictFromBody<T>(entry: OpenAIModelEntry, body: unknown, format: VerdictFormat<T>): T {
  try {
    if (entry.upstream.api_style === 'chat') {
      const completion = body as ParsedChatCompletion<unknown>;
      const choice = completion.choices?.[0];
      if (choice?.finish_reason === 'length') throw new LengthFinishReasonError();
      if (choice?.finish_reason === 'content_filter') throw new ContentFilterFinishReasonError();
      if (choice?.message && !choice.message.refusal) choice.message.parsed = choice.message.content ? JSON.parse(choice.message.content) : null;
      return verdictOf(fromJudgeCompletion(completion).outcome, format.schema);
    }
    const response = body as ParsedResponse<unknown>;
    const text = responseOutputText(response);
    response.output_parsed = text && response.status !== 'incomplete' ? JSON.parse(text) : null;
    return verdictOf(fromJudgeResponse(response, entry).outcome, format.schema);
  } catch (error) {
    throw toJudgeError(error, entry);
  }
}

function verdictMismatch(error: z.ZodError): AppError {
  const issues = error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  return new AppError(502, 'judge_unparsable', `The judge's verdict does not match the verdict schema: ${issues.join('; ')}`, { cause: error });
}

/**
 * The verdict itself, validated again by our schema rather than trusting the SDK's parse; a mismatch
 * throws the ZodError that toJudgeError turns into judge_unparsable, as when the SDK finds it.
 */
function verdictOf<T>(outcome: JudgeOutcome, schema: z.ZodType<T>): T {
  if (outcome.kind === 'refused') throw new AppError(502, 'judge_refused', `The judge refused to score: ${outcome.refusal}`);
  if (outcome.kind === 'unparsable') throw unparsable(outcome.problem);
  return schema.parse(outcome.value);
}

/** The SDK parses inside the call, so a malformed verdict surfaces as a thrown error rather than as a reply. */
function toJudgeError(error: unknown, entry: OpenAIModelEntry): AppError {
  if (error instanceof LengthFinishReasonError) return unparsable(truncationProblem(entry), error);
  if (error instanceof ContentFilterFinishReasonError) return unparsable(FILTERED_PROBLEM, error);
  if (error instanceof SyntaxError) return unparsable(`The judge's reply is not valid JSON: ${error.message}`, error);
  if (error instanceof z.ZodError) return verdictMismatch(error);
  return mapUpstreamError(error, JUDGE_ALIAS);
}

/**
 * Asks the judge once, through the upstream's circuit breaker, and returns its validated verdict.
 * Every failure (upstream error, refusal, truncation, a reply that is not a verdict) throws an AppError.
 */
export async function callJudge<T>(deps: JudgeDeps, entry: OpenAIModelEntry, request: JudgeRequest<T>, ctx: ScoreContext): Promise<T> {
  const client = deps.clients.clientFor(entry, ctx.lane);
  const logFields = { alias: JUDGE_ALIAS, model_id: entry.model_id, api_style: entry.upstream.api_style, ...request.log };
  const started = performance.now();
  let usage: Usage | null = null;
  try {
    const reply = await deps.clients.call(entry, (signal) => askJudge(client, entry, request, signal), ctx.signal);
    usage = reply.usage;
    const verdict = verdictOf(reply.outcome, request.format.schema);
    ctx.log.info({ ...logFields, latency_ms: Math.round(performance.now() - started), usage, outcome: 'scored' }, 'judge call');
    return verdict;
  } catch (error) {
    const failure = toJudgeError(error, entry);
    ctx.log.warn(
      {
        ...logFields,
        latency_ms: Math.round(performance.now() - started),
        usage,
        outcome: failure.code,
        upstream_status: failure.upstreamStatus,
        upstream_request_id: failure.upstreamRequestId,
      },
      'judge call',
    );
    throw failure;
  }
}
