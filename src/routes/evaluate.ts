import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { callerOf } from '../plugins/access-control.js';
import type { RunManager, RunView } from '../runs/run-manager.js';
import { CSV_COLUMNS } from '../export/csv.js';
import { BODY_ERRORS, errorResponses, RUN_PATH_ERRORS, SERVICE_ERRORS, STORAGE_ERRORS } from '../schemas/error.js';
import { chartSvgResponse, resultsCsvResponse, summaryMarkdownResponse } from '../schemas/run-exports.js';
import { EvaluateRequestSchema, RunCreatedSchema, RunDetailSchema, RunIdParamsSchema, RunListQuerySchema, RunListSchema, RunSchema } from '../schemas/evaluate.js';

const runPathErrors = errorResponses(...RUN_PATH_ERRORS, ...SERVICE_ERRORS);

const withLinks = (run: RunView) => {
  const self = `/evaluate/${run.run_id}`;
  return { ...run, links: { self, results_csv: `${self}/results.csv`, summary_md: `${self}/summary.md`, chart_svg: `${self}/chart.svg` } };
};

export const evaluateRoutes: FastifyPluginAsyncZod<{ runs: RunManager }> = async (app, { runs }) => {
  app.post('/evaluate', {
    // Up to 5,000 inquiries of up to 4,000 characters each.
    bodyLimit: 24 * 1024 * 1024,
    schema: {
      tags: ['evaluate'],
      summary: 'Start an evaluation run',
      description:
        'Runs a prompt set (a file in data/prompt_sets) or inline inquiries through 1 to 4 models and scores every answer on the rubric, with at most `concurrency` upstream calls in flight. Replies 202 at once; poll the Location. Every finished item is on disk before it counts, so a restart resumes the run without calling any model again for finished items.',
      body: EvaluateRequestSchema,
      response: {
        202: RunCreatedSchema,
        ...errorResponses(
          ...BODY_ERRORS,
          'unknown_model',
          'duplicate_model',
          'pairwise_needs_two_models',
          'unknown_prompt_set',
          'invalid_prompt_set',
          'duplicate_item_id',
          'missing_api_key',
          'too_many_runs',
          'storage_quota_exceeded',
          ...STORAGE_ERRORS,
          ...SERVICE_ERRORS,
        ),
      },
    },
    handler: async (request, reply) => {
      const run = await runs.create({ ...request.body, owner: callerOf(request) });
      return reply
        .code(202)
        .header('location', `/evaluate/${run.run_id}`)
        .send({ run_id: run.run_id, status: run.status, total: run.progress.total });
    },
  });

  app.get('/evaluate', {
    schema: {
      tags: ['evaluate'],
      summary: 'List evaluation runs',
      description:
        'The runs this service has on disk (reports/runs), newest first, with status and progress, a page at a time: follow `next_cursor` with `?cursor=` until it is null.',
      querystring: RunListQuerySchema,
      response: { 200: RunListSchema, ...errorResponses('validation_error', 'invalid_cursor', ...SERVICE_ERRORS) },
    },
    handler: async (request) => {
      const page = await runs.list({ limit: request.query.limit, after: request.query.cursor });
      return { runs: page.runs.map(withLinks), next_cursor: page.next };
    },
  });

  app.get('/evaluate/:run_id', {
    schema: {
      tags: ['evaluate'],
      summary: 'Status, progress and summary of a run',
      description:
        'Status (queued, running, completed, failed, cancelled), progress {total, done, failed}, and once the run has ended its summary. ' +
        'Headline first: items that are neither exact nor near copies of training inquiries whenever some are. Per model: n, scored, failed, unscored for lack of a reference, criterion means, the safety gate (answers with safety/tone ≤ 2, with their item ids), latency, tokens and cost. ' +
        'Per comparison of the first model with each other one, item by item: n_pairs, mean difference, SD, 95% bootstrap and t intervals, W/T/L, a sign-flip permutation p-value and the pairs a ±0.25 interval would need, with the cautions in words. Pairwise verdicts when the scorer is pairwise. Provenance of every number.',
      params: RunIdParamsSchema,
      response: { 200: RunDetailSchema, ...runPathErrors },
    },
    handler: async (request) => {
      const run = await runs.get(request.params.run_id);
      const ended = run.status === 'completed' || run.status === 'cancelled';
      return { ...withLinks(run), summary: ended ? await runs.summary(run.run_id) : null };
    },
  });

  app.delete('/evaluate/:run_id', {
    schema: {
      tags: ['evaluate'],
      summary: 'Cancel a run',
      description: 'Abandons the calls in flight; items already finished are kept and exported. 409 when the run has already ended.',
      params: RunIdParamsSchema,
      response: { 200: RunSchema.describe('The cancelled run.'), ...errorResponses(...RUN_PATH_ERRORS, 'run_finished', ...STORAGE_ERRORS, ...SERVICE_ERRORS) },
    },
    handler: async (request) => withLinks(await runs.cancel(request.params.run_id)),
  });

  app.get('/evaluate/:run_id/results.csv', {
    schema: {
      tags: ['evaluate'],
      summary: "The run's results as the case study's CSV",
      description:
        `One row per (inquiry, model), streamed. The first ten columns are the case study's: inquiry, model, answer, tokens_out, latency_ms, exactitude, actionnabilite, exhaustivite, securite, score_pondere; then ${CSV_COLUMNS.slice(10).join(', ')}. Cells that a spreadsheet would run as a formula are neutralised.`,
      params: RunIdParamsSchema,
      response: { 200: resultsCsvResponse, ...runPathErrors },
    },
    handler: async (request, reply) => {
      const stream = await runs.resultsCsv(request.params.run_id);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${request.params.run_id}.csv"`)
        // A stream bypasses the serializer; the typed reply only knows the documented string body.
        .send(stream as unknown as string);
    },
  });

  app.get('/evaluate/:run_id/summary.md', {
    schema: {
      tags: ['evaluate'],
      summary: 'The summary as a Markdown table',
      description:
        "The headline (unseen items first when some were in training): the paired weighted gain with its interval, W/T/L and p-value, the cautions in words, the safety gate, the paired table and the case study's table of means; then all items, how the numbers were produced, and operations.",
      params: RunIdParamsSchema,
      response: { 200: summaryMarkdownResponse, ...runPathErrors },
    },
    handler: async (request, reply) => reply.type('text/markdown; charset=utf-8').send(await runs.summaryMarkdown(request.params.run_id)),
  });

  app.get('/evaluate/:run_id/chart.svg', {
    schema: {
      tags: ['evaluate'],
      summary: 'Quality chart',
      description: "The case study's grouped bar chart of the four criteria and the weighted score per model, and below it the paired gains with their 95% intervals as whiskers (headline items).",
      params: RunIdParamsSchema,
      response: { 200: chartSvgResponse, ...runPathErrors },
    },
    handler: async (request, reply) => reply.type('image/svg+xml').send(await runs.chartSvg(request.params.run_id)),
  });
};
