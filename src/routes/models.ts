import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ModelListSchema } from '../schemas/models.js';
import type { Services } from '../services.js';

export const modelRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get('/models', {
    schema: {
      tags: ['models'],
      summary: 'List the configured models',
      description:
        'Every alias with the upstream model id it resolves to, its wire style and whether it can answer now. Keys are never shown, only the name of the variable that holds them.',
      response: { 200: ModelListSchema },
    },
    handler: async () => ({
      models: services.registry.entries.map((entry) => {
        const available = services.registry.apiKeyFor(entry) !== undefined;
        return {
          alias: entry.alias,
          model_id: entry.model_id,
          kind: entry.kind,
          description: entry.description,
          api_style: entry.upstream.api_style,
          base_url: entry.upstream.base_url,
          api_key_env: entry.upstream.api_key_env,
          available,
          unavailable_reason: available ? null : `Set ${entry.upstream.api_key_env}.`,
          defaults: entry.defaults,
        };
      }),
    }),
  });
};
