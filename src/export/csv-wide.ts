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
  byModel: Map<string, Pick<RunResult, 'answer' | 'scores' | 'outcome'>>;
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

interface GroupedResults {
  /** The run's models, then any model found in the results that its list no longer has. */
  models: string[];
  items: Map<string, WideItem>;
}

/**
 * Results arrive in the order they finished, and a row needs all of its item's: they are grouped first,
 * keeping each answer, its scores and outcome, but nothing else (no rationale, no provenance).
 */
function addToGroup(grouped: GroupedResults, result: RunResult): void {
  let entry = grouped.items.get(result.item_id);
  if (!entry) {
    const { item_id, inquiry, reference, category, in_training } = result;
    entry = { item: { item_id, inquiry, reference, category, in_training }, byModel: new Map() };
    grouped.items.set(result.item_id, entry);
  }
  entry.byModel.set(result.model_alias, { answer: result.answer, scores: result.scores, outcome: result.outcome });
  // A model dropped from the run's list since: its answers are still shown, after the listed ones.
  if (!grouped.models.includes(result.model_alias)) grouped.models.push(result.model_alias);
}

const wideCsvFormat = (models: readonly string[]) => ({ header: true, columns: wideCsvColumns(models), ...CELL_FORMAT });

/** The rows in the run's item order; an item no model has finished yet has none. */
async function* wideCsvRecords({ models, items }: GroupedResults, itemIds: WideCsvOptions['itemIds']) {
  const left = new Map(items);
  for await (const id of itemIds) {
    const entry = left.get(id);
    if (!entry) continue;
    left.delete(id);
    yield toWideCsvRecord(entry, models);
  }
  for (const entry of left.values()) yield toWideCsvRecord(entry, models);
}

/**
 * Streams the wide CSV with a header row. The header depends on the models found in the results, so they are
 * read to the end before the first line is written.
 */
export function createWideCsvStream(results: AsyncIterable<RunResult> | Iterable<RunResult>, options: WideCsvOptions): Readable {
  async function* csvText() {
    const grouped: GroupedResults = { models: [...options.models], items: new Map() };
    for await (const result of results) addToGroup(grouped, result);
    const stringifier = stringify(wideCsvFormat(grouped.models));
    // pipeline destroys the stringifier with the source's error, so whoever reads the CSV sees the failure.
    yield* pipeline(Readable.from(wideCsvRecords(grouped, options.itemIds)), stringifier, () => {});
  }
  return Readable.from(csvText(), { objectMode: false });
}

/** A few results as one wide CSV text, rows in the order their items first appear: for examples in the documentation. */
export function wideCsvText(results: readonly RunResult[], models: readonly string[]): string {
  const grouped: GroupedResults = { models: [...models], items: new Map() };
  for (const result of results) addToGroup(grouped, result);
  return stringifySync([...grouped.items.values()].map((entry) => toWideCsvRecord(entry, grouped.models)), wideCsvFormat(grouped.models));
}
