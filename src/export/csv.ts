import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, pipeline } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { type Options, stringify } from 'csv-stringify';
import { stringify as stringifySync } from 'csv-stringify/sync';
import type { RunResult } from '../runs/run-result.js';
import { CRITERIA, type Measure, type RubricScores, type RubricWeights } from '../scoring/rubric.js';
import { SAFETY_GATE_MAX_LEVEL, type RunProvenance } from './summary.js';

/**
 * The first ten columns and their names are the case study's: the team's spreadsheets read them by name,
 * so they stay first, in this order, untranslated.
 */
export const CSV_COLUMNS = [
  'inquiry',
  'model',
  'answer',
  'tokens_out',
  'latency_ms',
  'exactitude',
  'actionnabilite',
  'exhaustivite',
  'securite',
  'score_pondere',
  'run_id',
  'item_id',
  'model_alias',
  'category',
  'tokens_in',
  'in_training',
  'training_line',
  'training_similarity',
  'answer_status',
  'outcome',
  'scorer',
  'reference_source',
  'unscored_reason',
  'safety_flag',
  'judge_samples',
  'sample_sd_weighted',
  'rationale',
  'error',
  'finished_at',
  'judge_alias',
  'judge_model_id',
  'prompt_sha256',
  'rubric_weights',
  'bootstrap_seed',
  'service_version',
  'cache_hit',
] as const;

export type CsvColumn = (typeof CSV_COLUMNS)[number];
export type CsvRecord = Record<CsvColumn, string | number | boolean | null>;

/** The case study's names for the four criteria and the weighted score, which its spreadsheets read. */
export const SCORE_COLUMNS = {
  accuracy: 'exactitude',
  actionability: 'actionnabilite',
  completeness: 'exhaustivite',
  safety_tone: 'securite',
  weighted: 'score_pondere',
} as const satisfies Record<Measure, CsvColumn>;

export type ScoreColumn = (typeof SCORE_COLUMNS)[Measure];

// Four decimals remove float noise (3.8500000000000005) without the loss of the two-decimal display rounding.
export const roundWeighted = (x: number) => Math.round(x * 10_000) / 10_000;

/** A result's scores under the case study's names; blank where there is none. */
export function scoreCells(scores: RubricScores | null): Record<ScoreColumn, number | null> {
  return {
    exactitude: scores?.accuracy ?? null,
    actionnabilite: scores?.actionability ?? null,
    exhaustivite: scores?.completeness ?? null,
    securite: scores?.safety_tone ?? null,
    score_pondere: scores && scores.weighted !== null ? roundWeighted(scores.weighted) : null,
  };
}

/** What the run records about how its numbers are made, for rows that carry no scores of their own. */
export interface CsvRunContext {
  provenance: Pick<RunProvenance, 'judge_alias' | 'judge_model_id' | 'prompt_sha256' | 'weights' | 'service_version'>;
  bootstrap_seed: number;
}

const weightsText = (weights: RubricWeights) => CRITERIA.map((criterion) => `${criterion}=${weights[criterion]}`).join(',');

export function toCsvRecord(result: RunResult, context: CsvRunContext): CsvRecord {
  const { scores, error } = result;
  const provenance = scores?.provenance ?? context.provenance;
  return {
    inquiry: result.inquiry,
    model: result.model_id,
    answer: result.answer,
    tokens_out: result.tokens_out,
    latency_ms: result.latency_ms,
    ...scoreCells(scores),
    run_id: result.run_id,
    item_id: result.item_id,
    model_alias: result.model_alias,
    category: result.category,
    tokens_in: result.tokens_in,
    in_training: result.in_training,
    training_line: result.training_line,
    training_similarity: result.training_similarity,
    answer_status: result.answer_status,
    outcome: result.outcome,
    scorer: scores?.scorer ?? null,
    reference_source: scores?.reference_source ?? null,
    unscored_reason: scores?.unscored_reason ?? null,
    safety_flag: scores ? scores.safety_tone <= SAFETY_GATE_MAX_LEVEL : null,
    judge_samples: scores?.provenance.judge_samples ?? null,
    sample_sd_weighted: scores?.sample_sd?.weighted ?? null,
    rationale: scores ? CRITERIA.map((criterion) => `${criterion}: ${scores.rationale[criterion]}`).join('; ') : null,
    error: error ? `${error.stage}/${error.code}: ${error.message}` : null,
    finished_at: result.finished_at,
    judge_alias: provenance.judge_alias,
    judge_model_id: provenance.judge_model_id,
    prompt_sha256: provenance.prompt_sha256,
    rubric_weights: weightsText(provenance.weights),
    bootstrap_seed: context.bootstrap_seed,
    service_version: provenance.service_version,
    cache_hit: result.cache_hit,
  };
}

async function* toCsvRecords(results: AsyncIterable<RunResult> | Iterable<RunResult>, context: CsvRunContext) {
  for await (const result of results) yield toCsvRecord(result, context);
}

/** How every CSV of ours writes its cells, whatever its columns. */
export const CELL_FORMAT = {
  // Answers and inquiries are untrusted text: a cell starting with = + - @ would run as a formula in a
  // spreadsheet. Numbers are passed as numbers, which the option leaves alone (negative ones included).
  escape_formulas: true,
  // The default writes false as an empty cell, which would read as "unknown" next to real blanks.
  cast: { boolean: (value: boolean) => (value ? 'true' : 'false') },
} as const satisfies Options;

const CSV_FORMAT: Options = { header: true, columns: [...CSV_COLUMNS], ...CELL_FORMAT };

/**
 * Excel on Windows opens a CSV without a byte-order mark in the system's code page, so "…" or "é" in an
 * answer show as mojibake; with the mark it reads UTF-8. Scripts that read a CSV by column name would find
 * the mark glued to the first header, so it is added on request to a download, never to the files on disk.
 */
export function withByteOrderMark(csv: Readable): Readable {
  async function* marked() {
    yield '\uFEFF';
    yield* csv;
  }
  return Readable.from(marked(), { objectMode: false });
}

/**
 * Streams the results as CSV with a header row; rows are produced as the consumer reads, so a run of any
 * size never sits in memory as one string.
 */
export function createResultsCsvStream(results: AsyncIterable<RunResult> | Iterable<RunResult>, context: CsvRunContext): Readable {
  const stringifier = stringify(CSV_FORMAT);
  // pipeline destroys the stringifier with the source's error, so whoever reads the CSV sees the failure.
  return pipeline(Readable.from(toCsvRecords(results, context)), stringifier, () => {});
}

/** A few results as one CSV text, in the stream's format: for examples in the documentation. */
export function resultsCsvText(results: readonly RunResult[], context: CsvRunContext): string {
  return stringifySync(results.map((result) => toCsvRecord(result, context)), CSV_FORMAT);
}

/** Writes next to the target and renames at the end, so a reader never sees half a file. */
export async function writeCsvFile(csv: Readable, path: string): Promise<void> {
  const partial = `${path}.${randomUUID()}.partial`;
  try {
    await pipelineAsync(csv, createWriteStream(partial));
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}
