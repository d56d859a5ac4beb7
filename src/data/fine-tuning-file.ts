import type { FineTuningFileReport, LineList } from './data-check-types.js';
import { canonicalJson, checkExampleLine, FORMAT_ERROR_KINDS, type FormatErrorKind } from './format-checks.js';
import { extractInquiry } from './normalize-inquiry.js';
import { findDuplicateExamples, findNearDuplicateInquiries, MAX_LISTED, type TrainingItem } from './overlap.js';
import {
  assistantTokensForExample,
  billedTokensForExample,
  estimateCostUsd,
  summarizeTokenCounts,
  type ChatMessage,
} from './token-accounting.js';

export interface DataCheckOptions {
  epochs: number;
  /** USD per 1M training tokens. */
  pricePerMillionTokens: number;
  /** Tokens per example; the API truncates longer examples. */
  contextLimit: number;
}

/** gpt-4.1-mini fine-tuning: $5.00 per 1M training tokens, 64K-token examples; 3 epochs is what the API picks for a few hundred examples. */
export const DEFAULT_DATA_CHECK_OPTIONS: DataCheckOptions = { epochs: 3, pricePerMillionTokens: 5, contextLimit: 65_536 };

/** A well-formed example: its messages, a key equal for equal examples, and what the overlap checks compare. */
export interface ValidExample extends TrainingItem {
  messages: ChatMessage[];
  key: string;
}

/** The first user turn is the customer's question; later user turns are follow-ups. */
function inquiryOf(messages: readonly ChatMessage[]): string {
  const user = messages.find((message) => message.role === 'user');
  return typeof user?.content === 'string' ? extractInquiry(user.content) : '';
}

/** What the model is taught to reply; null for an example whose assistant turns only call tools. */
function answerOf(messages: readonly ChatMessage[]): string | null {
  const texts = messages
    .filter((message) => message.role === 'assistant' && typeof message.content === 'string' && message.content !== '')
    .map((message) => message.content as string);
  return texts.length === 0 ? null : texts.join('\n');
}

function resolveOptions(options: Partial<DataCheckOptions>): DataCheckOptions {
  return {
    epochs: options.epochs ?? DEFAULT_DATA_CHECK_OPTIONS.epochs,
    pricePerMillionTokens: options.pricePerMillionTokens ?? DEFAULT_DATA_CHECK_OPTIONS.pricePerMillionTokens,
    contextLimit: options.contextLimit ?? DEFAULT_DATA_CHECK_OPTIONS.contextLimit,
  };
}

function addLine(list: LineList, line: number): void {
  list.count += 1;
  if (list.lines.length < MAX_LISTED) list.lines.push(line);
}

const capped = <T>(items: readonly T[]) => ({ count: items.length, items: items.slice(0, MAX_LISTED) });

function readExamples(name: string, content: string) {
  const errorsByKind = new Map<FormatErrorKind, LineList>();
  const valid: ValidExample[] = [];
  let examples = 0;
  content
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .forEach((text, index) => {
      if (text.trim() === '') return;
      examples += 1;
      const line = index + 1;
      const { errors, messages } = checkExampleLine(text);
      for (const kind of errors) {
        const list = errorsByKind.get(kind) ?? { count: 0, lines: [] };
        addLine(list, line);
        errorsByKind.set(kind, list);
      }
      if (errors.size > 0) return;
      valid.push({ file: name, line, item: null, id: null, messages, key: canonicalJson(messages), inquiry: inquiryOf(messages), answer: answerOf(messages) });
    });
  const formatErrors: Partial<Record<FormatErrorKind, LineList>> = {};
  for (const kind of FORMAT_ERROR_KINDS) {
    const list = errorsByKind.get(kind);
    if (list) formatErrors[kind] = list;
  }
  return { examples, valid, formatErrors };
}

/** Checks one JSONL file in the chat fine-tuning format. Invalid examples are left out of every figure but the error counts. */
export function analyzeFineTuningFile(name: string, content: string, options: Partial<DataCheckOptions> = {}) {
  const { epochs, pricePerMillionTokens, contextLimit } = resolveOptions(options);
  const { examples, valid, formatErrors } = readExamples(name, content);

  const billed = valid.map((example) => billedTokensForExample(example.messages));
  const assistantTotal = valid.reduce((sum, example) => sum + assistantTokensForExample(example.messages), 0);
  const billedPerEpoch = billed.reduce((sum, count) => sum + count, 0);
  const missingSystem: LineList = { count: 0, lines: [] };
  const overContext: LineList = { count: 0, lines: [] };
  valid.forEach((example, index) => {
    if (!example.messages.some((message) => message.role === 'system')) addLine(missingSystem, example.line);
    if ((billed[index] ?? 0) > contextLimit) addLine(overContext, example.line);
  });
  const duplicates = capped(findDuplicateExamples(valid));
  const nearDuplicates = capped(findNearDuplicateInquiries(valid));

  const report: FineTuningFileReport = {
    name,
    kind: 'fine_tuning',
    role: null,
    examples,
    valid_examples: valid.length,
    format_errors: formatErrors,
    warnings: {
      missing_system_message: missingSystem,
      duplicate_example: { count: duplicates.count, pairs: duplicates.items },
      near_duplicate_inquiry: { count: nearDuplicates.count, pairs: nearDuplicates.items },
      over_context_limit: overContext,
    },
    tokens: summarizeTokenCounts(billed),
    assistant_tokens: { total: assistantTotal, mean: valid.length === 0 ? 0 : assistantTotal / valid.length },
    billed_tokens_per_epoch: billedPerEpoch,
    epochs,
    estimated_billed_tokens: billedPerEpoch * epochs,
    price_per_million_tokens: pricePerMillionTokens,
    estimated_cost_usd: estimateCostUsd(billedPerEpoch * epochs, pricePerMillionTokens),
    training_overlap: null,
  };
  return { report, valid };
}
