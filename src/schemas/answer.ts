import { z } from 'zod';
import { BASELINE_ALIAS, FINE_TUNED_ALIAS, RETRIEVAL_ALIAS } from '../models/registry.js';

export const INQUIRY_MAX_CHARS = 4000;

export const InquirySchema = z
  .string()
  .trim()
  .min(1, 'inquiry must not be empty')
  .max(INQUIRY_MAX_CHARS, `inquiry must be at most ${INQUIRY_MAX_CHARS} characters`)
  .describe('The customer inquiry, as the customer wrote it.');

export const ModelNameSchema = z
  .string()
  .min(1)
  .max(200)
  .describe('An alias from GET /models (fine-tuned, baseline, ...) or a model id one of them resolves to.');

export const StoredPromptSchema = z
  .strictObject({
    id: z.string().min(1).max(200).describe('Stored prompt id (pmpt_...).'),
    version: z.string().min(1).max(50).optional(),
    variables: z.record(z.string().min(1).max(100), z.string().max(INQUIRY_MAX_CHARS)).optional(),
  })
  .describe("A stored prompt, sent as the Responses API's `prompt` parameter (responses wire style only).");

export const AnswerRequestSchema = z
  .strictObject({
    inquiry: InquirySchema,
    model: ModelNameSchema.default(FINE_TUNED_ALIAS),
    temperature: z.number().min(0).max(2).optional().describe("Overrides the alias's default temperature."),
    max_output_tokens: z.number().int().min(16).max(32_000).optional().describe("Overrides the alias's output token limit."),
    seed: z
      .number()
      .int()
      .min(-(2 ** 31))
      .max(2 ** 31 - 1)
      .optional()
      .describe('Sent to chat-style upstreams only: the Responses API has no seed.'),
    prompt: StoredPromptSchema.optional(),
  })
  // The offline model first: it answers with no key, so "Try it out" works on a fresh install.
  .meta({
    examples: [
      { inquiry: 'my bluetoth headphones wont pair', model: RETRIEVAL_ALIAS },
      { inquiry: 'How do I return a defective Bluetooth speaker?', model: FINE_TUNED_ALIAS },
      { inquiry: 'Is this SSD compatible with a PS5?', model: BASELINE_ALIAS, temperature: 0, max_output_tokens: 200 },
    ],
  });

export const UsageSchema = z.object({
  input_tokens: z.number().int().nullable(),
  output_tokens: z.number().int().nullable(),
  total_tokens: z.number().int().nullable(),
});

export const AnswerStatusSchema = z
  .enum(['completed', 'truncated', 'content_filtered', 'no_match'])
  .describe('completed: a whole answer; truncated: cut by the output token limit; content_filtered: cut by the upstream filter; no_match: an offline model found nothing close enough and handed off.');

export const RetrievalMatchSchema = z
  .object({
    source: z.string().describe('The training file\'s name.'),
    line: z.number().int().describe('The line of the training example used (1-based).'),
    inquiry: z.string().describe("The training example's inquiry."),
    score: z.number().describe('BM25 score of the match.'),
    confidence: z.number().describe("Share of the inquiry's content (rare words weigh more) found in the match, 0..1."),
    min_confidence: z.number().describe('The threshold below which the model hands off (RETRIEVAL_MIN_CONFIDENCE).'),
  })
  .nullable()
  .describe(
    'Offline model only: the closest training example, even when it was not close enough to use; null when there is no candidate (no content word of the inquiry is in the knowledge base), and always for handoff.',
  );

export const AnswerResponseSchema = z
  .object({
    answer: z.string(),
    model: z.string().describe('The alias that answered.'),
    model_id: z.string().describe('The upstream model id behind the alias.'),
    usage: UsageSchema,
    latency_ms: z.number().int().describe('Time spent on the upstream call, retries included.'),
    response_id: z.string().nullable().describe('The upstream response id.'),
    status: AnswerStatusSchema,
    match: RetrievalMatchSchema.optional(),
  })
  .describe('The answer.')
  .meta({
    examples: [
      {
        answer:
          "Go to 'Your Orders', select the speaker, choose 'Return or replace items', pick 'Defective' as the reason and print the label.",
        model: 'fine-tuned',
        model_id: 'ft:gpt-4.1-mini-2025-04-14:buldee:amazon-electronics-ft:CaOkOuOd',
        usage: { input_tokens: 92, output_tokens: 41, total_tokens: 133 },
        latency_ms: 812,
        response_id: 'resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b',
        status: 'completed',
      },
    ],
  });

export type AnswerRequest = z.infer<typeof AnswerRequestSchema>;
