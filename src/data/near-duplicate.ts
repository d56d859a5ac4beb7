import { inquiryTerms, oneTypoApart, typoKeys } from './inquiry-terms.js';
import { normalizeInquiry } from './normalize-inquiry.js';

/**
 * The project's one answer to "is this the same question, asked again?": the data checker's
 * near-duplicates and leakage, and the runs' in_training mark, all use it, so they cannot disagree.
 *
 * Similarity is the Jaccard index of the two inquiries' content terms (inquiryTerms: normalised,
 * stopwords out, negations folded, stemmed), where a term without an exact partner still counts as
 * shared when the other inquiry has an unpaired term one typo away ("bluetoth", "bluetooth").
 * It is symmetric, 0..1, and 1 for the same terms in any order or phrasing ("how can I" / "how do I").
 *
 * Near means a similarity of at least 0.8. With n shared terms, one term added or dropped is
 * near from n = 4 (4/5), but a term swapped for another (n/(n+2)) only from n = 8: "return my Echo
 * Dot" and "return my Echo Show" are different questions, because a support answer can differ per
 * product, and only a long question that differs in nothing else counts the swap as a paraphrase.
 * Calibrated on the project's data (the figures are in test/near-duplicate.test.ts): the closest
 * pair of different training questions, "How do I file an A-to-z claim?" and "How long do I have to
 * file an A-to-z claim?", is 0.75; the validation and evaluation sets reword every training question
 * they share a topic with, and none of their items comes closer than 0.667 to a training inquiry.
 */
export const NEAR_DUPLICATE_THRESHOLD = 0.8;
// Guards the comparison against float error in fractions such as 4/5.
const EPSILON = 1e-9;

export const TRAINING_OVERLAPS = ['exact', 'near', 'none'] as const;
export type TrainingOverlap = (typeof TRAINING_OVERLAPS)[number];

export interface InquiryMatch {
  /** exact: the same once normalised; near: at least NEAR_DUPLICATE_THRESHOLD; none: below it, or nothing shared. */
  in_training: TrainingOverlap;
  training_line: number | null;
  training_inquiry: string | null;
  /** Rounded to 3 decimals; null when no entry shares a term with the inquiry. */
  similarity: number | null;
}

export interface InquiryEntry {
  line: number;
  inquiry: string;
}

export interface ScoredEntry extends InquiryEntry {
  similarity: number;
}

export interface InquiryIndex {
  /** The most similar entry (the first one on a tie), however low its similarity. */
  nearest(inquiry: string): InquiryMatch;
  /** Every entry at or above the threshold, most similar first. */
  nearDuplicates(inquiry: string): ScoredEntry[];
}

export const isNear = (similarity: number) => similarity >= NEAR_DUPLICATE_THRESHOLD - EPSILON;
const round = (similarity: number) => Math.round(similarity * 1000) / 1000;

function typoPairs(unpaired: readonly string[], others: readonly string[]): number {
  return unpaired.filter((term) => others.some((other) => oneTypoApart(term, other))).length;
}

/** Jaccard of two term sets, typo partners counted as shared (as many as the side with fewer of them). */
export function termSimilarity(a: readonly string[], b: readonly string[]): number {
  const inB = new Set(b);
  const inA = new Set(a);
  const unpairedA = a.filter((term) => !inB.has(term));
  const unpairedB = b.filter((term) => !inA.has(term));
  const exact = a.length - unpairedA.length;
  const shared = exact + Math.min(typoPairs(unpairedA, unpairedB), typoPairs(unpairedB, unpairedA));
  const union = a.length + b.length - shared;
  return union === 0 ? 0 : shared / union;
}

export function inquirySimilarity(a: string, b: string): number {
  const normalised = normalizeInquiry(a);
  // An inquiry of stopwords only ("hi there?") has no terms, yet its exact copy is still a copy.
  if (normalised !== '' && normalised === normalizeInquiry(b)) return 1;
  return termSimilarity(inquiryTerms(a), inquiryTerms(b));
}

