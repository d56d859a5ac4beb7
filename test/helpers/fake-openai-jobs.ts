/**
 * The fake OpenAI server's long-running jobs: fine-tuning jobs, Batch API runs and the models they
 * produce. Jobs move only when a test says so (`advance`, or `autoAdvance` one step per GET), never
 * with the wall clock, and their state lives in the fake: a service under test can be restarted in
 * the middle of a job and find it where it left it.
 * Wire facts: shared/reference/openai-wire.md and the official OpenAPI spec (openai/openai-openapi,
 * 2.3.0); choices the spec does not settle are marked "(fake's choice)".
 */
import type { Endpoint } from './fake-openai.js';
import {
  checkExpiresAfter, checkRange, countTokens, cursorPage, firstUnknownKey, firstUnknownQuery, invalidRequest, invalidType,
  invalidValue, isReply, missingParameter, notFound, now, ok, parseJsonObject, wireId,
  type FakeFile, type FileStore, type LifecycleCall, type LifecycleReply, type Route,
} from './fake-openai-files.js';
import { seededRandom } from './seeded-random.js';

type JsonObject = Record<string, unknown>;
const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);
const round = (value: number) => Math.round(value * 10000) / 10000;

export const DEFAULT_FINE_TUNABLE_MODELS = ['gpt-4.1-mini-2025-04-14', 'gpt-4.1-2025-04-14', 'gpt-4.1-nano-2025-04-14'];

export interface JobOptions {
  /** Base models `POST /v1/fine_tuning/jobs` accepts and `GET /v1/models` lists. */
  fineTunableModels?: string[];
  /** The organization slug in fine-tuned model names `ft:<base>:<org>:<suffix>:<id>`. Default 'fake-org'. */
  organization?: string;
  /** Per-line fate in a batch; undefined runs the line through the fake's answer logic (answer, structured, behaviour). */
  batchLine?: (line: BatchLineInfo) => BatchLineFate | undefined;
  /** Overrides or adds metric values at a training step (merged over the fake's decreasing-loss curve). */
  fineTuningMetrics?: (step: number, totalSteps: number, job: FakeFineTuningJob) => Record<string, number>;
}

export interface JobDeps {
  options: JobOptions;
  files: FileStore;
  /** The fake's own validation of a /v1/responses or /v1/chat/completions body. */
  validateRequest(endpoint: Endpoint, body: JsonObject): { status: number; body: unknown } | undefined;
  /** The fake's error body for an HTTP status. */
  errorBody(status: number): unknown;
  /** The fake's own answer logic for one request; undefined when the behaviour says it hangs. */
  answer(endpoint: Endpoint, body: JsonObject, context: { path: string; authorization: string | undefined; customId: string; batchId: string }): { status: number; body: unknown } | undefined;
}

// ---------------------------------------------------------------- fine-tuning jobs

export type FineTuningStatus = 'validating_files' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export interface FineTuningError { code: string; message: string; param: string | null }
type HyperValue = number | 'auto';
interface Hyperparameters { n_epochs: HyperValue; batch_size: HyperValue; learning_rate_multiplier: HyperValue }

export interface FakeFineTuningJob {
  id: string;
  /** The create body as it arrived. */
  request: JsonObject;
  status: FineTuningStatus;
  model: string;
  trainingFile: string;
  validationFile: string | null;
  suffix: string | null;
  methodType: 'supervised' | 'dpo' | 'reinforcement';
  hyperparameters: Hyperparameters;
  seed: number;
  createdAt: number;
  finishedAt: number | null;
  estimatedFinish: number | null;
  error: FineTuningError | null;
  fineTunedModel: string | null;
  trainedTokens: number | null;
  resultFiles: string[];
  step: number;
  totalSteps: number;
  stepsPerEpoch: number;
  /** Oldest first (the API lists them newest first). */
  events: Array<{ id: string; object: 'fine_tuning.job.event'; created_at: number; level: 'info' | 'warn' | 'error'; message: string; type: 'message' | 'metrics'; data: JsonObject | null }>;
  /** Oldest first (the API lists them newest first). */
  checkpoints: Array<{ id: string; object: 'fine_tuning.job.checkpoint'; created_at: number; fine_tuned_model_checkpoint: string; fine_tuning_job_id: string; metrics: Record<string, number>; step_number: number }>;
}

export interface FineTuningControl {
  /** Every job created, in order: a job created twice shows here twice. */
  created: FakeFineTuningJob[];
  /** When true, each GET /v1/fine_tuning/jobs/{id} first moves the job one step along the happy path. */
  autoAdvance: boolean;
  /** One step along validating_files → queued → running → succeeded, or straight to `to` (walking the states between); 'failed' takes `error`. */
  advance(jobId: string, to?: FineTuningStatus, error?: Partial<FineTuningError>): FakeFineTuningJob;
  /** While running: trains `steps` more steps (metrics events, and a checkpoint at each epoch's end). */
  train(jobId: string, steps: number): FakeFineTuningJob;
}

