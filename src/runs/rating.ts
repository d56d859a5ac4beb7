import type { Criterion } from '../scoring/rubric.js';

/** A person's scores of one answer: the four criteria (whole levels 1-5) and their weighted sum with the run's weights. */
export type HumanScores = Record<Criterion, number> & { weighted: number };

/**
 * One rating: one rater's scores of every answer of one item, by model alias (the keys the rater saw are
 * mapped back before it is stored). A rater revises a rating by rating the item again; the last rating of
 * a (rater, item) is the rating.
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

export const ratingKey = (rating: Pick<StoredRating, 'rater' | 'item_id'>) => `${rating.rater}\u0000${rating.item_id}`;

/**
 * Ordered by item id, then rater, so that whatever reads the ratings (the summary, the CSV) does not depend
 * on the order they were written in.
 */
export const byItemThenRater = (a: StoredRating, b: StoredRating) =>
  a.item_id < b.item_id ? -1 : a.item_id > b.item_id ? 1 : a.rater < b.rater ? -1 : a.rater > b.rater ? 1 : 0;
