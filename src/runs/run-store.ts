import type { Readable } from 'node:stream';
import type { RunProvenance } from '../export/summary-schema.js';
import type { ScorerChoice } from '../scoring/score-answer.js';
import type { RubricWeights } from '../scoring/rubric.js';
import type { BatchRunState, RunMode } from './batch-state.js';
import type { StoredRating } from './rating.js';
import type { PairwiseResult, RunItem, RunResult } from './run-result.js';

export const RUN_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
/** Runs per page of GET /evaluate. */
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** A run in one of these has ended: its files no longer change. */
export const FINISHED_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'cancelled'];

/** A run's description (run.json in the file store); its progress is counted from its results, never stored twice. */
export interface RunRecord {
  run_id: string;
  status: RunStatus;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  source: string;
  models: { alias: string; model_id: string }[];
  scorer: ScorerChoice;
  concurrency: number;
  weights: RubricWeights;
  /** How many times the judge is asked per verdict. */
  judge_samples: number;
  /** What produces the run's numbers, fixed when it is created; runs from before provenance was kept have none. */
  provenance?: RunProvenance;
  items: number;
  error: string | null;
  /**
   * Who created the run, for each caller's share of the reports folder: `key:` and the start of the SHA-256
   * of the caller's API key (never the key), or `ip:` and its address; absent for the CLI and older runs.
   */
  owner?: string;
  /** live (calls one by one; absent on older runs) or batch (through the Batch API, at half price). */
  mode?: RunMode;
  /** A batch run's parts and where each stands, written before and after each step upstream. */
  batch?: BatchRunState;
  /** The run whose stored answers this one scores again (POST /evaluate/{run_id}/rescore); absent for a run that asked its models. */
  rescore_of?: string;
  /** The alias that judges, when the run names one (a rescore may); absent: the `judge` alias. */
  judge?: string;
}

export const resultKey = (itemId: string, alias: string) => `${itemId}\u0000${alias}`;

/** A run's finished (done) and failed results and verdicts, counted by the store. */
export interface StoredProgress {
  done: number;
  failed: number;
}

/** The exports written when a run ends, served as they were written from then on. */
export type SavedExport = 'summaryJson' | 'summaryMd' | 'chart';
/** The CSV exports: a store may keep them, or leave them to be streamed again from the results. */
export type CsvExport = 'csv' | 'wideCsv';

/**
 * Where a running run's results and verdicts go. Each is recorded at most once per (item, model) or
 * (item, second model), and only while the run is running: `false` when it was not recorded (a duplicate,
 * or a run that another process cancelled meanwhile), so the caller does not count it.
 */
export interface RunRecorder {
  result(result: RunResult): Promise<boolean>;
  verdict(verdict: PairwiseResult): Promise<boolean>;
  /** Waits for the writes under way. */
  close(): Promise<void>;
}

/** The right to execute a run, held by one process at a time; a holder that dies loses it after a stale period. */
export interface RunLock {
  release(): Promise<void>;
}

/**
 * Everything the service keeps of its runs, behind one interface with two implementations: the reports
 * folder (the embedded default, no server) and PostgreSQL (shared by replicas). test/run-store-contract.test.ts
 * holds both to the same contract. Every text stored goes through redactSecrets first.
 */
export interface RunStore {
  readonly kind: 'file' | 'postgres';
  /** Stores a new run with its items; all or nothing (a failed write, e.g. a full disk, leaves no trace). */
  create(record: RunRecord, items: readonly RunItem[]): Promise<void>;
  /** Stores the record as it is now (its status changes). */
  writeRecord(record: RunRecord): Promise<void>;
  /** Every stored run's id, whoever stored it (this process, the CLI, another replica). */
  listRunIds(): Promise<string[]>;
  /** undefined when there is no such run (or its creation never finished). */
  readRecord(runId: string): Promise<RunRecord | undefined>;
  /** Removes the run and everything stored with it. */
  delete(runId: string): Promise<void>;
  /** The room the run takes, in bytes, for retention and each caller's share. */
  bytesOf(runId: string): Promise<number>;

  items(runId: string): AsyncIterable<RunItem>;
  /** The finished results, each once, in the order they were recorded; read in pages, never held whole. */
  results(runId: string): AsyncIterable<RunResult>;
  /** The pairwise verdicts (none for other scorers), each once, in the order they were recorded. */
  verdicts(runId: string): AsyncIterable<PairwiseResult>;
  /** How many results and verdicts are finished, and how many of them failed. */
  progress(record: RunRecord): Promise<StoredProgress>;
  /** Opens the run for recording; a write torn by a crash is repaired first. */
  recorder(runId: string): Promise<RunRecorder>;
  /** Changes whenever the run's results, verdicts or ratings do: what caches of them are keyed by. */
  changeMark(runId: string, part: 'results' | 'verdicts' | 'ratings'): Promise<string | null>;

  /**
   * Stores the ended run's exports; the CSVs are made from the run's results when the store keeps them. A text
   * may still be in the making (the chart draws on its own thread): the store writes the CSVs meanwhile.
   */
  saveExports(runId: string, texts: Record<SavedExport, string | Promise<string>>, csvs: Record<CsvExport, () => Readable>): Promise<void>;
  /** Replaces the saved summary (a rating arrived after the run ended). */
  saveSummary(runId: string, texts: Pick<Record<SavedExport, string>, 'summaryJson' | 'summaryMd'>): Promise<void>;
  /** A saved export; undefined when there is none. */
  savedExport(runId: string, name: SavedExport): Promise<string | undefined>;
  /** A kept CSV; undefined when the store keeps none (it is then streamed again from the results). */
  savedCsv(runId: string, name: CsvExport): Promise<Readable | undefined>;
  /** Copies a kept CSV to `target` (by the file system, no bytes through the process); false when the store keeps none. */
  copySavedCsv(runId: string, name: CsvExport, target: string): Promise<boolean>;

  /** Stores a rating; `revised` when the rater had rated the item before. */
  rate(rating: StoredRating): Promise<{ revised: boolean }>;
  /** Each (rater, item)'s current rating, by item id then rater; empty when nobody rated the run. */
  ratings(runId: string): Promise<StoredRating[]>;

  /** Takes the right to execute the run; null while another live process holds it. */
  lock(runId: string): Promise<RunLock | null>;
  close(): Promise<void>;
}
