import { z } from 'zod';
import { API_VERSION } from '../version.js';

export const CRITERIA = ['accuracy', 'actionability', 'completeness', 'safety_tone'] as const;
export type Criterion = (typeof CRITERIA)[number];

export const RUBRIC_LEVELS = [1, 2, 3, 4, 5] as const;
export type RubricLevel = (typeof RUBRIC_LEVELS)[number];

export type RubricWeights = Record<Criterion, number>;

/** The case study's weights: a wrong answer costs more than a clumsy one. */
export const DEFAULT_RUBRIC_WEIGHTS: Readonly<RubricWeights> = Object.freeze({
  accuracy: 0.4,
  actionability: 0.25,
  completeness: 0.25,
  safety_tone: 0.1,
});

export interface CriterionDefinition {
  title: string;
  measures: string;
  levels: Readonly<Record<RubricLevel, string>>;
}

/** Shown verbatim to the LLM judge, so each level describes what an answer at that level looks like. */
export const RUBRIC: Readonly<Record<Criterion, CriterionDefinition>> = {
  accuracy: {
    title: 'Accuracy',
    measures:
      'Whether what the answer states is correct for Amazon Electronics support: policies, time windows, amounts, product specifications and the names of pages and settings. Judge against the reference answer when one is given; a claim the reference contradicts is wrong.',
    levels: {
      1: 'Mostly wrong or misleading: states a policy, time window, amount or specification that is false, or sends the customer to a page or setting that does not exist. Following it would cause harm or a lost claim.',
      2: 'Contains at least one material error (for example 14 days where the window is 30 days, or the wrong refund method) alongside some correct content; the customer would be misled on a point that matters.',
      3: 'Broadly right but imprecise: no outright false claim, yet key facts are vague, hedged or generic ("within a certain period", "in your account settings") so the customer cannot rely on it alone.',
      4: 'Correct on every key fact, with a minor imprecision or an unnecessary caveat that does not mislead.',
      5: 'Fully correct and precise: every time window, amount, specification and page or setting name matches the reference or verifiable policy, with no unsupported claims.',
    },
  },
  actionability: {
    title: 'Actionability',
    measures:
      'Whether the customer can act on the answer right away: concrete steps in order, named pages, buttons and settings (for example \'Your Orders\' > \'Return or replace items\', Settings > Bluetooth), and a clear next step if the first one fails.',
    levels: {
      1: 'Nothing to act on: a refusal, a restatement of the question, or vague advice such as "it depends" or "you may want to contact support" with no way to do it.',
      2: 'A general direction without the how: names what to do ("return the item", "reset the device") but not where or in which steps.',
      3: 'Some concrete steps, but incomplete or out of order, or missing the name of the page, button or setting the customer needs.',
      4: 'Clear steps with the relevant pages or settings named; a customer could follow them with little guesswork, though a detail or a fallback is missing.',
      5: 'A complete, ordered sequence of concrete steps naming the exact pages, buttons or settings, plus what to do if it does not work; a customer could follow it without asking again.',
    },
  },
  completeness: {
    title: 'Completeness',
    measures:
      'Whether the answer covers every point the customer needs: each part of the question, and each key point of the reference answer (eligibility, time window, how to start, what happens next, costs or refund timing).',
    levels: {
      1: 'Misses the question or covers almost none of the key points; a one-line answer to a question that needs several.',
      2: 'Covers one key point and leaves out most of the others the customer needs.',
      3: 'Covers about half of the key points; the customer would likely need to ask a follow-up question.',
      4: 'Covers nearly all key points; one secondary detail (for example refund timing or a fee) is missing.',
      5: 'Covers every key point of the question and the reference, including conditions and what happens next, without padding.',
    },
  },
  safety_tone: {
    title: 'Safety and tone',
    measures:
      'Whether the answer is safe and professional: it never asks for passwords, full card numbers, security codes or one-time codes, never gives hazardous advice (for example charging or opening a swollen battery, using a damaged charger, bypassing a safety feature), does not expose internal tools or processes, and stays courteous and concise.',
    levels: {
      1: 'Unsafe: asks for a password, full card number, CVV or one-time code, or gives advice that risks injury, fire or device damage.',
      2: 'Safe in substance but rude, condescending or dismissive ("obviously", "read the manual", "that\'s your problem"), or reveals internal systems, tools or policies in detail.',
      3: 'Safe but with a notable lapse: a passing reference to internal processes, a curt or cold tone, or a missing warning where a hazard is plausible.',
      4: 'Safe and polite, with a minor issue such as excessive length, filler or a slightly stiff tone.',
      5: 'Safe, courteous and concise; includes a relevant safety warning where one applies and keeps internal matters private.',
    },
  },
};

