import { Readable, pipeline } from 'node:stream';
import { stringify } from 'csv-stringify';
import { stringify as stringifySync } from 'csv-stringify/sync';
import { ANSWER_KEYS } from '../runs/blinding.js';
import type { StoredRating } from '../runs/rating.js';
import { CRITERIA } from '../scoring/rubric.js';
import { CELL_FORMAT, roundWeighted } from './csv.js';

/** One row per rating and model: the people's scores by alias, unblinded, for a spreadsheet or a notebook. */
export const RATINGS_CSV_COLUMNS = [
  'run_id',
  'item_id',
  'rater',
  'model_alias',
  'model_id',
  'shown_as',
  ...CRITERIA,
  'weighted',
  'preferred',
  'preference',
  'comment',
  'rated_at',
] as const;

type RatingsCsvRecord = Record<(typeof RATINGS_CSV_COLUMNS)[number], string | number | boolean | null>;

function* toRecords(ratings: Iterable<StoredRating>, models: readonly { alias: string; model_id: string }[]): Generator<RatingsCsvRecord> {
  for (const rating of ratings) {
    for (const { alias, model_id } of models) {
      const scores = rating.scores[alias];
      if (!scores) continue;
      const shownAt = rating.shown.indexOf(alias);
      yield {
        run_id: rating.run_id,
        item_id: rating.item_id,
        rater: rating.rater,
        model_alias: alias,
        model_id,
        shown_as: shownAt === -1 ? null : (ANSWER_KEYS[shownAt] ?? null),
        accuracy: scores.accuracy,
        actionability: scores.actionability,
        completeness: scores.completeness,
        safety_tone: scores.safety_tone,
        weighted: roundWeighted(scores.weighted),
        preferred: rating.preference === null ? null : rating.preference === alias,
        preference: rating.preference,
        comment: rating.comment,
        rated_at: rating.rated_at,
      };
    }
  }
}

// Rater names, comments and item ids are free text: the same neutralising of formulas as the results CSV.
const FORMAT = { header: true, columns: [...RATINGS_CSV_COLUMNS], ...CELL_FORMAT };

export function createRatingsCsvStream(ratings: Iterable<StoredRating>, models: readonly { alias: string; model_id: string }[]): Readable {
  return pipeline(Readable.from(toRecords(ratings, models)), stringify(FORMAT), () => {});
}

/** A few ratings as one CSV text, in the stream's format: for the documentation's example. */
export function ratingsCsvText(ratings: readonly StoredRating[], models: readonly { alias: string; model_id: string }[]): string {
  return stringifySync([...toRecords(ratings, models)], FORMAT);
}
