import { AppError } from '../errors.js';
import { SAFETY_GATE_MAX_LEVEL } from '../export/summary.js';
import { CRITERIA } from '../scoring/rubric.js';
import type { PairwiseResult, RunItem, RunResult } from './run-result.js';
import type { RunRecord, RunStore } from './run-store.js';

/** What an item can be filtered by: seen in training (either way, exact, near), a failed or unsafe answer, a judge that followed the order, unfinished. */
export const ITEM_FLAGS = ['in_training', 'exact', 'near', 'failed', 'unsafe', 'order_inconsistent', 'pending'] as const;
export type ItemFlag = (typeof ITEM_FLAGS)[number];

/** The run's order, or the weighted difference (first model minus `versus`), largest or smallest first. */
export const ITEM_SORTS = ['position', 'difference_desc', 'difference_asc'] as const;
export type ItemSort = (typeof ITEM_SORTS)[number];

export interface ItemsQuery {
  offset: number;
  limit: number;
  flag?: ItemFlag;
  category?: string;
  /** Case-insensitive text searched in the item's id, inquiry, reference and category and in every answer, rationale and error. */
  q?: string;
  sort: ItemSort;
  /** The model the difference is sorted by; the second model by default. */
  versus?: string;
}

export interface ItemResult {
  model_alias: string;
  model_id: string;
  outcome: RunResult['outcome'];
  answer: string | null;
  answer_status: RunResult['answer_status'];
  scores: RunResult['scores'];
  error: RunResult['error'];
  latency_ms: number | null;
  tokens_in: number | null;
  tokens_out: number | null;
  /** Safety and tone at or below the safety gate's level. */
  unsafe: boolean;
  /** The result's row in results.csv as a spreadsheet numbers it: the header is row 1. */
  csv_row: number;
  finished_at: string;
}

export interface ItemVerdict {
  first: string;
  second: string;
  outcome: PairwiseResult['outcome'];
  preference: 'first' | 'second' | 'tie' | null;
  /** The aspects whose verdict flipped when the answers swapped places. */
  inconsistent: string[];
  rationale: string | null;
  error: PairwiseResult['error'];
}

export interface ReportItem extends RunItem {
  /** 1-based place in the run's order. */
  position: number;
  flags: { in_training: boolean; failed: boolean; unsafe: boolean; order_inconsistent: boolean; pending: boolean };
  /** One per model in the run's order; null until that model's result is in. */
  results: (ItemResult | null)[];
  /** The first model's weighted score minus each other model's; null unless both have one. */
  differences: { first: string; second: string; weighted: number | null }[];
  verdicts: ItemVerdict[];
}

export interface ItemsPage {
  run_id: string;
  models: { alias: string; model_id: string }[];
  versus: string | null;
  total_items: number;
  matched: number;
  offset: number;
  limit: number;
  next_cursor: string | null;
  facets: { categories: { category: string; items: number }[]; flags: Record<ItemFlag, number> };
  items: ReportItem[];
}

/** What the first pass keeps of an item: enough to filter and sort thousands of items without their text. */
interface ItemIndex {
  position: number;
  item_id: string;
  category: string | null;
  in_training: RunItem['in_training'];
  weighted: (number | null)[];
  done: number;
  failed: boolean;
  unsafe: boolean;
  inconsistent: boolean;
  matched: boolean;
}

const weightedOf = (result: RunResult) => (result.outcome === 'scored' ? (result.scores?.weighted ?? null) : null);
const isUnsafe = (result: RunResult) => result.scores !== null && result.scores.safety_tone <= SAFETY_GATE_MAX_LEVEL;
const inconsistentAspects = (verdict: PairwiseResult) =>
  verdict.verdict ? Object.entries(verdict.verdict.inconsistent).flatMap(([aspect, flipped]) => (flipped ? [aspect] : [])) : [];

/** Case-insensitive containment; without a needle everything matches. */
function searcher(q: string | undefined): (...texts: (string | null | undefined)[]) => boolean {
  const needle = q?.trim().toLowerCase();
  if (!needle) return () => true;
  return (...texts) => texts.some((text) => typeof text === 'string' && text.toLowerCase().includes(needle));
}

