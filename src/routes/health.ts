import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from '../schemas/error.js';
import type { Services } from '../services.js';

const HealthSchema = z.object({ status: z.literal('ok') }).meta({ examples: [{ status: 'ok' }] });
const ReadySchema = z
  .object({ status: z.literal('ready'), models: z.number().int(), available_models: z.number().int() })
  .meta({ examples: [{ status: 'ready', models: 2, available_models: 0 }] });

export const healthRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get('/health', {
    schema: {
      tags: ['operations'],
      summary: 'Liveness',
      description: 'Answers 200 while the process is alive. Used by the Docker HEALTHCHECK.',
      response: { 200: HealthSchema },
    },
    handler: async () => ({ status: 'ok' as const }),
  });

  app.get('/ready', {
    schema: {
      tags: ['operations'],
      summary: 'Readiness',
      description: 'Answers 200 once the configuration is loaded and the model registry is built. A model without credentials does not make the service unready: it answers 503 on its own.',
      response: { 200: ReadySchema, ...errorResponses('overloaded', 'shutting_down') },
    },
    handler: async () => ({
      status: 'ready' as const,
      models: services.registry.entries.length,
      available_models: services.registry.entries.filter((entry) => services.registry.availability(entry).available).length,
    }),
  });
};
