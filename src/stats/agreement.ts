import { sampleRankCorrelation } from 'simple-statistics';
import { assertFiniteValues } from './checks.js';

/**
 * Agreement between raters (people, or a scorer and people) on ordinal scores. Pure functions of their
 * inputs. Spearman's rho comes from simple-statistics (midranks for ties); the kappas and Krippendorff's
 * alpha are written here: no npm package for them is maintained (the one alpha package had a single
 * release, sorted values as strings and had no ordinal metric), and each is a few lines of textbook
 * arithmetic, checked in test/stats-agreement.test.ts against published worked examples.
 */

/** Paired values of the same things by two raters: `a[i]` and `b[i]` rate thing i. */
function assertPaired(a: readonly number[], b: readonly number[]): void {
  if (a.length !== b.length) throw new RangeError(`the two raters must rate the same things: ${a.length} and ${b.length} values`);
  assertFiniteValues(a);
  assertFiniteValues(b);
}

/** A share with the count it is over; null when there is nothing to count. */
export interface Share {
  value: number | null;
  n: number;
}

/**
 * Weighted kappa of a square table of counts (rows: rater 1's category, columns: rater 2's), with
 * disagreement weights `disagreement[i][j]` (0 on the diagonal): 1 − Σ v·p_observed / Σ v·p_expected,
 * where p_expected is the product of the margins (Cohen 1968). null when no disagreement could be expected
 * by chance (both raters used one and the same category throughout): kappa is undefined there.
 */
export function weightedKappaOfTable(table: readonly (readonly number[])[], disagreement: readonly (readonly number[])[]): number | null {
  const k = table.length;
  if (k === 0 || table.some((row) => row.length !== k) || disagreement.length !== k || disagreement.some((row) => row.length !== k)) {
    throw new RangeError('the table and the weights must be square matrices of the same size');
  }
  const rows = new Array<number>(k).fill(0);
  const columns = new Array<number>(k).fill(0);
  let n = 0;
  for (let i = 0; i < k; i += 1) {
    for (let j = 0; j < k; j += 1) {
      const count = table[i]![j]!;
      if (!(count >= 0 && Number.isFinite(count))) throw new RangeError(`table cells must be non-negative counts, got ${count}`);
      rows[i]! += count;
      columns[j]! += count;
      n += count;
    }
  }
  if (n === 0) return null;
  let observed = 0;
  let expected = 0;
  for (let i = 0; i < k; i += 1) {
    for (let j = 0; j < k; j += 1) {
      const weight = disagreement[i]![j]!;
      observed += (weight * table[i]![j]!) / n;
      expected += (weight * rows[i]! * columns[j]!) / (n * n);
    }
  }
  return expected === 0 ? null : 1 - observed / expected;
}

/** Quadratic disagreement weights (i − j)² / (k − 1)² for k ordered categories (Fleiss and Cohen 1973). */
export function quadraticWeights(k: number): number[][] {
  return Array.from({ length: k }, (_, i) => Array.from({ length: k }, (_, j) => ((i - j) * (i - j)) / ((k - 1) * (k - 1))));
}

/** The rubric's levels. */
export const LEVELS = [1, 2, 3, 4, 5] as const;

/**
 * A score as a rubric level: a judge asked several times gives the mean of its samples (4.33), which kappa,
 * exact and within-one agreement compare as the nearest level (half up: 3.5 is 4).
 */
export const toLevel = (score: number) => Math.min(5, Math.max(1, Math.floor(score + 0.5)));

/**
 * Cohen's quadratic-weighted kappa of two raters' scores on the rubric's 1-5 levels (non-integer scores
 * rounded to the nearest level). 1 is perfect agreement, 0 what chance gives, below 0 worse than chance;
 * a disagreement of two levels costs four times one of one level. null without pairs or when undefined.
 */
export function quadraticWeightedKappa(a: readonly number[], b: readonly number[]): Share {
  assertPaired(a, b);
  const k = LEVELS.length;
  const table = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let index = 0; index < a.length; index += 1) table[toLevel(a[index]!) - 1]![toLevel(b[index]!) - 1]! += 1;
  return { value: a.length === 0 ? null : weightedKappaOfTable(table, quadraticWeights(k)), n: a.length };
}

/**
 * Spearman's rank correlation: Pearson's correlation of the ranks, tied values sharing the mean of the
 * ranks they span (simple-statistics' sampleRankCorrelation). Raw scores, not rounded levels. null with
 * fewer than 2 pairs, or when either side is constant (no ranks to correlate).
 */
