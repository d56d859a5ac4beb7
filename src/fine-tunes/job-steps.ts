import type { FastifyBaseLogger } from 'fastify';
import type { ScorerChoice } from '../scoring/score-answer.js';
import { AppError, mapUpstreamError } from '../errors.js';
import { FINE_TUNED_ALIAS } from '../models/registry.js';
import { FILE_ROLES, type FileRole, type FineTuneError, type FineTuneFile, type FineTuneRecord } from './fine-tune-record.js';
import type { FineTuneStore } from './fine-tune-store.js';
import { cancelJob, createJob, findCreatedJob, findUploadedFile, isRefusal, pollJob, uploadFile, type FineTuneUpstream } from './fine-tune-upstream.js';
import { claimStep, updateRecord } from './record-updates.js';

/** What registering a succeeded job's model needs of the model aliases (src/models/model-aliases.ts). */
export interface FineTuneAliases {
  assign(input: { alias: string; model_id: string; assigned_by: string; reason: 'fine_tune' | 'promote'; fine_tune_id?: string | null; like?: string }): Promise<unknown>;
}

/** What starting the evaluation of a new alias needs of the runs. */
export interface FineTuneRuns {
  create(request: { prompt_set: string; models: string[]; scorer?: ScorerChoice; concurrency: number; owner?: string; run_id?: string }): Promise<{ run_id: string }>;
}

export interface JobStepDeps {
  store: FineTuneStore;
  /** The upstream of the record's alias; throws our 503 when its key is not configured. */
  upstreamOf(record: FineTuneRecord): FineTuneUpstream;
  aliases: FineTuneAliases;
  runs: FineTuneRuns;
  /** This process, in leases. */
  holder: string;
  leaseMs: number;
  log: FastifyBaseLogger;
}

/**
 * The id of the evaluation a job starts, fixed by the job's: a process that dies after starting it and before
 * recording it leaves the step to another, which then finds the run instead of starting a second one.
 */
export const evaluationRunIdOf = (fineTuneId: string) => `run_${fineTuneId.replace(/^ftjob_/, 'ft_')}`;

/** Concurrency of the evaluation run started for a new model. */
const EVALUATION_CONCURRENCY = 8;
/** The alias a registered model takes its settings (upstream, prompt, defaults) from. */
export const REGISTER_LIKE = FINE_TUNED_ALIAS;

const withFile = (record: FineTuneRecord, role: FileRole, change: Partial<FineTuneFile>): FineTuneRecord => ({
  ...record,
  files: { ...record.files, [role]: { ...(record.files[role] as FineTuneFile), ...change } },
});

const failedWith = (record: FineTuneRecord, error: FineTuneError): FineTuneRecord => ({
  ...record,
  status: 'failed',
  step: 'done',
  lease: null,
  error,
  finished_at: new Date().toISOString(),
});

/** Our error as the record keeps it: the code and message the caller would have seen. */
const recordedError = (error: AppError): FineTuneError => ({ code: error.code, message: error.message, param: null });

/**
 * Uploads the files and creates the job, each step recorded as asked for before it is sent, and looked for
 * upstream before it is sent again when its outcome was never recorded (a lost reply, a crash, a restart):
 * at most one upload per file and one job, however often this is interrupted. Runs under the record's lease.
 * A refusal by the upstream fails the job (and is thrown); an unknown outcome leaves the step for the follower.
 */