const FT_PATH: FineTuningStatus[] = ['validating_files', 'queued', 'running', 'succeeded'];
const FT_TERMINAL = new Set<FineTuningStatus>(['succeeded', 'failed', 'cancelled']);
const FT_PARAMETERS = ['model', 'training_file', 'validation_file', 'method', 'suffix', 'seed', 'metadata', 'integrations', 'hyperparameters'];
const METHOD_TYPES = ['supervised', 'dpo', 'reinforcement'] as const;
const HYPER_RANGES: Record<keyof Hyperparameters, [min: number, max: number, integer: boolean]> = {
  n_epochs: [1, 50, true],
  batch_size: [1, 256, true],
  learning_rate_multiplier: [0, Number.MAX_VALUE, false],
};
// What "auto" becomes once a job runs (fake's choice: the API picks them from the data set).
const AUTO: Record<keyof Hyperparameters, number> = { n_epochs: 3, batch_size: 1, learning_rate_multiplier: 2 };
const DEFAULT_FAILURE: FineTuningError = { code: 'server_error', message: 'The job failed due to an internal error.', param: null };

/** `strict`: only the three shared keys (supervised); dpo and reinforcement add their own, which pass unchecked. */
function checkHyperparameters(param: string, value: unknown, strict: boolean): Partial<Hyperparameters> | LifecycleReply {
  if (!isObject(value)) return invalidType(param, 'an object', value);
  if (strict) {
    const unknown = firstUnknownKey(value, Object.keys(HYPER_RANGES), `${param}.`);
    if (unknown) return unknown;
  }
  const chosen: Partial<Hyperparameters> = {};
  for (const [key, [min, max, integer]] of Object.entries(HYPER_RANGES) as Array<[keyof Hyperparameters, [number, number, boolean]]>) {
    const given = value[key];
    if (given === undefined || given === 'auto') continue;
    const invalid = checkRange(`${param}.${key}`, given, min, max, integer, key === 'learning_rate_multiplier');
    if (invalid) return invalid;
    chosen[key] = given as number;
  }
  return chosen;
}

function checkFineTuneFile(files: FileStore, param: string, id: unknown): LifecycleReply | undefined {
  if (typeof id !== 'string') return invalidType(param, 'a string', id);
  const file = files.get(id);
  // The message is the API's for an unknown file; the spec gives no code (fake's choice: null).
  if (!file) return invalidRequest(`invalid ${param}: ${id}`, param);
  if (file.purpose !== 'fine-tune') return invalidRequest(`File ${id} has purpose '${file.purpose}'; ${param} must be uploaded with purpose 'fine-tune'.`, param);
  return undefined;
}

/** The lines of a training file in the chat format, or why the API would fail the job while validating files. */
function readTrainingFile(file: FakeFile | undefined, param: string, methodType: string): { examples: number; tokens: number } | FineTuningError {
  const invalid = (message: string): FineTuningError => ({ code: `invalid_${param}`, message: `The job failed due to an invalid ${param.replace('_', ' ')}. ${message}`, param });
  if (!file) return invalid('The file was deleted.');
  const rows = file.content.toString('utf8').split('\n').filter((row) => row.trim() !== '');
  if (rows.length === 0) return invalid('The file is empty.');
  for (const [index, row] of rows.entries()) {
    let example: unknown;
    try {
      example = JSON.parse(row);
    } catch {
      return invalid(`Line ${index + 1} is not valid JSON.`);
    }
    if (methodType === 'supervised' && !Array.isArray((example as JsonObject | null)?.messages)) return invalid(`Line ${index + 1} has no 'messages' list.`);
  }
  return { examples: rows.length, tokens: countTokens(file.content.toString('utf8')) };
}

