import { z } from 'zod';
import { TRAINING_OVERLAPS } from '../data/near-duplicate.js';
import { ITEM_FLAGS, ITEM_SORTS } from '../runs/run-items.js';
import { RubricScoresSchema } from '../scoring/rubric.js';
import { AnswerStatusSchema } from './answer.js';

/** Items per page of GET /evaluate/{run_id}/items. */
export const DEFAULT_ITEMS_PAGE = 25;
export const MAX_ITEMS_PAGE = 100;

export const RunHeadlineSchema = z
  .object({
    section: z.enum(['unseen', 'all']).describe('unseen when some items are copies of training inquiries (the summary then reads those first), else all.'),
    items: z.number().int().describe('Items in that section.'),
    partial: z.boolean().describe('True when the run was cut short and the summary covers the items it finished.'),
    gains: z
      .array(
        z.object({
          first: z.string(),
          second: z.string(),
          n_pairs: z.number().int(),
          mean_difference: z.number().nullable().describe('Weighted score, first minus second, averaged over the paired items; null without pairs.'),
          ci95: z
            .object({ low: z.number(), high: z.number(), method: z.enum(['bootstrap', 't']) })
            .nullable()
            .describe('The 95% interval the summary leads with (bootstrap, else t); null with fewer than 2 pairs.'),
          text: z.string().describe('The gain in one line, as the summary writes it.'),
        }),
      )
      .describe('The first model against each other one.'),
  })
  .nullable()
  .describe('The weighted gains of an ended run, from the summary written when it ended; null while it runs, and for a failed run.')
  .meta({ id: 'RunHeadline' });

const ErrorOfResultSchema = z
  .object({ stage: z.enum(['answer', 'score']), code: z.string(), message: z.string() })
  .nullable()
  .describe('Why the result failed, when it did.');

const ItemResultSchema = z
  .object({
    model_alias: z.string(),
    model_id: z.string(),
    outcome: z.enum(['scored', 'unscored', 'failed']),
    answer: z.string().nullable(),
    answer_status: AnswerStatusSchema.nullable(),
    scores: RubricScoresSchema.nullable(),
    error: ErrorOfResultSchema,
    latency_ms: z.number().nullable(),
    tokens_in: z.number().int().nullable(),
    tokens_out: z.number().int().nullable(),
    unsafe: z.boolean().describe('Safety and tone at or below the safety gate (2).'),
    csv_row: z.number().int().min(2).describe("The result's row in results.csv as a spreadsheet numbers it (the header is row 1)."),
    finished_at: z.string(),
  })
  .meta({ id: 'ItemResult' });

const ItemVerdictSchema = z.object({
  first: z.string(),
  second: z.string(),
  outcome: z.enum(['judged', 'failed']),
  preference: z.enum(['first', 'second', 'tie']).nullable().describe("The pairwise judge's overall preference over both orders."),
  inconsistent: z.array(z.string()).describe('Aspects whose verdict flipped when the two answers swapped places.'),
  rationale: z.string().nullable(),
  error: ErrorOfResultSchema,
});

export const ReportItemSchema = z
  .object({
    position: z.number().int().min(1).describe("1-based place in the run's order."),
    item_id: z.string(),
    inquiry: z.string(),
    reference: z.string().nullable(),
    category: z.string().nullable(),
    in_training: z.enum(TRAINING_OVERLAPS).describe('exact or near when the fine-tune was trained on this inquiry or a paraphrase of it.'),
    training_line: z.number().int().nullable(),
    training_similarity: z.number().nullable(),
    flags: z.object({
      in_training: z.boolean(),
      failed: z.boolean().describe('A model failed to answer, or its answer failed to be scored.'),
      unsafe: z.boolean().describe('An answer scored 2 or less on safety and tone.'),
      order_inconsistent: z.boolean().describe('The pairwise judge preferred each answer in one of the two orders.'),
      pending: z.boolean().describe('Some model has not finished this item yet.'),
    }),
    results: z.array(ItemResultSchema.nullable()).describe("One per model, in the run's order; null until that model's result is in."),
    differences: z
      .array(z.object({ first: z.string(), second: z.string(), weighted: z.number().nullable() }))
      .describe("The first model's weighted score minus each other model's; null unless both were scored on every criterion."),
    verdicts: z.array(ItemVerdictSchema).describe('Pairwise verdicts (the pairwise scorer only).'),
  })
  .meta({ id: 'ReportItem' });

export const RunItemsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_ITEMS_PAGE).default(DEFAULT_ITEMS_PAGE).describe(`Items per page (1 to ${MAX_ITEMS_PAGE}).`),
  cursor: z
    .string()
    .regex(/^\d{1,6}$/, 'the next_cursor of the previous page')
    .optional()
    .describe('The next_cursor of the previous page (how many matching items come before this page).'),
  flag: z.enum(ITEM_FLAGS).optional().describe('Only items with this flag. in_training: exact or near; pending: not finished by every model.'),
  category: z.string().max(100).optional().describe('Only items of this category.'),
  q: z.string().max(200).optional().describe('Only items with this text (case-insensitive) in their id, inquiry, reference, category, an answer, a rationale or an error.'),
  sort: z
    .enum(ITEM_SORTS)
    .default('position')
    .describe("position: the run's order; difference_desc / difference_asc: the weighted difference (first model minus `versus`), items without one last."),
  versus: z.string().max(100).optional().describe('The model the difference is sorted by (not the first); the second model by default.'),
});

export const RunItemsPageSchema = z
  .object({
    run_id: z.string(),
    models: z.array(z.object({ alias: z.string(), model_id: z.string() })),
    versus: z.string().nullable().describe('The model differences are sorted against; null for a run of one model.'),
    total_items: z.number().int().describe('Items in the run.'),
    matched: z.number().int().describe('Items that pass the filters.'),
    offset: z.number().int(),
    limit: z.number().int(),
    next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page.'),
    facets: z
      .object({
        categories: z.array(z.object({ category: z.string(), items: z.number().int() })),
        flags: z.object(Object.fromEntries(ITEM_FLAGS.map((flag) => [flag, z.number().int()])) as Record<(typeof ITEM_FLAGS)[number], z.ZodNumber>),
      })
      .describe('Counts over all the run’s items, whatever the filters: what the filters can choose from.'),
    items: z.array(ReportItemSchema),
  })
  .describe("A page of the run's items, every model's result side by side.");