export function spearman(a: readonly number[], b: readonly number[]): Share {
  assertPaired(a, b);
  const constant = (values: readonly number[]) => values.every((value) => value === values[0]);
  if (a.length < 2 || constant(a) || constant(b)) return { value: null, n: a.length };
  return { value: sampleRankCorrelation([...a], [...b]), n: a.length };
}

/** Share of pairs whose levels are equal (non-integer scores rounded to the nearest level). */
export function exactAgreement(a: readonly number[], b: readonly number[]): Share {
  assertPaired(a, b);
  let agree = 0;
  for (let index = 0; index < a.length; index += 1) if (toLevel(a[index]!) === toLevel(b[index]!)) agree += 1;
  return { value: a.length === 0 ? null : agree / a.length, n: a.length };
}

/** Share of pairs whose levels differ by at most one ("adjacent agreement"). */
export function withinOneAgreement(a: readonly number[], b: readonly number[]): Share {
  assertPaired(a, b);
  let agree = 0;
  for (let index = 0; index < a.length; index += 1) if (Math.abs(toLevel(a[index]!) - toLevel(b[index]!)) <= 1) agree += 1;
  return { value: a.length === 0 ? null : agree / a.length, n: a.length };
}

/** Share of paired labels that are equal (a scorer's preference against a person's, say); null without pairs. */
export function labelAgreement<T>(pairs: readonly (readonly [T, T])[]): Share & { agree: number } {
  let agree = 0;
  for (const [a, b] of pairs) if (a === b) agree += 1;
  return { value: pairs.length === 0 ? null : agree / pairs.length, n: pairs.length, agree };
}

export const ALPHA_METRICS = ['nominal', 'ordinal', 'interval'] as const;
export type AlphaMetric = (typeof ALPHA_METRICS)[number];

export interface Alpha {
  value: number | null;
  /** Units with at least two values: only those carry information about agreement. */
  units: number;
  /** Values in those units (n.. of the coincidence matrix). */
  values: number;
}

/**
 * Krippendorff's alpha, 1 − (n − 1) · Σ o_ck δ²_ck / Σ n_c n_k δ²_ck, from the coincidence matrix of the
 * values that raters gave each unit (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability"). A
 * unit is the list of values its raters gave, missing ones left out; units with one value are not pairable
 * and are ignored. Any number of raters, missing data allowed. Metrics: nominal (any difference counts 1),
 * ordinal (the distance between c and k is the number of values coded between them, margins included), and
 * interval ((c − k)²). null without pairable units, or when every value is the same (no disagreement could
 * be expected).
 */
export function krippendorffAlpha(units: readonly (readonly number[])[], metric: AlphaMetric): Alpha {
  const pairable = units.filter((unit) => unit.length >= 2);
  for (const unit of pairable) assertFiniteValues(unit);
  const codes = [...new Set(pairable.flat())].sort((a, b) => a - b);
  const index = new Map(codes.map((code, at) => [code, at]));
  const v = codes.length;
  const coincidences = Array.from({ length: v }, () => new Array<number>(v).fill(0));
  for (const unit of pairable) {
    const m = unit.length;
    for (let i = 0; i < m; i += 1) {
      for (let j = 0; j < m; j += 1) {
        if (i !== j) coincidences[index.get(unit[i]!)!]![index.get(unit[j]!)!]! += 1 / (m - 1);
      }
    }
  }
  const margins = coincidences.map((row) => row.reduce((sum, value) => sum + value, 0));
  const n = pairable.reduce((sum, unit) => sum + unit.length, 0);
  const distance = (c: number, k: number): number => {
    if (metric === 'nominal') return c === k ? 0 : 1;
    if (metric === 'interval') return (codes[c]! - codes[k]!) ** 2;
    const [low, high] = c < k ? [c, k] : [k, c];
    let between = 0;
    for (let g = low; g <= high; g += 1) between += margins[g]!;
    return (between - (margins[c]! + margins[k]!) / 2) ** 2;
  };
  let observed = 0;
  let expected = 0;
  for (let c = 0; c < v; c += 1) {
    for (let k = 0; k < v; k += 1) {
      const d = distance(c, k);
      observed += coincidences[c]![k]! * d;
      expected += margins[c]! * margins[k]! * d;
    }
  }
  const value = pairable.length === 0 || expected === 0 ? null : 1 - ((n - 1) * observed) / expected;
  return { value, units: pairable.length, values: n };
}
