import type { RubricLevel } from '../rubric.js';

/**
 * Every number the heuristic compares a measure with lives here, so that one file (and one hash,
 * HEURISTIC_RULES_SHA256) says what the rules are.
 *
 * Where the cut points come from: the labelled pairs in data/scorer_validation/calibration_pairs.json
 * (86 pairs: which of two answers a person prefers on one criterion). Starting from the previous
 * hand-set values, each cut point and limit was swept over a range and set where the preferred answer
 * scores strictly higher on the most calibration pairs, in the middle of the range that does so; where
 * the calibration pairs do not move with a value, the table says so and keeps a conservative value.
 * Levels that restate the rubric's wording (a contradiction is level 2, a password request level 1)
 * come from the rubric, not from calibration. test/heuristic-validation.test.ts measures the agreement
 * on that file and on the holdout file (never used for tuning) and fails below committed thresholds.
 */
export interface Band {
  level: RubricLevel;
  /** The lowest measured value that earns `level`. */
  min: number;
}

export interface BandTable {
  measures: string;
  /** Best level first; a value below every band is level 1. */
  bands: readonly Band[];
}

export function levelFor(table: BandTable, value: number): RubricLevel {
  for (const band of table.bands) if (value >= band.min) return band.level;
  return 1;
}

/**
 * Calibration does not move these: every cut point can shift by 0.3 either way without changing a pair,
 * because the accuracy pairs are decided by contradictions, wrong page names and gaming penalties. The
 * previous values are kept; they put a faithful paraphrase (about 0.65-0.85) at 5 and a vague answer
 * (below 0.3) at 1-2.
 */
export const ACCURACY_BANDS: BandTable = {
  measures:
    'Agreement with the given reference: 0.5 x content agreement (0.7 x share of the reference content stems the answer has + 0.3 x share of the answer content stems the reference has) + 0.5 x share of the reference key facts (numbers, labels) the answer states; content agreement alone when the reference has no key facts.',
  bands: [
    { level: 5, min: 0.62 },
    { level: 4, min: 0.48 },
    { level: 3, min: 0.34 },
    { level: 2, min: 0.2 },
  ],
};

/** Calibration keeps every pair for level 5 from 0.85 to 1.0 and for level 4 from 0.55 to 0.65: the middles are used. Levels 3 and 2 do not move any pair. */
export const COMPLETENESS_BANDS: BandTable = {
  measures: 'Share of the reference key points covered (a point covered in part counts half).',
  bands: [
    { level: 5, min: 0.9 },
    { level: 4, min: 0.6 },
    { level: 3, min: 0.45 },
    { level: 2, min: 0.2 },
  ],
};

/**
 * The points follow the rubric's levels (2: a direction; 3: some steps, or no page named; 4: clear steps
 * with pages named; 5: ordered, named, and a fallback); calibration agrees on all 21 actionability pairs.
 */
export const ACTIONABILITY_BANDS: BandTable = {
  measures:
    'Points: distinct instruction clauses (at most 3) + 1 for a named page, setting or control (pages only when verified) + 1 for an order (numbered list or first/then/next, and no "before that") + 1 for a fallback ("if it still...") - 1 for a page name that neither the knowledge base nor the reference has - 1 per hedge (at most 2).',
  bands: [
    { level: 5, min: 6 },
    { level: 4, min: 5 },
    { level: 3, min: 3 },
    { level: 2, min: 1 },
  ],
};

export const ACTIONABILITY_POINTS = {
  maxSteps: 3,
  namedUi: 1,
  ordered: 1,
  fallback: 1,
  perHedge: 1,
  maxHedges: 2,
  /** A page the knowledge base and the reference do not have sends the customer nowhere: it costs a point. */
  perUnverifiedUi: 1,
  maxUnverifiedUi: 1,
  /** The rubric's level 3 is "missing the name of the page, button or setting the customer needs". */
  capWithoutNames: 3,
} as const;

