import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../error-codes.js';
import { ERROR_EXAMPLES, type DocumentedErrorCode } from './error-examples.js';

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
  .describe('The one shape of every error reply.');

/** What every route but /health, /ready and the docs can answer: authentication, rate limit, load shedding, shutdown. */
export const SERVICE_ERRORS = ['unauthorized', 'rate_limited', 'too_many_auth_failures', 'overloaded', 'shutting_down'] as const;
/** What a JSON request body can be refused for before the route runs. */
export const BODY_ERRORS = ['validation_error', 'invalid_json', 'payload_too_large', 'unsupported_media_type'] as const;
/** What a model called within the request can answer. */
export const MODEL_CALL_ERRORS = [
  'unknown_model',
  'missing_api_key',
  'upstream_rate_limited',
  'upstream_error',
  'upstream_auth_failed',
  'upstream_unreachable',
  'upstream_invalid_reply',
  'upstream_reply_too_large',
  'upstream_circuit_open',
  'upstream_timeout',
] as const;
/** What a write to the run store can fail with: the reports folder's disk, or (RUNS_STORE=postgres) the database. */
export const STORAGE_ERRORS = ['storage_unavailable', 'insufficient_storage', 'database_unavailable'] as const;
/** A path that names a run: a malformed id, no such run, or (RUNS_STORE=postgres) a database that cannot be reached to read it. */
export const RUN_PATH_ERRORS = ['validation_error', 'run_not_found', 'database_unavailable'] as const;

const CODE_ORDER = Object.keys(ERROR_CODES) as ErrorCode[];
const byListOrder = (a: ErrorCode, b: ErrorCode) => CODE_ORDER.indexOf(a) - CODE_ORDER.indexOf(b);

/**
 * The documented error replies of a route, one per status, always JSON: each code's meaning in the
 * description and a true example of each, named by its code; the list's most common code comes first,
 * which is the example Swagger UI shows first.
 */
export function errorResponses(...codes: DocumentedErrorCode[]): Record<number, typeof ErrorResponseSchema> {
  const byStatus = new Map<number, DocumentedErrorCode[]>();
  for (const code of [...new Set(codes)].sort(byListOrder)) {
    const { status } = ERROR_CODES[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, group]) => [
      status,
      // @fastify/swagger makes x-response-description the response's description, and x-examples the
      // media type's named examples; the schema keeps its own description.
      ErrorResponseSchema.meta({
        'x-response-description': group.map((code) => `- \`${code}\`: ${ERROR_CODES[code].meaning}`).join('\n'),
        'x-examples': Object.fromEntries(group.map((code) => [code, { value: ERROR_EXAMPLES[code].toBody() }])),
      }),
    ]),
  );
}
