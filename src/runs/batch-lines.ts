/**
 * Pure translations between a batch run and the Batch API's JSONL: the request lines of an input file (the
 * same request bodies as a synchronous call, from openai-wire.ts and the judges), the custom_id that names a
 * line's item and model and comes back on the output line, the output and error lines read back, and the split
 * of a file into parts.
 */
import { z } from 'zod';
import { readChatReply, readResponsesReply, toChatRequest, toResponsesRequest, type WireResult } from '../models/openai-wire.js';
import type { OpenAIModelEntry } from '../models/registry.js';
import { judgeChatBody, judgeResponsesBody, samplingFor, type JudgeRequest } from '../scoring/judge-call.js';
import { PAIRWISE_ORDERS, pairwiseRequests, type PairwiseInput, type PairwiseOrder } from '../scoring/pairwise-judge.js';
import { buildJudgeMessages, JUDGE_VERDICT_FORMAT } from '../scoring/judge-prompt.js';

/**
 * The Batch API's limits on one input file: at most 50,000 requests and 200 MB
 * (https://platform.openai.com/docs/guides/batch, and /work/shared/reference/openai-wire.md). A larger
 * (phase, model) is split into several parts, each its own file and batch.
 */
export const BATCH_MAX_REQUESTS = 50_000;
export const BATCH_MAX_BYTES = 200 * 1024 * 1024;

export type BatchEndpoint = '/v1/responses' | '/v1/chat/completions';

export const endpointOf = (entry: OpenAIModelEntry): BatchEndpoint => (entry.upstream.api_style === 'chat' ? '/v1/chat/completions' : '/v1/responses');

/**
 * custom_id of an answer line: `a:` then the item id and the alias, each URI-encoded so that the separator
 * cannot occur inside them. Unique within a file (one line per item and model) and read back exactly.
 */
export const answerCustomId = (itemId: string, alias: string) => `a:${encodeURIComponent(itemId)}:${encodeURIComponent(alias)}`;

export function parseAnswerCustomId(customId: string): { item_id: string; alias: string } | undefined {
  const parts = customId.split(':');
  if (parts.length !== 3 || parts[0] !== 'a') return undefined;
  try {
    return { item_id: decodeURIComponent(parts[1] as string), alias: decodeURIComponent(parts[2] as string) };
  } catch {
    return undefined;
  }
}

/** One request line of an input file, as a JSON text without its newline. */
export function answerLine(entry: OpenAIModelEntry, item: { item_id: string; inquiry: string }): string {
  const body = entry.upstream.api_style === 'chat' ? toChatRequest(entry, { inquiry: item.inquiry }) : toResponsesRequest(entry, { inquiry: item.inquiry });
  return JSON.stringify({ custom_id: answerCustomId(item.item_id, entry.alias), method: 'POST', url: endpointOf(entry), body });
}

/** Where one part starts among the (phase, model)'s units, how many units it holds, and their request lines. */
export interface PartRange {
  first: number;
  count: number;
  lines: number;
}

/**
 * Cuts `units` (the request lines of one item: its answer, or its judge samples) into consecutive parts of at
 * most `maxRequests` lines and `maxBytes` bytes (each line with its newline); an item is never cut across two
 * parts. The same units always give the same parts: a resumed run rebuilds a part's file byte for byte.
 */
export function splitIntoParts(units: readonly (readonly string[])[], limits: { maxRequests: number; maxBytes: number }): PartRange[] {
  const parts: PartRange[] = [];
  let current: PartRange | null = null;
  let bytes = 0;
  units.forEach((unit, index) => {
    const size = unit.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0);
    if (size > limits.maxBytes || unit.length > limits.maxRequests) throw new Error(`An item's ${unit.length} batch requests (${size} bytes) do not fit in one input file.`);
    if (!current || current.lines + unit.length > limits.maxRequests || bytes + size > limits.maxBytes) {
      current = { first: index, count: 0, lines: 0 };
      parts.push(current);
      bytes = 0;
    }
    current.count += 1;
    current.lines += unit.length;
    bytes += size;
  });
  return parts;
}

export const jsonlOf = (lines: readonly string[]) => (lines.length === 0 ? '' : `${lines.join('\n')}\n`);

const OutputLineSchema = z.looseObject({
  custom_id: z.string(),
  response: z.looseObject({ status_code: z.int(), body: z.unknown() }).nullish(),
  error: z.looseObject({ code: z.string().nullish(), message: z.string().nullish() }).nullish(),
});

/** What one line of an output or error file says of its request. */
export type LineOutcome = { custom_id: string } & ({ ok: true; body: unknown } | { ok: false; code: string; message: string });

