import { z } from 'zod';
import { FINE_TUNE_STATUSES, FINE_TUNE_STEPS } from '../fine-tunes/fine-tune-record.js';
import { AliasName, FINE_TUNED_ALIAS } from '../models/registry.js';
import { PromptSetNameSchema } from '../runs/prompt-set.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../runs/run-store.js';
import { ScorerChoiceSchema } from './evaluate.js';

/** Inline JSONL is kept until it is uploaded: 4 MiB per file keeps a record (and a request) reasonable. */
export const MAX_INLINE_JSONL_CHARS = 4 * 1024 * 1024;

// A bare file name: no separators, so a request can never read outside DATA_DIR.
const DataFileName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.jsonl$/, 'a .jsonl file name in the data folder (DATA_DIR), e.g. amazon_electronics_adapted_train.jsonl');

const DataSourceSchema = z.union([
  z.strictObject({ file: DataFileName.describe('A JSONL file in the data folder (DATA_DIR), by name.') }),
  z.strictObject({ jsonl: z.string().min(1).max(MAX_INLINE_JSONL_CHARS).describe(`The JSONL text itself (at most ${MAX_INLINE_JSONL_CHARS} characters).`) }),
]);

// Ranges of the official spec: n_epochs 1-50, batch_size 1-256, learning_rate_multiplier > 0; each may be "auto".
const auto = z.literal('auto');
const HyperparametersSchema = z
  .strictObject({
    n_epochs: z.union([auto, z.number().int().min(1).max(50)]).optional(),
    batch_size: z.union([auto, z.number().int().min(1).max(256)]).optional(),
    learning_rate_multiplier: z.union([auto, z.number().gt(0).max(100)]).optional(),
  })
  .describe('Sent as method.supervised.hyperparameters; each left out or "auto" is chosen by the upstream.');

export const FineTuneRequestSchema = z
  .strictObject({
    training: DataSourceSchema.describe('The training data: `{file}` in DATA_DIR or `{jsonl}` inline.'),
    validation: DataSourceSchema.optional().describe('Optional validation data, likewise.'),
    upstream: AliasName.optional().describe(`The alias whose upstream (base URL and key) runs the job; default ${FINE_TUNED_ALIAS}.`),
    base_model: z.string().trim().min(1).max(200).optional().describe("The model to fine-tune; default: the `baseline` alias's model id (BASELINE_MODEL_ID). Checked at the upstream before anything is uploaded."),
    suffix: z.string().min(1).max(64).optional().describe('Up to 64 characters added to the fine-tuned model name.'),
    seed: z.number().int().min(0).max(2_147_483_647).optional(),
    hyperparameters: HyperparametersSchema.optional(),
    register_as: AliasName.describe('The alias the new model is registered under once the job succeeds, e.g. fine-tuned-next.'),
    evaluate: z
      .strictObject({
        prompt_set: PromptSetNameSchema,
        against: AliasName.default(FINE_TUNED_ALIAS).describe(`The alias to compare with; default ${FINE_TUNED_ALIAS}.`),
        scorer: ScorerChoiceSchema.optional(),
      })
      .optional()
      .describe('Once registered, an evaluation run of the new alias against `against` on this prompt set.'),
    override_data_check: z.boolean().default(false).describe('Go on although the data check finds format errors or leakage.'),
  })
  .meta({
    examples: [
      {
        training: { file: 'amazon_electronics_adapted_train.jsonl' },
        validation: { file: 'amazon_electronics_adapted_val.jsonl' },
        suffix: 'amazon-electronics-ft',
        hyperparameters: { n_epochs: 3, batch_size: 1, learning_rate_multiplier: 2 },
        register_as: 'fine-tuned-next',
        evaluate: { prompt_set: 'eval_inquiries.json', against: 'fine-tuned' },
      },
    ],
  });

