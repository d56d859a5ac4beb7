import { z } from 'zod';
import type { OpenAIModelEntry } from '../models/registry.js';
import { callJudge, cleanRationale, judgeEntry, judgeSamples, samplingFor, type JudgeDeps, type JudgeRequest } from './judge-call.js';
import {
  buildPairwiseMessages,
  byAspect,
  PAIRWISE_ASPECTS,
  PAIRWISE_PROMPT_SHA256,
  PAIRWISE_VERDICT_FORMAT,
  type PairwiseAspect,
  type PairwiseReply,
  type ShownPreference,
} from './pairwise-prompt.js';
import { byCriterion, DEFAULT_RUBRIC_WEIGHTS, RUBRIC, ScoringProvenanceSchema, type RubricWeights } from './rubric.js';
import { scoringProvenanceFor } from './provenance.js';
import type { ScoreContext } from './score-answer.js';

export const PAIRWISE_PREFERENCES = ['first', 'second', 'tie'] as const;
export type PairwisePreference = (typeof PAIRWISE_PREFERENCES)[number];

/** first_as_a shows the first answer as Answer A and the second as B; second_as_a the other way round. */
export const PAIRWISE_ORDERS = ['first_as_a', 'second_as_a'] as const;
export type PairwiseOrder = (typeof PAIRWISE_ORDERS)[number];

export interface PairwiseInput {
  inquiry: string;
  reference: string | null;
  first: { alias: string; answer: string };
  second: { alias: string; answer: string };
}

export interface PairwiseOptions {
  /** How many times each order is asked (1 to 5; default 1). */
  samples?: number;
  /** The alias that judges; default: the `judge` alias. */
  judge?: string;
  /** A run's judge model, recorded when it was created: the judge alias re-pointed since does not change it. */
  judgeModelId?: string | null;
  /**
   * The active rubric weights: the service's RUBRIC_WEIGHTS for a compare, the run's recorded weights
   * for a run. They do not enter the verdict (it has no weighted score); they are recorded in its
   * provenance like every score's, so they are required rather than guessed.
   */
  weights: RubricWeights;
}

const aspectTitle = (aspect: PairwiseAspect) => (aspect === 'overall' ? 'The answers as a whole' : RUBRIC[aspect].title);
const perAspect = <T extends z.ZodType>(value: (aspect: PairwiseAspect) => T) => z.object(byAspect(value));
const preferenceSchema = (aspect: PairwiseAspect) => z.enum(PAIRWISE_PREFERENCES).describe(`${aspectTitle(aspect)}: first, second or tie.`);

export const PAIRWISE_VERDICT_EXAMPLE = {
  first: 'fine-tuned',
  second: 'baseline',
  preference: { accuracy: 'first', actionability: 'first', completeness: 'tie', safety_tone: 'tie', overall: 'first' },
  inconsistent: { accuracy: false, actionability: false, completeness: true, safety_tone: false, overall: false },
  orders: {
    first_as_a: { accuracy: 'first', actionability: 'first', completeness: 'first', safety_tone: 'tie', overall: 'first' },
    second_as_a: { accuracy: 'first', actionability: 'first', completeness: 'second', safety_tone: 'tie', overall: 'first' },
  },
  rationale: "Answer A gives the 30-day window and the 'Return or replace items' steps; Answer B only says to contact support.",
  samples: 1,
  provenance: {
    scorer: 'pairwise',
    judge_alias: 'judge',
    judge_model_id: 'gpt-4.1-2025-04-14',
    judge_samples: 1,
    prompt_sha256: '9b2e7c41d0a35f6e8c1b4a7d2e9f0c3b6a5d8e1f4c7b0a3d6e9f2c5b8a1d4e7f',
    weights: { ...DEFAULT_RUBRIC_WEIGHTS },
    service_version: '0.2.0',
  },
} as const;

export const PairwiseVerdictSchema = z
  .object({
    first: z.string().describe('The model (alias) of the first answer, as the caller named it; never shown to the judge.'),
    second: z.string().describe('The model (alias) of the second answer, as the caller named it; never shown to the judge.'),
    preference: perAspect(preferenceSchema).describe(
      'The judge\'s preference per criterion and overall, over both orders: first or second only when both orders agree; tie when either order found a tie or the orders disagree.',
    ),
    inconsistent: perAspect(() => z.boolean()).describe('True where one order preferred the first answer and the other the second: the verdict followed the position, not the answer, and is reported as tie.'),
    orders: z
      .object({
        first_as_a: perAspect(preferenceSchema).describe('The preferences with the first answer shown as Answer A (the majority of its samples; tie without one).'),
        second_as_a: perAspect(preferenceSchema).describe('The preferences with the second answer shown as Answer A (the majority of its samples; tie without one).'),
      })
      .describe('The preferences of each order, already mapped back to first and second.'),
    rationale: z.string().describe('The overall rationale of the first call, in which Answer A is the first answer and Answer B the second.'),
    samples: z.int().min(1).describe('How many times the judge was asked per order; the pair took twice as many calls.'),
    provenance: ScoringProvenanceSchema,
  })
  .meta({ id: 'PairwiseVerdict', examples: [PAIRWISE_VERDICT_EXAMPLE] });
export type PairwiseVerdict = z.infer<typeof PairwiseVerdictSchema>;

