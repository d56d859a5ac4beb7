import { z } from 'zod';
import { RATER_NAME, RATER_NAME_RULE } from '../config.js';
import { ANSWER_KEYS } from '../runs/blinding.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../runs/run-store.js';
import { byCriterion, RUBRIC, type Criterion } from '../scoring/rubric.js';

export const MAX_COMMENT_LENGTH = 2000;

export const RaterSchema = z
  .string()
  .regex(RATER_NAME, `a rater name: ${RATER_NAME_RULE}`)
  .transform((name) => name.normalize('NFC'))
  .describe(
    `Who rates (${RATER_NAME_RULE}). Without SERVICE_API_KEYS a rater names themself here, and must. With keys the rater is the key's label and this may be left out; a different name is refused (403 rater_mismatch).`,
  );

const AnswerKeySchema = z.enum(ANSWER_KEYS).describe('An answer as the rater sees it: A, B, C or D, never the model.');
const PreferenceSchema = z
  .enum([...ANSWER_KEYS, 'tie'])
  .nullable()
  .describe('The answer preferred overall, tie, or null when the rater does not say.');

const level = (criterion: Criterion) =>
  z
    .number()
    .int(`${criterion} must be a whole level from 1 to 5`)
    .min(1, `${criterion} must be a whole level from 1 to 5`)
    .max(5, `${criterion} must be a whole level from 1 to 5`)
    .describe(`${RUBRIC[criterion].title}, 1 (worst) to 5 (best), with the rubric's anchored levels.`);

export const CriterionLevelsSchema = z.strictObject(byCriterion(level)).describe('The four criteria of one answer, each a whole level 1-5.');

const ScoresWithWeightedSchema = z
  .object({
    ...byCriterion(level),
    weighted: z.number().describe("The weighted score of the four levels with the run's rubric weights."),
  })
  .describe('The four levels and their weighted score.');

/** An object with an optional entry per answer key: clearer in the OpenAPI document than a record. */
const byAnswerKey = <T extends z.ZodType>(value: T) => ({ A: value.optional(), B: value.optional(), C: value.optional(), D: value.optional() });

export const RatingItemsQuerySchema = z.strictObject({
  rater: RaterSchema.optional(),
  cursor: z
    .string()
    .regex(/^[1-9][0-9]{0,5}$/, 'the next_cursor of the previous page')
    .optional()
    .describe("The next_cursor of the previous page, or any position: the page holds the items after it (first_unrated − 1 resumes at the rater's first unrated item)."),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE).describe(`Items per page (1 to ${MAX_PAGE_SIZE}).`),
});

export const RatingByKeysSchema = z
  .object({
    rater: z.string(),
    item_id: z.string(),
    answers: z.object(byAnswerKey(ScoresWithWeightedSchema)).describe('The scores of each answer, by the key the rater sees.'),
    preference: PreferenceSchema,
    comment: z.string().nullable(),
    rated_at: z.string().describe('When this version of the rating was stored (ISO 8601).'),
  })
  .describe("A rating as its rater sees it: by answer keys, never by model.")
  .meta({ id: 'RatingByKeys' });

export const RatingItemSchema = z.object({
  item_id: z.string(),
  position: z.number().int().min(1).describe("The item's place in the run (1-based). Items with no answer at all are left out, so positions may skip."),
  inquiry: z.string(),
  reference: z.string().nullable().describe('The reference answer, when the item has one.'),
  category: z.string().nullable(),
  answers: z
    .array(z.object({ key: AnswerKeySchema, text: z.string() }))
    .describe(
      "The item's answers, A first, in an order drawn for this run, item and rater (the same on every reload; another rater sees another). A model that failed on the item has no entry, and no gap shows.",
    ),
  rating: RatingByKeysSchema.nullable().describe("This rater's current rating of the item, or null."),
});

export const RatingItemsPageSchema = z
  .object({
    rater: z.string().describe("Who these items are for: the name given, or with SERVICE_API_KEYS the key's label, which is what a page shows its rater."),
    items: z.array(RatingItemSchema).describe("A page of the run's items that have at least one answer, in the run's order."),
    total: z.number().int().describe('Items with at least one answer to rate.'),
    rated: z.number().int().describe('Of those, the items this rater has rated.'),
    first_unrated: z
      .number()
      .int()
      .nullable()
      .describe(
        "The position of this rater's first unrated item, where a page resumes: `cursor` = that position minus 1 (no cursor for 1) gives a page that starts with it. null once every item is rated.",
      ),
    next_cursor: z
      .string()
      .nullable()
      .describe("Pass as `cursor` for the next page; null on the last page. A cursor is a position: a page holds the items after it."),
  })
  .describe('Blinded items for one rater.');

export const RatingRequestSchema = z
  .strictObject({
    rater: RaterSchema.optional(),
    item_id: z.string().min(1).max(100).describe('The item rated, from GET /evaluate/{run_id}/rating-items.'),
    answers: z
      .strictObject(byAnswerKey(CriterionLevelsSchema))
      .refine((answers) => Object.values(answers).some((scores) => scores !== undefined), 'rate at least one answer')
      .describe("Every answer of the item, by the key it was shown under, each with the four criteria."),
    preference: PreferenceSchema.optional(),
    comment: z.string().max(MAX_COMMENT_LENGTH).nullable().optional().describe(`A note, up to ${MAX_COMMENT_LENGTH} characters.`),
  })
  .meta({
    examples: [
      {
        rater: 'alice',
        item_id: 'item-01',
        answers: {
          A: { accuracy: 4, actionability: 5, completeness: 4, safety_tone: 5 },
          B: { accuracy: 2, actionability: 2, completeness: 3, safety_tone: 5 },
        },
        preference: 'A',
        comment: 'B never says where to start the return.',
      },
    ],
  });

export const UnblindedRatingSchema = z.object({
  rater: z.string(),
  item_id: z.string(),
  scores: z.record(z.string(), ScoresWithWeightedSchema).describe('By model alias.'),
  preference: z.string().nullable().describe('The alias preferred overall, tie, or null.'),
  comment: z.string().nullable(),
  rated_at: z.string(),
});

export const RatingsListSchema = z
  .object({ ratings: z.array(UnblindedRatingSchema).describe("Each rater's current rating of each item (the last one posted), by item id then rater.") })
  .describe('Every rating of the run, by model alias: for analysis, not for raters.');

export type RatingRequest = z.infer<typeof RatingRequestSchema>;
export type RatingByKeys = z.infer<typeof RatingByKeysSchema>;
export type RatingItem = z.infer<typeof RatingItemSchema>;
export type UnblindedRating = z.infer<typeof UnblindedRatingSchema>;
