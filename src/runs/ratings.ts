import type { Readable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { AppError } from '../errors.js';
import { createRatingsCsvStream } from '../export/ratings-csv.js';
import type { RatingByKeys, RatingItem, RatingRequest, UnblindedRating } from '../schemas/ratings.js';
import { byCriterion, weightedScore } from '../scoring/rubric.js';
import { redactSecrets } from '../secrets.js';
import { ANSWER_KEYS, answerKeys, type AnswerKey } from './blinding.js';
import type { RunManager, RunView } from './run-manager.js';
import type { RunItem } from './run-result.js';
import type { HumanScores, StoredRating } from './rating.js';
import type { RunStore } from './run-store.js';

export interface RatingsDeps {
  store: RunStore;
  runs: Pick<RunManager, 'get' | 'summary'>;
  log: FastifyBaseLogger;
}

/** What a rater can be shown of a run: its items in order and, per item, the answers there are. */
interface AnswerIndex {
  items: RunItem[];
  /** By item id, then alias: only answers that exist (a model that failed on the item has none). */
  answers: Map<string, Map<string, string>>;
}

/** Answer indexes kept in memory: a run's answers can be tens of megabytes, and raters work on one or two runs at a time. */
const INDEXED_RUNS = 2;
/** Runs whose summary files are written when they end, and so are written again with each rating. */
const WITH_SUMMARY_FILES = new Set(['completed', 'cancelled']);

const noAnswersYet = (runId: string) =>
  new AppError(409, 'no_answers_yet', `Run '${runId}' has no answer to rate yet; try again once some items are answered (GET /evaluate/${runId} shows its progress).`);

/**
 * Blind human rating of a run's answers: the items a rater sees (answers under keys A-D in an order of
 * their own), the ratings they post (mapped back to models and stored with the run), and the
 * ratings unblinded for analysis. The run's summary picks the ratings up from the store.
 */
export function createRatings(deps: RatingsDeps) {
  const { store } = deps;
  const indexes = new Map<string, { key: string; index: AnswerIndex }>();
  const refreshes = new Set<Promise<unknown>>();

  async function indexOf(run: RunView): Promise<AnswerIndex> {
    const key = (await store.changeMark(run.run_id, 'results')) ?? '-';
    const cached = indexes.get(run.run_id);
    if (cached?.key === key) return cached.index;
    const items: RunItem[] = [];
    for await (const item of store.items(run.run_id)) items.push(item);
    const answers = new Map<string, Map<string, string>>();
    for await (const result of store.results(run.run_id)) {
      if (result.answer === null) continue;
      let byAlias = answers.get(result.item_id);
      if (!byAlias) answers.set(result.item_id, (byAlias = new Map()));
      byAlias.set(result.model_alias, result.answer);
    }
    const index = { items, answers };
    indexes.delete(run.run_id);
    indexes.set(run.run_id, { key, index });
    if (indexes.size > INDEXED_RUNS) indexes.delete(indexes.keys().next().value as string);
    return index;
  }

  const aliasesOf = (run: RunView) => run.models.map((model) => model.alias);
  const keysOf = (run: RunView, index: AnswerIndex, itemId: string, rater: string) =>
    answerKeys(run.run_id, itemId, rater, aliasesOf(run), new Set(index.answers.get(itemId)?.keys() ?? []));

  /** A stored rating as its rater sees the item now: by the keys of its answers. */
  function byKeys(rating: StoredRating, keys: ReadonlyMap<AnswerKey, string>): RatingByKeys {
    const keyOf = new Map([...keys].map(([key, alias]) => [alias, key]));
    const answers: RatingByKeys['answers'] = {};
    for (const [key, alias] of keys) {
      const scores = rating.scores[alias];
      if (scores) answers[key] = { ...byCriterion((criterion) => scores[criterion]), weighted: scores.weighted };
    }
    const preference = rating.preference === null || rating.preference === 'tie' ? rating.preference : (keyOf.get(rating.preference) ?? null);
    return { rater: rating.rater, item_id: rating.item_id, answers, preference, comment: rating.comment, rated_at: rating.rated_at };
  }

  /** Each rater's current rating of each item, in the run's item order, then by rater. */
  async function inRunOrder(run: RunView): Promise<StoredRating[]> {
    const order = new Map((await indexOf(run)).items.map((item, at) => [item.item_id, at]));
    const position = (rating: StoredRating) => order.get(rating.item_id) ?? Number.MAX_SAFE_INTEGER;
    const ratings = await store.ratings(run.run_id);
    return ratings.sort((a, b) => position(a) - position(b) || (a.rater < b.rater ? -1 : a.rater > b.rater ? 1 : 0));
  }

  /** Writes the ended run's summary files again, with the new rating in: in the background, the rating itself is already stored. */
  function refreshSummary(run: RunView): void {
    if (!WITH_SUMMARY_FILES.has(run.status)) return;
    const refresh = deps.runs
      .summary(run.run_id)
      .catch((error: unknown) => deps.log.warn({ err: error, run_id: run.run_id }, 'could not refresh the summary with the new rating; it is refreshed when next read'))
      .finally(() => refreshes.delete(refresh));
    refreshes.add(refresh);
  }

  return {
    async items(runId: string, rater: string, page: { cursor?: number; limit: number }) {
      const run = await deps.runs.get(runId);
      const index = await indexOf(run);
      const ratable = index.items.flatMap((item, at) => (index.answers.has(item.item_id) ? [{ item, position: at + 1 }] : []));
      if (ratable.length === 0) throw noAnswersYet(runId);
      const mine = new Map((await store.ratings(runId)).filter((rating) => rating.rater === rater).map((rating) => [rating.item_id, rating]));
      const after = page.cursor ?? 0;
      const rest = ratable.filter(({ position }) => position > after);
      const shown = rest.slice(0, page.limit);
      const items: RatingItem[] = shown.map(({ item, position }) => {
        const keys = keysOf(run, index, item.item_id, rater);
        const texts = index.answers.get(item.item_id) as Map<string, string>;
        const rating = mine.get(item.item_id);
        return {
          item_id: item.item_id,
          position,
          inquiry: item.inquiry,
          reference: item.reference,
          category: item.category,
          answers: [...keys].map(([key, alias]) => ({ key, text: texts.get(alias) as string })),
          rating: rating ? byKeys(rating, keys) : null,
        };
      });
      return {
        rater,
        items,
        total: ratable.length,
        rated: ratable.filter(({ item }) => mine.has(item.item_id)).length,
        first_unrated: ratable.find(({ item }) => !mine.has(item.item_id))?.position ?? null,
        next_cursor: rest.length > shown.length ? String(shown.at(-1)?.position) : null,
      };
    },

    async rate(runId: string, rater: string, request: RatingRequest): Promise<{ rating: RatingByKeys; revised: boolean }> {
      const run = await deps.runs.get(runId);
      const index = await indexOf(run);
      if (index.answers.size === 0) throw noAnswersYet(runId);
      if (!index.answers.has(request.item_id)) {
        throw new AppError(400, 'unknown_item', `Run '${runId}' has no item '${request.item_id}' with an answer to rate; GET /evaluate/${runId}/rating-items lists them.`, {
          details: { item_id: request.item_id },
        });
      }
      const keys = keysOf(run, index, request.item_id, rater);
      const expected = [...keys.keys()];
      const given = ANSWER_KEYS.filter((key) => request.answers[key] !== undefined);
      const preference = request.preference ?? null;
      if (given.join() !== expected.join() || (preference !== null && preference !== 'tie' && !keys.has(preference))) {
        throw new AppError(
          400,
          'answer_keys_mismatch',
          `Item '${request.item_id}' has answers ${expected.join(', ')}: rate each of them${preference !== null && preference !== 'tie' && !keys.has(preference) ? `, and prefer one of them or tie (got ${preference})` : ` (got ${given.join(', ')})`}. Reload the item if it changed.`,
          { details: { expected, given, preference } },
        );
      }
      const scores: Record<string, HumanScores> = {};
      const shown = [...keys.values()];
      // By alias in the run's order, so what is stored does not hint at the order the rater saw.
      for (const alias of aliasesOf(run)) {
        const key = [...keys].find(([, shownAlias]) => shownAlias === alias)?.[0];
        const levels = key === undefined ? undefined : request.answers[key];
        if (!levels) continue;
        scores[alias] = { ...byCriterion((criterion) => levels[criterion]), weighted: weightedScore(levels, run.weights) };
      }
      const comment = request.comment === undefined || request.comment === null || request.comment.trim() === '' ? null : redactSecrets(request.comment);
      const stored: StoredRating = {
        run_id: runId,
        rater,
        item_id: request.item_id,
        scores,
        preference: preference === null || preference === 'tie' ? preference : (keys.get(preference) as string),
        comment,
        shown,
        rated_at: new Date().toISOString(),
      };
      const { revised } = await store.rate(stored);
      refreshSummary(run);
      return { rating: byKeys(stored, keys), revised };
    },

    /** Every rater's current rating of every item, by alias, in the run's item order. */
    async list(runId: string): Promise<UnblindedRating[]> {
      const ratings = await inRunOrder(await deps.runs.get(runId));
      return ratings.map((rating) => ({ rater: rating.rater, item_id: rating.item_id, scores: rating.scores, preference: rating.preference, comment: rating.comment, rated_at: rating.rated_at }));
    },

    /** The same as a CSV, a row per rating and model. */
    async csv(runId: string): Promise<Readable> {
      const run = await deps.runs.get(runId);
      return createRatingsCsvStream(await inRunOrder(run), run.models);
    },

    /** Waits for the summary refreshes in flight, so that closing the service leaves no half-done write behind. */
    async close(): Promise<void> {
      await Promise.all([...refreshes]);
    },
  };
}

export type Ratings = ReturnType<typeof createRatings>;