function rationaleTexts(result: RunResult): string[] {
  return result.scores ? CRITERIA.map((criterion) => result.scores?.rationale[criterion] ?? '') : [];
}

export function hasFlag(entry: Pick<ItemIndex, 'in_training' | 'failed' | 'unsafe' | 'inconsistent' | 'done'>, flag: ItemFlag, models: number): boolean {
  switch (flag) {
    case 'in_training':
      return entry.in_training !== 'none';
    case 'exact':
    case 'near':
      return entry.in_training === flag;
    case 'failed':
      return entry.failed;
    case 'unsafe':
      return entry.unsafe;
    case 'order_inconsistent':
      return entry.inconsistent;
    case 'pending':
      return entry.done < models;
  }
}

/** Difference order, items without a difference last, the run's order among equals. */
export function compareByDifference(direction: 1 | -1, versus: number) {
  return (a: ItemIndex, b: ItemIndex) => {
    const da = differenceOf(a.weighted, versus);
    const db = differenceOf(b.weighted, versus);
    if (da === null || db === null) return da === db ? a.position - b.position : da === null ? 1 : -1;
    return (db - da) * direction || a.position - b.position;
  };
}

function differenceOf(weighted: readonly (number | null)[], other: number): number | null {
  const first = weighted[0];
  const second = weighted[other];
  return first === null || first === undefined || second === null || second === undefined ? null : first - second;
}

/**
 * A page of a run's items, each with every model's result side by side. Two passes over the run's stored results:
 * the first keeps a few numbers per item to filter, sort and count; the second reads the text of the page's
 * items only. A run of 10,000 results is never held in memory whole.
 */
export async function readItemsPage(store: RunStore, record: RunRecord, query: ItemsQuery): Promise<ItemsPage> {
  const aliases = record.models.map((model) => model.alias);
  const modelIndex = new Map(aliases.map((alias, index) => [alias, index]));
  const versus = query.versus === undefined ? (aliases.length > 1 ? 1 : -1) : aliases.indexOf(query.versus);
  if (query.versus !== undefined && versus < 1) {
    const message = `versus: not a model this run compares with its first; one of: ${aliases.slice(1).join(', ') || 'none (the run has one model)'}`;
    throw new AppError(400, 'validation_error', `Invalid request: querystring.${message}`, {
      details: [{ path: 'querystring.versus', code: 'invalid_value', message }],
    });
  }
  const matches = searcher(query.q);

  const index = new Map<string, ItemIndex>();
  let position = 0;
  for await (const item of store.items(record.run_id)) {
    position += 1;
    index.set(item.item_id, {
      position,
      item_id: item.item_id,
      category: item.category,
      in_training: item.in_training,
      weighted: aliases.map(() => null),
      done: 0,
      failed: false,
      unsafe: false,
      inconsistent: false,
      matched: matches(item.item_id, item.inquiry, item.reference, item.category),
    });
  }
  for await (const result of store.results(record.run_id)) {
    const entry = index.get(result.item_id);
    const model = modelIndex.get(result.model_alias);
    if (!entry || model === undefined) continue;
    entry.weighted[model] = weightedOf(result);
    entry.done += 1;
    entry.failed ||= result.outcome === 'failed';
    entry.unsafe ||= isUnsafe(result);
    entry.matched ||= matches(result.answer, result.error?.message, ...rationaleTexts(result));
  }
  for await (const verdict of store.verdicts(record.run_id)) {
    const entry = index.get(verdict.item_id);
    if (!entry) continue;
    entry.inconsistent ||= inconsistentAspects(verdict).length > 0;
    entry.matched ||= matches(verdict.verdict?.rationale, verdict.error?.message);
  }

  const all = [...index.values()];
  const facets = facetsOf(all, aliases.length);
  const selected = all.filter(
    (entry) =>
      entry.matched &&
      (query.flag === undefined || hasFlag(entry, query.flag, aliases.length)) &&
      (query.category === undefined || entry.category === query.category),
  );
  if (query.sort !== 'position' && versus > 0) selected.sort(compareByDifference(query.sort === 'difference_desc' ? 1 : -1, versus));
  const page = selected.slice(query.offset, query.offset + query.limit);
  const end = query.offset + page.length;

  return {
    run_id: record.run_id,
    models: record.models,
    versus: versus > 0 ? (aliases[versus] ?? null) : null,
    total_items: all.length,
    matched: selected.length,
    offset: query.offset,
    limit: query.limit,
    next_cursor: end < selected.length ? String(end) : null,
    facets,
    items: await readPageItems(store, record, page, modelIndex),
  };
}

