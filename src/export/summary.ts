import { quantileSorted } from 'simple-statistics';
import { z } from 'zod';
import type { Pricing } from '../models/registry.js';
import type { RunResult } from '../runs/run-result.js';
import { CRITERIA, RubricWeightsSchema, type RubricWeights } from '../scoring/rubric.js';

/** The four criteria and the weighted score: what the quality table and chart show. */
export const MEASURES = [...CRITERIA, 'weighted'] as const;
export type Measure = (typeof MEASURES)[number];

const scoreField = (what: string) => z.number().describe(what);

export const MeasureMeansSchema = z.object({
  accuracy: scoreField('Mean accuracy score (0-5).'),
  actionability: scoreField('Mean actionability score (0-5).'),
  completeness: scoreField('Mean completeness score (0-5).'),
  safety_tone: scoreField('Mean safety and tone score (0-5).'),
  weighted: scoreField('Mean of the per-result weighted scores (0-5).'),
});

export const ModelSummarySchema = z.object({
  alias: z.string().describe('The model alias the run used.'),
  model_id: z.string().describe('The upstream model id behind the alias.'),
  n: z.number().int().describe('Results for this model.'),
  scored: z.number().int().describe('Results with rubric scores.'),
  failed: z.number().int().describe('Results that failed while answering or scoring; never part of the means.'),
  means: MeasureMeansSchema.nullable().describe('Means over the scored results; null when nothing was scored.'),
  latency_ms: z
    .object({
      p50: z.number().describe('Median answer latency in milliseconds.'),
      p95: z.number().describe('95th percentile answer latency in milliseconds.'),
    })
    .nullable()
    .describe('Latency of the answers received; null when none reported a latency.'),
  tokens: z
    .object({
      input: z.number().int().describe('Input tokens, summed over the results that reported usage.'),
      output: z.number().int().describe('Output tokens, summed over the results that reported usage.'),
    })
    .describe('Token usage.'),
  estimated_cost_usd: z
    .number()
    .nullable()
    .describe('Token usage priced with the model’s configured pricing; null when the model has no pricing.'),
});

export const GainSchema = z
  .object({
    first: z.string().describe('Alias of the first model in the run’s order.'),
    second: z.string().describe('Alias of the second model in the run’s order.'),
    accuracy: scoreField('First model’s mean accuracy minus the second’s.'),
    actionability: scoreField('First model’s mean actionability minus the second’s.'),
    completeness: scoreField('First model’s mean completeness minus the second’s.'),
    safety_tone: scoreField('First model’s mean safety and tone minus the second’s.'),
    weighted: scoreField('First model’s mean weighted score minus the second’s.'),
  })
  .describe('First model minus second; null when the run has fewer than two models or either has nothing scored.');

export const SummarySectionSchema = z.object({
  items: z.number().int().describe('Distinct items counted in this section.'),
  models: z.array(ModelSummarySchema).describe('One entry per model, in the run’s order.'),
  gain: GainSchema.nullable(),
});

export const RunSummarySchema = z.object({
  weights: RubricWeightsSchema,
  all: SummarySectionSchema.describe('Every result of the run.'),
  unseen: SummarySectionSchema.describe(
    'Only items whose inquiry is not in the training set; those flatter the fine-tune.',
  ),
});

export type MeasureMeans = z.infer<typeof MeasureMeansSchema>;
export type ModelSummary = z.infer<typeof ModelSummarySchema>;
export type Gain = z.infer<typeof GainSchema>;
export type SummarySection = z.infer<typeof SummarySectionSchema>;
export type RunSummary = z.infer<typeof RunSummarySchema>;

export interface SummaryOptions {
  /** The run's models in the run's order: the order of the tables, and which two the gain compares. */
  models: { alias: string; model_id: string }[];
  weights: RubricWeights;
  /** Keyed by alias. */
  pricing: Record<string, Pricing | undefined>;
}

export interface SummaryAccumulator {
  add(result: RunResult): void;
  finish(): RunSummary;
}

interface ModelTally {
  alias: string;
  model_id: string;
  n: number;
  scored: number;
  failed: number;
  sums: Record<Measure, number>;
  latencies: number[];
  tokensIn: number;
  tokensOut: number;
}

