import { basename } from 'node:path';
import { extractInquiry, normalizeInquiry } from './normalize-inquiry.js';
import {
  assistantTokensForExample,
  billedTokensForExample,
  estimateCostUsd,
  summarizeTokenCounts,
  type ChatMessage,
  type TokenStats,
} from './token-accounting.js';

/** Named as in OpenAI's fine-tuning data checks, so a report reads the same as their cookbook's. */
export const FORMAT_ERROR_KINDS = [
  'invalid_json',
  'data_type',
  'missing_messages_list',
  'unknown_top_level_key',
  'message_missing_key',
  'message_unrecognized_key',
  'unrecognized_role',
  'missing_content',
  'non_string_content',
  'empty_content',
  'example_missing_assistant_message',
] as const;
export type FormatErrorKind = (typeof FORMAT_ERROR_KINDS)[number];

export interface DataCheckOptions {
  epochs: number;
  /** USD per 1M training tokens. */
  pricePerMillionTokens: number;
  /** Tokens per example; the API truncates longer examples. */
  contextLimit: number;
}

/** gpt-4.1-mini fine-tuning: $5.00 per 1M training tokens, 64K-token examples; 3 epochs is what the API picks for a few hundred examples. */
export const DEFAULT_DATA_CHECK_OPTIONS: DataCheckOptions = { epochs: 3, pricePerMillionTokens: 5, contextLimit: 65_536 };

export interface LineList {
  count: number;
  lines: number[];
}

export interface LinePairList {
  count: number;
  pairs: [number, number][];
}

export interface SimilarPair {
  lines: [number, number];
  /** Jaccard similarity of the inquiries' word sets; 1 when they are equal once normalised. */
  similarity: number;
}

export interface FileReport {
  name: string;
  examples: number;
  valid_examples: number;
  format_errors: Partial<Record<FormatErrorKind, LineList>>;
  warnings: {
    missing_system_message: LineList;
    duplicate_example: LinePairList;
    near_duplicate_inquiry: { count: number; pairs: SimilarPair[] };
    over_context_limit: LineList;
  };
  tokens: TokenStats | null;
  assistant_tokens: { total: number; mean: number };
  billed_tokens_per_epoch: number;
  epochs: number;
  estimated_billed_tokens: number;
  price_per_million_tokens: number;
  estimated_cost_usd: number;
}

export interface LeakedExample {
  validation_file: string;
  validation_line: number;
  training_line: number;
  inquiry: string;
}

export interface LeakageReport {
  training_file: string | null;
  validation_files: string[];
  count: number;
  examples: LeakedExample[];
}

export interface DataCheckReport {
  files: FileReport[];
  ok: boolean;
  leakage: LeakageReport;
}

const TOP_LEVEL_KEYS = new Set(['messages', 'tools', 'parallel_tool_calls', 'functions']);
const MESSAGE_KEYS = new Set(['role', 'content', 'name', 'weight', 'function_call', 'tool_calls', 'tool_call_id', 'refusal']);
const ROLES = new Set(['system', 'user', 'assistant', 'tool', 'function']);

/** Enough to find a problem; a systematic error in a large file would otherwise flood the report. */
const MAX_LISTED = 20;
const NEAR_DUPLICATE_JACCARD = 0.9;
// Guards the threshold arithmetic against float error (0.9 * 10 must not round up past 9).
const EPSILON = 1e-9;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function* messageErrors(message: unknown): Generator<FormatErrorKind> {
  if (!isRecord(message)) {
    yield 'message_missing_key';
    return;
  }
  // An assistant turn that only calls a tool legitimately has no text.
  const callsTool = message.tool_calls != null || message.function_call != null;
  if (!('role' in message) || (!('content' in message) && !callsTool)) yield 'message_missing_key';
  if (Object.keys(message).some((key) => !MESSAGE_KEYS.has(key))) yield 'message_unrecognized_key';
  if ('role' in message && (typeof message.role !== 'string' || !ROLES.has(message.role))) yield 'unrecognized_role';

  const { content } = message;
  if (content === undefined || (callsTool && (content === null || content === ''))) return;
  if (content === null) yield 'missing_content';
  else if (typeof content !== 'string') yield 'non_string_content';
  else if (content.trim() === '') yield 'empty_content';
}

