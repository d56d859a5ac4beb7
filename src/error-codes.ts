/**
 * Every error code the service answers with, its HTTP status and what it means: the one list that the
 * OpenAPI examples and the README's error table come from (test/error-codes.test.ts holds both to it,
 * and every `new AppError(status, 'code'` in src/ to its status). Ordered by status, the most common
 * code of a status first: that is the example Swagger UI shows first.
 */
export const ERROR_CODES = {
  validation_error: { status: 400, meaning: 'The body, query or path does not match the schema (the zod issues are in `details`)' },
  invalid_json: { status: 400, meaning: 'The body is not JSON, or nests arrays and objects deeper than 64 levels' },
  invalid_body: { status: 400, meaning: 'The body is empty although `content-type` is JSON, or its size differs from `Content-Length`' },
  unknown_model: { status: 400, meaning: 'The model is not an alias or a listed model id (`details.allowed` lists them)' },
  duplicate_model: { status: 400, meaning: 'The same model is listed twice (an alias and a model id it resolves to are one model)' },
  offline_alias: { status: 400, meaning: 'An offline alias (`retrieval`, `handoff`) cannot be assigned a model, nor lend its settings to a new alias' },
  prompt_not_supported: { status: 400, meaning: 'A stored prompt sent to a chat-style alias' },
  pairwise_needs_two_models: { status: 400, meaning: 'The pairwise scorer was asked for a run of one model' },
  model_not_in_source_run: { status: 400, meaning: 'A rescore names a model that the run it rescores did not run (`details.models` lists those it did)' },
  invalid_judge: { status: 400, meaning: 'A rescore names an offline model as its `judge`: a judge must be an OpenAI or OpenAI-compatible model' },
  unknown_prompt_set: { status: 400, meaning: 'No prompt set of that name in `data/prompt_sets` (the message lists those there are)' },
  invalid_prompt_set: { status: 400, meaning: 'The prompt set cannot be read, or does not match the prompt-set schema' },
  duplicate_item_id: { status: 400, meaning: 'Two items of one run have the same id' },
  unknown_base_model: { status: 400, meaning: 'A fine-tuning job names a base model that its upstream does not have (`GET /v1/models/{id}` there answered 404); nothing was uploaded' },
  no_fine_tuning_upstream: { status: 400, meaning: 'A fine-tuning job names an offline alias as its `upstream`: only an OpenAI-compatible upstream fine-tunes' },
  data_file_not_found: { status: 400, meaning: 'A fine-tuning data file is not in the data folder (`DATA_DIR`; the message lists the JSONL files there)' },
  invalid_cursor: { status: 400, meaning: '`cursor` names no run to continue the listing from' },
  rater_required: { status: 400, meaning: 'A rating request names no `rater`, which raters must when `SERVICE_API_KEYS` is not set' },
  unknown_item: { status: 400, meaning: '`item_id` names no item of the run that has an answer to rate' },
  answer_keys_mismatch: {
    status: 400,
    meaning: "A rating's answer keys (or its preference) are not the keys of the item's answers (`details.expected` lists them)",
  },
  batch_unsupported: {
    status: 400,
    meaning: 'A batch run (`mode: "batch"`) names a model, or needs a judge, whose upstream has no Batch API (`batch_api` in MODELS_FILE); run it live instead',
  },
  bad_url: { status: 400, meaning: 'A part of the URL cannot be decoded' },
  bad_request: { status: 400, meaning: "Node's HTTP parser refused the request (malformed, conflicting lengths), before any route" },
  unauthorized: {
    status: 401,
    meaning: '`SERVICE_API_KEYS` is set and the request has no valid `Authorization: Bearer <key>` (`WWW-Authenticate: Bearer`)',
  },
  rater_mismatch: { status: 403, meaning: "`rater` is not the label of the API key the request was sent with: with keys, a key's label is its rater" },
  not_found: { status: 404, meaning: 'No such route' },
  run_not_found: { status: 404, meaning: 'No run with that id (`GET /evaluate` lists them)' },
  unknown_alias: { status: 404, meaning: 'No model alias of that name (`GET /models` lists them)' },
  fine_tune_not_found: { status: 404, meaning: 'No fine-tuning job with that id (`GET /fine-tunes` lists them)' },
  request_timeout: {
    status: 408,
    meaning: "The request's headers did not arrive within `HEADERS_TIMEOUT_MS`, or the whole request within `REQUEST_TIMEOUT_MS`; the connection is closed",
  },
  run_finished: { status: 409, meaning: 'The run has already ended: only a queued or running run can be cancelled' },
  no_answers_yet: { status: 409, meaning: 'The run has no answer to rate yet (queued, or no item answered)' },
  run_not_ended: { status: 409, meaning: "The run to rescore is still queued or running: only an ended run's answers can be scored again" },
  nothing_to_rescore: { status: 409, meaning: 'The run to rescore ended with no answer to score again: stopped before any (cancelled, failed), or every answer failed' },
  no_stored_answer: {
    status: 409,
    meaning: "In a rescoring run, a pair whose answer failed in the source run or was never given: recorded failed (stage `answer`) with the source's reason, never a reply",
  },
  fine_tune_finished: { status: 409, meaning: 'The fine-tuning job has already ended: only a job under way can be cancelled' },
  significant_loss: {
    status: 409,
    meaning: "The newest ended evaluation of the candidate against the alias's current model shows a significant loss (`details` names the run, the gain and its interval); `override_significant_loss: true` promotes anyway",
  },
  payload_too_large: { status: 413, meaning: 'The body is over `BODY_LIMIT_BYTES` (24 MiB for `POST /evaluate`, 16 MiB for `POST /fine-tunes`)' },
  uri_too_long: { status: 414, meaning: 'A path parameter is longer than the router accepts' },
  unsupported_media_type: { status: 415, meaning: 'The body is not sent as `content-type: application/json`' },
  data_check_failed: {
    status: 422,
    meaning: 'The data checker found format errors or leakage in the fine-tuning files (its report is in `details`); nothing was uploaded. `override_data_check: true` goes on anyway',
  },
  rate_limited: { status: 429, meaning: 'The caller spent its `RATE_LIMIT_MAX` requests for this window (`Retry-After` says when to retry)' },
  too_many_auth_failures: { status: 429, meaning: '10 missing or wrong keys from this address within a minute (`Retry-After` says when to retry)' },
  too_many_runs: { status: 429, meaning: 'The caller already has `MAX_ACTIVE_RUNS_PER_CALLER` runs queued or running' },
  storage_quota_exceeded: { status: 429, meaning: "The caller's runs already use their share of the reports folder (`CALLER_MAX_STORED_BYTES`)" },
  upstream_rate_limited: { status: 429, meaning: 'The upstream still rate-limits after retries (`Retry-After` is passed on)' },
  headers_too_large: { status: 431, meaning: 'The request headers are too large for the HTTP parser' },
  cancelled: { status: 499, meaning: 'An upstream call abandoned because its run was cancelled or the service stopped: never a reply, and the item is not recorded' },
  internal_error: { status: 500, meaning: 'A bug of ours: the reply says nothing more, the log has the details' },
  upstream_error: { status: 502, meaning: 'The upstream failed (its status is in `upstream_status`)' },
  upstream_auth_failed: { status: 502, meaning: 'The upstream rejected our key (never a 401: that is our own authentication)' },
  upstream_unreachable: { status: 502, meaning: 'The upstream could not be reached' },
  upstream_invalid_reply: {
    status: 502,
    meaning: "The upstream's 2xx reply does not have the shape we read; the message names the fields, `details.issues` lists them all (in a run, the item fails with it)",
  },
  upstream_reply_too_large: { status: 502, meaning: "The upstream's reply is over `UPSTREAM_MAX_REPLY_BYTES`; reading stopped at the cap" },
  judge_unparsable: { status: 502, meaning: "The judge's verdict does not match the verdict schema (a `score_error` in /compare, a failed item in a run)" },
  judge_refused: { status: 502, meaning: 'The judge refused to score (a `score_error` in /compare, a failed item in a run)' },
  missing_api_key: {
    status: 503,
    meaning: "The selected model's upstream has no API key configured; the message names the variable and the models that answer without it",
  },
  upstream_circuit_open: {
    status: 503,
    meaning: 'The upstream failed `CIRCUIT_BREAKER_FAILURES` times in a row; calls fail fast until the cool-down ends (`Retry-After` says when)',
  },
  judge_unavailable: { status: 503, meaning: 'The `judge` alias is not an OpenAI-compatible model (a `score_error` in /compare, a failed item in a run)' },
  overloaded: {
    status: 503,
    meaning: 'The event loop is saturated (`MAX_EVENT_LOOP_DELAY_MS`, `MAX_EVENT_LOOP_UTILIZATION`); `Retry-After: 1`',
  },
  shutting_down: {
    status: 503,
    meaning: 'The service is stopping: a new run was refused, or a request outlived the shutdown grace period (then with `Retry-After: 1`)',
  },
  storage_unavailable: { status: 503, meaning: 'The reports folder (`REPORTS_DIR`) cannot be written: read-only or an I/O error' },
  database_unavailable: { status: 503, meaning: 'With `RUNS_STORE=postgres`, the database (`DATABASE_URL`) cannot be reached (a read or write of runs, or `/ready`\'s probe); runs wait and go on by themselves once it is back' },
  upstream_timeout: {
    status: 504,
    meaning: 'The upstream did not answer within `OPENAI_TIMEOUT_MS` (per attempt) or `OPENAI_TOTAL_TIMEOUT_MS` (all attempts and backoff; the message says which)',
  },
  insufficient_storage: { status: 507, meaning: 'The disk holding the reports folder (`REPORTS_DIR`) is full' },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
