import { z } from 'zod';
import { BASELINE_ALIAS, FINE_TUNED_ALIAS, HANDOFF_ALIAS, RETRIEVAL_ALIAS } from '../models/registry.js';
import { PairwiseVerdictSchema } from '../scoring/pairwise-judge.js';
import { CRITERIA, REFERENCE_SOURCES, RUBRIC_SCORES_EXAMPLE, RubricScoresSchema, ScoringProvenanceSchema, WEIGHTED_TIE_BAND } from '../scoring/rubric.js';
import { SCORER_CHOICES } from '../scoring/score-answer.js';
import { AnswerResponseSchema, AnswerStatusSchema, InquirySchema, ModelNameSchema, RetrievalMatchSchema, UsageSchema } from './answer.js';
import { ErrorResponseSchema } from './error.js';
import { JudgeSamplesSchema } from './evaluate.js';

export const COMPARE_MIN_MODELS = 2;
export const COMPARE_MAX_MODELS = 4;
export const REFERENCE_MAX_CHARS = 8000;

export const CompareRequestSchema = z
  .strictObject({
    inquiry: InquirySchema,
    models: z
      .array(ModelNameSchema)
      .min(COMPARE_MIN_MODELS, `models must list at least ${COMPARE_MIN_MODELS} models`)
      .max(COMPARE_MAX_MODELS, `models must list at most ${COMPARE_MAX_MODELS} models`)
      .default([FINE_TUNED_ALIAS, BASELINE_ALIAS])
      .describe(
        `The models to compare, in the order of the results (${COMPARE_MIN_MODELS} to ${COMPARE_MAX_MODELS}). Each must be a different model: an alias and a model id it resolves to count as the same one (400 duplicate_model).`,
      ),
    reference: z
      .string()
      .trim()
      .min(1, 'reference must not be empty')
      .max(REFERENCE_MAX_CHARS, `reference must be at most ${REFERENCE_MAX_CHARS} characters`)
      .optional()
      .describe('A known good answer to score against. Without one, the heuristic scores only actionability and safety/tone (accuracy and completeness are null); the judge grades on its general knowledge and says so.'),
    scorer: z
      .enum(SCORER_CHOICES)
      .optional()
      .describe(
        'judge: the LLM judge grades each answer on the rubric; heuristic: offline text rules (a screening tool); pairwise: the judge prefers one of two answers, every pair in both orders; none: answers only. Default: judge when its upstream has a key, else heuristic.',
      ),
    judge_samples: JudgeSamplesSchema.default(1),
  })
  // The offline models first: they answer with no key, so "Try it out" works on a fresh install.
  .meta({
    examples: [
      {
        inquiry: 'How do I return a defective Bluetooth speaker?',
        models: [RETRIEVAL_ALIAS, HANDOFF_ALIAS],
        reference: "Go to 'Your Orders', select the item and choose 'Return or replace items'. Pick 'Defective' as the reason; the return is free within 30 days.",
        scorer: 'heuristic',
      },
      { inquiry: 'How do I return a defective Bluetooth speaker?' },
      {
        inquiry: 'My order says delivered but I never got it. What should I do?',
        models: ['fine-tuned', 'baseline', 'retrieval'],
        reference:
          "Check around your property and with neighbours, then wait 48 hours. If it still has not arrived, go to 'Your Orders', select the order and choose 'Problem with order' to request a refund or replacement.",
        scorer: 'heuristic',
      },
    ],
  });

export type CompareRequest = z.infer<typeof CompareRequestSchema>;

const ModelErrorSchema = ErrorResponseSchema.shape.error.omit({ details: true });

const answerFields = AnswerResponseSchema.shape;

export const ComparedModelSchema = z.object({
  model: z.string().describe('The alias of the model; a model id given in the request is shown as its alias.'),
  model_id: answerFields.model_id,
  answer: answerFields.answer.nullable().describe('The answer; null when the model failed (see error).'),
  usage: UsageSchema.nullable().describe('Token usage; null when the model failed.'),
  latency_ms: answerFields.latency_ms.nullable(),
  response_id: answerFields.response_id,
  status: AnswerStatusSchema.nullable(),
  match: RetrievalMatchSchema.optional(),
  scores: RubricScoresSchema.nullable().describe('The rubric scores; null when the scorer is none, the model failed or scoring failed (see score_error).'),
  score_error: ModelErrorSchema.nullable().describe('Why the answer could not be scored (for example an unparsable judge verdict); null otherwise.'),
  error: ModelErrorSchema.nullable().describe('Why the model gave no answer; null when it answered. The other models still come back.'),
});

const criterionDeltas = Object.fromEntries(
  CRITERIA.map((criterion) => [criterion, z.number().nullable().describe(`${criterion} of the first model minus that of the second; null when either was not scored on it.`)]),
) as Record<(typeof CRITERIA)[number], z.ZodNullable<z.ZodNumber>>;

export const ScoreDeltasSchema = z
  .object({
    first: z.string().describe('Alias of the first model in the request.'),
    second: z.string().describe('Alias of the second model in the request.'),
    ...criterionDeltas,
    weighted: z.number().nullable().describe('Weighted score of the first model minus that of the second, unrounded; null when either has none.'),
  })
  .nullable()
  .describe('First model minus second model; positive favours the first. null unless both were scored.');

