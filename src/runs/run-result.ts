import type { TrainingOverlap } from '../data/near-duplicate.js';
import type { AnswerStatus } from '../models/openai-wire.js';
import type { PairwiseVerdict } from '../scoring/pairwise-judge.js';
import type { RubricScores } from '../scoring/rubric.js';

/** One inquiry of an evaluation run, as read from a prompt set or an inline list. */
export interface RunItem {
  item_id: string;
  inquiry: string;
  reference: string | null;
  category: string | null;
  /**
   * Whether the fine-tune saw this inquiry: exact (the same once normalised), near (a paraphrase by the
   * project's one near-duplicate measure) or none. Items seen either way flatter the fine-tune.
   */
  in_training: TrainingOverlap;
  /** The closest training example (1-based line of the training file) and its similarity, whatever the verdict. */
  training_line: number | null;
  training_similarity: number | null;
}

/**
 * One finished (item, model) pair: a line of the run's results.jsonl and a row of its CSV.
 * outcome: scored; unscored when the run asked for no scorer, or for the pairwise scorer (whose
 * verdicts are in verdicts.jsonl); failed with the stage and reason.
 */
export interface RunResult extends RunItem {
  run_id: string;
  model_alias: string;
  model_id: string;
  answer: string | null;
  answer_status: AnswerStatus | null;
  tokens_in: number | null;
  tokens_out: number | null;
  latency_ms: number | null;
  /** The answer was read from the response cache (RESPONSE_CACHE_TTL_S): its tokens were paid for by an earlier run. */
  cache_hit: boolean;
  scores: RubricScores | null;
  outcome: 'scored' | 'unscored' | 'failed';
  error: { stage: 'answer' | 'score'; code: string; message: string } | null;
  finished_at: string;
}

/** One pairwise judgement of an item: the first model of the run against another, a line of verdicts.jsonl. */
export interface PairwiseResult {
  run_id: string;
  item_id: string;
  in_training: TrainingOverlap;
  first: string;
  second: string;
  verdict: PairwiseVerdict | null;
  outcome: 'judged' | 'failed';
  error: { stage: 'answer' | 'score'; code: string; message: string } | null;
  finished_at: string;
}

/** Runs written before near-duplicates were checked stored a boolean. */
export function trainingOverlapOf(value: unknown): TrainingOverlap {
  if (value === true) return 'exact';
  if (value === 'exact' || value === 'near') return value;
  return 'none';
}

/** Runs written before near-duplicates were checked stored `in_training` as a boolean and had no training line: both stores read them as what they were. */
export function withTrainingOverlap<T extends { in_training: unknown; training_line?: number | null; training_similarity?: number | null }>(record: T): T {
  record.in_training = trainingOverlapOf(record.in_training);
  record.training_line ??= null;
  record.training_similarity ??= null;
  return record;
}

/** A stored result as the current code reads it: runs from before the response cache have no `cache_hit`, and had no cache. */
export function asStoredResult(result: RunResult): RunResult {
  withTrainingOverlap(result);
  result.cache_hit ??= false;
  return result;
}

/** Neither an exact nor a near copy of a training inquiry. */
export const isUnseen = (item: Pick<RunItem, 'in_training'>) => item.in_training === 'none';
