import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { publicView } from '../fine-tunes/fine-tune-record.js';
import type { FineTunes } from '../fine-tunes/fine-tunes.js';
import { callerOf } from '../plugins/access-control.js';
import { BODY_ERRORS, errorResponses, MODEL_CALL_ERRORS, SERVICE_ERRORS, STORAGE_ERRORS } from '../schemas/error.js';
import { FineTuneIdParamsSchema, FineTuneListQuerySchema, FineTuneListSchema, FineTuneRequestSchema, FineTuneSchema, MAX_INLINE_JSONL_CHARS } from '../schemas/fine-tunes.js';

const JOB_PATH_ERRORS = ['validation_error', 'fine_tune_not_found', 'database_unavailable'] as const;

export const fineTuneRoutes: FastifyPluginAsyncZod<{ fineTunes: FineTunes }> = async (app, { fineTunes }) => {
  app.post('/fine-tunes', {
    // Two inline files of up to 4 MiB each, with room for JSON escaping.
    bodyLimit: 4 * MAX_INLINE_JSONL_CHARS,
    schema: {
      tags: ['fine-tunes'],
      summary: 'Start a fine-tuning job',
      description:
        'Checks the base model at the upstream, then runs the data checker on the files (format, leakage against the prompt sets of DATA_DIR/prompt_sets, duplicates, tokens and cost) and refuses with its report on format errors or leakage unless `override_data_check` is true; nothing is uploaded before both pass. ' +
        'Then uploads the files (purpose fine-tune) and creates the job (method supervised), and replies 202 with the job record; follow its Location. ' +
        'The service polls the job until it ends, registers the new model under `register_as` when it succeeds and, when asked, starts an evaluation of it. Each upload and the job are made once, even across a restart.',
      body: FineTuneRequestSchema,
      response: {
        202: FineTuneSchema,
        ...errorResponses(
          ...BODY_ERRORS,
          ...MODEL_CALL_ERRORS,
          'unknown_base_model',
          'no_fine_tuning_upstream',
          'offline_alias',
          'data_file_not_found',
          'unknown_prompt_set',
          'invalid_prompt_set',
          'data_check_failed',
          ...STORAGE_ERRORS,
          ...SERVICE_ERRORS,
        ),
      },
    },
    handler: async (request, reply) => {
      const record = await fineTunes.create(request.body, callerOf(request));
      return reply.code(202).header('location', `/fine-tunes/${record.id}`).send(publicView(record));
    },
  });

  app.get('/fine-tunes', {
    schema: {
      tags: ['fine-tunes'],
      summary: 'List fine-tuning jobs',
      description: 'Newest first, a page at a time: follow `next_cursor` with `?cursor=` until it is null.',
      querystring: FineTuneListQuerySchema,
      response: { 200: FineTuneListSchema, ...errorResponses('validation_error', 'invalid_cursor', 'database_unavailable', ...SERVICE_ERRORS) },
    },
    handler: async (request) => {
      const page = await fineTunes.list({ limit: request.query.limit, after: request.query.cursor });
      return { fine_tunes: page.records.map(publicView), next_cursor: page.next };
    },
  });

  app.get('/fine-tunes/:id', {
    schema: {
      tags: ['fine-tunes'],
      summary: 'A fine-tuning job: status, tokens, events, checkpoints, error, alias and evaluation',
      description:
        "As of the service's last poll (every FINE_TUNE_POLL_MS): the status, trained_tokens beside the data checker's estimate, the events (newest first, with step, training and validation loss), the checkpoints, the error object of a failed job, the alias registered and the evaluation run started.",
      params: FineTuneIdParamsSchema,
      response: { 200: FineTuneSchema, ...errorResponses(...JOB_PATH_ERRORS, ...SERVICE_ERRORS) },
    },
    handler: async (request) => publicView(await fineTunes.get(request.params.id)),
  });

  app.delete('/fine-tunes/:id', {
    schema: {
      tags: ['fine-tunes'],
      summary: 'Cancel a fine-tuning job',
      description: 'Cancels the job upstream and replies with the record. 409 when the job has already ended.',
      params: FineTuneIdParamsSchema,
      response: { 200: FineTuneSchema.describe('The cancelled job.'), ...errorResponses(...JOB_PATH_ERRORS, ...MODEL_CALL_ERRORS, 'fine_tune_finished', ...STORAGE_ERRORS, ...SERVICE_ERRORS) },
    },
    handler: async (request) => publicView(await fineTunes.cancel(request.params.id)),
  });
};
