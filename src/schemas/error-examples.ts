import { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { loadConfig } from '../config.js';
import { ERROR_CODES, type ErrorCode } from '../error-codes.js';
import { AppError, mapUpstreamError, storageFailure, unsupportedMediaType, upstreamCircuitOpen, upstreamInvalidReply } from '../errors.js';
import { unknownAlias } from '../models/alias-promotion.js';
import { readResponsesReply } from '../models/openai-wire.js';
import { buildModelRegistry, FINE_TUNED_ALIAS, requireAvailable } from '../models/registry.js';
import { UpstreamReplyTooLargeError } from '../models/upstream-fetch.js';
import { requireBatchApi } from '../runs/batch-support.js';

/**
 * One true error reply per documented code, for the OpenAPI examples. Where the service builds the error
 * in a function of its own, the example is that function's output on made-up input (an upstream failure,
 * a full disk, the registry of the default configuration), so it cannot drift from what is answered; the
 * others are copied from the code that answers them, and test/openapi-errors.test.ts checks those it can
 * provoke against the service's real replies.
 */

const EXAMPLE_RUN_ID = 'run_20261124T235900Z_ab12cd';
const EXAMPLE_REQUEST_ID = 'req_0f1e2d3c4b5a69788796a5b4c3d2e1f0';

const written = (code: ErrorCode, message: string, extra: { details?: unknown } = {}) => new AppError(ERROR_CODES[code].status, code, message, extra);

/** The registry of the default configuration, with no key: the one the committed OpenAPI document describes. */
const defaultRegistry = buildModelRegistry(loadConfig({}), { models: {} }, { model_id: 'bm25:amazon_electronics_adapted_train', description: 'Offline.' });

/** The error the service's own code throws for the example's input. */
const refusedBy = (call: () => unknown): AppError => {
  try {
    call();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('the example input was not refused');
};
const mapped = (error: AppError | undefined, what: string): AppError => {
  if (!error) throw new Error(`${what} is not mapped to an error reply`);
  return error;
};

const upstreamFailure = (status: number, message: string, headers: Record<string, string> = {}) =>
  mapUpstreamError(APIError.generate(status, { error: { message } }, undefined, new Headers({ 'x-request-id': EXAMPLE_REQUEST_ID, ...headers })), FINE_TUNED_ALIAS);

const offShapeReply = readResponsesReply({ output: 'text', usage: { input_tokens: -1, output_tokens: 12, total_tokens: 11 } });
if (offShapeReply.ok) throw new Error('the example upstream reply was read as valid');

const storageError = (errno: string) => mapped(storageFailure(Object.assign(new Error(`${errno}: example`), { code: errno })), errno);

export const ERROR_EXAMPLES = {
  validation_error: written('validation_error', 'Invalid request: body.inquiry: inquiry must not be empty', {
    details: [{ path: 'body.inquiry', code: 'too_small', message: 'inquiry must not be empty' }],
  }),
  invalid_json: written('invalid_json', "Body is not valid JSON but content-type is set to 'application/json'"),
  unknown_model: refusedBy(() => defaultRegistry.resolve('gpt-5')),
  duplicate_model: written('duplicate_model', "Invalid request: 'retrieval' is listed twice; each model may appear once.", {
    details: { models: ['retrieval', 'retrieval'], model: 'retrieval' },
  }),
  batch_unsupported: refusedBy(() => {
    const registry = buildModelRegistry(loadConfig({}), { models: { 'llama-local': { model_id: 'llama3.1:8b', base_url: 'http://localhost:11434/v1', api_key_env: null, api_style: 'chat' } } });
    requireBatchApi(registry, [registry.resolve('llama-local')], 'heuristic');
  }),
  prompt_not_supported: written('prompt_not_supported', "Model 'llama-local' uses the chat wire style; stored prompts need the responses style."),
  pairwise_needs_two_models: written(
    'pairwise_needs_two_models',
    'The pairwise scorer compares the first model with each other one: list at least two models.',
  ),
  model_not_in_source_run: written('model_not_in_source_run', `Run '${EXAMPLE_RUN_ID}' has no answers of 'judge'; pick among its models: fine-tuned, baseline.`, {
    details: { models: ['fine-tuned', 'baseline'] },
  }),
  invalid_judge: written(
    'invalid_judge',
    "'retrieval' cannot judge: it is the offline model 'bm25:amazon_electronics_adapted_train', and a judge must be an OpenAI or OpenAI-compatible model.",
  ),
  unknown_prompt_set: written('unknown_prompt_set', "No prompt set 'holiday.json'. Available: eval_inquiries.json.", {
    details: { available: ['eval_inquiries.json'] },
  }),
  invalid_prompt_set: written('invalid_prompt_set', "Prompt set 'holiday.json' is not valid JSON."),
  duplicate_item_id: written('duplicate_item_id', "Item id 'ssd-1' is used twice; ids must be unique within a run."),
  invalid_cursor: written('invalid_cursor', `No run '${EXAMPLE_RUN_ID}' to continue the listing from; start again without a cursor.`),
  rater_required: written(
    'rater_required',
    'Name the rater: send `rater` (1 to 64 letters, digits, spaces, . _ or -, not starting or ending with a space). Without SERVICE_API_KEYS, raters name themselves.',
  ),
  unknown_item: written('unknown_item', `Run '${EXAMPLE_RUN_ID}' has no item 'item-99' with an answer to rate; GET /evaluate/${EXAMPLE_RUN_ID}/rating-items lists them.`, {
    details: { item_id: 'item-99' },
  }),
  answer_keys_mismatch: written('answer_keys_mismatch', "Item 'item-01' has answers A, B: rate each of them (got A). Reload the item if it changed.", {
    details: { expected: ['A', 'B'], given: ['A'], preference: null },
  }),
  unauthorized: written('unauthorized', 'Missing API key: send the header `Authorization: Bearer <key>`.'),
  rater_mismatch: written('rater_mismatch', "This API key rates as 'alice'; leave `rater` out, or send 'alice'.", { details: { rater: 'alice' } }),
  run_not_found: written('run_not_found', `No evaluation run '${EXAMPLE_RUN_ID}'. GET /evaluate lists the runs.`),
  no_answers_yet: written(
    'no_answers_yet',
    `Run '${EXAMPLE_RUN_ID}' has no answer to rate yet; try again once some items are answered (GET /evaluate/${EXAMPLE_RUN_ID} shows its progress).`,
  ),
  run_not_ended: written(
    'run_not_ended',
    `Run '${EXAMPLE_RUN_ID}' is running: only an ended run's answers can be scored again. Wait for it to end (GET /evaluate/${EXAMPLE_RUN_ID}), or cancel it.`,
  ),
  nothing_to_rescore: written('nothing_to_rescore', `Run '${EXAMPLE_RUN_ID}' ended (cancelled) with no answer to score again.`),
  run_finished: written('run_finished', `Run '${EXAMPLE_RUN_ID}' has already ended (completed); only a queued or running run can be cancelled.`),
  offline_alias: refusedBy(() => defaultRegistry.checkAssignable('retrieval')),
  unknown_alias: unknownAlias('fine-tuned-nxt', defaultRegistry),
  significant_loss: written(
    'significant_loss',
    `Run ${EXAMPLE_RUN_ID} shows ft:gpt-4.1-mini-2025-04-14:acme:next:B2 worse than ft:gpt-4.1-mini-2025-04-14:acme:support:A1, the model 'fine-tuned' points at: weighted gain -0.62 (95% CI -0.91 to -0.35, 31 pairs, unseen items). Send override_significant_loss: true to promote it anyway.`,
    { details: { run_id: EXAMPLE_RUN_ID, section: 'unseen', gain: -0.62, ci95: { low: -0.91, high: -0.35, method: 'bootstrap' }, n_pairs: 31 } },
  ),
  unknown_base_model: written('unknown_base_model', "The upstream of 'fine-tuned' has no model 'gpt-4.1-mini-2099' to fine-tune. GET /v1/models at that upstream lists those it has.", {
    details: { base_model: 'gpt-4.1-mini-2099', upstream: 'fine-tuned' },
  }),
  no_fine_tuning_upstream: written('no_fine_tuning_upstream', "Model 'retrieval' is an offline model; name an alias with an OpenAI-compatible upstream in `upstream` (default fine-tuned)."),
  data_file_not_found: written('data_file_not_found', "No training file 'train.jsonl' in the data folder (DATA_DIR). Files there: amazon_electronics_adapted_train.jsonl, amazon_electronics_adapted_val.jsonl.", {
    details: { role: 'training', file: 'train.jsonl', available: ['amazon_electronics_adapted_train.jsonl', 'amazon_electronics_adapted_val.jsonl'] },
  }),
  fine_tune_not_found: written('fine_tune_not_found', "No fine-tuning job 'ftjob_20261202T070000Z_ab12cd'. GET /fine-tunes lists them."),
  fine_tune_finished: written('fine_tune_finished', "Fine-tuning job 'ftjob_20261202T070000Z_ab12cd' has already ended (succeeded); only a job under way can be cancelled."),
  data_check_failed: written(
    'data_check_failed',
    'The data check found 3 items leaked from training; nothing was uploaded. Fix the files, or send "override_data_check": true to fine-tune on them anyway. The report is in details.',
    { details: { ok: true, strict_ok: false, leakage: { count: 3, by_kind: { exact: 3, near: 0, same_answer: 0 } } } },
  ),
  payload_too_large: written('payload_too_large', 'Request body is too large'),
  unsupported_media_type: unsupportedMediaType(),
  rate_limited: written('rate_limited', 'Rate limit exceeded: at most 120 requests per 60 s. Retry in 42 s.'),
  too_many_auth_failures: written('too_many_auth_failures', 'Too many requests with a missing or wrong API key from this address; retry in 60 s.'),
  too_many_runs: written(
    'too_many_runs',
    'You already have 8 runs queued or running, the most one caller may have (MAX_ACTIVE_RUNS_PER_CALLER). Wait for one to end, or cancel one with DELETE /evaluate/{run_id}.',
    { details: { active: 8, limit: 8 } },
  ),
  storage_quota_exceeded: written(
    'storage_quota_exceeded',
    'Your runs take 512.0 MiB of the 512.0 MiB one caller may keep (CALLER_MAX_STORED_BYTES). Ended runs are deleted 90 days after they end.',
    { details: { used_bytes: 536_870_912, limit_bytes: 536_870_912 } },
  ),
  upstream_rate_limited: upstreamFailure(429, 'Rate limit reached for requests. Please try again in 20s.', { 'retry-after': '20' }),
  upstream_error: upstreamFailure(500, 'The server had an error while processing your request. Sorry about that!'),
  upstream_auth_failed: upstreamFailure(401, 'Incorrect API key provided: sk-ab***********yz. You can find your API key at https://platform.openai.com/account/api-keys.'),
  upstream_unreachable: mapUpstreamError(new APIConnectionError({ message: 'Connection error.' }), FINE_TUNED_ALIAS),
  upstream_invalid_reply: upstreamInvalidReply(FINE_TUNED_ALIAS, offShapeReply.problem, { issues: offShapeReply.issues, upstreamRequestId: EXAMPLE_REQUEST_ID }),
  upstream_reply_too_large: mapUpstreamError(new UpstreamReplyTooLargeError(4_194_304), FINE_TUNED_ALIAS),
  missing_api_key: refusedBy(() => requireAvailable(defaultRegistry, defaultRegistry.resolve(FINE_TUNED_ALIAS))),
  upstream_circuit_open: upstreamCircuitOpen(FINE_TUNED_ALIAS, 5, 30_000, 30),
  overloaded: written('overloaded', 'The service is overloaded. Retry shortly.'),
  shutting_down: written('shutting_down', 'The service is shutting down; try again shortly.'),
  storage_unavailable: storageError('EROFS'),
  database_unavailable: written('database_unavailable', 'The database (DATABASE_URL) did not answer: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:5432.'),
  upstream_timeout: mapUpstreamError(new APIConnectionTimeoutError(), FINE_TUNED_ALIAS),
  insufficient_storage: storageError('ENOSPC'),
} satisfies Partial<Record<ErrorCode, AppError>>;

/** The codes a route's OpenAPI responses can name: those with an example. */
export type DocumentedErrorCode = keyof typeof ERROR_EXAMPLES;
