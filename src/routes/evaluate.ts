import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { callerOf } from '../plugins/access-control.js';
import type { RunManager, RunView } from '../runs/run-manager.js';
import { CSV_COLUMNS, withByteOrderMark } from '../export/csv.js';
import { WIDE_ITEM_COLUMNS, WIDE_MODEL_COLUMNS } from '../export/csv-wide.js';
import { BODY_ERRORS, errorResponses, RUN_PATH_ERRORS, SERVICE_ERRORS, STORAGE_ERRORS } from '../schemas/error.js';
import { chartSvgResponse, CsvDownloadQuerySchema, resultsCsvResponse, resultsWideCsvResponse, summaryMarkdownResponse } from '../schemas/run-exports.js';
import { EvaluateRequestSchema, RescoreRequestSchema, RunCreatedSchema, RunDetailSchema, RunIdParamsSchema, RunListQuerySchema, RunListSchema, RunSchema } from '../schemas/evaluate.js';

const runPathErrors = errorResponses(...RUN_PATH_ERRORS, ...SERVICE_ERRORS);

/** What any new run can be refused for, whatever its body: a judge with no key, the caller's caps, the store. */
const NEW_RUN_ERRORS = ['missing_api_key', 'too_many_runs', 'storage_quota_exceeded', ...STORAGE_ERRORS, ...SERVICE_ERRORS] as const;

/** The 202 of a new run: where to poll it, and how much work it has. */
const accepted = (run: RunView) => ({
  location: `/evaluate/${run.run_id}`,
  body: { run_id: run.run_id, status: run.status, total: run.progress.total },
});

const withLinks = (run: RunView) => {
  const self = `/evaluate/${run.run_id}`;
  return {
    ...run,
    mode: run.mode ?? 'live',
    links: { self, results_csv: `${self}/results.csv`, results_wide_csv: `${self}/results-wide.csv`, summary_md: `${self}/summary.md`, chart_svg: `${self}/chart.svg` },
  };
};

