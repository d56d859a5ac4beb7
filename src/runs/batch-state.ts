/**
 * The durable state of a batch run, kept in its record (RunRecord.batch) and written before and after every
 * upstream step: a step that may have happened (its intent is written, its outcome is not) is looked for
 * upstream on resume, never done again. Each part is one input file and one batch.
 */

export const BATCH_FAILURE_CHOICES = ['retry', 'fail'] as const;
/** What happens to lines that failed, expired or never came back: answered synchronously afterwards, or recorded failed. */
export type BatchFailureChoice = (typeof BATCH_FAILURE_CHOICES)[number];

export const RUN_MODES = ['live', 'batch'] as const;
export type RunMode = (typeof RUN_MODES)[number];

/**
 * answer: the models' answers; judge: the rubric judge's verdicts on them (judge scorer); verdict: the pairwise
 * judge's verdicts, the first model against each other one (pairwise scorer), whose parts carry the other's alias.
 */
export const BATCH_PHASES = ['answer', 'judge', 'verdict'] as const;
export type BatchPhase = (typeof BATCH_PHASES)[number];

/**
 * planned: nothing sent. uploading: the upload may have happened (look for the file by name). uploaded: the file
 * is there. creating: the batch may exist (look for it by metadata). created: the batch is followed. collected:
 * every line of it is recorded (or retried, or failed).
 */
export type BatchStep = 'planned' | 'uploading' | 'uploaded' | 'creating' | 'created' | 'collected';

export interface BatchRequestCounts {
  total: number;
  completed: number;
  failed: number;
}

export interface BatchPart {
  phase: BatchPhase;
  alias: string;
  /** 0-based, per (phase, alias). */
  part: number;
  /** The part's items among those of the (phase, alias), in order, and its request lines (an item's judge samples are one line each). */
  first_item: number;
  items: number;
  lines: number;
  step: BatchStep;
  file_id: string | null;
  batch_id: string | null;
  /** The batch's status upstream, as last seen. */
  status: string | null;
  request_counts: BatchRequestCounts | null;
  /** The batch's output and error files, once it has finished: read again on resume (a judge phase needs the answers). */
  output_file_id: string | null;
  error_file_id: string | null;
}

export interface BatchRunState {
  failures: BatchFailureChoice;
  /** Empty until the run has planned its parts. */
  parts: BatchPart[];
}

/** The upstream statuses after which a batch no longer changes. */
export const FINISHED_BATCH_STATUSES = ['completed', 'failed', 'expired', 'cancelled'];

/** The input file's name: what finds an upload whose reply was lost. */
export const partFilename = (runId: string, part: Pick<BatchPart, 'phase' | 'alias' | 'part'>) => `${runId}-${part.phase}-${part.alias}-${part.part}.jsonl`;

/** The part's key in the batch's metadata: what finds a batch whose creation reply was lost. */
export const partKey = (part: Pick<BatchPart, 'phase' | 'alias' | 'part'>) => `${part.phase}:${part.alias}:${part.part}`;

export const newBatchState = (failures: BatchFailureChoice): BatchRunState => ({ failures, parts: [] });

export function plannedPart(phase: BatchPhase, alias: string, part: number, range: { first: number; count: number; lines: number }): BatchPart {
  return { phase, alias, part, first_item: range.first, items: range.count, lines: range.lines, step: 'planned', file_id: null, batch_id: null, status: null, request_counts: null, output_file_id: null, error_file_id: null };
}
