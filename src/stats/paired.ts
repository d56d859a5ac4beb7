import { mean } from 'simple-statistics';
import { z } from 'zod';
import { bootstrapIntervalSteps } from './bootstrap.js';
import { assertFiniteValues, assertNonNegative, assertPositive } from './checks.js';
import {
  BOOTSTRAP_METHODS,
  type BootstrapMethod,
  DEFAULT_BOOTSTRAP_METHOD,
  DEFAULT_EXACT_UP_TO,
  DEFAULT_HALF_WIDTH,
  DEFAULT_LEVEL,
  DEFAULT_PERMUTATIONS,
  DEFAULT_RESAMPLES,
  FLOAT_TIE_TOLERANCE,
} from './defaults.js';
import { sampleSd } from './moments.js';
import { MAX_SEED } from './random.js';
import { SIGN_FLIP_METHODS, signFlipPValueSteps } from './sign-flip.js';
import { runSteps, type Steps } from './steps.js';
import { pairsForHalfWidth, tInterval } from './t-interval.js';

export interface WinsTiesLosses {
  wins: number;
  ties: number;
  losses: number;
}

/**
 * Counts each difference (first model minus second) as a tie when |d| ≤ tieBand, else a win or a
 * loss of the first model. Differences live on the rubric's 1-point scale, so an absolute 1e-9
 * absorbs float noise: 3.85 − 3.6 must be a tie at band 0.25, and 0.4·4 + … − (0.4·3 + …) at band 0.4.
 */
export function winsTiesLosses(differences: readonly number[], tieBand: number): WinsTiesLosses {
  assertFiniteValues(differences);
  assertNonNegative(tieBand, 'tieBand');
  const counts = { wins: 0, ties: 0, losses: 0 };
  for (const difference of differences) {
    if (Math.abs(difference) <= tieBand + FLOAT_TIE_TOLERANCE) counts.ties += 1;
    else if (difference > 0) counts.wins += 1;
    else counts.losses += 1;
  }
  return counts;
}

const percent = Math.round(DEFAULT_LEVEL * 100);
const bound = (which: string) => z.number().describe(`${which} bound of the mean difference, in rubric points.`);

export const PairedComparisonSchema = z
  .object({
    n_pairs: z.number().int().min(0).describe('Items both models were scored on: one difference (first model minus second) per item.'),
    mean_difference: z
      .number()
      .nullable()
      .describe('Mean of the per-item differences (first model minus second), in rubric points; positive when the first model scores higher. null without pairs.'),
    sd_difference: z
      .number()
      .min(0)
      .nullable()
      .describe('Sample standard deviation of the differences (n − 1 denominator); null with fewer than 2 pairs.'),
    ci95_t: z
      .object({ low: bound('Lower'), high: bound('Upper') })
      .nullable()
      .describe(`${percent}% Student t interval for the mean difference: mean ± t(0.975, n − 1) · sd / √n. null with fewer than 2 pairs.`),
    ci95_bootstrap: z
      .object({
        low: bound('Lower'),
        high: bound('Upper'),
        method: z
          .enum(BOOTSTRAP_METHODS)
          .describe(
            "The method actually used. bca: bias-corrected and accelerated. percentile: the 2.5% and 97.5% quantiles of the resampled means (linear interpolation, R's type 7); also reported when bca was asked for but its corrections were undefined (every resampled mean on one side of the observed mean, which takes very few resamples).",
          ),
        resamples: z.number().int().positive().describe('Bootstrap resamples drawn.'),
        seed: z.number().int().min(0).max(MAX_SEED).describe('Seed of the resampling: the same differences, seed and resamples give the same interval.'),
      })
      .nullable()
      .describe(
        `${percent}% paired bootstrap interval for the mean difference: items resampled with replacement, their differences kept whole. null with fewer than 2 pairs; zero width when every difference is the same.`,
      ),
    wins: z.number().int().min(0).describe('Items where the first model scored higher by more than the tie band.'),
    ties: z.number().int().min(0).describe('Items whose difference is within the tie band either way.'),
    losses: z.number().int().min(0).describe('Items where the first model scored lower by more than the tie band.'),
    p_value: z
      .number()
      .min(0)
      .max(1)
      .nullable()
      .describe('Two-sided sign-flip (paired permutation) p-value for "no difference in mean score": the share of sign patterns of the differences whose mean is at least as far from 0 as the observed one. null without pairs.'),
    p_method: z
      .enum(SIGN_FLIP_METHODS)
      .nullable()
      .describe(
        `exact_sign_flip: all 2^n sign patterns, used up to ${DEFAULT_EXACT_UP_TO} pairs. monte_carlo_sign_flip: ${DEFAULT_PERMUTATIONS.toLocaleString('en-US')} seeded random patterns, p = (1 + hits) / (1 + patterns). null without pairs.`,
      ),
    pairs_for_half_width: z
      .number()
      .int()
      .min(2)
      .nullable()
      .describe(
        `Pairs a ${percent}% t interval would need for a half-width of the requested precision (default ±${DEFAULT_HALF_WIDTH}) if the differences kept the observed SD: a guide to how many items a conclusive rerun needs. null with fewer than 2 pairs.`,
      ),
  })
  .describe('Paired comparison of two models on the items both were scored on.')
  .meta({ id: 'PairedComparison' });

export type PairedComparison = z.infer<typeof PairedComparisonSchema>;

export interface PairedOptions {
  /** Seeds both the bootstrap and the Monte Carlo sign flips. */
  seed: number;
  resamples?: number;
  /** Differences within ±tieBand count as ties. */
  tieBand: number;
  bootstrapMethod?: BootstrapMethod;
  halfWidth?: number;
}

/**
 * Everything the summary says about "first model minus second" on paired differences, at 95%.
 * Pure and deterministic: the same differences and options give the same result bit for bit.
 */
export function comparePaired(differences: readonly number[], options: PairedOptions): PairedComparison {
  return runSteps(comparePairedSteps(differences, options));
}

/** comparePaired, yielding between chunks of resampling (see steps.ts): the same result, bit for bit. */
export function* comparePairedSteps(differences: readonly number[], options: PairedOptions): Steps<PairedComparison> {
  const { seed, tieBand, resamples = DEFAULT_RESAMPLES, bootstrapMethod = DEFAULT_BOOTSTRAP_METHOD, halfWidth = DEFAULT_HALF_WIDTH } = options;
  assertFiniteValues(differences);
  assertPositive(halfWidth, 'halfWidth');
  const n = differences.length;
  const sd = n < 2 ? null : sampleSd(differences);
  const signFlip = yield* signFlipPValueSteps(differences, { seed });
  const bootstrap = yield* bootstrapIntervalSteps(differences, { seed, resamples, level: DEFAULT_LEVEL, method: bootstrapMethod });
  return {
    n_pairs: n,
    mean_difference: n === 0 ? null : mean(differences),
    sd_difference: sd,
    ci95_t: tInterval(differences, DEFAULT_LEVEL),
    ci95_bootstrap: bootstrap,
    ...winsTiesLosses(differences, tieBand),
    p_value: signFlip?.p ?? null,
    p_method: signFlip?.method ?? null,
    pairs_for_half_width: sd === null ? null : pairsForHalfWidth(sd, halfWidth, DEFAULT_LEVEL),
  };
}
