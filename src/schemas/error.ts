import { z } from 'zod';

export const ErrorResponseSchema = z
  .object({
    error: z.object({
      code: z.string().describe('Stable machine-readable code, e.g. validation_error, unknown_model, missing_api_key.'),
      message: z.string().describe('What went wrong and what to do about it.'),
      details: z.unknown().optional().describe('Extra data, e.g. the validation issues or the allowed models.'),
      upstream_status: z.number().int().optional().describe('HTTP status the upstream model API answered with.'),
      upstream_request_id: z.string().optional().describe('The upstream request id, for its support.'),
    }),
  })
  .meta({
    description: 'The one shape of every error reply.',
    examples: [
      {
        error: {
          code: 'missing_api_key',
          message:
            "Model 'fine-tuned' is not available: its upstream needs an API key. Set the OPENAI_API_KEY environment variable and restart the service.",
          details: { model: 'fine-tuned', variable: 'OPENAI_API_KEY' },
        },
      },
    ],
  });

const described = (description: string) => ErrorResponseSchema.describe(description);

/** Error replies shared by routes that call an upstream model. */
export const upstreamErrorResponses = {
  400: described('Invalid request (validation_error, unknown_model, prompt_not_supported).'),
  429: described('The upstream still rate-limits after retries; see Retry-After.'),
  502: described(
    'The upstream failed (upstream_error), rejected our credentials (upstream_auth_failed), could not be reached (upstream_unreachable), sent a reply of the wrong shape (upstream_invalid_reply) or one over UPSTREAM_MAX_REPLY_BYTES (upstream_reply_too_large).',
  ),
  503: described("The selected model's upstream has no API key configured (missing_api_key), or its circuit breaker is open after repeated failures (upstream_circuit_open; see Retry-After)."),
  504: described('The upstream did not answer in time: within OPENAI_TIMEOUT_MS for one attempt, or OPENAI_TOTAL_TIMEOUT_MS in all (upstream_timeout).'),
};