export function createFineTuning(deps: JobDeps): { control: FineTuningControl; routes: Route[]; fineTunedModels(): Array<{ id: string; created: number }> } {
  const organization = deps.options.organization ?? 'fake-org';
  const baseModels = () => deps.options.fineTunableModels ?? DEFAULT_FINE_TUNABLE_MODELS;
  const jobs = new Map<string, FakeFineTuningJob>();
  const created: FakeFineTuningJob[] = [];

  const event = (job: FakeFineTuningJob, message: string, level: 'info' | 'error' = 'info', data: JsonObject | null = null) =>
    job.events.push({ id: wireId('ftevent-'), object: 'fine_tuning.job.event', created_at: now(), level, message, type: data ? 'metrics' : 'message', data });
  const modelName = (job: FakeFineTuningJob) => `ft:${job.model}:${organization}:${job.suffix ?? ''}:${job.id.slice(-8)}`;
  const resolved = (job: FakeFineTuningJob, key: keyof Hyperparameters) => {
    const value = job.hyperparameters[key];
    return value === 'auto' ? AUTO[key] : value;
  };

  const metricsAt = (job: FakeFineTuningJob, step: number): Record<string, number> => {
    const progress = step / job.totalSteps;
    const train_loss = round(0.2 + 1.8 * Math.exp(-4 * progress));
    const train_mean_token_accuracy = round(0.55 + 0.4 * progress);
    const valid: Record<string, number> = job.validationFile ? { valid_loss: round(train_loss * 1.1), valid_mean_token_accuracy: round(train_mean_token_accuracy - 0.03) } : {};
    return { step, train_loss, train_mean_token_accuracy, ...valid, total_steps: job.totalSteps, ...deps.options.fineTuningMetrics?.(step, job.totalSteps, job) };
  };

  const train = (job: FakeFineTuningJob, steps: number) => {
    for (let i = 0; i < steps && job.step < job.totalSteps; i += 1) {
      job.step += 1;
      const metrics = metricsAt(job, job.step);
      const validation = metrics.valid_loss === undefined ? '' : `, validation loss=${metrics.valid_loss.toFixed(2)}`;
      event(job, `Step ${job.step}/${job.totalSteps}: training loss=${(metrics.train_loss ?? 0).toFixed(2)}${validation}`, 'info', metrics);
      if (job.step % job.stepsPerEpoch !== 0) continue;
      const { total_steps: _, ...checkpointMetrics } = metrics;
      const full: Record<string, number> = job.validationFile ? { full_valid_loss: metrics.valid_loss ?? 0, full_valid_mean_token_accuracy: metrics.valid_mean_token_accuracy ?? 0 } : {};
      job.checkpoints.push({
        id: wireId('ftckpt_'),
        object: 'fine_tuning.job.checkpoint',
        created_at: now(),
        fine_tuned_model_checkpoint: `${modelName(job)}:ckpt-step-${job.step}`,
        fine_tuning_job_id: job.id,
        metrics: { ...checkpointMetrics, ...full },
        step_number: job.step,
      });
    }
  };

  const finish = (job: FakeFineTuningJob, status: 'failed' | 'cancelled', error?: FineTuningError) => {
    job.status = status;
    job.finishedAt = now();
    job.estimatedFinish = null;
    if (status === 'failed') {
      job.error = error ?? DEFAULT_FAILURE;
      event(job, job.error.message, 'error');
    } else {
      event(job, 'Fine-tuning job cancelled');
    }
  };

  const enter = (job: FakeFineTuningJob, status: FineTuningStatus) => {
    if (status === 'queued') {
      const training = readTrainingFile(deps.files.get(job.trainingFile), 'training_file', job.methodType);
      const validation = job.validationFile ? readTrainingFile(deps.files.get(job.validationFile), 'validation_file', job.methodType) : undefined;
      const problem = 'code' in training ? training : validation && 'code' in validation ? validation : undefined;
      if (problem) return finish(job, 'failed', problem);
      job.status = 'queued';
      event(job, 'Files validated, moving job to queued state');
    } else if (status === 'running') {
      const training = readTrainingFile(deps.files.get(job.trainingFile), 'training_file', job.methodType);
      if ('code' in training) return finish(job, 'failed', training);
      job.hyperparameters = { n_epochs: resolved(job, 'n_epochs'), batch_size: resolved(job, 'batch_size'), learning_rate_multiplier: resolved(job, 'learning_rate_multiplier') };
      job.stepsPerEpoch = Math.ceil(training.examples / (job.hyperparameters.batch_size as number));
      job.totalSteps = job.stepsPerEpoch * (job.hyperparameters.n_epochs as number);
      job.status = 'running';
      job.estimatedFinish = now() + job.totalSteps;
      event(job, 'Fine-tuning job started');
    } else if (status === 'succeeded') {
      train(job, job.totalSteps - job.step);
      const file = deps.files.get(job.trainingFile);
      job.status = 'succeeded';
      job.finishedAt = now();
      job.estimatedFinish = null;
      job.fineTunedModel = modelName(job);
      job.trainedTokens = (file ? countTokens(file.content.toString('utf8')) : 0) * (job.hyperparameters.n_epochs as number);
      // The results file's columns are not in the spec (fake's choice: the metric names of the events).
      const rows = job.events.filter((e) => e.type === 'metrics').map((e) => e.data as Record<string, number>);
      const columns = ['step', 'train_loss', 'train_mean_token_accuracy', ...(job.validationFile ? ['valid_loss', 'valid_mean_token_accuracy'] : [])];
      const csv = [columns.join(','), ...rows.map((row) => columns.map((c) => row[c] ?? '').join(','))].join('\n') + '\n';
      job.resultFiles = [deps.files.add('step_metrics.csv', 'fine-tune-results', Buffer.from(csv), false).id];
      event(job, `New fine-tuned model created: ${job.fineTunedModel}`);
      event(job, 'The job has successfully completed');
    }
  };

  const find = (id: string) => {
    const job = jobs.get(id);
    if (!job) throw new Error(`The fake has no fine-tuning job ${id}.`);
    return job;
  };

  const control: FineTuningControl = {
    created,
    autoAdvance: false,
    advance(jobId, to, error) {
      const job = find(jobId);
      if (FT_TERMINAL.has(job.status)) throw new Error(`Fine-tuning job ${jobId} is already ${job.status}.`);
      if (to === 'failed' || to === 'cancelled') {
        finish(job, to, to === 'failed' ? { ...DEFAULT_FAILURE, ...error } : undefined);
        return job;
      }
      const target = to ?? FT_PATH[FT_PATH.indexOf(job.status) + 1];
      if (target === undefined || FT_PATH.indexOf(target) <= FT_PATH.indexOf(job.status)) throw new Error(`Fine-tuning job ${jobId} cannot move from ${job.status} to ${target}.`);
      while (job.status !== target && !FT_TERMINAL.has(job.status)) enter(job, FT_PATH[FT_PATH.indexOf(job.status) + 1] as FineTuningStatus);
      return job;
    },
    train(jobId, steps) {
      const job = find(jobId);
      if (job.status !== 'running') throw new Error(`Fine-tuning job ${jobId} is ${job.status}, not running.`);
      train(job, steps);
      return job;
    },
  };

  const wire = (job: FakeFineTuningJob) => ({
    object: 'fine_tuning.job',
    id: job.id,
    model: job.model,
    created_at: job.createdAt,
    finished_at: job.finishedAt,
    fine_tuned_model: job.fineTunedModel,
    organization_id: `org-${organization}`,
    result_files: job.resultFiles,
    status: job.status,
    validation_file: job.validationFile,
    training_file: job.trainingFile,
    hyperparameters: job.hyperparameters,
    trained_tokens: job.trainedTokens,
    error: job.error,
    integrations: job.request.integrations ?? null,
    seed: job.seed,
    estimated_finish: job.estimatedFinish,
    method: { type: job.methodType, [job.methodType]: { ...(job.request.method as JsonObject | undefined)?.[job.methodType] as JsonObject | undefined, hyperparameters: job.hyperparameters } },
    metadata: job.request.metadata ?? null,
  });

  const create = (call: LifecycleCall): LifecycleReply => {
    const body = parseJsonObject(call.raw);
    if (isReply(body)) return body;
    const unknown = firstUnknownKey(body, FT_PARAMETERS);
    if (unknown) return unknown;
    if (body.model === undefined) return missingParameter('model');
    if (body.training_file === undefined) return missingParameter('training_file');
    if (typeof body.model !== 'string') return invalidType('model', 'a string', body.model);
    const tunedModels = created.filter((job) => job.fineTunedModel).map((job) => job.fineTunedModel);
    if (![...baseModels(), ...tunedModels].includes(body.model)) {
      // Code and wording as the API answers for a model it cannot fine-tune (not in the spec).
      return invalidRequest(`Model ${body.model} is not available for fine-tuning or does not exist.`, 'model', 'model_not_available');
    }
    const badFile = checkFineTuneFile(deps.files, 'training_file', body.training_file) ??
      (body.validation_file == null ? undefined : checkFineTuneFile(deps.files, 'validation_file', body.validation_file));
    if (badFile) return badFile;
    if (body.suffix != null && (typeof body.suffix !== 'string' || body.suffix.length < 1 || body.suffix.length > 64)) {
      return invalidRequest("Invalid 'suffix': expected a string of 1 to 64 characters.", 'suffix', 'invalid_value');
    }
    const badSeed = body.seed == null ? undefined : checkRange('seed', body.seed, 0, 2147483647, true);
    if (badSeed) return badSeed;
    if (body.metadata != null && !isObject(body.metadata)) return invalidType('metadata', 'an object', body.metadata);
    if (body.integrations != null && !Array.isArray(body.integrations)) return invalidType('integrations', 'an array', body.integrations);

    let methodType: FakeFineTuningJob['methodType'] = 'supervised';
    let hyperparameters: Partial<Hyperparameters> = {};
    if (body.hyperparameters !== undefined) {
      const chosen = checkHyperparameters('hyperparameters', body.hyperparameters, true);
      if (isReply(chosen)) return chosen;
      hyperparameters = chosen;
    }
    if (body.method !== undefined) {
      const method = body.method;
      if (!isObject(method)) return invalidType('method', 'an object', method);
      const unknownKey = firstUnknownKey(method, ['type', ...METHOD_TYPES], 'method.');
      if (unknownKey) return unknownKey;
      if (method.type === undefined) return missingParameter('method.type');
      if (!(METHOD_TYPES as readonly unknown[]).includes(method.type)) return invalidValue('method.type', method.type, METHOD_TYPES);
      methodType = method.type as FakeFineTuningJob['methodType'];
      const config = method[methodType];
      if (config !== undefined) {
        if (!isObject(config)) return invalidType(`method.${methodType}`, 'an object', config);
        const unknownConfig = methodType === 'supervised' ? firstUnknownKey(config, ['hyperparameters'], 'method.supervised.') : undefined;
        if (unknownConfig) return unknownConfig;
        if (config.hyperparameters !== undefined) {
          const chosen = checkHyperparameters(`method.${methodType}.hyperparameters`, config.hyperparameters, methodType === 'supervised');
          if (isReply(chosen)) return chosen;
          hyperparameters = { ...hyperparameters, ...chosen };
        }
      }
    }

    const job: FakeFineTuningJob = {
      id: wireId('ftjob-'),
      request: body,
      status: 'validating_files',
      model: body.model,
      trainingFile: body.training_file as string,
      validationFile: (body.validation_file as string | null | undefined) ?? null,
      suffix: (body.suffix as string | null | undefined) ?? null,
      methodType,
      hyperparameters: { n_epochs: 'auto', batch_size: 'auto', learning_rate_multiplier: 'auto', ...hyperparameters },
      seed: (body.seed as number | null | undefined) ?? 42,
      createdAt: now(),
      finishedAt: null,
      estimatedFinish: null,
      error: null,
      fineTunedModel: null,
      trainedTokens: null,
      resultFiles: [],
      step: 0,
      totalSteps: 0,
      stepsPerEpoch: 1,
      events: [],
      checkpoints: [],
    };
    jobs.set(job.id, job);
    created.push(job);
    event(job, `Created fine-tuning job: ${job.id}`);
    event(job, `Validating training file: ${job.trainingFile}${job.validationFile ? ` and validation file: ${job.validationFile}` : ''}`);
    return ok(wire(job));
  };

  const withJob = (call: LifecycleCall, then: (job: FakeFineTuningJob) => LifecycleReply) => {
    const id = call.params[0] ?? '';
    const job = jobs.get(id);
    return job ? then(job) : notFound('FineTuningJob', id, 'fine_tuning_job_id');
  };
  // Jobs, events and checkpoints are listed newest first, as the spec's list examples show.
  const newestFirst = <T>(items: T[]) => [...items].reverse();
  const routes: Route[] = [
    { method: 'POST', pattern: /^\/v1\/fine_tuning\/jobs$/, handle: create },
    {
      method: 'GET',
      pattern: /^\/v1\/fine_tuning\/jobs$/,
      handle: ({ query }) => {
        const invalid = firstUnknownQuery(query, ['after', 'limit', 'metadata']);
        if (invalid) return invalid;
        const filters = [...query.entries()].flatMap(([key, value]) => {
          const name = /^metadata\[(.+)\]$/.exec(key)?.[1];
          return name ? [[name, value] as const] : [];
        });
        const matching = created.filter((job) => filters.every(([name, value]) => (job.request.metadata as JsonObject | undefined)?.[name] === value));
        return cursorPage(newestFirst(matching).map(wire), query, { defaultLimit: 20 });
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/fine_tuning\/jobs\/([^/]+)$/,
      handle: (call) =>
        withJob(call, (job) => {
          if (control.autoAdvance && !FT_TERMINAL.has(job.status)) control.advance(job.id);
          return ok(wire(job));
        }),
    },
    {
      method: 'POST',
      pattern: /^\/v1\/fine_tuning\/jobs\/([^/]+)\/cancel$/,
      handle: (call) =>
        withJob(call, (job) => {
          if (FT_TERMINAL.has(job.status)) return invalidRequest(`Cannot cancel a fine-tuning job with status '${job.status}'.`, 'fine_tuning_job_id');
          finish(job, 'cancelled');
          return ok(wire(job));
        }),
    },
    {
      method: 'GET',
      pattern: /^\/v1\/fine_tuning\/jobs\/([^/]+)\/events$/,
      handle: (call) => firstUnknownQuery(call.query, ['after', 'limit']) ?? withJob(call, (job) => cursorPage(newestFirst(job.events), call.query, { defaultLimit: 20 })),
    },
    {
      method: 'GET',
      pattern: /^\/v1\/fine_tuning\/jobs\/([^/]+)\/checkpoints$/,
      handle: (call) =>
        firstUnknownQuery(call.query, ['after', 'limit']) ?? withJob(call, (job) => cursorPage(newestFirst(job.checkpoints), call.query, { defaultLimit: 10, ends: true })),
    },
  ];
  const fineTunedModels = () => created.flatMap((job) => (job.fineTunedModel ? [{ id: job.fineTunedModel, created: job.finishedAt ?? job.createdAt }] : []));
  return { control, routes, fineTunedModels };
}

// ---------------------------------------------------------------- batches

export type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';
export interface BatchError { code: string; message: string; param: string | null; line: number | null }
export interface BatchLineInfo { batchId: string; customId: string; /** 1-based line number in the input file. */ line: number; body: JsonObject }
/**
 * `{status}`: the request ran and failed with this HTTP status (a line in the error file).
 * 'unexecuted': it never ran. On expiry or cancel it goes to the error file with `batch_expired` /
 * `batch_cancelled`; if the test completes the batch anyway, it is missing from both files.
 */
export type BatchLineFate = { status: number; body?: unknown } | 'unexecuted';
type Outcome = { customId: string; status: number; body: unknown } | { customId: string; status: 'unexecuted' };
type TimeField = 'in_progress_at' | 'expires_at' | 'finalizing_at' | 'completed_at' | 'failed_at' | 'expired_at' | 'cancelling_at' | 'cancelled_at';

export interface FakeBatch {
  id: string;
  request: JsonObject;
  endpoint: '/v1/responses' | '/v1/chat/completions';
  inputFileId: string;
  status: BatchStatus;
  createdAt: number;
  times: Record<TimeField, number | null>;
  model: string | null;
  /** The input lines that passed validation, in file order. */
  lines: Array<{ customId: string; line: number; body: JsonObject }>;
  /** Validation errors: a batch with any moves to failed at its first step. */
  errors: BatchError[];
  /** Filled when the lines run (leaving in_progress), in input order. */
  outcomes: Outcome[] | null;
  outputFileId: string | null;
  errorFileId: string | null;
  requestCounts: { total: number; completed: number; failed: number };
  usage: { input_tokens: number; output_tokens: number };
  authorization: string | undefined;
}

export interface BatchControl {
  /** Every batch created, in order: a batch created twice shows here twice. */
  created: FakeBatch[];
  /** When true, each GET /v1/batches/{id} first moves the batch one step. */
  autoAdvance: boolean;
  /**
   * One step along validating → in_progress → finalizing → completed (cancelling → cancelled), or
   * straight to `to`: 'expired' (from validating or in_progress), 'cancelling'/'cancelled', 'failed'
   * (from validating, with `errors`). A batch whose input failed validation can only move to failed.
   */
  advance(batchId: string, to?: BatchStatus, errors?: BatchError[]): FakeBatch;
}

const BATCH_PARAMETERS = ['input_file_id', 'endpoint', 'completion_window', 'metadata', 'output_expires_after'];
const BATCH_ENDPOINTS = ['/v1/responses', '/v1/chat/completions', '/v1/embeddings', '/v1/completions', '/v1/moderations', '/v1/images/generations', '/v1/images/edits', '/v1/videos'];
const ENDPOINT_OF: Record<string, Endpoint> = { '/v1/responses': 'responses', '/v1/chat/completions': 'chat' };
const BATCH_PATH: BatchStatus[] = ['validating', 'in_progress', 'finalizing', 'completed'];
const BATCH_TERMINAL = new Set<BatchStatus>(['failed', 'completed', 'expired', 'cancelled']);
const MAX_BATCH_LINES = 50_000;
// Codes of BatchRequestOutput.error in the spec (https://docs.rs/crate/openai-client-base/0.8.1/source/docs/BatchRequestOutputError.md).
const UNEXECUTED = {
  batch_expired: 'This request could not be executed before the completion window expired.',
  batch_cancelled: 'This request was not executed because the batch was cancelled.',
};

const batchError = (code: string, message: string, line: number | null, param: string | null = null): BatchError => ({ code, message, param, line });

function lineProblem(parsed: JsonObject, line: number, endpoint: FakeBatch['endpoint'], seen: Set<string>, deps: JobDeps): BatchError | undefined {
  const unknown = Object.keys(parsed).find((key) => !['custom_id', 'method', 'url', 'body'].includes(key));
  if (unknown !== undefined) return batchError('unknown_parameter', `Unknown parameter: '${unknown}'.`, line, unknown);
  if (typeof parsed.custom_id !== 'string') return batchError('missing_required_parameter', "Missing required parameter: 'custom_id'.", line, 'custom_id');
  if (seen.has(parsed.custom_id)) return batchError('duplicate_custom_id', `The custom_id '${parsed.custom_id}' is used more than once in the file.`, line, 'custom_id');
  if (parsed.method !== 'POST') return batchError('invalid_method', `Line ${line}: method must be POST, got ${JSON.stringify(parsed.method)}.`, line, 'method');
  if (parsed.url !== endpoint) return batchError('invalid_url', `Line ${line}: url ${JSON.stringify(parsed.url)} does not match the batch endpoint ${endpoint}.`, line, 'url');
  if (!isObject(parsed.body)) return batchError('missing_required_parameter', "Missing required parameter: 'body'.", line, 'body');
  // The same validation the synchronous endpoint applies, so a line the API would refuse fails here too.
  const invalid = deps.validateRequest(ENDPOINT_OF[endpoint] as Endpoint, parsed.body);
  if (!invalid) return undefined;
  const { error } = invalid.body as { error: { code: string | null; message: string; param: string | null } };
  return batchError(error.code ?? 'invalid_request', `Line ${line}: ${error.message}`, line, error.param === null ? 'body' : `body.${error.param}`);
}

/** Input-file validation; the spec names the rules but no error codes for them (fake's choice of codes). */
function readBatchInput(content: Buffer, endpoint: FakeBatch['endpoint'], deps: JobDeps): Pick<FakeBatch, 'lines' | 'errors' | 'model'> {
  const rows = content.toString('utf8').split('\n').map((row) => row.replace(/\r$/, ''));
  if (rows.at(-1) === '') rows.pop();
  if (rows.length === 0) return { lines: [], errors: [batchError('empty_file', 'The input file is empty.', null)], model: null };
  if (rows.length > MAX_BATCH_LINES) return { lines: [], errors: [batchError('too_many_lines', `The input file has ${rows.length} requests; a batch takes at most ${MAX_BATCH_LINES}.`, null)], model: null };
  const lines: FakeBatch['lines'] = [];
  const errors: BatchError[] = [];
  const seen = new Set<string>();
  const models = new Set<string>();
  for (const [index, row] of rows.entries()) {
    const line = index + 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(row);
    } catch {
      parsed = undefined;
    }
    if (!isObject(parsed)) {
      errors.push(batchError('invalid_json_line', `Line ${line} is not a JSON object.`, line));
      continue;
    }
    const problem = lineProblem(parsed, line, endpoint, seen, deps);
    if (typeof parsed.custom_id === 'string') seen.add(parsed.custom_id);
    if (problem) {
      errors.push(problem);
      continue;
    }
    const body = parsed.body as JsonObject;
    models.add(body.model as string);
    if (models.size > 1) {
      errors.push(batchError('mismatched_model', `Line ${line} uses model '${body.model as string}'; a batch file takes one model.`, line, 'body.model'));
      models.delete(body.model as string);
      continue;
    }
    lines.push({ customId: parsed.custom_id as string, line, body });
  }
  return { lines, errors, model: [...models][0] ?? null };
}

