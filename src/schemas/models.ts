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
  retires_on: z.string().nullable().describe("The day the upstream stops serving the model (`retires_on` in MODELS_FILE); null when not configured."),
  retirement_warning: z
    .string()
    .nullable()
    .describe('Set when the model retires within 90 days or has retired: what is left and what to do. The service stays ready; the boot log says it too.'),
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
            retires_on: '2027-02-15',
            retirement_warning: 'retires on 2027-02-15, in 75 days: evaluate a successor and re-point the alias before then.',
            defaults: { temperature: 0.2, max_output_tokens: 300, seed: 42 },
          },
        ],
      },
    ],
  });