function checkLine(text: string): { errors: Set<FormatErrorKind>; messages: ChatMessage[] } {
  const errors = new Set<FormatErrorKind>();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    errors.add('invalid_json');
    return { errors, messages: [] };
  }
  if (!isRecord(value)) {
    errors.add('data_type');
    return { errors, messages: [] };
  }
  if (Object.keys(value).some((key) => !TOP_LEVEL_KEYS.has(key))) errors.add('unknown_top_level_key');
  const { messages } = value;
  if (!Array.isArray(messages) || messages.length === 0) {
    errors.add('missing_messages_list');
    return { errors, messages: [] };
  }
  for (const message of messages) for (const error of messageErrors(message)) errors.add(error);
  if (!messages.some((message) => isRecord(message) && message.role === 'assistant')) {
    errors.add('example_missing_assistant_message');
  }
  return { errors, messages: errors.size === 0 ? (messages as ChatMessage[]) : [] };
}

function addLine(list: LineList, line: number): void {
  list.count += 1;
  if (list.lines.length < MAX_LISTED) list.lines.push(line);
}

/** Key order inside a message is not meaningful, so two examples differing only in it are duplicates. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isRecord(value)) {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The first user turn is the customer's question; later user turns are follow-ups. */
function inquiryOf(messages: readonly ChatMessage[]): string {
  const user = messages.find((message) => message.role === 'user');
  return typeof user?.content === 'string' ? normalizeInquiry(extractInquiry(user.content)) : '';
}

interface ValidExample {
  line: number;
  messages: ChatMessage[];
  key: string;
  inquiry: string;
}

function jaccard(a: readonly string[], b: readonly string[]): number {
  const inB = new Set(b);
  const shared = a.filter((token) => inB.has(token)).length;
  return shared / (a.length + b.length - shared);
}

/**
 * Equal normalised inquiries are grouped directly. Distinct ones are compared with a prefix-filtered
 * similarity join: with each word set ordered rarest word first, two sets reaching the Jaccard
 * threshold must share a word within their first |x| - ceil(t|x|) + 1 words, so only sets sharing
 * a rare word are ever compared. This finds every pair a full comparison would, in near-linear time.
 */
function findNearDuplicateInquiries(examples: readonly ValidExample[]): SimilarPair[] {
  const pairs: SimilarPair[] = [];
  const firstWith = new Map<string, ValidExample>();
  for (const example of examples) {
    if (example.inquiry === '') continue;
    const first = firstWith.get(example.inquiry);
    if (first === undefined) firstWith.set(example.inquiry, example);
    // Identical examples are already reported as duplicate_example.
    else if (first.key !== example.key) pairs.push({ lines: [first.line, example.line], similarity: 1 });
  }

  const records = [...firstWith.values()].map(({ line, inquiry }) => ({ line, words: [...new Set(inquiry.split(' '))] }));
  const frequency = new Map<string, number>();
  for (const { words } of records) for (const word of words) frequency.set(word, (frequency.get(word) ?? 0) + 1);
  const rarity = (word: string) => frequency.get(word) ?? 0;
  for (const { words } of records) words.sort((a, b) => rarity(a) - rarity(b) || (a < b ? -1 : a > b ? 1 : 0));
  records.sort((a, b) => a.words.length - b.words.length);

  const indexed = new Map<string, number[]>();
  records.forEach((record, position) => {
    const size = record.words.length;
    const prefix = record.words.slice(0, size - Math.ceil(NEAR_DUPLICATE_JACCARD * size - EPSILON) + 1);
    const candidates = new Set<number>();
    for (const word of prefix) for (const other of indexed.get(word) ?? []) candidates.add(other);
    for (const other of candidates) {
      const earlier = records[other];
      if (earlier === undefined) continue;
      const similarity = jaccard(earlier.words, record.words);
      if (similarity < NEAR_DUPLICATE_JACCARD - EPSILON) continue;
      const lines: [number, number] = earlier.line < record.line ? [earlier.line, record.line] : [record.line, earlier.line];
      pairs.push({ lines, similarity: Math.round(similarity * 1000) / 1000 });
    }
    for (const word of prefix) {
      const positions = indexed.get(word);
      if (positions) positions.push(position);
      else indexed.set(word, [position]);
    }
  });
  return pairs.sort((a, b) => a.lines[0] - b.lines[0] || a.lines[1] - b.lines[1]);
}

function findDuplicateExamples(examples: readonly ValidExample[]): [number, number][] {
  const firstLine = new Map<string, number>();
  const pairs: [number, number][] = [];
  for (const { key, line } of examples) {
    const first = firstLine.get(key);
    if (first === undefined) firstLine.set(key, line);
    else pairs.push([first, line]);
  }
  return pairs;
}