/** The judge's label mapped back to the answer it stood for in that order. */
function fromShown(shown: ShownPreference, order: PairwiseOrder): PairwisePreference {
  if (shown === 'tie') return 'tie';
  return (shown === 'A') === (order === 'first_as_a') ? 'first' : 'second';
}

/** The preference more than half of the samples agree on; tie when none has a majority. */
export function majorityPreference(samples: readonly PairwisePreference[]): PairwisePreference {
  for (const preference of PAIRWISE_PREFERENCES) {
    if (samples.filter((sample) => sample === preference).length * 2 > samples.length) return preference;
  }
  return 'tie';
}

/**
 * Both orders must agree for an answer to win, as MT-Bench does to cancel the judge's position bias:
 * first (or second) only when both orders prefer it; a tie in either order is a tie; first in one
 * order and second in the other is a tie that is also flagged inconsistent.
 */
export function combineOrders(firstAsA: PairwisePreference, secondAsA: PairwisePreference): { preference: PairwisePreference; inconsistent: boolean } {
  if (firstAsA === secondAsA) return { preference: firstAsA, inconsistent: false };
  return { preference: 'tie', inconsistent: firstAsA !== 'tie' && secondAsA !== 'tie' };
}

/** One judge request of a pair: the order it shows the answers in, its sample (0-based), and what is sent. */
export interface PairwiseRequest {
  order: PairwiseOrder;
  sample: number;
  request: Pick<JudgeRequest<PairwiseReply>, 'messages' | 'format' | 'sampling'>;
}

/**
 * Every judge request of a pair, in the order a synchronous verdict asks them (each sample, then each order
 * within it): what judgePair sends one call at a time, and what a batch run's verdict lines carry.
 */
export function pairwiseRequests(entry: OpenAIModelEntry, input: PairwiseInput, samples: number): PairwiseRequest[] {
  const shown: Record<PairwiseOrder, ReturnType<typeof buildPairwiseMessages>> = {
    first_as_a: buildPairwiseMessages({ inquiry: input.inquiry, reference: input.reference, a: input.first.answer, b: input.second.answer }),
    second_as_a: buildPairwiseMessages({ inquiry: input.inquiry, reference: input.reference, a: input.second.answer, b: input.first.answer }),
  };
  return pairwiseAsks(samples).map(({ order, sample }) => ({ order, sample, request: { messages: shown[order], format: PAIRWISE_VERDICT_FORMAT, sampling: samplingFor(entry, samples, sample) } }));
}

/** The judge calls of a pair in the order they are asked: each sample (0-based), both orders within it. */
export const pairwiseAsks = (samples: number): Array<{ order: PairwiseOrder; sample: number }> =>
  Array.from({ length: samples }, (_, sample) => PAIRWISE_ORDERS.map((order) => ({ order, sample }))).flat();

/** The judge's replies of a pair, each order's in sample order. */
export type PairwiseReplies = Record<PairwiseOrder, PairwiseReply[]>;

/**
 * The verdict of a pair from every reply of the judge (each order asked `samples` times): each order's
 * majority, then the two orders combined. Shared by a synchronous verdict and a batch run's verdict lines.
 */
export function pairwiseVerdictOf(
  registry: JudgeDeps['registry'],
  input: { first: { alias: string }; second: { alias: string } },
  replies: PairwiseReplies,
  options: Pick<PairwiseOptions, 'judge' | 'weights'> & { samples: number },
): PairwiseVerdict {
  const orderPreferences = (order: PairwiseOrder) => byAspect((aspect) => majorityPreference(replies[order].map((reply) => fromShown(reply[aspect].preference, order))));
  const orders = { first_as_a: orderPreferences('first_as_a'), second_as_a: orderPreferences('second_as_a') };
  const combined = byAspect((aspect) => combineOrders(orders.first_as_a[aspect], orders.second_as_a[aspect]));
  const { weights, samples } = options;
  return {
    first: input.first.alias,
    second: input.second.alias,
    preference: byAspect((aspect) => combined[aspect].preference),
    inconsistent: byAspect((aspect) => combined[aspect].inconsistent),
    orders,
    rationale: cleanRationale((replies.first_as_a[0] as PairwiseReply).overall.rationale),
    samples,
    provenance: scoringProvenanceFor(registry, { scorer: 'pairwise', judge: options.judge, judge_samples: samples, weights: byCriterion((criterion) => weights[criterion]) }),
  };
}

/**
 * Judges which of two answers is better, per criterion and overall. Each order (first as A, then
 * second as A) is asked `samples` times, the calls one after another; any failed call fails the
 * verdict with its error. The aliases are ours: the judge sees only the two texts.
 */
export async function judgePair(deps: JudgeDeps, input: PairwiseInput, ctx: ScoreContext, options: PairwiseOptions): Promise<PairwiseVerdict> {
  const samples = judgeSamples(options.samples);
  const entry = judgeEntry(deps.registry, options.judge, options.judgeModelId);
  const replies: PairwiseReplies = { first_as_a: [], second_as_a: [] };
  for (const { order, sample, request } of pairwiseRequests(entry, input, samples)) {
    const log = { kind: 'pairwise', order, sample: sample + 1, samples };
    replies[order].push(await callJudge(deps, entry, { ...request, log }, ctx));
  }
  return pairwiseVerdictOf(deps.registry, input, replies, { judge: options.judge, weights: options.weights, samples });
}
