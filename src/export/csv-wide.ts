import { Readable, pipeline } from 'node:stream';
import { stringify } from 'csv-stringify';
import { stringify as stringifySync } from 'csv-stringify/sync';
import type { RunResult } from '../runs/run-result.js';
import { CELL_FORMAT, roundWeighted, SCORE_COLUMNS, scoreCells } from './csv.js';

/**
 * The wide CSV: one row per inquiry and a group of columns per model, for reading the models' answers side by
 * side in a spreadsheet. The long CSV (one row per inquiry and model) stays the one that scripts read.
 */

/** What every row starts with: the item, and what its answers are graded against. */
export const WIDE_ITEM_COLUMNS = ['item_id', 'inquiry', 'reference', 'category', 'in_training'] as const;

/** Each model's group, named `<alias>_<column>`; the scores keep the case study's names, as in the long CSV. */
export const WIDE_MODEL_COLUMNS = [
  'answer',
  SCORE_COLUMNS.weighted,
  SCORE_COLUMNS.accuracy,
  SCORE_COLUMNS.actionability,
  SCORE_COLUMNS.completeness,
  SCORE_COLUMNS.safety_tone,
  'outcome',
  'cache_hit',
] as const;

type WideModelColumn = (typeof WIDE_MODEL_COLUMNS)[number];
type Cell = string | number | boolean | null;

const wideModelColumn = (alias: string, column: WideModelColumn) => `${alias}_${column}`;
/** The per-item difference of the weighted score, the first model minus another: the paired gain, item by item. */
const wideDifferenceColumn = (first: string, other: string) => `${first}_minus_${other}_${SCORE_COLUMNS.weighted}`;

export interface WideCsvOptions {
  /** The run's model aliases in its order: the first is compared with each other one. */
  models: readonly string[];
  /** The run's item ids in its order (items.jsonl), the order of the rows. */
  itemIds: AsyncIterable<string> | Iterable<string>;
}

/** One inquiry with what each model gave for it; only what a row shows is kept. */
interface WideItem {
  item: Pick<RunResult, (typeof WIDE_ITEM_COLUMNS)[number]>;
  byModel: Map<string, Pick<RunResult, 'answer' | 'scores' | 'outcome' | 'cache_hit'>>;
}

export function wideCsvColumns(models: readonly string[]): string[] {
  const [first, ...others] = models;
  return [
    ...WIDE_ITEM_COLUMNS,
    ...models.flatMap((alias) => WIDE_MODEL_COLUMNS.map((column) => wideModelColumn(alias, column))),
    ...(first === undefined ? [] : others.map((other) => wideDifferenceColumn(first, other))),
  ];
}

/** One row: the item, each model's group (blank where it has no result yet), then the differences. */
function toWideCsvRecord(entry: WideItem, models: readonly string[]): Record<string, Cell> {
  const { item } = entry;
  const record: Record<string, Cell> = {
    item_id: item.item_id,
    inquiry: item.inquiry,
    reference: item.reference,
    category: item.category,
    in_training: item.in_training,
  };
  for (const alias of models) {
    const result = entry.byModel.get(alias);
    const scores = scoreCells(result?.scores ?? null);
    record[wideModelColumn(alias, 'answer')] = result?.answer ?? null;
    for (const column of Object.values(SCORE_COLUMNS)) record[wideModelColumn(alias, column)] = scores[column];
    record[wideModelColumn(alias, 'outcome')] = result?.outcome ?? null;
    record[wideModelColumn(alias, 'cache_hit')] = result?.cache_hit ?? null;
  }
  const weightedOf = (alias: string) => entry.byModel.get(alias)?.scores?.weighted ?? null;
  const [first, ...others] = models;
  if (first === undefined) return record;
  const firstWeighted = weightedOf(first);
  for (const other of others) {
    const otherWeighted = weightedOf(other);
    record[wideDifferenceColumn(first, other)] = firstWeighted === null || otherWeighted === null ? null : roundWeighted(firstWeighted - otherWeighted);
  }
  return record;
}

/**
 * Keeps an item's answers, scores, outcomes and cache hits until its row is written: nothing else of a result (no
 * rationale, no provenance). A model outside the run's list has no column group, and is left out.
 */
function addToGroup(items: Map<string, WideItem>, models: readonly string[], result: RunResult): void {
  if (!models.includes(result.model_alias)) return;
  let entry = items.get(result.item_id);
  if (!entry) {
    const { item_id, inquiry, reference, category, in_training } = result;
    entry = { item: { item_id, inquiry, reference, category, in_training }, byModel: new Map() };
    items.set(result.item_id, entry);
  }
  entry.byModel.set(result.model_alias, { answer: result.answer, scores: result.scores, outcome: result.outcome, cache_hit: result.cache_hit });
}

const wideCsvFormat = (models: readonly string[]) => ({ header: true, columns: wideCsvColumns(models), ...CELL_FORMAT });

/**
 * The rows in the run's item order, read alongside the results. Results arrive in the order they finished,
 * which follows the item order within the run's concurrency (workers take items in order), so an item's row
 * is written as soon as every model has its result, and only the few items finished out of order wait in
 * memory: a 10,000-result run is never held whole. An item that some model never finished (a cancelled run)
 * gets its row with blanks once the results have been read to the end; an item no model finished has none.
 */
async function* wideCsvRecords(results: AsyncIterable<RunResult> | Iterable<RunResult>, { models, itemIds }: WideCsvOptions) {
  const waiting = new Map<string, WideItem>();
  const source = (results as AsyncIterable<RunResult>)[Symbol.asyncIterator]?.() ?? (results as Iterable<RunResult>)[Symbol.iterator]();
  let exhausted = false;
  const complete = (id: string) => {
    const entry = waiting.get(id);
    return entry !== undefined && models.every((alias) => entry.byModel.has(alias));
  };
  try {
    for await (const id of itemIds) {
      while (!exhausted && !complete(id)) {
        const next = await source.next();
        if (next.done) exhausted = true;
        else addToGroup(waiting, models, next.value);
      }
      const entry = waiting.get(id);
      if (!entry) continue;
      waiting.delete(id);
      yield toWideCsvRecord(entry, models);
    }
    // Results of items the run does not list (never written by the service): after the listed ones.
    if (!exhausted) for (let next = await source.next(); !next.done; next = await source.next()) addToGroup(waiting, models, next.value);
    for (const entry of waiting.values()) yield toWideCsvRecord(entry, models);
  } finally {
    // A reader that stops early (a dropped download) closes the results file too.
    await source.return?.();
  }
}

/** Streams the wide CSV with a header row, a row per item in the run's order. */
export function createWideCsvStream(results: AsyncIterable<RunResult> | Iterable<RunResult>, options: WideCsvOptions): Readable {
  // pipeline destroys the stringifier with the source's error, so whoever reads the CSV sees the failure.
  return pipeline(Readable.from(wideCsvRecords(results, options)), stringify(wideCsvFormat(options.models)), () => {});
}

/** A few results as one wide CSV text, rows in the order their items first appear: for examples in the documentation. */
export function wideCsvText(results: readonly RunResult[], models: readonly string[]): string {
  const items = new Map<string, WideItem>();
  for (const result of results) addToGroup(items, models, result);
  return stringifySync([...items.values()].map((entry) => toWideCsvRecord(entry, models)), wideCsvFormat(models));
}
