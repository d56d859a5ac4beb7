import { z } from 'zod';
import { API_STYLES } from '../config.js';
import { CIRCUIT_STATUSES } from '../models/circuit-breaker.js';

export const ModelInfoSchema = z.object({
  alias: z.string(),
  model_id: z.string(),
  kind: z.enum(['openai', 'retrieval']).describe('openai: an OpenAI or OpenAI-compatible upstream; retrieval: the offline knowledge-base model.'),
  description: z.string(),
  api_style: z.enum(API_STYLES).nullable(),
  base_url: z.string().nullable().describe('The upstream base URL (never its key).'),
  api_key_env: z.string().nullable().describe('The variable holding the key, or null when none is needed.'),
  available: z.boolean().describe('Whether the model can answer now (its credentials are configured).'),
  unavailable_reason: z.string().nullable(),
  circuit: z
    .enum(CIRCUIT_STATUSES)
    .nullable()
    .describe(
      "The circuit breaker of the model's upstream: closed (calls go through), open (calls fail fast with 503 upstream_circuit_open after repeated upstream failures), half_open (the cool-down is over; the next call probes the upstream). Null for the offline model, before the upstream's first call, or when breakers are disabled.",
    ),
  batch_api: z.boolean().nullable().describe('Whether runs with `mode: "batch"` can send this model\'s requests through its upstream\'s Batch API (`batch_api` in MODELS_FILE: true on OPENAI_BASE_URL, false for an alias with its own base_url); null for an offline model, which answers locally in any run.'),
  retires_on: z.string().nullable().describe("The day the upstream stops serving the model (`retires_on` in MODELS_FILE); null when not configured."),
  retirement_warning: z
    .string()
    .nullable()
    .describe('Set when the model retires within 90 days or has retired: what is left and what to do. The service stays ready; the boot log says it too.'),
  assigned_at: z.string().nullable().describe('When the alias was last pointed at its model at run time (a promote or a fine-tuning job); null when it is as configured.'),
  assigned_by: z.string().nullable().describe('Who did it: the API key\'s label (or `key:` and the start of its SHA-256, or `ip:` and an address), or `fine-tune <id>`; null when the alias is as configured.'),
  defaults: z
    .object({
      temperature: z.number().nullable(),
      max_output_tokens: z.number().int(),
      seed: z.number().int().nullable(),
    })
    .nullable()
    .describe('Request defaults of an upstream model; null for the offline model.'),
});

export const ModelListSchema = z
  .object({ models: z.array(ModelInfoSchema) })
  .describe('The configured models.')
  .meta({
    examples: [
      {
        models: [
          {
            alias: 'fine-tuned',
            model_id: 'ft:gpt-4.1-mini-2025-04-14:buldee:amazon-electronics-ft:CaOkOuOd',
            kind: 'openai',
            description: 'The fine-tuned support model.',
            api_style: 'responses',
            base_url: 'https://api.openai.com/v1',
            api_key_env: 'OPENAI_API_KEY',
            available: false,
            unavailable_reason: 'Set OPENAI_API_KEY.',
            circuit: null,
            batch_api: true,
            retires_on: '2027-02-15',
            retirement_warning: 'retires on 2027-02-15, in 75 days: evaluate a successor and re-point the alias before then.',
            assigned_at: null,
            assigned_by: null,
            defaults: { temperature: 0.2, max_output_tokens: 300, seed: 42 },
          },
        ],
      },
    ],
  });

export const AliasParamsSchema = z.object({ alias: z.string().min(1).max(128).describe('A model alias (GET /models lists them).') });

export const PromoteBodySchema = z
  .strictObject({
    model: z.string().trim().min(1).describe('The model to point the alias at: an alias (its model id is taken) or a model id GET /models lists.'),
    override_significant_loss: z
      .boolean()
      .optional()
      .describe('Promote even when the newest ended evaluation shows the candidate significantly worse than the current model; recorded in the assignment.'),
    reason: z.string().trim().min(1).max(1000).optional().describe('Why, in your words; kept in the audit trail as `note`.'),
  })
  .meta({ examples: [{ model: 'fine-tuned-next', reason: 'Run run_20261124T235900Z_ab12cd: +0.41 on unseen items.' }] });

export const AliasAssignmentSchema = z
  .object({
    alias: z.string(),
    model_id: z.string().describe('The model the alias points at from this assignment on.'),
    previous_model_id: z.string().nullable().describe('What it pointed at before; null for an alias this assignment created.'),
    assigned_by: z.string().describe('The caller (its API key\'s label, or `key:` and the start of the key\'s SHA-256, or `ip:` and an address; never a key), or `fine-tune <id>`.'),
    assigned_at: z.string().describe('ISO 8601.'),
    reason: z.enum(['fine_tune', 'promote']).describe('fine_tune: a fine-tuning job registered its model; promote: POST /models/{alias}/promote.'),
    fine_tune_id: z.string().nullable(),
    evaluation_run_id: z.string().nullable().describe('The evaluation run checked before a promote; null when none compared the two models.'),
    overrode_significant_loss: z.boolean().describe('True when that run showed a significant loss and the promote overrode it.'),
    note: z.string().nullable().describe("The promote's `reason`."),
    like: z.string().nullable().describe('The alias whose upstream settings a new alias copied; null when the alias already existed.'),
  })
  .meta({ id: 'AliasAssignment' });

const IntervalSchema = z.object({ low: z.number(), high: z.number(), method: z.enum(['bootstrap', 't']) });

export const CheckedEvaluationSchema = z
  .object({
    run_id: z.string(),
    section: z.enum(['unseen', 'all']).describe('The summary section read: unseen items whenever some items are copies of training inquiries.'),
    candidate_model_id: z.string(),
    current_model_id: z.string(),
    gain: z.number().nullable().describe("The candidate's weighted score minus the current model's, paired item by item; null when no pair was scored."),
    ci95: IntervalSchema.nullable().describe('The 95% interval of that gain.'),
    n_pairs: z.number().int(),
    headline: z.string().describe("The run's own line for the comparison, in the order it listed the models."),
    significant_loss: z.boolean().describe('The gain is below 0 and so is the whole interval.'),
  })
  .describe('The newest ended evaluation run that compared the candidate with the model the alias pointed at.');

export const PromotionSchema = z
  .object({
    assignment: AliasAssignmentSchema,
    evaluation: CheckedEvaluationSchema.nullable(),
    warning: z.string().nullable().describe('Set when no evaluation compared the two models, when a significant loss was overridden, or when nothing changed.'),
  })
  .describe('The alias now points at the model, from every replica on (each reads the change within RUN_SWEEP_INTERVAL_MS, and at once on GET /models).');

export const AliasHistorySchema = z
  .object({ alias: z.string(), assignments: z.array(AliasAssignmentSchema).describe('Oldest first.') })
  .describe('Every run-time assignment of the alias: the audit trail.');
