/**
 * Pure translations between our answer request and the two OpenAI wire formats.
 * Each parameter is sent only where the official API reference defines it: the real API
 * answers 400 `unknown_parameter` otherwise (e.g. `seed` exists in Chat Completions only).
 */
import type { ChatCompletion, ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import type { Response, ResponseCreateParamsNonStreaming } from 'openai/resources/responses/responses';
import { z } from 'zod';
import type { OpenAIModelEntry } from './registry.js';

export interface StoredPrompt {
  id: string;
  version?: string;
  variables?: Record<string, string>;
}

export interface AnswerParams {
  inquiry: string;
  temperature?: number;
  max_output_tokens?: number;
  seed?: number;
  prompt?: StoredPrompt;
}

/** completed: a whole answer; truncated: cut by the token limit; content_filtered: cut by the upstream's filter. */
export type AnswerStatus = 'completed' | 'truncated' | 'content_filtered' | 'no_match';

export interface Usage {
  input_tokens: number | null;
  output_tokens: number | null;
  total_tokens: number | null;
}

export interface WireResult {
  answer: string;
  response_id: string | null;
  status: AnswerStatus;
  usage: Usage;
}

/** The user turn exactly as in the training data. */
export const userTurn = (inquiry: string) => `Inquiry: "${inquiry}"`;

/** Request values after applying the alias defaults; null means "do not send". */
export function effectiveParams(entry: OpenAIModelEntry, params: AnswerParams) {
  return {
    temperature: params.temperature ?? entry.defaults.temperature,
    max_output_tokens: params.max_output_tokens ?? entry.defaults.max_output_tokens,
    seed: params.seed ?? entry.defaults.seed,
  };
}

export function toResponsesRequest(entry: OpenAIModelEntry, params: AnswerParams): ResponseCreateParamsNonStreaming {
  const { temperature, max_output_tokens } = effectiveParams(entry, params);
  const request: ResponseCreateParamsNonStreaming = {
    model: entry.model_id,
    // A stored prompt carries its own instructions; sending ours too would give the model two system prompts.
    input: params.prompt
      ? [{ role: 'user', content: userTurn(params.inquiry) }]
      : [
          { role: 'system', content: entry.system_prompt },
          { role: 'user', content: userTurn(params.inquiry) },
        ],
    max_output_tokens,
    // Customer inquiries are not kept upstream for 30 days by default.
    store: false,
  };
  if (temperature !== null) request.temperature = temperature;
  if (params.prompt) request.prompt = params.prompt;
  return request;
}

export function toChatRequest(entry: OpenAIModelEntry, params: AnswerParams): ChatCompletionCreateParamsNonStreaming {
  const { temperature, max_output_tokens, seed } = effectiveParams(entry, params);
  const request: ChatCompletionCreateParamsNonStreaming = {
    model: entry.model_id,
    messages: [
      { role: 'system', content: entry.system_prompt },
      { role: 'user', content: userTurn(params.inquiry) },
    ],
  };
  request[entry.upstream.max_tokens_param] = max_output_tokens;
  if (temperature !== null) request.temperature = temperature;
  if (seed !== null) request.seed = seed;
  return request;
}

/** A Responses reply as it arrives on the wire: `output_text` is a convenience the SDK adds, not part of it. */
export type ResponsesWireReply = Omit<Response, 'output_text'>;

/** The answer text of a Responses reply: every output_text part of every message, in order (what the SDK puts in `output_text`). */
export function responseOutputText(response: Pick<ResponsesWireReply, 'output'>): string {
  const texts: string[] = [];
  for (const item of response.output ?? []) {
    if (item.type !== 'message') continue;
    for (const part of item.content) if (part.type === 'output_text') texts.push(part.text);
  }
  return texts.join('');
}

export function fromResponsesResult(response: ResponsesWireReply): WireResult {
  let status: AnswerStatus = 'completed';
  if (response.status === 'incomplete') {
    status = response.incomplete_details?.reason === 'content_filter' ? 'content_filtered' : 'truncated';
  }
  return {
    answer: responseOutputText(response).trim(),
    response_id: response.id ?? null,
    status,
    usage: {
      input_tokens: response.usage?.input_tokens ?? null,
      output_tokens: response.usage?.output_tokens ?? null,
      total_tokens: response.usage?.total_tokens ?? null,
    },
  };
}

export function fromChatFinishReason(reason: string | null | undefined): AnswerStatus {
  if (reason === 'length') return 'truncated';
  if (reason === 'content_filter') return 'content_filtered';
  return 'completed';
}

export function fromChatResult(completion: ChatCompletion): WireResult {
  const choice = completion.choices?.[0];
  return {
    answer: (choice?.message?.content ?? '').trim(),
    response_id: completion.id ?? null,
    status: fromChatFinishReason(choice?.finish_reason),
    usage: {
      input_tokens: completion.usage?.prompt_tokens ?? null,
      output_tokens: completion.usage?.completion_tokens ?? null,
      total_tokens: completion.usage?.total_tokens ?? null,
    },
  };
}

/*
 * The replies' shapes, checked at the boundary before anything is read from them. Only what we read
 * is checked, and strictly (a token count is an integer >= 0, or absent or null); everything else the
 * API sends, today or later (other fields, other output item and content types), passes untouched.
 */
const TokenCount = z.int().min(0).nullish();

/** `schema` applies to objects whose `type` is `type`; objects of any other type need only say what type they are. */
function checkedWhenType(type: string, schema: z.ZodType) {
  return z.looseObject({ type: z.string() }).superRefine((value, ctx) => {
    if (value.type !== type) return;
    const parsed = schema.safeParse(value);
    if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  });
}

const ResponsesReplySchema = z.looseObject({
  id: z.string().nullish(),
  status: z.string().nullish(),
  incomplete_details: z.looseObject({ reason: z.string().nullish() }).nullish(),
  output: z.array(
    checkedWhenType(
      'message',
      z.looseObject({ content: z.array(checkedWhenType('output_text', z.looseObject({ text: z.string() }))) }),
    ),
  ),
  usage: z.looseObject({ input_tokens: TokenCount, output_tokens: TokenCount, total_tokens: TokenCount }).nullish(),
});

const ChatReplySchema = z.looseObject({
  id: z.string().nullish(),
  choices: z
    .array(z.looseObject({ message: z.looseObject({ content: z.string().nullish() }), finish_reason: z.string().nullish() }))
    .min(1),
  usage: z.looseObject({ prompt_tokens: TokenCount, completion_tokens: TokenCount, total_tokens: TokenCount }).nullish(),
});

export interface ReplyIssue {
  path: string;
  message: string;
}

export type WireReading = { ok: true; result: WireResult } | { ok: false; problem: string; issues: ReplyIssue[] };

const MAX_ISSUES_IN_PROBLEM = 3;

/** Issues name the field and what was expected, never the value received: an upstream could echo anything. */
function offShape(error: z.ZodError): WireReading {
  const issues = error.issues.map((issue) => ({ path: issue.path.join('.') || '(root)', message: issue.message }));
  const shown = issues.slice(0, MAX_ISSUES_IN_PROBLEM).map((issue) => `${issue.path}: ${issue.message}`);
  if (issues.length > MAX_ISSUES_IN_PROBLEM) shown.push(`and ${issues.length - MAX_ISSUES_IN_PROBLEM} more`);
  return { ok: false, problem: shown.join('; '), issues };
}

/** A Responses reply as received (parsed JSON), checked, then read. */
export function readResponsesReply(body: unknown): WireReading {
  const parsed = ResponsesReplySchema.safeParse(body);
  // The checked fields are exactly those fromResponsesResult reads.
  return parsed.success ? { ok: true, result: fromResponsesResult(parsed.data as unknown as ResponsesWireReply) } : offShape(parsed.error);
}

/** A Chat Completions reply as received (parsed JSON), checked, then read. */
export function readChatReply(body: unknown): WireReading {
  const parsed = ChatReplySchema.safeParse(body);
  return parsed.success ? { ok: true, result: fromChatResult(parsed.data as unknown as ChatCompletion) } : offShape(parsed.error);
}