const BOM_NOTE = 'With `?bom=1` the file starts with a UTF-8 byte-order mark, for Excel on Windows.';
const SAVED_NOTE = "Built from the results while the run goes on; once it has ended, the file written when it ended.";

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
          'batch_unsupported',
          ...NEW_RUN_ERRORS,
        ),
      },
    },
    handler: async (request, reply) => {
      const { location, body } = accepted(await runs.create({ ...request.body, owner: callerOf(request) }));
      return reply.code(202).header('location', location).send(body);
    },
  });

  app.post('/evaluate/:run_id/rescore', {
    schema: {
      tags: ['evaluate'],
      summary: "Score an ended run's answers again, with another scorer",
      description:
        "A new run over the items and answers of the ended run `run_id`, scored with the scorer asked for; no model is asked to answer again (each pair's answer, status, tokens and latency are the source run's). " +
        "A pair whose answer failed in the source run, or that it never answered, is recorded failed with `no_stored_answer` and the source's reason. The new run says which run it rescores (`rescore_of`, also in its summary's provenance). Replies 202 at once, as POST /evaluate; poll the Location.",
      params: RunIdParamsSchema,
      body: RescoreRequestSchema,
      response: {
        202: RunCreatedSchema,
        ...errorResponses(
          ...BODY_ERRORS,
          ...RUN_PATH_ERRORS,
          'model_not_in_source_run',
          'invalid_judge',
          'unknown_model',
          'duplicate_model',
          'pairwise_needs_two_models',
          'run_not_ended',
          'nothing_to_rescore',
          ...NEW_RUN_ERRORS,
        ),
      },
    },
    handler: async (request, reply) => {
      const { location, body } = accepted(await runs.rescore(request.params.run_id, { ...request.body, owner: callerOf(request) }));
      return reply.code(202).header('location', location).send(body);
    },
  });

  app.get('/evaluate', {
    schema: {
      tags: ['evaluate'],
      summary: 'List evaluation runs',
      description:
        'The runs this service has on disk (reports/runs), newest first, with status and progress and, once a run has ended, its headline weighted gains, a page at a time: follow `next_cursor` with `?cursor=` until it is null.',
      querystring: RunListQuerySchema,
      response: { 200: RunListSchema, ...errorResponses('validation_error', 'invalid_cursor', ...SERVICE_ERRORS) },
    },
    handler: async (request) => {
      const page = await runs.list({ limit: request.query.limit, after: request.query.cursor });
      const listed = await Promise.all(page.runs.map(async (run) => ({ ...withLinks(run), headline: await runs.headline(run.run_id) })));
      return { runs: listed, next_cursor: page.next };
    },
  });

  app.get('/evaluate/:run_id', {
    schema: {
      tags: ['evaluate'],
      summary: 'Status, progress and summary of a run',
      description:
        'Status (queued, running, completed, failed, cancelled), progress {total, done, failed}, and once the run has ended its summary. ' +
        'Headline first: items that are neither exact nor near copies of training inquiries whenever some are. Per model: n, scored, failed, unscored for lack of a reference, criterion means, the safety gate (answers with safety/tone ≤ 2, with their item ids), latency, tokens and cost. ' +
        'Per comparison of the first model with each other one, item by item: n_pairs, mean difference, SD, 95% bootstrap and t intervals, W/T/L, a sign-flip permutation p-value and the pairs a ±0.25 interval would need, with the cautions in words. Pairwise verdicts when the scorer is pairwise. Provenance of every number, and (`completeness`) how many items a cancelled run finished.',
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

  const csvDownloads = [
    {
      path: '/evaluate/:run_id/results.csv',
      summary: "The run's results as the case study's CSV",
      description:
        `One row per (inquiry, model), streamed. The first ten columns are the case study's: ${CSV_COLUMNS.slice(0, 10).join(', ')}; then ${CSV_COLUMNS.slice(10).join(', ')}. ` +
        `Cells that a spreadsheet would run as a formula are neutralised. ${SAVED_NOTE} ${BOM_NOTE}`,
      response: resultsCsvResponse,
      filename: (runId: string) => `${runId}.csv`,
      open: (runId: string) => runs.resultsCsv(runId),
    },
    {
      path: '/evaluate/:run_id/results-wide.csv',
      summary: "The run's results side by side: a row per inquiry",
      description:
        `One row per inquiry, in the run's order, for reading the models side by side in a spreadsheet: ${WIDE_ITEM_COLUMNS.join(', ')}; then a group per model, in the run's order, ` +
        `${WIDE_MODEL_COLUMNS.map((column) => `<alias>_${column}`).join(', ')}; then for each model after the first, <first>_minus_<other>_score_pondere: ` +
        "the item's weighted score of the first model minus the other's, blank unless both have one (its mean over the items is the summary's paired gain). " +
        `Cells that a spreadsheet would run as a formula are neutralised. ${SAVED_NOTE} ${BOM_NOTE}`,
      response: resultsWideCsvResponse,
      filename: (runId: string) => `${runId}-wide.csv`,
      open: (runId: string) => runs.resultsWideCsv(runId),
    },
  ];
  for (const download of csvDownloads) {
    app.get(download.path, {
      schema: {
        tags: ['evaluate'],
        summary: download.summary,
        description: download.description,
        params: RunIdParamsSchema,
        querystring: CsvDownloadQuerySchema,
        response: { 200: download.response, ...runPathErrors },
      },
      handler: async (request, reply) => {
        const csv = await download.open(request.params.run_id);
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${download.filename(request.params.run_id)}"`)
          // A stream bypasses the serializer; the typed reply only knows the documented string body.
          .send((request.query.bom ? withByteOrderMark(csv) : csv) as unknown as string);
      },
    });
  }

  app.get('/evaluate/:run_id/summary.md', {
    schema: {
      tags: ['evaluate'],
      summary: 'The summary as a Markdown table',
      description:
        'A run cut short (queued, running, cancelled or failed) says first how many items finished. ' +
        "Then the headline (unseen items first when some were in training): the paired weighted gain with its interval, W/T/L and p-value, the cautions in words, the safety gate, the paired table and the case study's table of means; then all items, how the numbers were produced, and operations.",
      params: RunIdParamsSchema,
      response: { 200: summaryMarkdownResponse, ...runPathErrors },
    },
    handler: async (request, reply) => reply.type('text/markdown; charset=utf-8').send(await runs.summaryMarkdown(request.params.run_id)),
  });

  app.get('/evaluate/:run_id/chart.svg', {
    schema: {
      tags: ['evaluate'],
      summary: 'Quality chart',
      description:
        "Titled with the models, the scorer and the item count, and for a run cut short how many items finished. The case study's grouped bars of the four criteria and the weighted score per model, on the rubric's 1-5 scale, " +
        'and below them the paired gains with their 95% intervals as whiskers. When some items are copies of training inquiries, the items not in the training set (the headline) and all items stand side by side.',
      params: RunIdParamsSchema,
      response: { 200: chartSvgResponse, ...runPathErrors },
    },
    handler: async (request, reply) => reply.type('image/svg+xml').send(await runs.chartSvg(request.params.run_id)),
  });
};