export async function runSetup(deps: JobStepDeps, claimed: FineTuneRecord): Promise<FineTuneRecord> {
  const { store } = deps;
  const upstream = deps.upstreamOf(claimed);
  let record = claimed;
  try {
    for (const role of FILE_ROLES) {
      const file = record.files[role];
      if (file === null || file.upstream_file_id !== null || record.status === 'cancelled') continue;
      let fileId = file.upload_started ? await findUploadedFile(upstream, file.upload_name) : null;
      if (fileId === null) {
        record = await updateRecord(store, record, (current) => withFile(current, role, { upload_started: true }));
        fileId = await uploadFile(upstream, file.upload_name, file.content ?? '');
      }
      const id = fileId;
      record = await updateRecord(store, record, (current) => withFile(current, role, { upstream_file_id: id, content: null }));
    }
    if (record.upstream_job_id === null && record.status !== 'cancelled') {
      record = await updateRecord(store, record, (current) => (current.status === 'cancelled' ? null : { ...current, status: 'creating_job', step: 'create' }));
      let job = record.create_started ? await findCreatedJob(upstream, record.id) : null;
      if (job === null && record.status !== 'cancelled') {
        record = await updateRecord(store, record, (current) => ({ ...current, create_started: true }));
        job = await createJob(upstream, record);
      }
      if (job !== null) {
        const created = job;
        record = await updateRecord(store, record, (current) =>
          current.status === 'cancelled' ? { ...current, upstream_job_id: created.id } : { ...current, upstream_job_id: created.id, status: created.status, step: 'follow' },
        );
        // Cancelled while the job was being created: the job is cancelled upstream too.
        if (record.status === 'cancelled') await cancelJob(upstream, created.id).catch(() => undefined);
      }
    }
    return await updateRecord(store, record, (current) => ({ ...current, lease: null }));
  } catch (error) {
    if (!isRefusal(error)) {
      deps.log.warn({ fine_tune_id: record.id, err: mapUpstreamError(error, upstream.alias) }, 'fine-tuning job setup interrupted; the follower goes on with it');
      const interrupted = record;
      return updateRecord(store, record, (current) => ({ ...current, lease: null })).catch(() => interrupted);
    }
    const refused = mapUpstreamError(error, upstream.alias);
    await updateRecord(store, record, (current) => failedWith(current, recordedError(refused)));
    throw refused;
  }
}

/** One poll of a job the upstream has: the record takes its status, tokens, model, error, events and checkpoints. */
export async function followJob(deps: JobStepDeps, record: FineTuneRecord): Promise<FineTuneRecord> {
  const progress = await pollJob(deps.upstreamOf(record), record);
  const ended = progress.status === 'succeeded' || progress.status === 'failed' || progress.status === 'cancelled';
  // A job cancelled through the API meanwhile keeps what the cancel wrote: this poll may predate it.
  return updateRecord(deps.store, record, (current) =>
    current.step !== 'follow'
      ? null
      : { ...current, ...progress, step: progress.status === 'succeeded' ? 'register' : ended ? 'done' : 'follow', finished_at: ended ? (current.finished_at ?? new Date().toISOString()) : null },
  );
}

/**
 * Registers the new model under its alias, then (when asked) starts its evaluation: each at most once across
 * replicas, by the lease taken before it and the step moved on with its result. A refusal (the alias or the
 * prompt set is wrong) is recorded and ends the job's follow-up; anything else is tried again at the next poll.
 */
export async function followUp(deps: JobStepDeps, record: FineTuneRecord): Promise<FineTuneRecord | null> {
  const claimed = await claimStep(deps.store, record, deps.holder, deps.leaseMs);
  if (claimed === null) return null;
  try {
    if (claimed.step === 'register') {
      await deps.aliases.assign({
        alias: claimed.register_as,
        model_id: claimed.fine_tuned_model as string,
        assigned_by: `fine-tune ${claimed.id}`,
        reason: 'fine_tune',
        fine_tune_id: claimed.id,
        like: REGISTER_LIKE,
      });
      return await updateRecord(deps.store, claimed, (current) => ({ ...current, registered_alias: current.register_as, step: current.evaluate ? 'evaluate' : 'done', lease: null }));
    }
    const evaluate = claimed.evaluate;
    if (claimed.step !== 'evaluate' || evaluate === null) return claimed;
    const run = await deps.runs.create({
      prompt_set: evaluate.prompt_set,
      models: [claimed.register_as, evaluate.against],
      ...(evaluate.scorer ? { scorer: evaluate.scorer } : {}),
      concurrency: EVALUATION_CONCURRENCY,
      ...(claimed.owner ? { owner: claimed.owner } : {}),
      run_id: evaluationRunIdOf(claimed.id),
    });
    return await updateRecord(deps.store, claimed, (current) => ({ ...current, evaluation_run_id: run.run_id, step: 'done', lease: null }));
  } catch (error) {
    const refused = error instanceof AppError && error.statusCode < 500;
    deps.log.warn({ fine_tune_id: claimed.id, step: claimed.step, err: error }, refused ? 'fine-tuning follow-up refused' : 'fine-tuning follow-up failed; tried again at the next poll');
    return updateRecord(deps.store, claimed, (current) =>
      refused ? { ...current, follow_up_error: recordedError(error), step: 'done', lease: null } : { ...current, lease: null },
    );
  }
}