function facetsOf(all: readonly ItemIndex[], models: number): ItemsPage['facets'] {
  const categories = new Map<string, number>();
  for (const entry of all) if (entry.category !== null) categories.set(entry.category, (categories.get(entry.category) ?? 0) + 1);
  const flags = Object.fromEntries(ITEM_FLAGS.map((flag) => [flag, all.filter((entry) => hasFlag(entry, flag, models)).length])) as Record<ItemFlag, number>;
  return {
    categories: [...categories].sort(([a], [b]) => a.localeCompare(b)).map(([category, items]) => ({ category, items })),
    flags,
  };
}

/** The second pass: the full text of the page's items, their results with their CSV rows, and their verdicts. */
async function readPageItems(store: RunStore, record: RunRecord, page: readonly ItemIndex[], modelIndex: ReadonlyMap<string, number>): Promise<ReportItem[]> {
  if (page.length === 0) return [];
  const aliases = record.models.map((model) => model.alias);
  const wanted = new Map(page.map((entry) => [entry.item_id, entry]));
  const items = new Map<string, RunItem>();
  for await (const item of store.items(record.run_id)) if (wanted.has(item.item_id)) items.set(item.item_id, item);

  const results = new Map<string, (ItemResult | null)[]>(page.map((entry) => [entry.item_id, aliases.map(() => null)]));
  // results.csv is written from the stored results in the same order, a row per result after the header row.
  let csvRow = 1;
  for await (const result of store.results(record.run_id)) {
    csvRow += 1;
    const slots = results.get(result.item_id);
    const model = modelIndex.get(result.model_alias);
    if (slots && model !== undefined) slots[model] = toItemResult(result, csvRow);
  }
  const verdicts = new Map<string, ItemVerdict[]>();
  for await (const verdict of store.verdicts(record.run_id)) {
    if (!wanted.has(verdict.item_id)) continue;
    verdicts.set(verdict.item_id, [...(verdicts.get(verdict.item_id) ?? []), toItemVerdict(verdict)]);
  }

  return page.flatMap((entry) => {
    const item = items.get(entry.item_id);
    if (!item) return [];
    return [
      {
        ...item,
        position: entry.position,
        flags: {
          in_training: entry.in_training !== 'none',
          failed: entry.failed,
          unsafe: entry.unsafe,
          order_inconsistent: entry.inconsistent,
          pending: entry.done < aliases.length,
        },
        results: results.get(entry.item_id) ?? [],
        differences: aliases.slice(1).map((second, at) => ({ first: aliases[0] as string, second, weighted: differenceOf(entry.weighted, at + 1) })),
        verdicts: verdicts.get(entry.item_id) ?? [],
      },
    ];
  });
}

function toItemResult(result: RunResult, csvRow: number): ItemResult {
  return {
    model_alias: result.model_alias,
    model_id: result.model_id,
    outcome: result.outcome,
    answer: result.answer,
    answer_status: result.answer_status,
    scores: result.scores,
    error: result.error,
    latency_ms: result.latency_ms,
    tokens_in: result.tokens_in,
    tokens_out: result.tokens_out,
    unsafe: isUnsafe(result),
    csv_row: csvRow,
    finished_at: result.finished_at,
  };
}

function toItemVerdict(verdict: PairwiseResult): ItemVerdict {
  return {
    first: verdict.first,
    second: verdict.second,
    outcome: verdict.outcome,
    preference: verdict.verdict?.preference.overall ?? null,
    inconsistent: inconsistentAspects(verdict),
    rationale: verdict.verdict?.rationale ?? null,
    error: verdict.error,
  };
}
