import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { errorResponses, SERVICE_ERRORS } from '../schemas/error.js';
import { ModelListSchema } from '../schemas/models.js';
import { retirementWarning } from '../models/registry.js';
import { publicUrl } from '../secrets.js';
import type { Services } from '../services.js';

export const modelRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get('/models', {
    schema: {
      tags: ['models'],
      summary: 'List the configured models',
      description:
        'Every alias with the upstream model id it resolves to, its wire style and whether it can answer now, with the state of the circuit breaker of its upstream, and its retirement date when configured (`retires_on` in MODELS_FILE), with a warning from 90 days before. Keys are never shown, only the name of the variable that holds them.',
      response: { 200: ModelListSchema, ...errorResponses(...SERVICE_ERRORS) },
    },
    handler: async () => ({
      models: services.registry.entries.map((entry) => {
        const availability = services.registry.availability(entry);
        const upstream = entry.kind === 'openai' ? entry : undefined;
        return {
          alias: entry.alias,
          model_id: entry.model_id,
          kind: entry.kind,
          description: entry.description,
          api_style: upstream?.upstream.api_style ?? null,
          base_url: upstream ? publicUrl(upstream.upstream.base_url) : null,
          api_key_env: upstream?.upstream.api_key_env ?? null,
          available: availability.available,
          unavailable_reason: availability.available ? null : availability.reason,
          circuit: upstream ? services.clients.circuitOf(upstream) : null,
          retires_on: upstream?.retires_on ?? null,
          retirement_warning: retirementWarning(upstream?.retires_on, new Date()),
          defaults: upstream?.defaults ?? null,
        };
      }),
    }),
  });
};
