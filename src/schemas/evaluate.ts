import { z } from 'zod';
import { RunSummarySchema } from '../export/summary-schema.js';
import { BASELINE_ALIAS, FINE_TUNED_ALIAS, HANDOFF_ALIAS, RETRIEVAL_ALIAS } from '../models/registry.js';
import { MAX_RUN_ITEMS, PromptEntrySchema, PromptSetNameSchema } from '../runs/prompt-set.js';
import { RunProvenanceSchema } from '../export/summary-schema.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, RUN_STATUSES } from '../runs/run-store.js';
import { RubricWeightsSchema } from '../scoring/rubric.js';
import { MAX_JUDGE_SAMPLES, SCORER_CHOICES } from '../scoring/score-answer.js';
import { ModelNameSchema } from './answer.js';
import { RunHeadlineSchema } from './run-report.js';
import { BATCH_FAILURE_CHOICES, BATCH_PHASES, RUN_MODES } from '../runs/batch-state.js';

export const RunModeSchema = z
  .enum(RUN_MODES)
  .describe(
    'live: every call as it comes, within `concurrency`; batch: answers (and judge calls) go through OpenAI’s Batch API at half the price, done within 24 hours; needs models (and a judge) whose upstream has the Batch API.',
  );

const BatchPartSchema = z.object({
  phase: z
    .enum(BATCH_PHASES)
    .describe('answer: the models’ answers; judge: the judge’s verdicts on them; verdict: the pairwise judge’s verdicts, the first model against the part’s model.'),
  alias: z.string(),
  part: z.number().int().describe('0-based: a (phase, model) over 50,000 requests or 200 MB is split into parts.'),
  first_item: z.number().int().describe('The part’s first item among those of its phase and model.'),
  items: z.number().int(),
  lines: z.number().int().describe('Requests in the part’s input file (with judge_samples above 1, several per item).'),
  step: z.enum(['planned', 'uploading', 'uploaded', 'creating', 'created', 'collected']),
  file_id: z.string().nullable(),
  batch_id: z.string().nullable(),
  status: z.string().nullable().describe('The batch’s status upstream, as last seen (validating, in_progress, finalizing, completed, failed, expired, cancelling, cancelled).'),
  request_counts: z.object({ total: z.number().int(), completed: z.number().int(), failed: z.number().int() }).nullable(),
  output_file_id: z.string().nullable(),
  error_file_id: z.string().nullable(),
});

export const RunBatchSchema = z
  .object({ failures: z.enum(BATCH_FAILURE_CHOICES), parts: z.array(BatchPartSchema) })
  .describe('A batch run’s batches: one per phase, model and part, with the upstream’s status and request counts.');

export const ScorerChoiceSchema = z
  .enum(SCORER_CHOICES)
  .describe(
    'judge: the LLM judge grades every answer on the rubric; heuristic: the offline scorer (a screening tool, graded only against given references); pairwise: the judge compares the first model with each other one, item by item, in both orders (needs at least two models); none: answers only. Default: judge when its upstream has a key, else heuristic.',
  );

export const JudgeSamplesSchema = z
  .number()
  .int()
  .min(1)
  .max(MAX_JUDGE_SAMPLES)
  .describe(`How many times the judge is asked per verdict (1 to ${MAX_JUDGE_SAMPLES}); the mean is the score and the spread is reported as sample_sd (self-consistency).`);

export const EvaluateRequestSchema = z
  .strictObject({
    prompt_set: PromptSetNameSchema.optional(),
    inquiries: z
      .array(PromptEntrySchema)
      .min(1)
      .max(MAX_RUN_ITEMS)
      .optional()
      .describe(`Inline items (at most ${MAX_RUN_ITEMS}): strings, or {id?, inquiry, reference?, category?}.`),
    models: z
      .array(ModelNameSchema)
      .min(1)
      .max(4)
      .default([FINE_TUNED_ALIAS, BASELINE_ALIAS])
      .describe('1 to 4 models; the first is compared with each other one, item by item.'),
    scorer: ScorerChoiceSchema.optional(),
    judge_samples: JudgeSamplesSchema.default(1),
    concurrency: z.number().int().min(1).max(64).default(8).describe('Most upstream calls in flight for this run.'),
    mode: RunModeSchema.default('live'),
    batch_failures: z
      .enum(BATCH_FAILURE_CHOICES)
      .default('retry')
      .describe('Batch runs: what happens to lines that failed, expired or never came back. retry: answered (and scored) synchronously afterwards, at the live price; fail: recorded failed with the line’s error code and message.'),
  })
  .refine((body) => (body.prompt_set === undefined) !== (body.inquiries === undefined), {
    message: 'give exactly one of prompt_set and inquiries',
  })
  // The offline models first: they answer with no key, so "Try it out" works on a fresh install.
  .meta({
    examples: [
      { prompt_set: 'eval_inquiries.json', models: [RETRIEVAL_ALIAS, HANDOFF_ALIAS], scorer: 'heuristic' },
      { prompt_set: 'eval_inquiries.json', models: [FINE_TUNED_ALIAS, BASELINE_ALIAS], scorer: 'judge', concurrency: 8 },
      {
        inquiries: ['Where is my order?', { id: 'ssd-1', inquiry: 'Will this SSD work in my PS5?', reference: 'Yes, if it is an M.2 NVMe PCIe Gen4 SSD with a heatsink.', category: 'compatibility' }],
        models: ['retrieval'],
        scorer: 'heuristic',
      },
    ],
  });