function resolveOptions(options: Partial<DataCheckOptions>): DataCheckOptions {
  return {
    epochs: options.epochs ?? DEFAULT_DATA_CHECK_OPTIONS.epochs,
    pricePerMillionTokens: options.pricePerMillionTokens ?? DEFAULT_DATA_CHECK_OPTIONS.pricePerMillionTokens,
    contextLimit: options.contextLimit ?? DEFAULT_DATA_CHECK_OPTIONS.contextLimit,
  };
}

const capped = <T>(items: readonly T[]) => ({ count: items.length, items: items.slice(0, MAX_LISTED) });

function analyzeFile(name: string, content: string, options: Partial<DataCheckOptions>) {
  const { epochs, pricePerMillionTokens, contextLimit } = resolveOptions(options);
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
      const { errors, messages } = checkLine(text);
      for (const kind of errors) {
        const list = errorsByKind.get(kind) ?? { count: 0, lines: [] };
        addLine(list, line);
        errorsByKind.set(kind, list);
      }
      if (errors.size === 0) valid.push({ line, messages, key: canonicalJson(messages), inquiry: inquiryOf(messages) });
    });

  const billed = valid.map((example) => billedTokensForExample(example.messages));
  const assistantTotal = valid.reduce((sum, example) => sum + assistantTokensForExample(example.messages), 0);
  const billedPerEpoch = billed.reduce((sum, count) => sum + count, 0);

  const missingSystem: LineList = { count: 0, lines: [] };
  const overContext: LineList = { count: 0, lines: [] };
  valid.forEach((example, index) => {
    if (!example.messages.some((message) => message.role === 'system')) addLine(missingSystem, example.line);
    if ((billed[index] ?? 0) > contextLimit) addLine(overContext, example.line);
  });
  const formatErrors: Partial<Record<FormatErrorKind, LineList>> = {};
  for (const kind of FORMAT_ERROR_KINDS) {
    const list = errorsByKind.get(kind);
    if (list) formatErrors[kind] = list;
  }
  const duplicates = capped(findDuplicateExamples(valid));
  const nearDuplicates = capped(findNearDuplicateInquiries(valid));

  const report: FileReport = {
    name,
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
  };
  return { report, valid };
}

/** Checks one JSONL file in the chat fine-tuning format. Invalid examples are left out of every figure but the error counts. */
export function checkDataFile(name: string, content: string, options: Partial<DataCheckOptions> = {}): FileReport {
  return analyzeFile(name, content, options).report;
}

/**
 * Only the file's own name decides its role, never its folder: fixtures living under `test/`
 * would otherwise all look like validation files.
 */
function leakageRoles(names: readonly string[]): { training: number; validation: number[] } {
  const lowered = names.map((name) => basename(name).toLowerCase());
  const training = lowered.findIndex((name) => name.includes('train'));
  if (training === -1) return { training: 0, validation: names.map((_, index) => index).slice(1) };
  const validation = lowered.flatMap((name, index) => (index !== training && /val|test/.test(name) ? [index] : []));
  return { training, validation };
}

export function checkDataFiles(
  files: readonly { name: string; content: string }[],
  options: Partial<DataCheckOptions> = {},
): DataCheckReport {
  const analyzed = files.map((file) => analyzeFile(file.name, file.content, options));
  const roles = leakageRoles(files.map((file) => file.name));
  const training = analyzed[roles.training];
  const validation = roles.validation.flatMap((index) => analyzed[index] ?? []);

  const trainingLineOf = new Map<string, number>();
  for (const { inquiry, line } of training?.valid ?? []) {
    if (inquiry !== '' && !trainingLineOf.has(inquiry)) trainingLineOf.set(inquiry, line);
  }
  const leaked: LeakedExample[] = validation.flatMap(({ report, valid }) =>
    valid.flatMap(({ inquiry, line }) => {
      const trainingLine = trainingLineOf.get(inquiry);
      return trainingLine === undefined
        ? []
        : [{ validation_file: report.name, validation_line: line, training_line: trainingLine, inquiry }];
    }),
  );

  const reports = analyzed.map(({ report }) => report);
  return {
    files: reports,
    ok: reports.every((report) => Object.keys(report.format_errors).length === 0),
    leakage: {
      training_file: validation.length > 0 && training ? training.report.name : null,
      validation_files: validation.map(({ report }) => report.name),
      count: leaked.length,
      examples: leaked,
    },
  };
}

