// How numbers, intervals, dates and measures read on the pages: the summary's own conventions (two decimals with a sign).

/** The four criteria, in the order every table shows them. */
export const CRITERIA = ['accuracy', 'actionability', 'completeness', 'safety_tone'];

/** The criteria and the weighted score as the pages name them. */
export const MEASURE_NAMES = /** @type {Record<string, string>} */ ({
  accuracy: 'Accuracy',
  actionability: 'Actionability',
  completeness: 'Completeness',
  safety_tone: 'Safety and tone',
  weighted: 'Weighted score',
});

/**
 * "+0.93", "-0.12", "0.00" (never "-0.00").
 * @param {number | null | undefined} value
 */
export function signed(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  const rounded = Math.round(value * 100) / 100 + 0;
  return rounded > 0 ? `+${rounded.toFixed(2)}` : rounded.toFixed(2);
}

/**
 * A score on the rubric's 1-5 scale.
 * @param {number | null | undefined} value
 */
export function score(value) {
  return value === null || value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(2);
}

/**
 * "95% CI +0.19 to +1.68".
 * @param {{ low: number, high: number } | null | undefined} interval
 */
export function interval(interval) {
  return interval ? `95% CI ${signed(interval.low)} to ${signed(interval.high)}` : 'no interval (fewer than 2 pairs)';
}

/**
 * "p = 0.05", "p < 0.001".
 * @param {number | null | undefined} p
 */
export function pValue(p) {
  if (p === null || p === undefined) return 'no p-value';
  if (p < 0.001) return 'p < 0.001';
  return `p = ${p < 0.01 ? p.toFixed(3) : p.toFixed(2)}`;
}

/**
 * A share as a whole percentage: "67%".
 * @param {number | null | undefined} share 0 to 1
 */
export function percent(share) {
  return share === null || share === undefined || !Number.isFinite(share) ? '–' : `${Math.round(share * 100)}%`;
}

/**
 * "1 item", "3 items".
 * @param {number} count
 * @param {string} noun
 */
export function count(count, noun) {
  return `${count.toLocaleString('en-US')} ${noun}${count === 1 ? '' : 's'}`;
}

const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/**
 * A timestamp in the reader's time zone.
 * @param {string | null | undefined} iso
 */
export function dateTime(iso) {
  if (!iso) return '–';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : DATE_TIME.format(date);
}

/**
 * "positive", "negative" or "tie": how a difference is coloured, with the summary's tie band.
 * @param {number | null | undefined} difference
 * @param {number} [tieBand]
 */
export function direction(difference, tieBand = 0.2) {
  if (difference === null || difference === undefined) return 'none';
  if (Math.abs(difference) <= tieBand + 1e-9) return 'tie';
  return difference > 0 ? 'positive' : 'negative';
}
