/** Defaults of the paired comparison, named once so schemas, config and docs quote the same numbers. */
export const DEFAULT_LEVEL = 0.95;
export const DEFAULT_RESAMPLES = 10_000;
export const DEFAULT_PERMUTATIONS = 10_000;
/** Up to this many pairs the sign-flip test enumerates every pattern (2^20 ≈ 1M sums, tens of milliseconds). */
export const DEFAULT_EXACT_UP_TO = 20;
/** 2^24 patterns take about half a second; beyond that exact enumeration would stall a request. */
export const MAX_EXACT_UP_TO = 24;
/** The precision the case study asks of the mean gain: ±0.25 rubric points. */
export const DEFAULT_HALF_WIDTH = 0.25;

export const BOOTSTRAP_METHODS = ['bca', 'percentile'] as const;
export type BootstrapMethod = (typeof BOOTSTRAP_METHODS)[number];
export const DEFAULT_BOOTSTRAP_METHOD: BootstrapMethod = 'bca';

/**
 * How close two float results must be to count as equal, relative to the size of the terms summed.
 * Rubric differences are sums of a few weighted integers, so genuinely different sums differ by at
 * least 0.05, while summing the same values in another order moves a result by about n·2^-53 of its
 * scale. 1e-9 sits far from both.
 */
export const FLOAT_TIE_TOLERANCE = 1e-9;
