import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { errorResponses, SERVICE_ERRORS } from '../schemas/error.js';
import { rubricReply, RubricSchema } from '../schemas/rubric.js';
import type { RubricWeights } from '../scoring/rubric.js';

/** The rubric as data, for the rating page and any other reader: the same text the judge is shown. */
export const rubricRoutes: FastifyPluginAsyncZod<{ weights: Readonly<RubricWeights> }> = async (app, { weights }) => {
  const rubric = rubricReply(weights);
  app.get('/rubric', {
    schema: {
      tags: ['ratings'],
      summary: 'The rubric',
      description:
        "The four criteria, what each measures and the description of each of its five levels, as the LLM judge is shown them and as the rating page shows them to people, with the service's weights.",
      response: { 200: RubricSchema, ...errorResponses(...SERVICE_ERRORS) },
    },
    handler: async () => rubric,
  });
};
