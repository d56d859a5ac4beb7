import { randomBytes } from 'node:crypto';
import type { ScorerChoice } from '../scoring/score-answer.js';

/**
 * A fine-tuning job as this service keeps it: what was asked, what the data checker found, and what the
 * upstream has said so far. Our id is ours; the upstream's file and job ids are recorded once known.
 */

/** What the service does next for the job; `done` once nothing is left (ended, registered, evaluated). */
export const FINE_TUNE_STEPS = ['upload', 'create', 'follow', 'register', 'evaluate', 'done'] as const;
export type FineTuneStep = (typeof FINE_TUNE_STEPS)[number];

/** Ours before the upstream has the job (uploading_files, creating_job), the upstream's from then on. */
export const FINE_TUNE_STATUSES = ['uploading_files', 'creating_job', 'validating_files', 'queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type FineTuneStatus = (typeof FINE_TUNE_STATUSES)[number];
export const ENDED_FINE_TUNE_STATUSES: ReadonlySet<FineTuneStatus> = new Set(['succeeded', 'failed', 'cancelled']);

export type Hyperparameter = number | 'auto';
export interface Hyperparameters {
  n_epochs: Hyperparameter;
  batch_size: Hyperparameter;
  learning_rate_multiplier: Hyperparameter;
}

export const FILE_ROLES = ['training', 'validation'] as const;
export type FileRole = (typeof FILE_ROLES)[number];

export interface FineTuneFile {
  /** The file name in DATA_DIR, or `inline` for JSONL sent in the request. */
  source: string;
  /** The name it is uploaded under: `<our id>-<role>.jsonl`, which is how a lost upload is found again. */
  upload_name: string;
  bytes: number;
  /** True once the upload has been asked for: from then on, a missing id means "look for it before uploading". */
  upload_started: boolean;
  upstream_file_id: string | null;
  /**
   * The bytes the data checker passed, kept until they are uploaded: a resumed upload sends them and not
   * whatever the DATA_DIR file has become since. Never shown, and dropped once the upload is recorded.
   */
  content: string | null;
}

export interface DataCheckSummary {
  /** No format errors. */
  ok: boolean;
  leaked_items: number;
  duplicate_examples: number;
  near_duplicate_inquiries: number;
  /** The checker's estimate of the tokens the job is billed for (all epochs), to set against trained_tokens. */
  estimated_tokens: number;
  estimated_cost_usd: number;
  /** The request said to go on although the checker found errors or leakage. */
  overridden: boolean;
}

export interface FineTuneError {
  code: string;
  message: string;
  param: string | null;
}

export interface FineTuneEvent {
  id: string;
  created_at: number;
  level: string;
  message: string;
  /** Metrics events only. */
  step: number | null;
  train_loss: number | null;
  valid_loss: number | null;
}

export interface FineTuneCheckpoint {
  id: string;
  step_number: number;
  fine_tuned_model_checkpoint: string;
  metrics: Record<string, number>;
}

/** Who is doing a step that calls the upstream, and until when: nobody else starts it meanwhile. */
export interface StepLease {
  holder: string;
  until: string;
}

export interface FineTuneRecord {
  id: string;
  /** Bumped by every write: a write is accepted only over the version it was made from. */
  version: number;
  created_at: string;
  updated_at: string;
  owner: string | null;
  status: FineTuneStatus;
  step: FineTuneStep;
  lease: StepLease | null;
  /** The alias whose upstream (base URL and key) runs the job. */
  upstream_alias: string;
  base_model: string;
  suffix: string | null;
  seed: number | null;
  hyperparameters: Hyperparameters;
  register_as: string;
  evaluate: { prompt_set: string; against: string; scorer: ScorerChoice | null } | null;
  files: { training: FineTuneFile; validation: FineTuneFile | null };
  data_check: DataCheckSummary;
  create_started: boolean;
  upstream_job_id: string | null;
  fine_tuned_model: string | null;
  trained_tokens: number | null;
  error: FineTuneError | null;
  /** Newest first, at most MAX_KEPT_EVENTS. */
  events: FineTuneEvent[];
  checkpoints: FineTuneCheckpoint[];
  registered_alias: string | null;
  evaluation_run_id: string | null;
  /** Why registering or evaluating failed, when it did; the job itself may still have succeeded. */
  follow_up_error: FineTuneError | null;
  finished_at: string | null;
}

/** Events kept per job: every metrics event of a short job, the latest ones of a long one. */
export const MAX_KEPT_EVENTS = 500;
export const MAX_KEPT_CHECKPOINTS = 50;

export function newFineTuneId(at = new Date()): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `ftjob_${stamp}_${randomBytes(3).toString('hex')}`;
}

export const uploadNameOf = (id: string, role: FileRole) => `${id}-${role}.jsonl`;

const shownFile = ({ source, upload_name, bytes, upstream_file_id }: FineTuneFile) => ({ source, upload_name, bytes, upstream_file_id });

/** The record as replies show it: no file contents, no lease, no version. */
export function publicView(record: FineTuneRecord) {
  const { lease: _lease, version: _version, files, ...rest } = record;
  return { ...rest, files: { training: shownFile(files.training), validation: files.validation && shownFile(files.validation) } };
}
export type FineTuneView = ReturnType<typeof publicView>;
