import type { AnswerStatus } from '../models/openai-wire.js';
import type { RubricScores } from '../scoring/rubric.js';

/** One inquiry of an evaluation run, as read from a prompt set or an inline list. */
export interface RunItem {
  item_id: string;
  inquiry: string;
  reference: string | null;
  category: string | null;
  /** The inquiry (normalised) also occurs in the training file: its score flatters the fine-tune. */
  in_training: boolean;
}

/**
 * One finished (item, model) pair: a line of the run's results.jsonl and a row of its CSV.
 * outcome: scored; unscored when the run asked for no scorer; failed with the stage and reason.
 */
export interface RunResult {
  run_id: string;
  item_id: string;
  inquiry: string;
  category: string | null;
  reference: string | null;
  in_training: boolean;
  model_alias: string;
  model_id: string;
  answer: string | null;
  answer_status: AnswerStatus | null;
  tokens_in: number | null;
  tokens_out: number | null;
  latency_ms: number | null;
  scores: RubricScores | null;
  outcome: 'scored' | 'unscored' | 'failed';
  error: { stage: 'answer' | 'score'; code: string; message: string } | null;
  finished_at: string;
}
