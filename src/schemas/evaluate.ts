import { z } from 'zod';
import { RunSummarySchema } from '../export/summary.js';
import { BASELINE_ALIAS, FINE_TUNED_ALIAS } from '../models/registry.js';
import { MAX_RUN_ITEMS, PromptEntrySchema, PromptSetNameSchema } from '../runs/prompt-set.js';
import { RUN_STATUSES } from '../runs/run-store.js';
import { RubricWeightsSchema } from '../scoring/rubric.js';
import { SCORER_CHOICES } from '../scoring/score-answer.js';
import { ModelNameSchema } from './answer.js';

export const ScorerChoiceSchema = z
  .enum(SCORER_CHOICES)
  .describe('judge: the LLM judge; heuristic: the offline scorer; none: answers only. Default: judge when its upstream has a key, else heuristic.');

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
      .describe('1 to 4 models; the gain compares the first two.'),
    scorer: ScorerChoiceSchema.optional(),
    concurrency: z.number().int().min(1).max(64).default(8).describe('Most upstream calls in flight for this run.'),
  })
  .refine((body) => (body.prompt_set === undefined) !== (body.inquiries === undefined), {
    message: 'give exactly one of prompt_set and inquiries',
  })
  .meta({
    examples: [
      { prompt_set: 'eval_inquiries.json', models: ['fine-tuned', 'baseline'], scorer: 'judge', concurrency: 8 },
      {
        inquiries: ['Where is my order?', { id: 'ssd-1', inquiry: 'Will this SSD work in my PS5?', reference: 'Yes, if it is an M.2 NVMe PCIe Gen4 SSD with a heatsink.', category: 'compatibility' }],
        models: ['retrieval'],
        scorer: 'heuristic',
      },
    ],
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
  items: z.number().int(),
  error: z.string().nullable().describe('Why the run failed, when it did.'),
  progress: ProgressSchema,
  links: z.object({ self: z.string(), results_csv: z.string(), summary_md: z.string(), chart_svg: z.string() }),
});

export const RunDetailSchema = RunSchema.extend({
  summary: RunSummarySchema.nullable().describe('Once the run has ended: all items, and unseen items only (not in the training file).'),
}).describe('The run, with its summary once it has ended.');

export const RunCreatedSchema = z
  .object({ run_id: z.string(), status: z.enum(RUN_STATUSES), total: z.number().int() })
  .describe('The run was accepted; follow the Location header.')
  .meta({ examples: [{ run_id: 'run_20261124T235900Z_ab12cd', status: 'queued', total: 72 }] });

export const RunListSchema = z.object({ runs: z.array(RunSchema) }).describe('Every run, newest first.');
