import type { FormatErrorKind } from './format-checks.js';
import type { TokenStats } from './token-accounting.js';

/** The shape of `npm run data:check -- --json`: what each file holds and what the files share. */

/** training: the fine-tune learns it; validation: a JSONL file scored during training; evaluation: a prompt set. */
export type FileRole = 'training' | 'validation' | 'evaluation';

export interface LineList {
  count: number;
  lines: number[];
}

export interface LinePairList {
  count: number;
  pairs: [number, number][];
}

export interface SimilarPair {
  /** Lines in a JSONL file, 1-based item numbers in a prompt set. */
  lines: [number, number];
  /** inquirySimilarity of the two inquiries; 1 when they are equal once normalised. */
  similarity: number;
}

export interface SimilarPairList {
  count: number;
  pairs: SimilarPair[];
}

/** How many items of a validation or evaluation file overlap the training file, by the strongest kind. */
export interface TrainingOverlapCounts {
  exact: number;
  near: number;
  same_answer: number;
}

export interface FineTuningFileReport {
  name: string;
  kind: 'fine_tuning';
  role: FileRole | null;
  examples: number;
  valid_examples: number;
  format_errors: Partial<Record<FormatErrorKind, LineList>>;
  warnings: {
    missing_system_message: LineList;
    duplicate_example: LinePairList;
    near_duplicate_inquiry: SimilarPairList;
    over_context_limit: LineList;
  };
  tokens: TokenStats | null;
  assistant_tokens: { total: number; mean: number };
  billed_tokens_per_epoch: number;
  epochs: number;
  estimated_billed_tokens: number;
  price_per_million_tokens: number;
  estimated_cost_usd: number;
  /** Validation files only, once a training file is known. */
  training_overlap: TrainingOverlapCounts | null;
}

export interface PromptSetIssue {
  kind: 'invalid_json' | 'invalid_prompt_set';
  /** The zod issue's path, e.g. "3.inquiry"; empty for the file as a whole. */
  path: string;
  message: string;
}

export interface PromptSetReport {
  name: string;
  kind: 'prompt_set';
  role: 'evaluation';
  items: number;
  valid_items: number;
  format_errors: { count: number; issues: PromptSetIssue[] };
  warnings: { near_duplicate_inquiry: SimilarPairList };
  training_overlap: TrainingOverlapCounts | null;
}

export type FileReport = FineTuningFileReport | PromptSetReport;

export const LEAK_KINDS = ['exact', 'near', 'same_answer'] as const;
export type LeakKind = (typeof LEAK_KINDS)[number];

/** Where an example or item is: a JSONL line, or a prompt-set item (1-based) with its id when it has one. */
export interface ItemLocation {
  file: string;
  line: number | null;
  item: number | null;
  id: string | null;
}

/**
 * A validation or evaluation item the fine-tune has, in effect, already seen. Each item is listed once,
 * by the strongest kind: its inquiry exact, else near, else its answer equal to a training answer.
 */
export interface LeakedItem extends ItemLocation {
  kind: LeakKind;
  role: 'validation' | 'evaluation';
  inquiry: string;
  training_line: number;
  training_inquiry: string;
  /** inquirySimilarity with the training inquiry, rounded to 3 decimals. */
  similarity: number;
}

export interface LeakageReport {
  training_file: string | null;
  checked_files: string[];
  /** Valid items checked, per role: the denominators of "N of M leak". */
  checked: { validation: number; evaluation: number };
  count: number;
  by_kind: Record<LeakKind, number>;
  items: LeakedItem[];
}

export interface AnswerGroupMember extends ItemLocation {
  inquiry: string;
}

/** One answer (equal once whitespace and case are normalised) taught for several inquiries. */
export interface AnswerGroup {
  answer: string;
  /** Members in training, and in validation or evaluation files (the latter are same_answer leaks). */
  training: number;
  other: number;
  members: AnswerGroupMember[];
}

export interface ParaphraseClusters {
  count: number;
  groups: AnswerGroup[];
}

export interface DataCheckReport {
  files: FileReport[];
  /** No format errors: the files can be uploaded. */
  ok: boolean;
  /** Also no leakage and no duplicate or near-duplicate within a file: what --strict requires. */
  strict_ok: boolean;
  leakage: LeakageReport;
  paraphrase_clusters: ParaphraseClusters;
}
