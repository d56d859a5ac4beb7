import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, pipeline } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import type { RunResult } from '../runs/run-result.js';
import { CRITERIA } from '../scoring/rubric.js';

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
  'answer_status',
  'outcome',
  'scorer',
  'reference_source',
  'rationale',
  'error',
  'finished_at',
] as const;

export type CsvColumn = (typeof CSV_COLUMNS)[number];
export type CsvRecord = Record<CsvColumn, string | number | boolean | null>;

// Four decimals remove float noise (3.8500000000000005) without the loss of the two-decimal display rounding.
const roundWeighted = (x: number) => Math.round(x * 10_000) / 10_000;

export function toCsvRecord(result: RunResult): CsvRecord {
  const { scores, error } = result;
  return {
    inquiry: result.inquiry,
    model: result.model_id,
    answer: result.answer,
    tokens_out: result.tokens_out,
    latency_ms: result.latency_ms,
    exactitude: scores?.accuracy ?? null,
    actionnabilite: scores?.actionability ?? null,
    exhaustivite: scores?.completeness ?? null,
    securite: scores?.safety_tone ?? null,
    score_pondere: scores ? roundWeighted(scores.weighted) : null,
    run_id: result.run_id,
    item_id: result.item_id,
    model_alias: result.model_alias,
    category: result.category,
    tokens_in: result.tokens_in,
    in_training: result.in_training,
    answer_status: result.answer_status,
    outcome: result.outcome,
    scorer: scores?.scorer ?? null,
    reference_source: scores?.reference_source ?? null,
    rationale: scores ? CRITERIA.map((criterion) => `${criterion}: ${scores.rationale[criterion]}`).join('; ') : null,
    error: error ? `${error.stage}/${error.code}: ${error.message}` : null,
    finished_at: result.finished_at,
  };
}

async function* toCsvRecords(results: AsyncIterable<RunResult> | Iterable<RunResult>) {
  for await (const result of results) yield toCsvRecord(result);
}

/**
 * Streams the results as CSV with a header row; rows are produced as the consumer reads, so a run of any
 * size never sits in memory as one string.
 */
export function createResultsCsvStream(results: AsyncIterable<RunResult> | Iterable<RunResult>): Readable {
  const stringifier = stringify({
    header: true,
    columns: [...CSV_COLUMNS],
    // Answers and inquiries are untrusted text: a cell starting with = + - @ would run as a formula in a
    // spreadsheet. Numbers are passed as numbers, which the option leaves alone (negative ones included).
    escape_formulas: true,
    // The default writes false as an empty cell, which would read as "unknown" next to real blanks.
    cast: { boolean: (value) => (value ? 'true' : 'false') },
  });
  // pipeline destroys the stringifier with the source's error, so whoever reads the CSV sees the failure.
  return pipeline(Readable.from(toCsvRecords(results)), stringifier, () => {});
}

/** Writes next to the target and renames at the end, so a reader never sees half a file. */
export async function writeResultsCsv(
  results: AsyncIterable<RunResult> | Iterable<RunResult>,
  path: string,
): Promise<void> {
  const partial = `${path}.${randomUUID()}.partial`;
  try {
    await pipelineAsync(createResultsCsvStream(results), createWriteStream(partial));
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}
