import { z } from 'zod';
import { PairedComparisonSchema } from '../stats/paired.js';
import { PAIRWISE_ASPECTS } from '../scoring/pairwise-prompt.js';
import { RUN_STATUSES } from '../runs/run-store.js';
import { byMeasure, MEASURES, RubricWeightsSchema, ScoringProvenanceSchema, type Measure } from '../scoring/rubric.js';
import { HumanSummarySchema } from './summary-human-schema.js';

/** One number (or null) per criterion and the weighted score. */
const perMeasure = <T extends z.ZodType>(value: (measure: Measure) => T) => z.object(byMeasure(value));

const MEASURE_NAMES: Record<Measure, string> = {
  accuracy: 'accuracy',
  actionability: 'actionability',
  completeness: 'completeness',
  safety_tone: 'safety and tone',
  weighted: 'weighted score',
};

export const SafetyGateSchema = z
  .object({
    max_level: z.number().int().describe('Answers scoring this or lower on safety and tone are flagged (2: rude, or unsafe advice, or a request for secrets).'),
    count: z.number().int().describe('Flagged answers.'),
    item_ids: z.array(z.string()).describe('The flagged items, in item order.'),
  })
  .describe('Safety is a gate, not only a weight: an unsafe answer is never averaged away.');

export const ModelSummarySchema = z.object({
  alias: z.string().describe('The model alias the run used.'),
  model_id: z.string().describe('The upstream model id behind the alias.'),
  n: z.number().int().describe('Results for this model.'),
  scored: z.number().int().describe('Results with rubric scores (some criteria may still be unscored, see unscored_no_reference).'),
  failed: z.number().int().describe('Results that failed while answering or scoring; never part of the means.'),
  unscored_no_reference: z
    .number()
    .int()
    .describe('Scored results whose accuracy and completeness could not be graded because the item has no reference (heuristic scorer); their weighted score is null. Not failures.'),
  means: perMeasure((measure) => z.number().nullable().describe(`Mean ${MEASURE_NAMES[measure]} over the results that have one; null when none has.`))
    .nullable()
    .describe('Means over the scored results; null when nothing was scored.'),
  means_n: perMeasure((measure) => z.number().int().describe(`How many results the mean ${MEASURE_NAMES[measure]} is over.`)).describe(
    'How many results each mean is over.',
  ),
  safety_gate: SafetyGateSchema,
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
    .describe('Token usage priced with the model’s configured pricing, answers read from the response cache counting nothing; null when the model has no pricing.'),
}).meta({ id: 'ModelSummary' });

export const PairedGainSchema = z
  .object({
    first: z.string().describe('Alias of the first model in the run’s order.'),
    second: z.string().describe('Alias of the model it is compared with.'),
    measures: perMeasure(() => PairedComparisonSchema).describe('First minus second on each criterion and the weighted score, each over the items scored for both on it.'),
    headline: z.string().describe('The weighted gain in one line, e.g. "+0.93 (95% CI +0.19 to +1.68, 10 pairs, W/T/L 6/1/3, p = 0.05)".'),
    cautions: z.array(z.string()).describe('What limits the reading, in words: an interval containing 0, fewer than 30 pairs, pairs a ±0.25 interval would need.'),
  })
  .describe('The paired gain of the first model over another: every difference is taken item by item, over items both were scored on.')
  .meta({ id: 'PairedGain' });

const RateSchema = z
  .object({
    value: z.number().describe('The share (0 to 1).'),
    low: z.number().describe('Lower bound of the 95% Wilson interval.'),
    high: z.number().describe('Upper bound of the 95% Wilson interval.'),
  })
  .nullable();

const PairwiseTallySchema = z.object({
  wins: z.number().int().describe('Items where the judge preferred the first model in both orders.'),
  ties: z.number().int().describe('Items judged a tie, including order-inconsistent verdicts.'),
  losses: z.number().int().describe('Items where the judge preferred the other model in both orders.'),
  inconsistent: z.number().int().describe('Verdicts that flipped when the two answers swapped places (counted as ties).'),
  inconsistent_share: z.number().nullable().describe('inconsistent ÷ judged; null when nothing was judged.'),
  win_rate: RateSchema.describe('wins ÷ judged, with its 95% Wilson interval; null when nothing was judged.'),
  decisive_win_rate: RateSchema.describe('wins ÷ (wins + losses), with its 95% Wilson interval; null without a decisive verdict.'),
}).meta({ id: 'PairwiseTally' });

export const PairwiseSummarySchema = z
  .object({
    first: z.string().describe('Alias of the first model in the run’s order.'),
    second: z.string().describe('Alias of the model it is compared with.'),
    judged: z.number().int().describe('Items with a verdict.'),
    failed: z.number().int().describe('Items whose judgement failed (an answer or the judge), with the reason in verdicts.jsonl.'),
    overall: PairwiseTallySchema,
    accuracy: PairwiseTallySchema,
    actionability: PairwiseTallySchema,
    completeness: PairwiseTallySchema,
    safety_tone: PairwiseTallySchema,
    headline: z.string().describe('The overall verdict in one line.'),
  })
  .describe('Pairwise judge: the first model against another, each item judged in both orders.')
  .meta({ id: 'PairwiseSummary' });

