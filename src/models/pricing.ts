import type { Pricing } from './registry.js';

/**
 * OpenAI's standard-tier list prices (USD per 1M tokens) for the models this service uses by
 * default, so that cost estimates work out of the box. A `pricing` entry in MODELS_FILE wins.
 */
const LIST_PRICES: Record<string, Pricing> = {
  'gpt-4.1-mini-2025-04-14': { input_per_million: 0.4, output_per_million: 1.6 },
  'gpt-4.1-2025-04-14': { input_per_million: 2, output_per_million: 8 },
};

/** Fine-tuned gpt-4.1-mini inference is billed at twice the base model's rates. */
const FINE_TUNED_PREFIXES: Record<string, Pricing> = {
  'ft:gpt-4.1-mini-2025-04-14:': { input_per_million: 0.8, output_per_million: 3.2 },
};

export function listPriceFor(modelId: string): Pricing | undefined {
  if (LIST_PRICES[modelId]) return LIST_PRICES[modelId];
  const prefix = Object.keys(FINE_TUNED_PREFIXES).find((candidate) => modelId.startsWith(candidate));
  return prefix ? FINE_TUNED_PREFIXES[prefix] : undefined;
}

/** The Batch API bills its requests at half the synchronous price (https://platform.openai.com/docs/guides/batch). */
export const BATCH_PRICE_FACTOR = 0.5;

/** What a model's tokens cost when its requests go through the Batch API. */
export function batchPriceOf(pricing: Pricing | undefined): Pricing | undefined {
  return pricing && { input_per_million: pricing.input_per_million * BATCH_PRICE_FACTOR, output_per_million: pricing.output_per_million * BATCH_PRICE_FACTOR };
}
