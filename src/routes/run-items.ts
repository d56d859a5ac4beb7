import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { RunManager } from '../runs/run-manager.js';
import { errorResponses, RUN_PATH_ERRORS, SERVICE_ERRORS } from '../schemas/error.js';
import { RunIdParamsSchema } from '../schemas/evaluate.js';
import { RunItemsPageSchema, RunItemsQuerySchema } from '../schemas/run-report.js';

/** A run's results as JSON, an item at a time with every model side by side: what the report page reads. */
export const runItemsRoutes: FastifyPluginAsyncZod<{ runs: RunManager }> = async (app, { runs }) => {
  app.get('/evaluate/:run_id/items', {
    schema: {
      tags: ['evaluate'],
      summary: "A page of a run's items, the models side by side",
      description:
        "The run's items (finished or not, while it runs too), each with its inquiry, reference, category and training overlap, every model's answer with its four scores, rationales and row in results.csv, " +
        'the weighted difference of the first model minus each other one, and its flags (in training, failed, unsafe, judge order-inconsistent, pending). ' +
        'Filter by flag, category and text, sort by the difference, and follow `next_cursor` with `?cursor=` until it is null; `facets` counts the categories and flags of all items.',
      params: RunIdParamsSchema,
      querystring: RunItemsQuerySchema,
      response: { 200: RunItemsPageSchema, ...errorResponses(...RUN_PATH_ERRORS, ...SERVICE_ERRORS) },
    },
    handler: async (request) => {
      const { cursor, limit, flag, category, q, sort, versus } = request.query;
      return runs.items(request.params.run_id, { offset: cursor === undefined ? 0 : Number(cursor), limit, flag, category, q, sort, versus });
    },
  });
};
