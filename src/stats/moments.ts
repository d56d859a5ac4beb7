import { sampleStandardDeviation } from 'simple-statistics';

export function isConstant(values: readonly number[]): boolean {
  return values.every((value) => value === values[0]);
}

/**
 * Sample standard deviation (n − 1 denominator). A constant sample gets exactly 0: its float mean can
 * miss the value by an ulp (seven copies of 3.85 − 2.925 give an SD of 1.2e-16), and a zero-width
 * interval should be zero.
 */
export function sampleSd(values: readonly number[]): number {
  return isConstant(values) ? 0 : sampleStandardDeviation(values);
}