/** The error of a request that failed in the batch, from its response body or the line's error. */
function failureOf(line: z.infer<typeof OutputLineSchema>): { code: string; message: string } {
  const body = line.response?.body as { error?: { code?: unknown; message?: unknown } } | undefined;
  const code = line.error?.code ?? (typeof body?.error?.code === 'string' ? body.error.code : undefined);
  const message = line.error?.message ?? (typeof body?.error?.message === 'string' ? body.error.message : undefined);
  const status = line.response?.status_code;
  return {
    code: code ?? (status === undefined ? 'batch_request_failed' : `upstream_status_${status}`),
    message: message ?? `The batch request failed${status === undefined ? '' : ` with status ${status}`}.`,
  };
}

/** One line of an output or error file; undefined for a line that is not a batch output line (its request then counts as missing). */
export function readOutputLine(row: string): LineOutcome | undefined {
  if (row.trim() === '') return undefined;
  let parsed;
  try {
    parsed = OutputLineSchema.safeParse(JSON.parse(row));
  } catch {
    return undefined;
  }
  if (!parsed.success) return undefined;
  const line = parsed.data;
  const status = line.response?.status_code;
  if (!line.error && status !== undefined && status >= 200 && status < 300) return { custom_id: line.custom_id, ok: true, body: line.response?.body };
  return { custom_id: line.custom_id, ok: false, ...failureOf(line) };
}

/** The answer in a successful line's body, read as a synchronous reply of the entry's style is. */
export function readAnswerBody(entry: OpenAIModelEntry, body: unknown): { ok: true; result: WireResult } | { ok: false; code: string; message: string } {
  const reading = entry.upstream.api_style === 'chat' ? readChatReply(body) : readResponsesReply(body);
  if (reading.ok) return reading;
  return { ok: false, code: 'upstream_invalid_reply', message: `The reply of '${entry.alias}' in the batch output does not have the expected shape: ${reading.problem}` };
}

/** custom_id of a judge line: `j:`, the item id and the alias whose answer is judged, and the sample (0-based). */
export const judgeCustomId = (itemId: string, alias: string, sample: number) => `j:${encodeURIComponent(itemId)}:${encodeURIComponent(alias)}:${sample}`;

/** The judge's request lines for one answer, one per sample, with the same messages and sampling as a synchronous judge call. */
export function judgeLines(judge: OpenAIModelEntry, item: { item_id: string; inquiry: string; reference: string | null }, alias: string, answer: string, samples: number): string[] {
  const reference = item.reference !== null && item.reference.trim() !== '' ? item.reference : null;
  const messages = buildJudgeMessages({ inquiry: item.inquiry, answer, reference });
  return Array.from({ length: samples }, (_, index) =>
    judgeRequestLine(judge, judgeCustomId(item.item_id, alias, index), { messages, format: JUDGE_VERDICT_FORMAT, sampling: samplingFor(judge, samples, index) }),
  );
}

/** One request line to the judge, with the body a synchronous judge call of the same request sends. */
function judgeRequestLine<T>(judge: OpenAIModelEntry, customId: string, request: Pick<JudgeRequest<T>, 'messages' | 'format' | 'sampling'>): string {
  const body = judge.upstream.api_style === 'chat' ? judgeChatBody(judge, request) : judgeResponsesBody(judge, request);
  return JSON.stringify({ custom_id: customId, method: 'POST', url: endpointOf(judge), body });
}

/**
 * custom_id of a pairwise verdict line: `v:`, the item id, the alias compared with the first model, the order
 * and the sample (0-based). Unique within a file: one line per item, order and sample of one other model.
 */
export const verdictCustomId = (itemId: string, alias: string, order: PairwiseOrder, sample: number) => `v:${encodeURIComponent(itemId)}:${encodeURIComponent(alias)}:${order}:${sample}`;

export function parseVerdictCustomId(customId: string): { item_id: string; alias: string; order: PairwiseOrder; sample: number } | undefined {
  const [kind, itemId, alias, order, sample, ...rest] = customId.split(':');
  if (kind !== 'v' || rest.length > 0 || !PAIRWISE_ORDERS.includes(order as PairwiseOrder) || !/^\d+$/.test(sample ?? '')) return undefined;
  try {
    return { item_id: decodeURIComponent(itemId as string), alias: decodeURIComponent(alias as string), order: order as PairwiseOrder, sample: Number(sample) };
  } catch {
    return undefined;
  }
}

/** The judge's request lines for one pair: both orders, each `samples` times, as a synchronous pairwise verdict asks them. */
export function verdictLines(judge: OpenAIModelEntry, item: { item_id: string; inquiry: string; reference: string | null }, pair: Pick<PairwiseInput, 'first' | 'second'>, samples: number): string[] {
  return pairwiseRequests(judge, { inquiry: item.inquiry, reference: item.reference, ...pair }, samples).map(({ order, sample, request }) =>
    judgeRequestLine(judge, verdictCustomId(item.item_id, pair.second.alias, order, sample), request),
  );
}
