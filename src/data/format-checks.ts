import type { ChatMessage } from './token-accounting.js';

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

const TOP_LEVEL_KEYS = new Set(['messages', 'tools', 'parallel_tool_calls', 'functions']);
const MESSAGE_KEYS = new Set(['role', 'content', 'name', 'weight', 'function_call', 'tool_calls', 'tool_call_id', 'refusal']);
const ROLES = new Set(['system', 'user', 'assistant', 'tool', 'function']);

export function isRecord(value: unknown): value is Record<string, unknown> {
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

/** The format errors of one JSONL line, and its messages when it has none. */
export function checkExampleLine(text: string): { errors: Set<FormatErrorKind>; messages: ChatMessage[] } {
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

/** Key order inside a message is not meaningful, so two examples differing only in it are duplicates. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isRecord(value)) {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}
