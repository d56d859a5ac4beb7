import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../db/database.js';
import { AppError } from '../errors.js';
import { errorResponses } from '../schemas/error.js';
import type { Services } from '../services.js';

const HealthSchema = z.object({ status: z.literal('ok') }).meta({ examples: [{ status: 'ok' }] });
const ReadySchema = z
  .object({
    status: z.literal('ready'),
    models: z.number().int(),
    available_models: z.number().int(),
    /** Only with RUNS_STORE=postgres: the database answered `select 1` just now. */
    database: z.object({ status: z.literal('ok'), schema_version: z.number().int() }).optional(),
  })
  .meta({ examples: [{ status: 'ready', models: 2, available_models: 0 }] });

export const healthRoutes: FastifyPluginAsyncZod<{ services: Services; database: Database | null }> = async (app, { services, database }) => {
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
      description:
        'Answers 200 once the configuration is loaded and the model registry is built, and, with RUNS_STORE=postgres, while the database answers `select 1` within 2 s (503 `database_unavailable` otherwise). A model without credentials does not make the service unready: it answers 503 on its own.',
      response: { 200: ReadySchema, ...errorResponses('overloaded', 'shutting_down', 'database_unavailable') },
    },
    handler: async () => {
      const ready = {
        status: 'ready' as const,
        models: services.registry.entries.length,
        available_models: services.registry.entries.filter((entry) => services.registry.availability(entry).available).length,
      };
      if (database === null) return ready;
      try {
        await database.ping();
      } catch (error) {
        throw new AppError(503, 'database_unavailable', `The database (DATABASE_URL) did not answer: ${(error as Error).message}.`);
      }
      return { ...ready, database: { status: 'ok' as const, schema_version: database.schemaVersion } };
    },
  });
};