/** A shuffle that never leaves two or more lines in input order, so a reader must match on custom_id. */
function shuffled<T>(items: T[], seed: number): T[] {
  const random = seededRandom(seed);
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  if (copy.length > 1 && copy.every((item, i) => item === items[i])) copy.push(copy.shift() as T);
  return copy;
}

export function createBatches(deps: JobDeps): { control: BatchControl; routes: Route[] } {
  const batches = new Map<string, FakeBatch>();
  const created: FakeBatch[] = [];

  const execute = (batch: FakeBatch) => {
    if (batch.outcomes) return;
    batch.outcomes = batch.lines.map(({ customId, line, body }): Outcome => {
      const fate = deps.options.batchLine?.({ batchId: batch.id, customId, line, body });
      if (fate === 'unexecuted') return { customId, status: 'unexecuted' };
      if (fate) return { customId, status: fate.status, body: fate.body ?? deps.errorBody(fate.status) };
      const reply = deps.answer(ENDPOINT_OF[batch.endpoint] as Endpoint, body, { path: batch.endpoint, authorization: batch.authorization, customId, batchId: batch.id });
      return reply ? { customId, ...reply } : { customId, status: 'unexecuted' };
    });
    const ran = batch.outcomes.filter((o): o is Extract<Outcome, { body: unknown }> => o.status !== 'unexecuted');
    batch.requestCounts = { total: batch.lines.length, completed: ran.filter((o) => o.status < 400).length, failed: ran.filter((o) => o.status >= 400).length };
    for (const { body, status } of ran) {
      const usage = (status < 400 && isObject(body) && isObject(body.usage) ? body.usage : {}) as Record<string, unknown>;
      batch.usage.input_tokens += Number(usage.input_tokens ?? usage.prompt_tokens ?? 0);
      batch.usage.output_tokens += Number(usage.output_tokens ?? usage.completion_tokens ?? 0);
    }
  };

  /** Output and error files; lines that never ran go to the error file with `unexecutedCode`, or nowhere. */
  const writeFiles = (batch: FakeBatch, unexecutedCode?: keyof typeof UNEXECUTED) => {
    const seed = created.indexOf(batch) + 1;
    const toLine = (outcome: Outcome) =>
      outcome.status === 'unexecuted'
        ? { id: wireId('batch_req_'), custom_id: outcome.customId, response: null, error: { code: unexecutedCode, message: UNEXECUTED[unexecutedCode as keyof typeof UNEXECUTED] } }
        : { id: wireId('batch_req_'), custom_id: outcome.customId, response: { status_code: outcome.status, request_id: wireId('req_'), body: outcome.body }, error: null };
    const outcomes = batch.outcomes ?? [];
    const succeeded = outcomes.filter((o) => o.status !== 'unexecuted' && o.status < 400);
    const failed = outcomes.filter((o) => (o.status === 'unexecuted' ? unexecutedCode !== undefined : o.status >= 400));
    const write = (kind: string, rows: Outcome[], salt: number) =>
      rows.length === 0 ? null : deps.files.add(`batch_${batch.id}_${kind}.jsonl`, 'batch_output', Buffer.from(shuffled(rows, seed * 2 + salt).map((o) => JSON.stringify(toLine(o))).join('\n') + '\n'), false).id;
    batch.outputFileId = write('output', succeeded, 0);
    batch.errorFileId = write('error', failed, 1);
    batch.requestCounts = { total: batch.lines.length, completed: succeeded.length, failed: failed.length };
  };

  const enter = (batch: FakeBatch, status: BatchStatus, errors?: BatchError[]) => {
    batch.times[`${status}_at` as TimeField] = now();
    if (status === 'in_progress') {
      batch.times.expires_at = batch.createdAt + 24 * 3600;
      batch.requestCounts.total = batch.lines.length;
    }
    if (status === 'failed') batch.errors = errors ?? (batch.errors.length ? batch.errors : [{ code: 'batch_failed', message: 'The batch failed.', param: null, line: null }]);
    if (status === 'finalizing' || ((status === 'cancelling' || status === 'expired') && batch.status === 'in_progress')) execute(batch);
    if (status === 'completed') writeFiles(batch);
    if ((status === 'expired' || status === 'cancelled') && batch.outcomes) writeFiles(batch, status === 'expired' ? 'batch_expired' : 'batch_cancelled');
    batch.status = status;
  };

  const control: BatchControl = {
    created,
    autoAdvance: false,
    advance(batchId, to, errors) {
      const batch = batches.get(batchId);
      if (!batch) throw new Error(`The fake has no batch ${batchId}.`);
      const refuse = () => new Error(`Batch ${batchId} cannot move from ${batch.status} to ${to ?? 'its next status'}.`);
      if (BATCH_TERMINAL.has(batch.status)) throw refuse();
      const active = batch.status === 'validating' || batch.status === 'in_progress';
      if (batch.status === 'validating' && (batch.errors.length > 0 || to === 'failed')) {
        if (to !== undefined && to !== 'failed') throw new Error(`Batch ${batchId} failed validation (${batch.errors[0]?.code}); it can only move to failed.`);
        enter(batch, 'failed', errors);
      } else if (to === 'expired' && active) {
        enter(batch, 'expired');
      } else if ((to === 'cancelling' || to === 'cancelled') && active) {
        enter(batch, 'cancelling');
        if (to === 'cancelled') enter(batch, 'cancelled');
      } else if (batch.status === 'cancelling') {
        if (to !== undefined && to !== 'cancelled') throw refuse();
        enter(batch, 'cancelled');
      } else {
        const target = to ?? BATCH_PATH[BATCH_PATH.indexOf(batch.status) + 1];
        if (target === undefined || BATCH_PATH.indexOf(target) <= BATCH_PATH.indexOf(batch.status)) throw refuse();
        while (batch.status !== target) enter(batch, BATCH_PATH[BATCH_PATH.indexOf(batch.status) + 1] as BatchStatus);
      }
      return batch;
    },
  };

  const wire = (batch: FakeBatch) => ({
    id: batch.id,
    object: 'batch',
    endpoint: batch.endpoint,
    ...(batch.model && batch.status !== 'validating' ? { model: batch.model } : {}),
    errors: batch.status === 'failed' ? { object: 'list', data: batch.errors } : null,
    input_file_id: batch.inputFileId,
    completion_window: '24h',
    status: batch.status,
    output_file_id: batch.outputFileId,
    error_file_id: batch.errorFileId,
    created_at: batch.createdAt,
    ...batch.times,
    request_counts: batch.requestCounts,
    usage: {
      input_tokens: batch.usage.input_tokens,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: batch.usage.output_tokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: batch.usage.input_tokens + batch.usage.output_tokens,
    },
    metadata: batch.request.metadata ?? null,
  });

  const create = (call: LifecycleCall): LifecycleReply => {
    const body = parseJsonObject(call.raw);
    if (isReply(body)) return body;
    const unknown = firstUnknownKey(body, BATCH_PARAMETERS);
    if (unknown) return unknown;
    for (const param of ['input_file_id', 'endpoint', 'completion_window']) if (body[param] === undefined) return missingParameter(param);
    if (!BATCH_ENDPOINTS.includes(body.endpoint as string)) return invalidValue('endpoint', body.endpoint, BATCH_ENDPOINTS);
    const endpoint = body.endpoint as FakeBatch['endpoint'];
    if (!ENDPOINT_OF[endpoint]) return invalidRequest(`The fake OpenAI server runs batches for /v1/responses and /v1/chat/completions only, not ${endpoint}.`, 'endpoint', 'invalid_value');
    if (body.completion_window !== '24h') return invalidValue('completion_window', body.completion_window, ['24h']);
    if (typeof body.input_file_id !== 'string') return invalidType('input_file_id', 'a string', body.input_file_id);
    const file = deps.files.get(body.input_file_id);
    if (!file) return invalidRequest(`No such File object: ${body.input_file_id}`, 'input_file_id');
    if (file.purpose !== 'batch') return invalidRequest(`File ${file.id} has purpose '${file.purpose}'; a batch input file must be uploaded with purpose 'batch'.`, 'input_file_id');
    const badPolicy = body.output_expires_after === undefined ? undefined : checkExpiresAfter('output_expires_after', body.output_expires_after);
    if (badPolicy) return badPolicy;
    if (body.metadata != null && !isObject(body.metadata)) return invalidType('metadata', 'an object', body.metadata);

    const batch: FakeBatch = {
      id: wireId('batch_'),
      request: body,
      endpoint,
      inputFileId: file.id,
      status: 'validating',
      createdAt: now(),
      times: { in_progress_at: null, expires_at: null, finalizing_at: null, completed_at: null, failed_at: null, expired_at: null, cancelling_at: null, cancelled_at: null },
      ...readBatchInput(file.content, endpoint, deps),
      outcomes: null,
      outputFileId: null,
      errorFileId: null,
      requestCounts: { total: 0, completed: 0, failed: 0 },
      usage: { input_tokens: 0, output_tokens: 0 },
      authorization: call.authorization,
    };
    batches.set(batch.id, batch);
    created.push(batch);
    return ok(wire(batch));
  };

  const withBatch = (call: LifecycleCall, then: (batch: FakeBatch) => LifecycleReply) => {
    const id = call.params[0] ?? '';
    const batch = batches.get(id);
    return batch ? then(batch) : notFound('Batch', id, 'batch_id');
  };
  const routes: Route[] = [
    { method: 'POST', pattern: /^\/v1\/batches$/, handle: create },
    {
      method: 'GET',
      pattern: /^\/v1\/batches$/,
      handle: ({ query }) => firstUnknownQuery(query, ['after', 'limit']) ?? cursorPage([...created].reverse().map(wire), query, { defaultLimit: 20, maxLimit: 100, ends: true }),
    },
    {
      method: 'GET',
      pattern: /^\/v1\/batches\/([^/]+)$/,
      handle: (call) =>
        withBatch(call, (batch) => {
          if (control.autoAdvance && !BATCH_TERMINAL.has(batch.status)) control.advance(batch.id);
          return ok(wire(batch));
        }),
    },
    {
      method: 'POST',
      pattern: /^\/v1\/batches\/([^/]+)\/cancel$/,
      handle: (call) =>
        withBatch(call, (batch) => {
          if (batch.status === 'validating' || batch.status === 'in_progress') enter(batch, 'cancelling');
          else if (batch.status !== 'cancelling') return invalidRequest(`Cannot cancel a batch with status '${batch.status}'.`, 'batch_id');
          return ok(wire(batch));
        }),
    },
  ];
  return { control, routes };
}

// ---------------------------------------------------------------- models

export function modelRoutes(baseModels: () => string[], fineTunedModels: () => Array<{ id: string; created: number }>, organization: string): Route[] {
  const startedAt = now();
  const all = () => [
    ...baseModels().map((id) => ({ id, object: 'model', created: startedAt, owned_by: 'system' })),
    ...fineTunedModels().map(({ id, created }) => ({ id, object: 'model', created, owned_by: `org-${organization}` })),
  ];
  return [
    { method: 'GET', pattern: /^\/v1\/models$/, handle: () => ok({ object: 'list', data: all() }) },
    {
      method: 'GET',
      pattern: /^\/v1\/models\/([^/]+)$/,
      handle: ({ params }) => {
        const id = params[0] ?? '';
        const model = all().find((m) => m.id === id);
        return model ? ok(model) : invalidRequest(`The model '${id}' does not exist`, 'model', 'model_not_found', 404);
      },
    },
  ];
}