const integer = (value: number) => value.toLocaleString('en-US');
const decimal = (value: number) => value.toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const usd = (value: number) => `$${value.toFixed(value !== 0 && value < 0.01 ? 4 : 2)}`;
// Wide enough for the longest error kind, so every count lines up in one column.
const label = (text: string, indent = 2) => `${' '.repeat(indent)}${text}`.padEnd(40);

function more(shown: number, count: number): string {
  return count > shown ? ` … (+${integer(count - shown)} more)` : '';
}

function lineListText({ count, lines }: LineList): string {
  if (count === 0) return '0';
  return `${integer(count)}   line${count === 1 ? '' : 's'} ${lines.join(', ')}${more(lines.length, count)}`;
}

function pairListText(count: number, pairs: readonly string[]): string {
  return count === 0 ? '0' : `${integer(count)}   lines ${pairs.join(', ')}${more(pairs.length, count)}`;
}

function tokenTable(tokens: TokenStats | null): string[] {
  if (tokens === null) return [`${label('tokens per example')}no valid examples`];
  const columns = ['min', 'mean', 'p95', 'max', 'total'] as const;
  const cells = columns.map((column) => (column === 'mean' ? decimal(tokens.mean) : integer(tokens[column])));
  const widths = columns.map((column, index) => Math.max(column.length, cells[index]?.length ?? 0) + 2);
  return [
    label('tokens per example') + columns.map((column, index) => column.padStart(widths[index] ?? 0)).join(''),
    label('') + cells.map((cell, index) => cell.padStart(widths[index] ?? 0)).join(''),
  ];
}

function formatFileReport(file: FileReport): string {
  const errorKinds = Object.entries(file.format_errors);
  const errorCount = errorKinds.reduce((sum, [, list]) => sum + list.count, 0);
  const { missing_system_message, duplicate_example, near_duplicate_inquiry, over_context_limit } = file.warnings;
  const nearPairs = near_duplicate_inquiry.pairs.map(
    ({ lines, similarity }) => `${lines[0]} & ${lines[1]}${similarity < 1 ? ` (${similarity})` : ''}`,
  );
  return [
    file.name,
    `${label('examples')}${integer(file.examples)} (${integer(file.valid_examples)} valid)`,
    `${label('format errors')}${errorCount === 0 ? 'none' : integer(errorCount)}`,
    ...errorKinds.map(([kind, list]) => `${label(kind, 4)}${lineListText(list)}`),
    '  warnings',
    `${label('missing_system_message', 4)}${lineListText(missing_system_message)}`,
    `${label('duplicate_example', 4)}${pairListText(duplicate_example.count, duplicate_example.pairs.map(([a, b]) => `${a} & ${b}`))}`,
    `${label('near_duplicate_inquiry', 4)}${pairListText(near_duplicate_inquiry.count, nearPairs)}`,
    `${label('over_context_limit', 4)}${lineListText(over_context_limit)}`,
    ...tokenTable(file.tokens),
    `${label('assistant tokens')}${integer(file.assistant_tokens.total)} total, ${decimal(file.assistant_tokens.mean)} per example`,
    `${label('billed tokens')}${integer(file.billed_tokens_per_epoch)} per epoch × ${file.epochs} epochs = ${integer(file.estimated_billed_tokens)}`,
    `${label('estimated cost')}${usd(file.estimated_cost_usd)} at ${usd(file.price_per_million_tokens)} per 1M training tokens`,
  ].join('\n');
}

const MAX_LEAKS_SHOWN = 50;

function formatLeakage(leakage: LeakageReport): string {
  if (leakage.training_file === null) return 'leakage: not checked (needs a training file and a validation file)';
  const header = `leakage: ${integer(leakage.count)} validation example${leakage.count === 1 ? '' : 's'} whose inquiry occurs in ${leakage.training_file} (checked ${leakage.validation_files.join(', ')})`;
  const shown = leakage.examples.slice(0, MAX_LEAKS_SHOWN).map(
    (leak) => `  ${leak.validation_file}:${leak.validation_line}  =  ${leakage.training_file}:${leak.training_line}  ${JSON.stringify(leak.inquiry)}`,
  );
  const rest = leakage.count > shown.length ? [`  … (+${integer(leakage.count - shown.length)} more)`] : [];
  return [header, ...shown, ...rest].join('\n');
}

/** A plain-text report for a terminal; `--json` gives the same data whole. */
export function formatDataCheckReport(report: DataCheckReport): string {
  const verdict = report.ok ? 'OK: no format errors' : 'FAILED: fix the format errors before uploading';
  return `${[...report.files.map(formatFileReport), formatLeakage(report.leakage), verdict].join('\n\n')}\n`;
}
