import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyBaseLogger } from 'fastify';
import { AppError, mapUpstreamError } from '../errors.js';
import { BASELINE_ALIAS, FINE_TUNED_ALIAS } from '../models/registry.js';
import { readPromptSet } from '../runs/prompt-set.js';
import type { ScorerChoice } from '../scoring/score-answer.js';
import type { Services } from '../services.js';
import { checkFineTuneData, loadDataFile, refuseOnFindings, summarizeDataCheck, type DataSource } from './fine-tune-data.js';
import { createFineTuneFollower, type FineTuneFollower } from './fine-tune-follower.js';
import {
  ENDED_FINE_TUNE_STATUSES, newFineTuneId, uploadNameOf,
  type FileRole, type FineTuneFile, type FineTuneRecord, type Hyperparameters,
} from './fine-tune-record.js';
import type { FineTuneStore } from './fine-tune-store.js';
import type { FineTuningJob } from 'openai/resources/fine-tuning/jobs/jobs';
import { cancelJob, checkBaseModel, errorOf, findCreatedJob, isRefusal, type FineTuneUpstream } from './fine-tune-upstream.js';
import { REGISTER_LIKE, runSetup, type FineTuneAliases, type FineTuneRuns, type JobStepDeps } from './job-steps.js';
import { updateRecord } from './record-updates.js';

export interface CreateFineTuneRequest {
  training: DataSource;
  validation?: DataSource;
  /** The alias whose upstream runs the job; default `fine-tuned`. */
  upstream?: string;
  base_model?: string;
  suffix?: string;
  seed?: number;
  hyperparameters?: Partial<Hyperparameters>;
  register_as: string;
  evaluate?: { prompt_set: string; against?: string; scorer?: ScorerChoice };
  override_data_check?: boolean;
}

export interface FineTunesDeps {
  services: Pick<Services, 'config' | 'registry' | 'clients'>;
  store: FineTuneStore;
  aliases: FineTuneAliases;
  runs: FineTuneRuns;
  log: FastifyBaseLogger;
}

export interface FineTunes {
  create(request: CreateFineTuneRequest, owner: string | null): Promise<FineTuneRecord>;
  get(id: string): Promise<FineTuneRecord>;
  list(page: { limit: number; after?: string }): Promise<{ records: FineTuneRecord[]; next: string | null }>;
  cancel(id: string): Promise<FineTuneRecord>;
  readonly follower: FineTuneFollower;
  close(): Promise<void>;
}

/** The epochs the data checker bills for when the request leaves n_epochs to the upstream ("auto"). */
const AUTO_EPOCHS_ESTIMATE = 3;

const notFound = (id: string) => new AppError(404, 'fine_tune_not_found', `No fine-tuning job '${id}'. GET /fine-tunes lists them.`);

