import { z } from 'zod';
import { byCriterion, byMeasure, type Measure } from '../scoring/rubric.js';
import { PairedComparisonSchema } from '../stats/paired.js';

/** The `human` section of a summary; kept apart from summary-schema.ts, which imports it. */

const share = (what: string) => z.number().min(0).max(1).nullable().describe(`${what}; null without pairs.`);

export const ScorerAgreementSchema = z
  .object({
    n: z.number().int().describe('Pairs compared: one per rater, item and model that both the rater and the scorer scored.'),
    items: z.number().int().describe('Distinct items among those pairs.'),
    weighted_kappa: z
      .number()
      .nullable()
      .describe(
        "Cohen's quadratic-weighted kappa on the levels 1-5 (1: perfect, 0: chance, below 0: worse than chance; a judge's mean of samples is taken as the nearest level); null without pairs or when undefined (one level throughout).",
      ),
    spearman: z.number().nullable().describe("Spearman's rank correlation of the raw scores (ties share their mean rank); null with fewer than 2 pairs or a constant side."),
    exact: share('Share of pairs on the same level'),
    within_one: share('Share of pairs at most one level apart'),
  })
  .meta({ id: 'ScorerAgreement' });

export const InterRaterAlphaSchema = z
  .object({
    alpha: z.number().nullable().describe("Krippendorff's alpha, ordinal metric: 1 perfect, 0 chance; 0.667 is the usual floor for tentative conclusions and 0.8 for firm ones. null when undefined."),
    units: z.number().int().describe('Answers (item and model) rated by at least two raters: the units alpha is computed over.'),
    values: z.number().int().describe('Levels given to those answers.'),
  })
  .meta({ id: 'InterRaterAlpha' });

const RateSchema = z.object({ low: z.number(), high: z.number() }).nullable().describe('95% Wilson interval of the rate; null without pairs.');

export const PreferenceAgreementSchema = z
  .object({
    first: z.string(),
    second: z.string(),
    automated: z
      .enum(['pairwise_verdict', 'weighted_difference'])
      .describe("What the people's preference is compared with: the pairwise judge's overall verdict, or for a pointwise scorer the sign of the weighted difference (a tie within tie_band)."),
    tie_band: z.number().nullable().describe('The weighted difference read as a tie (null for pairwise verdicts).'),
    n: z.number().int().describe('Ratings that preferred one of the two models or called a tie, on items the scorer decided too.'),
    items: z.number().int().describe('Distinct items among those ratings.'),
    agree: z.number().int().describe('Of those, the ratings whose preference (first, second or tie) is the scorer’s.'),
    rate: share('agree ÷ n'),
    ci95: RateSchema,
  })
  .meta({ id: 'PreferenceAgreement' });

export const HumanModelSummarySchema = z.object({
  alias: z.string(),
  model_id: z.string(),
  answers_rated: z.number().int().describe("Ratings that scored this model's answer (one per rater and item)."),
  means: z
    .object(byMeasure((measure: Measure) => z.number().nullable().describe(`Mean ${measure} over the rated items (each item the mean of its raters).`)))
    .describe('Human means; null where nothing was rated.'),
  means_n: z.object(byMeasure(() => z.number().int())).describe('Items each mean is over.'),
});

export const HumanPairedGainSchema = z
  .object({
    first: z.string(),
    second: z.string(),
    measures: z.object(byMeasure(() => PairedComparisonSchema)).describe("First minus second on each criterion and the weighted score, over the items people rated for both (each item the mean of its raters)."),
    headline: z.string().describe('The weighted gain in one line.'),
    cautions: z.array(z.string()).describe('What limits the reading, in words.'),
  })
  .meta({ id: 'HumanPairedGain' });

export const HumanSummarySchema = z
  .object({
    raters: z.array(z.string()).describe('Who rated, by name.'),
    ratings: z.number().int().describe("Ratings counted: each rater's last rating of each item."),
    items_rated: z.number().int().describe('Items with at least one rating.'),
    models: z.array(HumanModelSummarySchema).describe("Per model, in the run's order: the people's means."),
    comparisons: z.array(HumanPairedGainSchema).describe('The first model against each other one, paired item by item on human scores, as the automated comparisons are.'),
    scorer_agreement: z
      .object({
        scorer: z.enum(['judge', 'heuristic', 'pairwise', 'none']),
        criteria: z
          .object(byCriterion(() => ScorerAgreementSchema))
          .nullable()
          .describe('Per criterion, the automated score against each rater’s level; null when the scorer gives no criterion scores (pairwise, none).'),
      })
      .describe('How far the automated scorer agrees with the people.'),
    inter_rater: z
      .object({
        raters: z.number().int(),
        metric: z.literal('ordinal').describe("Krippendorff's ordinal metric: levels are ordered, but not assumed evenly spaced."),
        criteria: z.object(byCriterion(() => InterRaterAlphaSchema)),
      })
      .nullable()
      .describe('How far the people agree with one another; null with fewer than 2 raters.'),
    preference_agreement: z
      .array(PreferenceAgreementSchema)
      .describe('Per comparison of the first model with another: how often the people’s overall preference is the scorer’s. Empty for the scorer none.'),
  })
  .describe("What people said when they rated the answers blind, and how far the automated scorer agrees with them. Present once a rating exists.")
  .meta({ id: 'HumanSummary' });

export type ScorerAgreement = z.infer<typeof ScorerAgreementSchema>;
export type PreferenceAgreement = z.infer<typeof PreferenceAgreementSchema>;
export type HumanSummary = z.infer<typeof HumanSummarySchema>;
