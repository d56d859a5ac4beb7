// A rater's items, loaded a page at a time around the one on screen. GET /evaluate/{id}/rating-items pages
// forward from a position (its cursor), so a rater who resumes in the middle of a long run loads the item
// where they left off at once, and the items before it only when they go back.
import { getJson } from './api.js';

/**
 * @typedef {{ accuracy: number, actionability: number, completeness: number, safety_tone: number, weighted: number }} SavedLevels
 * @typedef {{ rater: string, item_id: string, answers: Record<string, SavedLevels>, preference: string | null,
 *   comment: string | null, rated_at: string }} SavedRating
 * @typedef {{ item_id: string, position: number, inquiry: string, reference: string | null, category: string | null,
 *   answers: { key: string, text: string }[], rating: SavedRating | null }} RatingItem
 * @typedef {{ rater: string, items: RatingItem[], total: number, rated: number, first_unrated: number | null,
 *   next_cursor: string | null }} RatingItemsPage
 */

const PAGE_SIZE = 50;

/**
 * @param {{ runId: string, rater: string | null }} options `rater` null when the service's key says who rates
 */
export function createRatingWindow({ runId, rater }) {
  const path = `/evaluate/${encodeURIComponent(runId)}/rating-items`;
  /** The loaded items, in the run's order, with none missing between the first and the last. */
  /** @type {RatingItem[]} */
  let items = [];
  /** Whether items[0] is the run's first item to rate. */
  let fromStart = true;
  /** @type {string | null} */
  let nextCursor = null;
  const progress = { total: 0, rated: 0 };

  /**
   * @param {number} after a position: the page holds the items after it
   * @returns {Promise<RatingItemsPage>}
   */
  async function pageAfter(after) {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (rater !== null) query.set('rater', rater);
    if (after > 0) query.set('cursor', String(after));
    /** @type {RatingItemsPage} */
    const page = await getJson(`${path}?${query}`);
    progress.total = page.total;
    progress.rated = page.rated;
    return page;
  }

  return {
    progress,
    /** @param {number} at */
    item: (at) => items[at] ?? null,
    /** @param {number} at */
    hasPrevious: (at) => at > 0 || !fromStart,
    /** @param {number} at */
    hasNext: (at) => at < items.length - 1 || nextCursor !== null,

    /**
     * Loads the page holding the rater's first unrated item (or the first item, once every one is rated).
     * @returns {Promise<{ rater: string, at: number, done: boolean }>}
     */
    async open() {
      let page = await pageAfter(0);
      const resume = page.first_unrated;
      fromStart = true;
      if (resume !== null && !page.items.some((item) => item.position === resume)) {
        page = await pageAfter(resume - 1);
        fromStart = false;
      }
      items = page.items;
      nextCursor = page.next_cursor;
      return { rater: page.rater, at: Math.max(0, items.findIndex((item) => item.position === resume)), done: resume === null };
    },

    /**
     * @param {number} at
     * @returns {Promise<number | null>} the index of the next item, loading the next page when needed; null at the end
     */
    async next(at) {
      if (at + 1 >= items.length && nextCursor !== null) {
        const last = items.at(-1)?.position ?? 0;
        const page = await pageAfter(Number(nextCursor));
        items = [...items, ...page.items.filter((item) => item.position > last)];
        nextCursor = page.next_cursor;
      }
      return at + 1 < items.length ? at + 1 : null;
    },

    /**
     * @param {number} at
     * @returns {Promise<number | null>} the index of the previous item, loading the items before when needed (the
     *   indexes of the loaded items move up by as many); null at the start
     */
    async previous(at) {
      if (at > 0) return at - 1;
      let before = items[0]?.position ?? 1;
      while (!fromStart) {
        // Positions are whole numbers: the PAGE_SIZE positions below `before` fit in one page, whichever hold items.
        const after = Math.max(0, before - 1 - PAGE_SIZE);
        const earlier = (await pageAfter(after)).items.filter((item) => item.position < before);
        fromStart = after === 0;
        if (earlier.length > 0) {
          items = [...earlier, ...items];
          return earlier.length - 1;
        }
        before = after + 1;
      }
      return null;
    },

    /**
     * Records a rating the service stored, as its reply gives it.
     * @param {number} at
     * @param {SavedRating} rating
     * @param {boolean} first whether it is the rater's first rating of the item (201), not a revision
     */
    saved(at, rating, first) {
      const item = items[at];
      if (item) item.rating = rating;
      if (first) progress.rated += 1;
    },
  };
}
