import OpenAI, { APIError, toFile } from 'openai';
import type { FineTuningJob, FineTuningJobEvent, JobCreateParams } from 'openai/resources/fine-tuning/jobs/jobs';
import { AppError, mapUpstreamError } from '../errors.js';
import { redactSecrets } from '../secrets.js';
import type { FineTuneCheckpoint, FineTuneError, FineTuneEvent, FineTuneRecord, FineTuneStatus } from './fine-tune-record.js';
import { MAX_KEPT_CHECKPOINTS, MAX_KEPT_EVENTS } from './fine-tune-record.js';

/** The job's upstream: the SDK client of an alias's base URL and key, and the alias for error messages. */
export interface FineTuneUpstream {
  client: OpenAI;
  alias: string;
}

/**
 * Calls that create something upstream are sent once: the SDK would retry a call whose reply was lost, and
 * the retry would upload a second file or start a second (billed) job. Instead, a step whose outcome is
 * unknown is looked for upstream before it is tried again.
 */
const ONCE = { maxRetries: 0 } as const;
/** Files listed when looking for a lost upload: the newest come first, and ours is recent. */
const MAX_FILES_SEARCHED = 10_000;
/** The metadata key that names our job on the upstream's job, so that a lost create can be found again. */
export const SERVICE_JOB_ID_KEY = 'service_job_id';

/**
 * Whether an upstream failure is the upstream's answer (it refused the call: it did nothing) rather than a
 * call whose outcome is unknown (a lost reply, a timeout, a 5xx or a rate limit, which may be tried again).
 */
export const isRefusal = (error: unknown) => error instanceof APIError && error.status !== undefined && error.status >= 400 && error.status < 500 && ![408, 409, 429].includes(error.status);

/** The base model exists for this upstream's key: a 404 is the caller's mistake, before anything is uploaded. */
export async function checkBaseModel(upstream: FineTuneUpstream, model: string): Promise<void> {
  try {
    await upstream.client.models.retrieve(model);
  } catch (error) {
    if (error instanceof APIError && error.status === 404) {
      throw new AppError(400, 'unknown_base_model', `The upstream of '${upstream.alias}' has no model '${model}' to fine-tune. GET /v1/models at that upstream lists those it has.`, {
        details: { base_model: model, upstream: upstream.alias },
      });
    }
    throw mapUpstreamError(error, upstream.alias);
  }
}

export async function findUploadedFile(upstream: FineTuneUpstream, uploadName: string): Promise<string | null> {
  let seen = 0;
  for await (const file of upstream.client.files.list({ purpose: 'fine-tune' })) {
    if (file.filename === uploadName) return file.id;
    seen += 1;
    if (seen >= MAX_FILES_SEARCHED) break;
  }
  return null;
}

export async function uploadFile(upstream: FineTuneUpstream, uploadName: string, content: string): Promise<string> {
  const file = await upstream.client.files.create({ file: await toFile(Buffer.from(content, 'utf8'), uploadName), purpose: 'fine-tune' }, ONCE);
  return file.id;
}

/** The create body, as the official spec has it: hyperparameters under method.supervised (the top-level field is deprecated). */
export function jobCreateBody(record: FineTuneRecord): JobCreateParams {
  const { training, validation } = record.files;
  return {
    model: record.base_model,
    training_file: training.upstream_file_id as string,
    ...(validation?.upstream_file_id ? { validation_file: validation.upstream_file_id } : {}),
    ...(record.suffix !== null ? { suffix: record.suffix } : {}),
    ...(record.seed !== null ? { seed: record.seed } : {}),
    method: { type: 'supervised', supervised: { hyperparameters: record.hyperparameters } },
    metadata: { [SERVICE_JOB_ID_KEY]: record.id },
  };
}

export async function createJob(upstream: FineTuneUpstream, record: FineTuneRecord): Promise<FineTuningJob> {
  return upstream.client.fineTuning.jobs.create(jobCreateBody(record), ONCE);
}

/** The job a create whose reply was lost may have made, by the metadata filter of GET /v1/fine_tuning/jobs. */
export async function findCreatedJob(upstream: FineTuneUpstream, id: string): Promise<FineTuningJob | null> {
  const page = await upstream.client.fineTuning.jobs.list({ metadata: { [SERVICE_JOB_ID_KEY]: id }, limit: 1 });
  return page.data[0] ?? null;
}

const numberOr = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : null);

export function eventOf(event: FineTuningJobEvent): FineTuneEvent {
  const data = event.type === 'metrics' && event.data && typeof event.data === 'object' ? (event.data as Record<string, unknown>) : {};
  return {
    id: event.id,
    created_at: event.created_at,
    level: event.level,
    message: redactSecrets(event.message),
    step: numberOr(data.step),
    train_loss: numberOr(data.train_loss),
    valid_loss: numberOr(data.valid_loss),
  };
}

export const errorOf = (error: FineTuningJob.Error | null): FineTuneError | null =>
  error === null ? null : { code: error.code, message: redactSecrets(error.message), param: error.param ?? null };

/** What one poll learns of a job: its state, the events since the newest one kept, its checkpoints. */
export interface JobProgress {
  status: FineTuneStatus;
  trained_tokens: number | null;
  fine_tuned_model: string | null;
  error: FineTuneError | null;
  events: FineTuneEvent[];
  checkpoints: FineTuneCheckpoint[];
}

export async function pollJob(upstream: FineTuneUpstream, record: FineTuneRecord): Promise<JobProgress> {
  const jobId = record.upstream_job_id as string;
  const job = await upstream.client.fineTuning.jobs.retrieve(jobId);
  // Events come newest first: read until the newest one already kept.
  const known = record.events[0]?.id;
  const fresh: FineTuneEvent[] = [];
  for await (const event of upstream.client.fineTuning.jobs.listEvents(jobId, { limit: 100 })) {
    if (event.id === known || fresh.length >= MAX_KEPT_EVENTS) break;
    fresh.push(eventOf(event));
  }
  const checkpoints = await upstream.client.fineTuning.jobs.checkpoints.list(jobId, { limit: MAX_KEPT_CHECKPOINTS });
  return {
    status: job.status,
    trained_tokens: job.trained_tokens ?? null,
    fine_tuned_model: job.fine_tuned_model ?? null,
    error: errorOf(job.error),
    events: [...fresh, ...record.events].slice(0, MAX_KEPT_EVENTS),
    checkpoints: checkpoints.data.map((checkpoint) => ({
      id: checkpoint.id,
      step_number: checkpoint.step_number,
      fine_tuned_model_checkpoint: checkpoint.fine_tuned_model_checkpoint,
      metrics: Object.fromEntries(Object.entries(checkpoint.metrics).filter((entry): entry is [string, number] => typeof entry[1] === 'number')),
    })),
  };
}

export async function cancelJob(upstream: FineTuneUpstream, jobId: string): Promise<FineTuningJob> {
  return upstream.client.fineTuning.jobs.cancel(jobId);
}