export const RescoreRequestSchema = z
  .strictObject({
    scorer: z
      .enum(['judge', 'heuristic', 'pairwise'])
      .describe('The scorer of the new run: judge, heuristic, or pairwise (needs at least two models). Only the scorer runs: every answer is the one the source run stored.'),
    judge_samples: JudgeSamplesSchema.default(1),
    concurrency: z.number().int().min(1).max(64).optional().describe('Most judge calls in flight for this run; default: the source run’s concurrency.'),
    models: z
      .array(ModelNameSchema)
      .min(1)
      .max(4)
      .optional()
      .describe('Some of the source run’s models (aliases, or the model ids that answered there), in the order to compare them: the first is compared with each other one. Default: the source run’s models, in its order.'),
    judge: ModelNameSchema.optional().describe('The alias that judges, for the judge and pairwise scorers: any OpenAI or OpenAI-compatible alias of GET /models. Default: the `judge` alias.'),
  })
  .refine((body) => body.judge === undefined || body.scorer !== 'heuristic', { message: 'judge names the alias that judges: give it only with the judge or pairwise scorer', path: ['judge'] })
  .meta({
    examples: [{ scorer: 'judge' }, { scorer: 'pairwise', models: ['fine-tuned', 'baseline'], judge_samples: 3 }, { scorer: 'judge', judge: 'judge-next' }],
  });

export const RunIdParamsSchema = z.object({
  run_id: z.string().regex(/^run_[A-Za-z0-9_]{1,80}$/, 'a run id such as run_20261124T235900Z_ab12cd'),
});

const ProgressSchema = z.object({
  total: z.number().int().describe('Items × models.'),
  done: z.number().int().describe('Finished pairs, scored or failed.'),
  failed: z.number().int().describe('Pairs that failed while answering or scoring, with the reason in the CSV.'),
});

export const RunSchema = z.object({
  run_id: z.string(),
  status: z.enum(RUN_STATUSES),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  source: z.string().describe('prompt_set:<file> or inline.'),
  models: z.array(z.object({ alias: z.string(), model_id: z.string() })),
  scorer: ScorerChoiceSchema,
  concurrency: z.number().int(),
  weights: RubricWeightsSchema,
  judge_samples: JudgeSamplesSchema,
  provenance: RunProvenanceSchema.optional().describe('What produces the run’s numbers, fixed at creation; absent for runs created by older versions.'),
  rescore_of: z.string().optional().describe('The run whose stored answers this run scored again (POST /evaluate/{run_id}/rescore); absent when the models answered.'),
  judge: z.string().optional().describe('The alias that judges, when the run names one; absent: the `judge` alias.'),
  items: z.number().int(),
  error: z.string().nullable().describe('Why the run failed, when it did.'),
  progress: ProgressSchema,
  mode: RunModeSchema,
  batch: RunBatchSchema.optional(),
  paused: z
    .object({
      code: z.string().describe('insufficient_storage or storage_unavailable.'),
      message: z.string(),
      since: z.string().describe('When the run paused (ISO 8601).'),
    })
    .nullable()
    .describe('Set while the run waits for the disk holding the reports folder to take writes again; it resumes by itself, and nothing finished is lost.'),
  links: z.object({
    self: z.string(),
    results_csv: z.string().describe('A row per inquiry and model.'),
    results_wide_csv: z.string().describe('A row per inquiry, the models side by side.'),
    summary_md: z.string(),
    chart_svg: z.string(),
  }),
});

export const RunDetailSchema = RunSchema.extend({
  summary: RunSummarySchema.nullable().describe('Once the run has ended: the paired gains with intervals, the safety gate and provenance, for unseen items (the headline when some items were in training) and all items.'),
}).describe('The run, with its summary once it has ended.');

export const RunCreatedSchema = z
  .object({ run_id: z.string(), status: z.enum(RUN_STATUSES), total: z.number().int() })
  .describe('The run was accepted; follow the Location header.')
  .meta({ examples: [{ run_id: 'run_20261124T235900Z_ab12cd', status: 'queued', total: 72 }] });

export const RunListSchema = z
  .object({
    runs: z.array(RunSchema.extend({ headline: RunHeadlineSchema })).describe('A page of runs, newest first, each ended one with its headline gains.'),
    next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page.'),
  })
  .describe('Runs, newest first, a page at a time.');

export const RunListQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE).describe(`Runs per page (1 to ${MAX_PAGE_SIZE}).`),
  cursor: z
    .string()
    .regex(/^run_[A-Za-z0-9_]{1,80}$/, 'a run id from next_cursor')
    .optional()
    .describe('The next_cursor of the previous page.'),
});