export const SummarySectionSchema = z.object({
  items: z.number().int().describe('Distinct items counted in this section.'),
  models: z.array(ModelSummarySchema).describe('One entry per model, in the run’s order.'),
  comparisons: z.array(PairedGainSchema).describe('The first model against each other model, paired item by item.'),
  pairwise: z.array(PairwiseSummarySchema).describe('Pairwise verdicts, first model against each other model; empty unless the scorer is pairwise.'),
}).meta({ id: 'SummarySection' });

export const RunProvenanceSchema = ScoringProvenanceSchema.extend({
  scorer: z.enum(['judge', 'heuristic', 'pairwise', 'none']).describe('The run’s scorer.'),
  prompt_sha256: z.string().nullable().describe('SHA-256 of the judge’s prompt and rubric, or of the heuristic’s rules; null when nothing was scored.'),
  bootstrap: z
    .object({
      seed: z.number().int().describe('Seed of the bootstrap and permutation resampling: the same seed on the same results gives the same summary, byte for byte.'),
      resamples: z.number().int().describe('Bootstrap resamples per interval.'),
      method: z.enum(['bca', 'percentile']).describe('The bootstrap interval asked for (each interval says which it used).'),
    })
    .describe('How intervals were resampled.'),
  weighted_tie_band: z.number().describe('A per-item weighted difference this small or smaller is a tie in W/T/L (and in /compare).'),
  target_half_width: z.number().describe('The interval half-width the "pairs needed" figure aims for.'),
  rescore_of: z.string().optional().describe('The run whose stored answers were scored again to give these numbers (no model answered anew); absent when the models answered.'),
}).describe('What produced these numbers.');

export const HeuristicAgreementSchema = z
  .object({
    calibration: z.object({ pairs: z.number().int(), agreement: z.number() }).describe('Labelled answer pairs the heuristic’s rules were tuned on (the calibration and development files).'),
    holdout: z.object({ pairs: z.number().int(), agreement: z.number() }).describe('Labelled pairs never used for tuning.'),
    note: z.string(),
  })
  .nullable()
  .describe('For the heuristic: how often it prefers the answer a person prefers, measured on the labelled set in data/scorer_validation. Null for other scorers.');

export const SummaryCompletenessSchema = z
  .object({
    run_status: z.enum(RUN_STATUSES).describe('The run’s status when this summary was made.'),
    items: z.number().int().describe('Items in the run.'),
    finished: z
      .number()
      .int()
      .describe('Items with every answer in (and, for the pairwise scorer, every verdict), scored or failed: what the numbers cover.'),
    partial: z.boolean().describe('True while some items are not finished (a run queued, running, cancelled or failed part way): the numbers cover the finished items only.'),
  })
  .describe('How much of the run this summary covers.')
  .meta({ id: 'SummaryCompleteness' });

export const RunSummarySchema = z.object({
  completeness: SummaryCompletenessSchema,
  weights: RubricWeightsSchema,
  provenance: RunProvenanceSchema,
  headline: z
    .enum(['unseen', 'all'])
    .describe('Which section to read first: unseen whenever some items are exact or near copies of training inquiries, since those flatter the fine-tune.'),
  contamination: z
    .object({
      exact: z.number().int().describe('Items whose inquiry is a training inquiry once normalised.'),
      near: z.number().int().describe('Items whose inquiry is a near-duplicate (paraphrase) of a training inquiry.'),
      none: z.number().int().describe('Unseen items.'),
    })
    .describe('How many items the fine-tune may have seen.'),
  reference_coverage: z
    .object({ with_reference: z.number().int(), items: z.number().int() })
    .describe('Items that have a reference answer: the heuristic grades accuracy and completeness only on those.'),
  heuristic_agreement: HeuristicAgreementSchema,
  all: SummarySectionSchema.describe('Every result of the run.'),
  unseen: SummarySectionSchema.describe('Only items that are neither exact nor near copies of a training inquiry.'),
  calibration: z
    .string()
    .optional()
    .describe(
      'The automated scorer against the people who rated the answers blind, in one sentence: "judge vs 2 raters on 40 items: weighted kappa 0.71 accuracy, …", or "not calibrated: no human ratings". Absent from summaries made before ratings existed.',
    ),
  human: HumanSummarySchema.optional(),
}).meta({ id: 'RunSummary' });

export type ModelSummary = z.infer<typeof ModelSummarySchema>;
export type PairedGain = z.infer<typeof PairedGainSchema>;
export type PairwiseTally = z.infer<typeof PairwiseTallySchema>;
export type PairwiseSummary = z.infer<typeof PairwiseSummarySchema>;
export type SummarySection = z.infer<typeof SummarySectionSchema>;
export type RunProvenance = z.infer<typeof RunProvenanceSchema>;
export type HeuristicAgreement = z.infer<typeof HeuristicAgreementSchema>;
export type SummaryCompleteness = z.infer<typeof SummaryCompletenessSchema>;
export type RunSummary = z.infer<typeof RunSummarySchema>;
export { MEASURES, PAIRWISE_ASPECTS, type Measure };
