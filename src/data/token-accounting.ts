import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';

export interface ChatMessage {
  role: string;
  content?: unknown;
}

export interface TokenStats {
  min: number;
  mean: number;
  p95: number;
  max: number;
  total: number;
}

// Training data is arbitrary text: a literal "<|endoftext|>" in an answer is ordinary characters
// to the fine-tuning API, whereas the tokenizer would refuse it by default.
const AS_PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/** Tokens of a string in o200k_base, the encoding of the gpt-4o and gpt-4.1 families. */
export function textTokens(text: string): number {
  return countTokens(text, AS_PLAIN_TEXT);
}

function contentTokens(message: ChatMessage): number {
  return typeof message.content === 'string' ? textTokens(message.content) : 0;
}

const PER_MESSAGE_OVERHEAD = 3;
// Matches the "trained tokens" of a real fine-tuning job. The cookbook's estimate primes the reply
// with 3 tokens instead of 1, which overcounts every example by 2.
const PER_EXAMPLE_OVERHEAD = 1;

/** Tokens one example is billed for in one training epoch. */
export function billedTokensForExample(messages: readonly ChatMessage[]): number {
  let total = PER_EXAMPLE_OVERHEAD;
  for (const message of messages) total += PER_MESSAGE_OVERHEAD + textTokens(message.role) + contentTokens(message);
  return total;
}

/** Tokens the model is trained to produce: assistant contents only. */
export function assistantTokensForExample(messages: readonly ChatMessage[]): number {
  let total = 0;
  for (const message of messages) if (message.role === 'assistant') total += contentTokens(message);
  return total;
}

/** p95 by nearest rank, so it is always a count some example really has. */
export function summarizeTokenCounts(counts: readonly number[]): TokenStats | null {
  if (counts.length === 0) return null;
  const sorted = [...counts].sort((a, b) => a - b);
  const total = sorted.reduce((sum, count) => sum + count, 0);
  const at = (rank: number) => sorted[rank - 1] ?? 0;
  return {
    min: at(1),
    mean: total / sorted.length,
    p95: at(Math.ceil(0.95 * sorted.length)),
    max: at(sorted.length),
    total,
  };
}

export function estimateCostUsd(billedTokens: number, pricePerMillionTokens: number): number {
  return (billedTokens * pricePerMillionTokens) / 1_000_000;
}