export function buildInquiryIndex(entries: readonly InquiryEntry[]): InquiryIndex {
  const termsOf = entries.map((entry) => inquiryTerms(entry.inquiry));
  const withText = new Map<string, number[]>();
  entries.forEach((entry, position) => {
    const normalised = normalizeInquiry(entry.inquiry);
    if (normalised !== '') withText.set(normalised, [...(withText.get(normalised) ?? []), position]);
  });
  const postings = new Map<string, number[]>();
  const termsByTypoKey = new Map<string, Set<string>>();
  termsOf.forEach((terms, position) => {
    for (const term of terms) {
      const list = postings.get(term);
      if (list) list.push(position);
      else {
        postings.set(term, [position]);
        for (const key of typoKeys(term)) termsByTypoKey.set(key, (termsByTypoKey.get(key) ?? new Set()).add(term));
      }
    }
  });
  const typoPartners = (term: string) => {
    const partners = new Set<string>();
    for (const key of typoKeys(term)) for (const other of termsByTypoKey.get(key) ?? []) if (oneTypoApart(term, other)) partners.add(other);
    return partners;
  };

  // Per-entry counters of the current lookup, reset lazily: a lookup only resets the entries it reaches.
  // Lookups are synchronous, so no other lookup sees them half-way.
  const reachedBy = new Float64Array(entries.length).fill(-1);
  const lastTerm = new Int32Array(entries.length);
  const sharedTerms = new Int32Array(entries.length);
  const exactTerms = new Int32Array(entries.length);
  let lookups = 0;

  /**
   * Visits entries sharing a term, or a typo of one, with the query, counting shared terms through the
   * posting lists of the query's own terms, rarest first. An entry first reached at the j-th of k terms
   * shares at most k - j of them, so its similarity is at most (k - j) / k: once that is below
   * `floor(best so far)`, no new entry is taken on. With the threshold as the floor this is the prefix
   * filter of similarity joins; with the best so far, a top-1 search.
   */
  function score(queryTerms: readonly string[], floor: (best: number) => number, visit: (position: number, similarity: number) => void) {
    lookups += 1;
    const k = queryTerms.length;
    // Per query term: its own posting list first, then its typo partners' lists.
    const byRarity = queryTerms
      .map((term) => [postings.get(term) ?? [], ...[...typoPartners(term)].map((partner) => postings.get(partner) as number[])])
      .map((lists) => ({ lists, size: lists.reduce((sum, list) => sum + list.length, 0) }))
      .sort((a, b) => a.size - b.size)
      .map(({ lists }) => lists);
    const touched: number[] = [];
    let best = 0;
    byRarity.forEach((lists, j) => {
      const takesNew = (k - j) / k >= floor(best) - EPSILON;
      lists.forEach((list, listIndex) => {
        const exact = listIndex === 0;
        for (const position of list) {
          if (reachedBy[position] !== lookups) {
            if (!takesNew) continue;
            reachedBy[position] = lookups;
            lastTerm[position] = -1;
            sharedTerms[position] = 0;
            exactTerms[position] = 0;
            touched.push(position);
          }
          // A term and its typo partners count once per entry.
          if (lastTerm[position] === j) continue;
          lastTerm[position] = j;
          sharedTerms[position] = (sharedTerms[position] as number) + 1;
          if (!exact) continue;
          const shared = (exactTerms[position] as number) + 1;
          exactTerms[position] = shared;
          best = Math.max(best, shared / (k + (termsOf[position] as string[]).length - shared));
        }
      });
    });
    for (const position of touched) {
      const terms = termsOf[position] as string[];
      const reached = sharedTerms[position] as number;
      const exact = exactTerms[position] as number;
      // Counting every typo partner as shared bounds the similarity from above.
      if (reached / (k + terms.length - reached) < floor(best) - EPSILON) continue;
      visit(position, reached === exact ? exact / (k + terms.length - exact) : termSimilarity(queryTerms, terms));
    }
  }

  const entryAt = (position: number) => entries[position] as InquiryEntry;

  return {
    nearest(inquiry) {
      const exact = withText.get(normalizeInquiry(inquiry))?.[0];
      if (exact !== undefined) {
        const { line, inquiry: text } = entryAt(exact);
        return { in_training: 'exact', training_line: line, training_inquiry: text, similarity: 1 };
      }
      let bestPosition = -1;
      let bestSimilarity = 0;
      score(inquiryTerms(inquiry), (best) => best, (position, similarity) => {
        const better = similarity > bestSimilarity + EPSILON;
        const tiedEarlier = similarity > bestSimilarity - EPSILON && position < bestPosition;
        if (bestPosition === -1 || better || tiedEarlier) {
          bestPosition = position;
          bestSimilarity = similarity;
        }
      });
      if (bestPosition === -1) return { in_training: 'none', training_line: null, training_inquiry: null, similarity: null };
      const { line, inquiry: text } = entryAt(bestPosition);
      return { in_training: isNear(bestSimilarity) ? 'near' : 'none', training_line: line, training_inquiry: text, similarity: round(bestSimilarity) };
    },
    nearDuplicates(inquiry) {
      const found: { position: number; similarity: number }[] = [];
      const queryTerms = inquiryTerms(inquiry);
      score(queryTerms, () => NEAR_DUPLICATE_THRESHOLD, (position, similarity) => {
        if (isNear(similarity)) found.push({ position, similarity });
      });
      // An inquiry of stopwords only reaches no entry through terms, but its exact copies are still copies.
      if (queryTerms.length === 0) for (const position of withText.get(normalizeInquiry(inquiry)) ?? []) found.push({ position, similarity: 1 });
      return found
        .sort((a, b) => b.similarity - a.similarity || a.position - b.position)
        .map(({ position, similarity }) => ({ ...entryAt(position), similarity: round(similarity) }));
    },
  };
}