const ErrorObject = z.object({ code: z.string(), message: z.string(), param: z.string().nullable() });
const FileSchema = z.object({
  source: z.string().describe('The DATA_DIR file name, or `inline`.'),
  upload_name: z.string().describe('The name it is uploaded under: a lost upload is found again by it.'),
  bytes: z.number().int(),
  upstream_file_id: z.string().nullable(),
});
const Hyper = z.union([z.number(), z.literal('auto')]);

export const FineTuneSchema = z
  .object({
    id: z.string().describe('Our id (the upstream job id is upstream_job_id).'),
    created_at: z.string(),
    updated_at: z.string(),
    finished_at: z.string().nullable(),
    owner: z.string().nullable(),
    status: z.enum(FINE_TUNE_STATUSES).describe("uploading_files and creating_job are ours; from then on, the upstream's status."),
    step: z.enum(FINE_TUNE_STEPS).describe('What the service does next: upload, create, follow, register, evaluate, or done.'),
    upstream_alias: z.string(),
    base_model: z.string(),
    suffix: z.string().nullable(),
    seed: z.number().int().nullable(),
    hyperparameters: z.object({ n_epochs: Hyper, batch_size: Hyper, learning_rate_multiplier: Hyper }),
    register_as: z.string(),
    evaluate: z.object({ prompt_set: z.string(), against: z.string(), scorer: z.string().nullable() }).nullable(),
    files: z.object({ training: FileSchema, validation: FileSchema.nullable() }),
    data_check: z
      .object({
        ok: z.boolean(),
        leaked_items: z.number().int(),
        duplicate_examples: z.number().int(),
        near_duplicate_inquiries: z.number().int(),
        estimated_tokens: z.number().int().describe("The checker's billed-token estimate (all epochs), to set against trained_tokens."),
        estimated_cost_usd: z.number(),
        overridden: z.boolean(),
      })
      .describe("The data checker's findings when the job was created."),
    create_started: z.boolean(),
    upstream_job_id: z.string().nullable(),
    fine_tuned_model: z.string().nullable(),
    trained_tokens: z.number().int().nullable().describe('What the upstream reports it trained on; compare with data_check.estimated_tokens.'),
    error: ErrorObject.nullable().describe("The upstream's error object of a failed job, or ours when a setup step was refused."),
    events: z
      .array(z.object({ id: z.string(), created_at: z.number(), level: z.string(), message: z.string(), step: z.number().nullable(), train_loss: z.number().nullable(), valid_loss: z.number().nullable() }))
      .describe('Newest first (at most 500): messages, and metrics events with step, training and validation loss.'),
    checkpoints: z.array(z.object({ id: z.string(), step_number: z.number().int(), fine_tuned_model_checkpoint: z.string(), metrics: z.record(z.string(), z.number()) })),
    registered_alias: z.string().nullable().describe('Set once the new model is registered under register_as.'),
    evaluation_run_id: z.string().nullable().describe('The evaluation run started for the new alias (GET /evaluate/{run_id}).'),
    follow_up_error: ErrorObject.nullable().describe('Why registering or evaluating was refused, when it was.'),
  })
  .describe('A fine-tuning job as this service follows it.');

export const FineTuneIdParamsSchema = z.object({
  id: z.string().regex(/^ftjob_[A-Za-z0-9_]{1,80}$/, 'a fine-tuning job id such as ftjob_20261202T070000Z_ab12cd'),
});

export const FineTuneListQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE).describe(`Jobs per page (1 to ${MAX_PAGE_SIZE}).`),
  cursor: z.string().regex(/^ftjob_[A-Za-z0-9_]{1,80}$/, 'a job id from next_cursor').optional().describe('The next_cursor of the previous page.'),
});

export const FineTuneListSchema = z
  .object({
    fine_tunes: z.array(FineTuneSchema).describe('A page of jobs, newest first.'),
    next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page.'),
  })
  .describe('Fine-tuning jobs, newest first, a page at a time.');
