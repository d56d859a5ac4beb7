import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { answerInquiry } from '../models/answer.js';
import { AnswerRequestSchema, AnswerResponseSchema } from '../schemas/answer.js';
import { BODY_ERRORS, errorResponses, MODEL_CALL_ERRORS, SERVICE_ERRORS } from '../schemas/error.js';
import type { Services } from '../services.js';

export const answerRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.post('/answer', {
    schema: {
      tags: ['answer'],
      summary: 'Answer one support inquiry with one model',
      description:
        'Sends the inquiry to the selected model (an alias such as `fine-tuned` or `baseline`, or a model id the registry lists) with the system prompt the fine-tune was trained on, and returns its answer, token usage and latency. Parameters left out take the alias defaults.',
      body: AnswerRequestSchema,
      response: { 200: AnswerResponseSchema, ...errorResponses(...BODY_ERRORS, 'prompt_not_supported', ...MODEL_CALL_ERRORS, ...SERVICE_ERRORS) },
    },
    handler: async (request) => {
      const { model, ...params } = request.body;
      return answerInquiry(services, model, params, { log: request.log });
    },
  });
};
