import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { RATER_NAME_RULE } from '../config.js';
import { AppError } from '../errors.js';
import { ratingsCsvText } from '../export/ratings-csv.js';
import { createRatings } from '../runs/ratings.js';
import type { RunManager } from '../runs/run-manager.js';
import type { RunStore } from '../runs/run-store.js';
import { BODY_ERRORS, errorResponses, RUN_PATH_ERRORS, SERVICE_ERRORS, STORAGE_ERRORS } from '../schemas/error.js';
import { RunIdParamsSchema } from '../schemas/evaluate.js';
import { RatingByKeysSchema, RatingItemsPageSchema, RatingItemsQuerySchema, RatingRequestSchema, RatingsListSchema } from '../schemas/ratings.js';
import { z } from 'zod';

/**
 * Who rates. With SERVICE_API_KEYS the key says it: its label, and a request that names someone else is
 * refused rather than ignored, so that a page sending a stale name finds out at once instead of filing
 * ratings under a name its user never sees. Without keys, raters name themselves.
 */
export function raterOf(request: Pick<FastifyRequest, 'apiKeyLabel'>, named: string | undefined): string {
  const label = request.apiKeyLabel;
  if (label !== null) {
    if (named !== undefined && named !== label) {
      throw new AppError(403, 'rater_mismatch', `This API key rates as '${label}'; leave \`rater\` out, or send '${label}'.`, { details: { rater: label } });
    }
    return label;
  }
  if (named === undefined) {
    throw new AppError(400, 'rater_required', `Name the rater: send \`rater\` (${RATER_NAME_RULE}). Without SERVICE_API_KEYS, raters name themselves.`);
  }
  return named;
}

const BLINDING =
  'Answers are shown under keys A-D in an order drawn for each run, item and rater (seeded from a hash of the three: a reload shows the same order, another rater sees another); model names and ids are never shown.';

const RATINGS_CSV_EXAMPLE = ratingsCsvText(
  [
    {
      run_id: 'run_20261124T235900Z_ab12cd',
      rater: 'alice',
      item_id: 'item-01',
      scores: {
        'fine-tuned': { accuracy: 4, actionability: 5, completeness: 4, safety_tone: 5, weighted: 4.35 },
        baseline: { accuracy: 2, actionability: 2, completeness: 3, safety_tone: 5, weighted: 2.55 },
      },
      preference: 'fine-tuned',
      comment: 'B never says where to start the return.',
      shown: ['fine-tuned', 'baseline'],
      rated_at: '2026-11-25T09:14:03.512Z',
    },
  ],
  [
    { alias: 'fine-tuned', model_id: 'ft:gpt-4.1-mini-2025-04-14:buldee:amazon-electronics-ft:CaOkOuOd' },
    { alias: 'baseline', model_id: 'gpt-4.1-mini-2025-04-14' },
  ],
);

export const ratingsRoutes: FastifyPluginAsyncZod<{ runs: RunManager; store: RunStore }> = async (app, { runs, store }) => {
  const ratings = createRatings({ store, runs, log: app.log });
  app.addHook('onClose', async () => ratings.close());
  const runErrors = [...RUN_PATH_ERRORS, 'rater_required', 'rater_mismatch', 'no_answers_yet', ...SERVICE_ERRORS] as const;

  app.get('/evaluate/:run_id/rating-items', {
    schema: {
      tags: ['ratings'],
      summary: "A rater's blinded items",
      description:
        `The run's items that have at least one answer, a page at a time (follow \`next_cursor\`), each with its inquiry, reference and category, its answers, and this rater's current rating of it. ${BLINDING} ` +
        'An item on which a model failed shows the answers there are. Works for a run of any status once some answers exist; 409 before.',
      params: RunIdParamsSchema,
      querystring: RatingItemsQuerySchema,
      response: { 200: RatingItemsPageSchema, ...errorResponses(...runErrors) },
    },
    handler: async (request) => {
      const { rater, cursor, limit } = request.query;
      return ratings.items(request.params.run_id, raterOf(request, rater), { cursor: cursor === undefined ? undefined : Number(cursor), limit });
    },
  });

  app.post('/evaluate/:run_id/ratings', {
    schema: {
      tags: ['ratings'],
      summary: 'Rate the answers of one item',
      description:
        "Scores every answer of the item by the key it was shown under (whole levels 1-5 per criterion), with an optional overall preference and comment. The keys are mapped back to the models and the rating is appended to the run's ratings.jsonl before the reply (201 for a first rating, 200 for a revision: posting again for the same rater and item replaces the rating). " +
        'The reply is the rating as stored, by keys. 400 for an item with nothing to rate, keys that are not the answers’ keys, or a level out of range.',
      params: RunIdParamsSchema,
      body: RatingRequestSchema,
      response: {
        200: RatingByKeysSchema.describe('The revised rating.'),
        201: RatingByKeysSchema.describe('The first rating of this item by this rater.'),
        ...errorResponses(...BODY_ERRORS, ...runErrors, 'unknown_item', 'answer_keys_mismatch', ...STORAGE_ERRORS),
      },
    },
    handler: async (request, reply) => {
      const { rater, ...rating } = request.body;
      const stored = await ratings.rate(request.params.run_id, raterOf(request, rater), rating);
      return reply.code(stored.revised ? 200 : 201).send(stored.rating);
    },
  });

  app.get('/evaluate/:run_id/ratings', {
    schema: {
      tags: ['ratings'],
      summary: 'Every rating, unblinded',
      description:
        "Each rater's current rating of each item, by model alias, for analysis. Any caller who may rate may call it, so a rater who does can unblind the answers: give raters the rating pages, not this link.",
      params: RunIdParamsSchema,
      response: { 200: RatingsListSchema, ...errorResponses(...RUN_PATH_ERRORS, ...SERVICE_ERRORS) },
    },
    handler: async (request) => ({ ratings: await ratings.list(request.params.run_id) }),
  });

  app.get('/evaluate/:run_id/ratings.csv', {
    schema: {
      tags: ['ratings'],
      summary: 'Every rating as CSV, unblinded',
      description:
        'A row per rating and model: run_id, item_id, rater, model_alias, model_id, shown_as (the key the rater saw it under), the four levels, weighted, preferred, preference, comment, rated_at. Cells a spreadsheet would run as a formula are neutralised, as in results.csv.',
      params: RunIdParamsSchema,
      response: {
        200: { description: 'CSV with a header row; sent as an attachment.', content: { 'text/csv': { schema: z.string().meta({ examples: [RATINGS_CSV_EXAMPLE] }) } } },
        ...errorResponses(...RUN_PATH_ERRORS, ...SERVICE_ERRORS),
      },
    },
    handler: async (request, reply) => {
      const csv = await ratings.csv(request.params.run_id);
      return (
        reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${request.params.run_id}-ratings.csv"`)
          // A stream bypasses the serializer; the typed reply only knows the documented string body.
          .send(csv as unknown as string)
      );
    },
  });
};
