import type { PairedComparison } from '../stats/paired.js';
import type { PairwiseTally } from './summary-schema.js';

/** Fewer paired items than this and an interval rests on too little to be read as more than a hint. */
export const FEW_PAIRS = 30;

/** Two decimals with a sign, as the case study printed its gain ("+0.93"); zero is "0.00". */
export function signed(value: number): string {
  const rounded = Math.round(value * 100) / 100 + 0;
  return rounded > 0 ? `+${rounded.toFixed(2)}` : rounded.toFixed(2);
}

export function formatP(p: number): string {
  if (p < 0.001) return 'p < 0.001';
  return `p = ${p < 0.01 ? p.toFixed(3) : p.toFixed(2)}`;
}

const pairs = (n: number) => (n === 1 ? '1 pair' : `${n} pairs`);

/** The interval a reader sees first: the bootstrap's, else the t interval. */
export function headlineInterval(comparison: PairedComparison): { low: number; high: number } | null {
  return comparison.ci95_bootstrap ?? comparison.ci95_t;
}

/** "+0.93 (95% CI +0.19 to +1.68, 10 pairs, W/T/L 6/1/3, p = 0.05)". */
export function gainHeadline(comparison: PairedComparison): string {
  if (comparison.n_pairs === 0 || comparison.mean_difference === null) return 'no paired items';
  const parts: string[] = [];
  const interval = headlineInterval(comparison);
  if (interval) parts.push(`95% CI ${signed(interval.low)} to ${signed(interval.high)}`);
  parts.push(pairs(comparison.n_pairs), `W/T/L ${comparison.wins}/${comparison.ties}/${comparison.losses}`);
  if (comparison.p_value !== null) parts.push(formatP(comparison.p_value));
  return `${signed(comparison.mean_difference)} (${parts.join(', ')})`;
}

/** What limits the reading of a weighted gain, in words a support lead can act on. */
export function gainCautions(comparison: PairedComparison, names: { first: string; second: string }, halfWidth: number): string[] {
  const { n_pairs: n } = comparison;
  if (n === 0) return [`No item was scored for both ${names.first} and ${names.second}: there is no paired gain to report.`];
  const cautions: string[] = [];
  const interval = headlineInterval(comparison);
  if (interval === null) {
    cautions.push(`One paired item cannot give an interval: the gain is a single difference.`);
  } else if (interval.low <= 0 && interval.high >= 0) {
    cautions.push(
      `The 95% interval contains 0: this run does not show a difference between ${names.first} and ${names.second} on the weighted score.`,
    );
  }
  if (n < FEW_PAIRS) {
    cautions.push(`Only ${pairs(n)} (fewer than ${FEW_PAIRS}): the interval and p-value rest on few items, so read the gain as indicative.`);
  }
  if (comparison.pairs_for_half_width !== null && comparison.sd_difference !== null) {
    cautions.push(
      `At the observed SD of the differences (${comparison.sd_difference.toFixed(2)}), a ±${halfWidth.toFixed(2)} interval would need about ${comparison.pairs_for_half_width} paired items.`,
    );
  }
  return cautions;
}

export const percent = (share: number) => `${Math.round(share * 100)}%`;

/** "fine-tuned wins 62% of items (95% CI 45% to 77%), ties 20%, loses 18%; 3 of 40 verdicts flipped with the order". */
export function pairwiseHeadline(tally: PairwiseTally, names: { first: string; second: string }): string {
  const judged = tally.wins + tally.ties + tally.losses;
  if (judged === 0 || tally.win_rate === null) return 'no judged items';
  const { win_rate: rate } = tally;
  return (
    `${names.first} preferred on ${percent(rate.value)} of ${judged} items (95% CI ${percent(rate.low)} to ${percent(rate.high)}), ` +
    `${names.second} on ${percent(tally.losses / judged)}, tie ${percent(tally.ties / judged)}; ` +
    `${tally.inconsistent} of ${judged} verdicts flipped with the order and count as ties`
  );
}