export const CompareResponseSchema = z
  .object({
    inquiry: z.string().describe('The inquiry as sent to the models (trimmed).'),
    scorer: z.enum(SCORER_CHOICES).describe('The scorer used, after applying the default.'),
    reference_source: z
      .enum(REFERENCE_SOURCES)
      .optional()
      .describe('What the scores were measured against (as in each RubricScores); absent when nothing was scored.'),
    results: z.array(ComparedModelSchema).describe('One entry per requested model, in request order.'),
    winner: z
      .string()
      .nullable()
      .describe(
        `The alias with the highest weighted score, or 'tie' when the top two are within tie_band (${WEIGHTED_TIE_BAND}). With the pairwise scorer: the model the judge preferred over every other one overall, in both orders, else 'tie'. null when the scorer is none or fewer than two models were scored.`,
      ),
    tie_band: z.number().describe('Weighted scores this close or closer are a tie (the same band as the runs’ W/T/L).'),
    deltas: ScoreDeltasSchema,
    pairwise: z.array(PairwiseVerdictSchema).nullable().describe('The pairwise judge’s verdicts, one per pair of answered models; null unless the scorer is pairwise.'),
    pairwise_errors: z
      .array(z.object({ first: z.string(), second: z.string(), ...ModelErrorSchema.shape }))
      .nullable()
      .describe('Pairs whose judgement failed, with the reason; null unless the scorer is pairwise.'),
    provenance: ScoringProvenanceSchema.nullable().describe('What produced the scores: scorer, judge and model id, prompt or rules hash, weights, service version. null when nothing was scored.'),
  })
  .describe('The answers side by side, scored on the rubric.')
  .meta({
    examples: [
      {
        inquiry: 'How do I return a defective Bluetooth speaker?',
        scorer: 'heuristic',
        reference_source: 'given',
        results: [
          {
            model: 'fine-tuned',
            model_id: 'ft:gpt-4.1-mini-2025-04-14:buldee:amazon-electronics-ft:CaOkOuOd',
            answer:
              "Go to 'Your Orders', select the speaker, choose 'Return or replace items', pick 'Defective' as the reason and print the label. Returns are free within 30 days.",
            usage: { input_tokens: 92, output_tokens: 41, total_tokens: 133 },
            latency_ms: 812,
            response_id: 'resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b',
            status: 'completed',
            scores: RUBRIC_SCORES_EXAMPLE,
            score_error: null,
            error: null,
          },
          {
            model: 'baseline',
            model_id: 'gpt-4.1-mini-2025-04-14',
            answer: 'You can usually return items within a certain period. You may want to contact support for help.',
            usage: { input_tokens: 92, output_tokens: 22, total_tokens: 114 },
            latency_ms: 655,
            response_id: 'resp_67ccd2bf0a4c8190a2b7e1c0d4f5a6b70bb6a6b452d3795b',
            status: 'completed',
            scores: {
              accuracy: 3,
              actionability: 2,
              completeness: 3,
              safety_tone: 5,
              weighted: 2.95,
              rationale: {
                accuracy: 'Content agreement with the reference 28%; key facts matched 0/2; missing: 30 days, \'Your Orders\'.',
                actionability: 'No concrete steps; defers to support.',
                completeness: 'Covers 1 of 4 reference points.',
                safety_tone: 'No sensitive-data request, hazardous advice, rudeness or internal details.',
              },
              scorer: 'heuristic',
              reference_source: 'given',
              unscored_reason: null,
              sample_sd: null,
              provenance: RUBRIC_SCORES_EXAMPLE.provenance,
            },
            score_error: null,
            error: null,
          },
        ],
        winner: 'fine-tuned',
        tie_band: WEIGHTED_TIE_BAND,
        deltas: { first: 'fine-tuned', second: 'baseline', accuracy: 2, actionability: 3, completeness: 1, safety_tone: 0, weighted: 1.8 },
        pairwise: null,
        pairwise_errors: null,
        provenance: RUBRIC_SCORES_EXAMPLE.provenance,
      },
      {
        inquiry: 'Is this SSD compatible with a PS5?',
        scorer: 'none',
        results: [
          {
            model: 'fine-tuned',
            model_id: 'ft:gpt-4.1-mini-2025-04-14:buldee:amazon-electronics-ft:CaOkOuOd',
            answer: 'Yes, if it is an M.2 NVMe PCIe Gen4 SSD of 250 GB to 8 TB with a heatsink. Install it under the console\'s expansion slot cover.',
            usage: { input_tokens: 88, output_tokens: 35, total_tokens: 123 },
            latency_ms: 790,
            response_id: 'resp_67ccd2c01b2c8190b3c4d5e6f708192a0bb6a6b452d3795b',
            status: 'completed',
            scores: null,
            score_error: null,
            error: null,
          },
          {
            model: 'baseline',
            model_id: 'gpt-4.1-mini-2025-04-14',
            answer: null,
            usage: null,
            latency_ms: null,
            response_id: null,
            status: null,
            scores: null,
            score_error: null,
            error: {
              code: 'upstream_error',
              message: "The upstream of model 'baseline' failed: The server had an error while processing your request. Sorry about that!",
              upstream_status: 500,
              upstream_request_id: 'req_0f1e2d3c4b5a69788796a5b4c3d2e1f0',
            },
          },
        ],
        winner: null,
        tie_band: WEIGHTED_TIE_BAND,
        deltas: null,
        pairwise: null,
        pairwise_errors: null,
        provenance: null,
      },
    ],
  });

export type CompareResponse = z.infer<typeof CompareResponseSchema>;
export type ComparedModel = z.infer<typeof ComparedModelSchema>;
export type ScoreDeltas = NonNullable<z.infer<typeof ScoreDeltasSchema>>;