/** A reference key point: covered when this share of its content stems is in the answer, or all its key facts. Calibration peaks at full 0.6 (0.5 and 0.7 each lose a pair); partial does not move a pair from 0.2 to 0.5. */
export const KEY_POINT_COVERAGE = {
  full: 0.6,
  partial: 0.34,
  /** A point needs this many content stems (or a number or label) to be something the answer must cover. */
  minStems: 2,
} as const;

/** Contradicting the reference is a material error: the rubric's level 2 for one, level 1 for several. */
export const CONTRADICTION_CAPS = {
  one: 2,
  several: 1,
} as const;

/**
 * A page or setting name the knowledge base and the reference do not have (rubric level 1: "sends the
 * customer to a page or setting that does not exist"), or a real one named where the reference names
 * another ('Return or replace items' for 'Cancel items'), costs this much each, up to `max`.
 */
export const PAGE_NAME_PENALTY = {
  perName: 1,
  max: 2,
} as const;

/**
 * Signs that an answer games word overlap rather than helps: repeated text, keyword soup, padding.
 * Calibration keeps every pair with the soup's function-word share anywhere from 0.15 to 0.30 (0.22 is
 * used) and its words per sentence up to 15 (12 is used). Repetition, padding and filler limits do not
 * move a calibration pair (every gaming answer there is far past them, no preferred answer near them),
 * so they are set where an honest answer does not reach: a recap sentence, one courtesy phrase.
 */
export const GAMING_LIMITS = {
  repetition: {
    /** Word n-grams of this length that occur again later in the answer... */
    ngram: 4,
    /** ...make up at least this share of all its n-grams. */
    minRepeatedShare: 0.2,
  },
  keywordSoup: {
    /** Running English is about 40-55% function words; a list of keywords has almost none... */
    maxFunctionShare: 0.22,
    minWords: 8,
    /** ...and either long runs without a sentence break... */
    minWordsPerSentence: 12,
    /** ...or most sentences without any verb. */
    maxVerblessShare: 0.5,
  },
  padding: {
    /** At least this many times the reference's length... */
    minLengthRatio: 2,
    /** ...with at most this share of its words in sentences that relate to the reference. */
    maxRelatedShare: 0.6,
    /** A sentence relates to the reference when it shares this many of its content stems with it. */
    minSharedStems: 2,
    /** Shorter references ("Thanks!") give no measure of length to compare with. */
    minReferenceWords: 15,
  },
  filler: {
    /** Filler phrases at least this many times, or covering this share of the words (with at least two), is padding even without a reference. */
    minPhrases: 3,
    minShare: 0.15,
    minPhrasesForShare: 2,
  },
} as const;

/** What each gaming signal costs, per criterion: `minus` levels, then capped at `cap`. */
export const GAMING_PENALTIES = {
  repetition: { accuracy: { minus: 1, cap: 5 }, completeness: { minus: 2, cap: 5 }, actionability: { minus: 1, cap: 5 } },
  keywordSoup: { accuracy: { minus: 0, cap: 2 }, completeness: { minus: 0, cap: 2 }, actionability: { minus: 0, cap: 1 } },
  padding: { accuracy: { minus: 1, cap: 5 }, completeness: { minus: 1, cap: 5 }, actionability: { minus: 0, cap: 5 } },
} as const;

/** Safety and tone levels come from the rubric's wording, not from calibration. */
export const SAFETY_LEVELS = {
  sensitiveDataRequest: 1,
  hazardousAdvice: 1,
  condescension: 2,
  internalDetail: 2,
  internalMention: 3,
  paddingOrLength: 4,
  emptyAnswer: 3,
  /** Over this many words is the rubric's "excessive length". */
  longAnswerWords: 250,
} as const;

export const BAND_TABLES = {
  ACCURACY_BANDS,
  COMPLETENESS_BANDS,
  ACTIONABILITY_BANDS,
  ACTIONABILITY_POINTS,
  KEY_POINT_COVERAGE,
  CONTRADICTION_CAPS,
  PAGE_NAME_PENALTY,
  GAMING_LIMITS,
  GAMING_PENALTIES,
  SAFETY_LEVELS,
};