export function createFineTunes(deps: FineTunesDeps): FineTunes {
  const { services, store, log } = deps;
  const { registry, clients, config } = services;

  /** The SDK client of an alias's upstream: the key stays in the client, never in a record. */
  function upstreamFor(alias: string): FineTuneUpstream {
    const entry = registry.resolve(alias);
    if (entry.kind !== 'openai') {
      throw new AppError(400, 'no_fine_tuning_upstream', `Model '${alias}' is an offline model; name an alias with an OpenAI-compatible upstream in \`upstream\` (default ${FINE_TUNED_ALIAS}).`);
    }
    return { client: clients.clientFor(entry, 'batch'), alias };
  }

  const stepDeps: JobStepDeps = {
    store,
    upstreamOf: (record) => upstreamFor(record.upstream_alias),
    aliases: deps.aliases,
    runs: deps.runs,
    holder: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    // Long enough for the slowest upstream call a step makes; a holder that died frees it after this.
    leaseMs: config.OPENAI_TIMEOUT_MS + 60_000,
    log,
  };
  const follower = createFineTuneFollower(stepDeps, config.FINE_TUNE_POLL_MS);

  async function read(id: string): Promise<FineTuneRecord> {
    const record = await store.get(id);
    if (record === null) throw notFound(id);
    return record;
  }

  async function create(request: CreateFineTuneRequest, owner: string | null): Promise<FineTuneRecord> {
    const upstreamAlias = request.upstream ?? FINE_TUNED_ALIAS;
    const upstream = upstreamFor(upstreamAlias);
    const baseModel = request.base_model ?? registry.resolve(BASELINE_ALIAS).model_id;
    // What registering would refuse once the job has succeeded (an offline alias) is refused before it starts.
    registry.checkAssignable(request.register_as, REGISTER_LIKE);
    if (request.evaluate) {
      registry.resolve(request.evaluate.against ?? FINE_TUNED_ALIAS);
      await readPromptSet(config.DATA_DIR, request.evaluate.prompt_set);
    }
    await checkBaseModel(upstream, baseModel);

    const hyperparameters: Hyperparameters = { n_epochs: 'auto', batch_size: 'auto', learning_rate_multiplier: 'auto', ...request.hyperparameters };
    const loaded = [await loadDataFile(config.DATA_DIR, 'training', request.training)];
    if (request.validation) loaded.push(await loadDataFile(config.DATA_DIR, 'validation', request.validation));
    const epochs = typeof hyperparameters.n_epochs === 'number' ? hyperparameters.n_epochs : AUTO_EPOCHS_ESTIMATE;
    const report = await checkFineTuneData(config.DATA_DIR, loaded, epochs);
    if (!request.override_data_check) refuseOnFindings(report);

    const now = new Date();
    const id = newFineTuneId(now);
    const fileOf = (role: FileRole): FineTuneFile | null => {
      const file = loaded.find((candidate) => candidate.role === role);
      if (!file) return null;
      return { source: file.source, upload_name: uploadNameOf(id, role), bytes: Buffer.byteLength(file.content), upload_started: false, upstream_file_id: null, content: file.content };
    };
    const record: FineTuneRecord = {
      id,
      version: 1,
      created_at: now.toISOString(),
      updated_at: now.toISOString(),
      owner,
      status: 'uploading_files',
      step: 'upload',
      // Held by this request from the start, so that no follower takes the upload from under it.
      lease: { holder: stepDeps.holder, until: new Date(now.getTime() + stepDeps.leaseMs).toISOString() },
      upstream_alias: upstreamAlias,
      base_model: baseModel,
      suffix: request.suffix ?? null,
      seed: request.seed ?? null,
      hyperparameters,
      register_as: request.register_as,
      evaluate: request.evaluate ? { prompt_set: request.evaluate.prompt_set, against: request.evaluate.against ?? FINE_TUNED_ALIAS, scorer: request.evaluate.scorer ?? null } : null,
      files: { training: fileOf('training') as FineTuneFile, validation: fileOf('validation') },
      data_check: summarizeDataCheck(report, request.override_data_check === true),
      create_started: false,
      upstream_job_id: null,
      fine_tuned_model: null,
      trained_tokens: null,
      error: null,
      events: [],
      checkpoints: [],
      registered_alias: null,
      evaluation_run_id: null,
      follow_up_error: null,
      finished_at: null,
    };
    follower.busy.add(id);
    try {
      await store.insert(record);
      return await runSetup(stepDeps, record).catch((error: unknown) => {
        // The upstream refused an upload or the create: the reply names the failed job, whose record says why.
        if (!(error instanceof AppError)) throw error;
        throw new AppError(error.statusCode, error.code, error.message, { details: { fine_tune_id: id }, upstreamStatus: error.upstreamStatus, upstreamRequestId: error.upstreamRequestId });
      });
    } finally {
      follower.busy.delete(id);
    }
  }

  async function cancel(id: string): Promise<FineTuneRecord> {
    const record = await read(id);
    if (ENDED_FINE_TUNE_STATUSES.has(record.status)) {
      throw new AppError(409, 'fine_tune_finished', `Fine-tuning job '${id}' has already ended (${record.status}); only a job under way can be cancelled.`);
    }
    const upstream = upstreamFor(record.upstream_alias);
    let jobId = record.upstream_job_id;
    let job: FineTuningJob | null = null;
    try {
      // A create whose reply was lost may have made the job: it is looked for before the job is taken as never created.
      if (jobId === null && record.create_started) jobId = (await findCreatedJob(upstream, id))?.id ?? null;
      if (jobId !== null) job = await cancelJob(upstream, jobId);
    } catch (error) {
      // The upstream refuses to cancel a job that has ended since the last poll; the next poll records how it ended.
      if (isRefusal(error)) throw new AppError(409, 'fine_tune_finished', `Fine-tuning job '${id}' has already ended upstream; only a job under way can be cancelled.`);
      throw mapUpstreamError(error, upstream.alias);
    }
    const cancelled = job;
    return updateRecord(store, record, (current) => ({
      ...current,
      upstream_job_id: current.upstream_job_id ?? jobId,
      status: 'cancelled',
      step: 'done',
      error: cancelled ? errorOf(cancelled.error) : current.error,
      finished_at: current.finished_at ?? new Date().toISOString(),
    }));
  }

  return {
    create,
    get: read,
    async list(page) {
      const listed = await store.list(page);
      if (listed === undefined) throw new AppError(400, 'invalid_cursor', `No fine-tuning job '${page.after}' to continue the listing from; start again without a cursor.`);
      return listed;
    },
    cancel,
    follower,
    async close() {
      await follower.close();
      await store.close();
    },
  };
}