const newTally = (alias: string, model_id: string): ModelTally => ({
  alias,
  model_id,
  n: 0,
  scored: 0,
  failed: 0,
  sums: { accuracy: 0, actionability: 0, completeness: 0, safety_tone: 0, weighted: 0 },
  latencies: [],
  tokensIn: 0,
  tokensOut: 0,
});

function createSectionTally(models: SummaryOptions['models']) {
  const items = new Set<string>();
  const tallies = new Map(models.map(({ alias, model_id }) => [alias, newTally(alias, model_id)]));

  function add(result: RunResult) {
    items.add(result.item_id);
    let tally = tallies.get(result.model_alias);
    if (!tally) {
      tally = newTally(result.model_alias, result.model_id);
      tallies.set(result.model_alias, tally);
    }
    tally.n += 1;
    if (result.outcome === 'failed') tally.failed += 1;
    if (result.outcome === 'scored' && result.scores) {
      tally.scored += 1;
      for (const measure of MEASURES) tally.sums[measure] += result.scores[measure];
    }
    // A failed answer's latency is how long we waited before giving up, not how fast the model answers.
    if (result.latency_ms !== null && result.error?.stage !== 'answer') tally.latencies.push(result.latency_ms);
    tally.tokensIn += result.tokens_in ?? 0;
    tally.tokensOut += result.tokens_out ?? 0;
  }

  function finish(pricing: SummaryOptions['pricing']): SummarySection {
    const summaries = [...tallies.values()].map((tally) => toModelSummary(tally, pricing[tally.alias]));
    return { items: items.size, models: summaries, gain: gainOf(summaries[0], summaries[1]) };
  }

  return { add, finish };
}

function toModelSummary(tally: ModelTally, pricing: Pricing | undefined): ModelSummary {
  const latencies = tally.latencies.toSorted((a, b) => a - b);
  const meanOf = (measure: Measure) => tally.sums[measure] / tally.scored;
  return {
    alias: tally.alias,
    model_id: tally.model_id,
    n: tally.n,
    scored: tally.scored,
    failed: tally.failed,
    means:
      tally.scored === 0
        ? null
        : {
            accuracy: meanOf('accuracy'),
            actionability: meanOf('actionability'),
            completeness: meanOf('completeness'),
            safety_tone: meanOf('safety_tone'),
            weighted: meanOf('weighted'),
          },
    latency_ms:
      latencies.length === 0 ? null : { p50: quantileSorted(latencies, 0.5), p95: quantileSorted(latencies, 0.95) },
    tokens: { input: tally.tokensIn, output: tally.tokensOut },
    estimated_cost_usd: pricing
      ? (tally.tokensIn / 1e6) * pricing.input_per_million + (tally.tokensOut / 1e6) * pricing.output_per_million
      : null,
  };
}

function gainOf(first: ModelSummary | undefined, second: ModelSummary | undefined): Gain | null {
  if (!first?.means || !second?.means) return null;
  const a = first.means;
  const b = second.means;
  const difference = (measure: Measure) => a[measure] - b[measure];
  return {
    first: first.alias,
    second: second.alias,
    accuracy: difference('accuracy'),
    actionability: difference('actionability'),
    completeness: difference('completeness'),
    safety_tone: difference('safety_tone'),
    weighted: difference('weighted'),
  };
}

/** Summarises results one at a time, so a run of any size is summarised without holding its results. */
export function createSummaryAccumulator(options: SummaryOptions): SummaryAccumulator {
  const all = createSectionTally(options.models);
  const unseen = createSectionTally(options.models);
  return {
    add(result) {
      all.add(result);
      if (!result.in_training) unseen.add(result);
    },
    finish() {
      return { weights: { ...options.weights }, all: all.finish(options.pricing), unseen: unseen.finish(options.pricing) };
    },
  };
}

export function summarizeResults(results: Iterable<RunResult>, options: SummaryOptions): RunSummary {
  const accumulator = createSummaryAccumulator(options);
  for (const result of results) accumulator.add(result);
  return accumulator.finish();
}
