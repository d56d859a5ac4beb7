import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Criterion } from '../scoring/rubric.js';
import { cutPartialLine, JsonLinesWriter, runFiles } from './run-store.js';

/** A person's scores of one answer: the four criteria (whole levels 1-5) and their weighted sum with the run's weights. */
export type HumanScores = Record<Criterion, number> & { weighted: number };

/**
 * One rating, a line of the run's ratings.jsonl: one rater's scores of every answer of one item, by model
 * alias (the keys the rater saw are mapped back before it is stored). A rater revises a rating by rating
 * the item again; the last line of a (rater, item) is the rating.
 */
export interface StoredRating {
  run_id: string;
  rater: string;
  item_id: string;
  /** By alias, in the run's order of models. */
  scores: Record<string, HumanScores>;
  /** The alias preferred overall, `tie`, or null when the rater did not say. */
  preference: string | null;
  comment: string | null;
  /** The aliases in the order the rater saw them (A first): kept to check for position effects, never served. */
  shown: string[];
  rated_at: string;
}

export const RATINGS_FILE = 'ratings.jsonl';
export const ratingsPath = (reportsDir: string, runId: string) => join(runFiles(reportsDir, runId).dir, RATINGS_FILE);

const ratingKey = (rating: Pick<StoredRating, 'rater' | 'item_id'>) => `${rating.rater}\u0000${rating.item_id}`;

function parseRating(line: string): StoredRating | undefined {
  if (line.trim() === '') return undefined;
  try {
    const parsed = JSON.parse(line) as StoredRating;
    return typeof parsed === 'object' && parsed !== null && typeof parsed.rater === 'string' && typeof parsed.item_id === 'string' ? parsed : undefined;
  } catch {
    // Only a last line cut by a crash can be partial; the next append cuts it off first.
    return undefined;
  }
}

/**
 * Each (rater, item)'s current rating: the last line written for it. Ordered by item id, then rater, so
 * that whatever reads them (the summary, the CSV) does not depend on the order they were written in.
 * Empty when nobody has rated the run (no file).
 */
export async function readLatestRatings(reportsDir: string, runId: string): Promise<StoredRating[]> {
  let text: string;
  try {
    text = await readFile(ratingsPath(reportsDir, runId), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const latest = new Map<string, StoredRating>();
  for (const line of text.split('\n')) {
    const rating = parseRating(line);
    if (rating) latest.set(ratingKey(rating), rating);
  }
  const byItemThenRater = (a: StoredRating, b: StoredRating) =>
    a.item_id < b.item_id ? -1 : a.item_id > b.item_id ? 1 : a.rater < b.rater ? -1 : a.rater > b.rater ? 1 : 0;
  return [...latest.values()].sort(byItemThenRater);
}

/** Size and modification time of the ratings file, or null without one: a cheap test of whether ratings changed. */
export async function ratingsFingerprint(reportsDir: string, runId: string): Promise<string | null> {
  const info = await stat(ratingsPath(reportsDir, runId)).catch(() => undefined);
  return info ? `${info.size}:${info.mtimeMs}` : null;
}

/**
 * Appends ratings durably: a rating counts as stored once its line is written (the same guarantee as a
 * result: it survives a killed process), with secrets redacted by JsonLinesWriter, and a line that does
 * not fit on a full disk cut off again. Appends to one run's file go one at a time within this process,
 * and each opens the file afresh (cutting a line torn by a crash first), so no handle outlives a request.
 */
export function createRatingsStore(reportsDir: string) {
  const queues = new Map<string, Promise<unknown>>();

  return {
    /** Stores the rating; `revised` when the rater had rated the item before. */
    append(rating: StoredRating): Promise<{ revised: boolean }> {
      const previous = queues.get(rating.run_id) ?? Promise.resolve();
      const done = previous.then(async () => {
        const path = ratingsPath(reportsDir, rating.run_id);
        const revised = (await readLatestRatings(reportsDir, rating.run_id)).some((earlier) => ratingKey(earlier) === ratingKey(rating));
        if (await stat(path).then(() => true, () => false)) await cutPartialLine(path);
        const writer = await JsonLinesWriter.open<StoredRating>(path);
        try {
          await writer.append(rating);
        } finally {
          await writer.close();
        }
        return { revised };
      });
      const settled = done.catch(() => undefined);
      queues.set(rating.run_id, settled);
      void settled.then(() => {
        if (queues.get(rating.run_id) === settled) queues.delete(rating.run_id);
      });
      return done;
    },
  };
}

export type RatingsStore = ReturnType<typeof createRatingsStore>;