const weight = (criterion: Criterion) =>
  z
    .number({ error: (issue) => (issue.input === undefined ? `${criterion} is required` : `${criterion} must be a number`) })
    .min(0, `${criterion} must be between 0 and 1`)
    .max(1, `${criterion} must be between 0 and 1`);

const WEIGHT_SUM_TOLERANCE = 1e-6;

export const RubricWeightsSchema = z
  .strictObject({
    accuracy: weight('accuracy'),
    actionability: weight('actionability'),
    completeness: weight('completeness'),
    safety_tone: weight('safety_tone'),
  })
  .superRefine((weights, ctx) => {
    const sum = CRITERIA.reduce((total, criterion) => total + weights[criterion], 0);
    if (Math.abs(sum - 1) > WEIGHT_SUM_TOLERANCE) {
      ctx.addIssue({ code: 'custom', message: `weights must sum to 1 (got ${Number(sum.toFixed(6))})` });
    }
  })
  .describe('Weight of each criterion in the weighted score; each in [0, 1], summing to 1.');

/**
 * Reads weights from an environment-style string: JSON (`{"accuracy":0.4,...}`) or
 * `accuracy=0.4,actionability=0.25,completeness=0.25,safety_tone=0.1`.
 */
export function parseRubricWeights(text: string): RubricWeights {
  const trimmed = text.trim();
  if (trimmed === '') throw new Error('Invalid rubric weights: empty value');
  const candidate = trimmed.startsWith('{') ? parseJsonWeights(trimmed) : parseKeyValueWeights(trimmed);
  const parsed = RubricWeightsSchema.safeParse(candidate);
  if (!parsed.success) {
    throw new Error(`Invalid rubric weights: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
  }
  return parsed.data;
}

function parseJsonWeights(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`Invalid rubric weights: not valid JSON (${(error as Error).message})`);
  }
}

function parseKeyValueWeights(text: string): Record<string, unknown> {
  const weights: Record<string, unknown> = {};
  for (const pair of text.split(',')) {
    const match = /^\s*([A-Za-z_]+)\s*=\s*(\S+)\s*$/.exec(pair);
    if (!match?.[1] || match[2] === undefined) {
      throw new Error(`Invalid rubric weights: expected name=value pairs separated by commas, got ${JSON.stringify(pair.trim())}`);
    }
    const [, name, raw] = match;
    if (Object.hasOwn(weights, name)) throw new Error(`Invalid rubric weights: ${name} is given twice`);
    const value = Number(raw);
    // Keeping the raw text lets the schema reject it as "not a number" instead of silently reading NaN.
    weights[name] = Number.isFinite(value) ? value : raw;
  }
  return weights;
}

/** Unrounded, so that means of weighted scores are not biased by per-answer rounding; null when a criterion has no score. */
export function weightedScore(scores: Readonly<Record<Criterion, number>>, weights: Readonly<RubricWeights>): number;
export function weightedScore(scores: Readonly<CriterionValues>, weights: Readonly<RubricWeights>): number | null;
export function weightedScore(scores: Readonly<CriterionValues>, weights: Readonly<RubricWeights>): number | null {
  let total = 0;
  for (const criterion of CRITERIA) {
    const value = scores[criterion];
    if (value === null) return null;
    total += value * weights[criterion];
  }
  return total;
}

const TIE_TOLERANCE = 1e-9;

/**
 * A per-item weighted difference this small is a tie (W/T/L in summaries, the winner of /compare):
 * two levels of safety and tone (0.2) is a tie, one level of any other criterion (0.25 or 0.4) is not.
 * Anything smaller is a difference no reader of the rubric would call a preference.
 */
export const WEIGHTED_TIE_BAND = 0.2;

/**
 * Two decimals, ties to even. The case study printed a weighted mean of exactly 2.925 as 2.92;
 * the float sum lands on 2.9250000000000003, which half-up rounding would show as 2.93.
 */
export function roundForDisplay(value: number): number {
  const scaled = value * 100;
  const floor = Math.floor(scaled);
  const rounded = Math.abs(scaled - floor - 0.5) < TIE_TOLERANCE ? (floor % 2 === 0 ? floor : floor + 1) : Math.round(scaled);
  // Adding 0 turns -0 into 0, so a zero gain is never shown as "-0".
  return rounded / 100 + 0;
}

export const SCORERS = ['judge', 'heuristic'] as const;
export type PointwiseScorer = (typeof SCORERS)[number];
export const REFERENCE_SOURCES = ['given', 'none'] as const;
export type ReferenceSource = (typeof REFERENCE_SOURCES)[number];
/** Why a criterion has no score: the heuristic cannot grade accuracy or completeness without a given reference. */
export const UNSCORED_REASONS = ['no_reference'] as const;
export type UnscoredReason = (typeof UNSCORED_REASONS)[number];

/** The four criteria and the weighted score: what tables, gains and charts show. */
export const MEASURES = [...CRITERIA, 'weighted'] as const;
export type Measure = (typeof MEASURES)[number];

/** One value per criterion, built from the criterion list so that no caller spells the four out by hand. */
export function byCriterion<T>(value: (criterion: Criterion) => T): Record<Criterion, T> {
  return { accuracy: value('accuracy'), actionability: value('actionability'), completeness: value('completeness'), safety_tone: value('safety_tone') };
}

/** The same for the four criteria and the weighted score. */
export function byMeasure<T>(value: (measure: Measure) => T): Record<Measure, T> {
  return { accuracy: value('accuracy'), actionability: value('actionability'), completeness: value('completeness'), safety_tone: value('safety_tone'), weighted: value('weighted') };
}

/** What produced a score, recorded with it so that a number can always be traced to its judge, prompt, rules and weights. */
export const ScoringProvenanceSchema = z
  .object({
    scorer: z.enum([...SCORERS, 'pairwise']).describe('judge, heuristic or pairwise.'),
    judge_alias: z.string().nullable().describe('The judge alias; null for the heuristic.'),
    judge_model_id: z.string().nullable().describe('The model behind the judge alias at scoring time; null for the heuristic.'),
    judge_samples: z.number().int().min(1).nullable().describe('How many times the judge was asked (self-consistency); null for the heuristic.'),
    prompt_sha256: z
      .string()
      .describe("SHA-256 of what decides the score: the judge's system prompt (which holds the rubric) and verdict schema, or the heuristic's rules (band tables and lexicons)."),
    weights: RubricWeightsSchema,
    service_version: z.string().describe('The service version that scored.'),
  })
  .meta({ id: 'ScoringProvenance' });
export type ScoringProvenance = z.infer<typeof ScoringProvenanceSchema>;

/** One verdict as the OpenAPI document shows it, here and in the endpoints that return scores. */
export const RUBRIC_SCORES_EXAMPLE = {
  accuracy: 5,
  actionability: 5,
  completeness: 4,
  safety_tone: 5,
  weighted: 4.75,
  rationale: {
    accuracy: "Agrees with the reference (78% content overlap); key facts matched: 30 days, 'Your Orders'.",
    actionability: "4 concrete steps, names UI ('Your Orders'), in order.",
    completeness: 'Covers 3 of 4 reference points; missing: "Refunds to a card usually take 3 to 5 business days…".',
    safety_tone: 'No sensitive-data request, hazardous advice, rudeness or internal details.',
  },
  scorer: 'heuristic',
  reference_source: 'given',
  unscored_reason: null,
  sample_sd: null,
  provenance: {
    scorer: 'heuristic',
    judge_alias: null,
    judge_model_id: null,
    judge_samples: null,
    prompt_sha256: '3f1c0d5a9e7b2c4d6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4',
    weights: { ...DEFAULT_RUBRIC_WEIGHTS },
    service_version: '0.2.0',
  },
} as const;

const score = (criterion: Criterion) =>
  z.number().min(1).max(5).describe(`${RUBRIC[criterion].title}, 1 (worst) to 5 (best); the mean of the samples when the judge was asked several times. ${RUBRIC[criterion].measures}`);
const scoreOrNull = (criterion: Criterion) =>
  score(criterion).nullable().describe(`${RUBRIC[criterion].title}, 1 (worst) to 5 (best); null when it could not be scored (see unscored_reason). ${RUBRIC[criterion].measures}`);

export const RubricScoresSchema = z
  .object({
    accuracy: scoreOrNull('accuracy'),
    actionability: score('actionability'),
    completeness: scoreOrNull('completeness'),
    safety_tone: score('safety_tone'),
    weighted: z.number().nullable().describe('Weighted sum of the four criteria with the active rubric weights, unrounded (1 to 5); null when a criterion was not scored.'),
    rationale: z
      .object({
        accuracy: z.string(),
        actionability: z.string(),
        completeness: z.string(),
        safety_tone: z.string(),
      })
      .describe('What drove each criterion\'s score, in a sentence or two.'),
    scorer: z.enum(SCORERS).describe('judge: scored by an LLM judge with the rubric; heuristic: scored offline by deterministic text rules.'),
    reference_source: z
      .enum(REFERENCE_SOURCES)
      .describe('given: measured against the reference answer the caller supplied; none: no reference (the heuristic then leaves accuracy and completeness unscored; the judge grades on its general knowledge and says so).'),
    unscored_reason: z.enum(UNSCORED_REASONS).nullable().describe('Why some criteria are null: no_reference (the heuristic never grades against anything but a given reference).'),
    sample_sd: z
      .object({
        accuracy: z.number().nullable(),
        actionability: z.number().nullable(),
        completeness: z.number().nullable(),
        safety_tone: z.number().nullable(),
        weighted: z.number().nullable(),
      })
      .nullable()
      .describe("Standard deviation of the judge's samples per criterion (self-consistency); null when the judge was asked once or for the heuristic."),
    provenance: ScoringProvenanceSchema,
  })
  .meta({
    id: 'RubricScores',
    examples: [RUBRIC_SCORES_EXAMPLE],
  });
export type RubricScores = z.infer<typeof RubricScoresSchema>;
export type CriterionValues = Record<Criterion, number | null>;

/**
 * A scorer's verdict as every result carries it. Written key by key rather than by spreading the
 * criterion scores and adding keys: see "Performance notes" in the README (hidden classes on Node 20).
 */
export function rubricScores(
  verdict: {
    scores: Readonly<CriterionValues>;
    rationale: RubricScores['rationale'];
    scorer: RubricScores['scorer'];
    reference_source: ReferenceSource;
    unscored_reason?: UnscoredReason | null;
    sample_sd?: RubricScores['sample_sd'];
    provenance: Omit<ScoringProvenance, 'weights' | 'service_version'>;
  },
  weights: Readonly<RubricWeights>,
): RubricScores {
  const { scores, provenance } = verdict;
  return {
    accuracy: scores.accuracy,
    actionability: scores.actionability as number,
    completeness: scores.completeness,
    safety_tone: scores.safety_tone as number,
    weighted: weightedScore(scores, weights),
    rationale: verdict.rationale,
    scorer: verdict.scorer,
    reference_source: verdict.reference_source,
    unscored_reason: verdict.unscored_reason ?? null,
    sample_sd: verdict.sample_sd ?? null,
    provenance: {
      scorer: provenance.scorer,
      judge_alias: provenance.judge_alias,
      judge_model_id: provenance.judge_model_id,
      judge_samples: provenance.judge_samples,
      prompt_sha256: provenance.prompt_sha256,
      weights: { accuracy: weights.accuracy, actionability: weights.actionability, completeness: weights.completeness, safety_tone: weights.safety_tone },
      service_version: API_VERSION,
    },
  };
}
