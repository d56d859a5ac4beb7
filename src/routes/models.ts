import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { promoteAlias, unknownAlias } from '../models/alias-promotion.js';
import type { AliasAssignment, ModelAliases } from '../models/model-aliases.js';
import { callerOf } from '../plugins/access-control.js';
import type { RunManager } from '../runs/run-manager.js';
import { BODY_ERRORS, errorResponses, SERVICE_ERRORS } from '../schemas/error.js';
import { AliasHistorySchema, AliasParamsSchema, ModelListSchema, PromoteBodySchema, PromotionSchema } from '../schemas/models.js';
import { retirementWarning, type ModelEntry } from '../models/registry.js';
import { publicUrl } from '../secrets.js';
import type { Services } from '../services.js';

/** An assignment as replies show it: every field present, null when unset. */
const shown = (assignment: AliasAssignment) => ({ ...assignment, note: assignment.note ?? null, like: assignment.like ?? null });

export const modelRoutes: FastifyPluginAsyncZod<{ services: Services; aliases: ModelAliases; runs: RunManager }> = async (app, { services, aliases, runs }) => {
  const modelInfoOf = (entry: ModelEntry) => {
    const availability = services.registry.availability(entry);
    const upstream = entry.kind === 'openai' ? entry : undefined;
    // A run-time assignment the registry could not apply (see model-aliases.ts) is not this entry's.
    const assigned = aliases.current(entry.alias);
    const applied = assigned?.model_id === entry.model_id ? assigned : undefined;
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
      batch_api: upstream?.batch_api ?? null,
      retires_on: upstream?.retires_on ?? null,
      retirement_warning: retirementWarning(upstream?.retires_on, new Date()),
      assigned_at: applied?.assigned_at ?? null,
      assigned_by: applied?.assigned_by ?? null,
      defaults: upstream?.defaults ?? null,
    };
  };

  app.get('/models', {
    schema: {
      tags: ['models'],
      summary: 'List the configured models',
      description:
        'Every alias with the upstream model id it resolves to, its wire style and whether it can answer now, with the state of the circuit breaker of its upstream, and its retirement date when configured (`retires_on` in MODELS_FILE), with a warning from 90 days before. Keys are never shown, only the name of the variable that holds them.',
      response: { 200: ModelListSchema, ...errorResponses(...SERVICE_ERRORS) },
    },
    handler: async (request) => {
      // Another replica may have re-pointed an alias since the last timed read; a store that cannot be read
      // leaves the list as this process last knew it.
      await aliases.refresh().catch((error: unknown) => request.log.warn({ reason: (error as Error).message }, 'model aliases could not be read again'));
      return { models: services.registry.entries.map(modelInfoOf) };
    },
  });

  app.post('/models/:alias/promote', {
    schema: {
      tags: ['models'],
      summary: 'Point an alias at another model',
      description:
        'Re-points the alias (e.g. `fine-tuned`) at a model the registry knows, given by its alias (e.g. `fine-tuned-next`) or model id, without a restart: at once in this process, in the store (RUNS_STORE) for restarts and the other replicas. ' +
        "The newest ended evaluation run that compared the candidate with the alias's current model is read first: when its headline section shows the candidate worse with the paired 95% interval below 0, the promote is refused (409 `significant_loss`) unless `override_significant_loss` is true. " +
        'With no such run the promote goes ahead, with a warning. The alias keeps its own upstream settings; the offline aliases cannot be re-pointed. Each promote is recorded with who did it and when (GET /models/{alias}/history).',
      params: AliasParamsSchema,
      body: PromoteBodySchema,
      response: {
        200: PromotionSchema,
        ...errorResponses('validation_error', 'unknown_model', 'offline_alias', 'unknown_alias', 'significant_loss', 'database_unavailable', 'storage_unavailable', 'insufficient_storage', ...BODY_ERRORS, ...SERVICE_ERRORS),
      },
    },
    handler: async (request) => {
      const { model, override_significant_loss, reason } = request.body;
      const promotion = await promoteAlias(
        { registry: services.registry, aliases, runs },
        { alias: request.params.alias, model, override_significant_loss, note: reason, assigned_by: request.apiKeyLabel ?? callerOf(request) },
      );
      request.log.info({ alias: promotion.assignment.alias, model_id: promotion.assignment.model_id, evaluation_run_id: promotion.assignment.evaluation_run_id }, 'alias promoted');
      return { ...promotion, assignment: shown(promotion.assignment) };
    },
  });

  app.get('/models/:alias/history', {
    schema: {
      tags: ['models'],
      summary: "An alias's assignments",
      description: 'Every run-time assignment of the alias, oldest first: by a promote or a fine-tuning job, with who did it, when, and the evaluation checked. Empty for an alias that is as configured.',
      params: AliasParamsSchema,
      response: { 200: AliasHistorySchema, ...errorResponses('validation_error', 'unknown_alias', 'database_unavailable', ...SERVICE_ERRORS) },
    },
    handler: async (request) => {
      const { alias } = request.params;
      const assignments = await aliases.history(alias);
      if (assignments.length === 0 && !services.registry.entries.some((entry) => entry.alias === alias)) {
        throw unknownAlias(alias, services.registry);
      }
      return { alias, assignments: assignments.map(shown) };
    },
  });
};
