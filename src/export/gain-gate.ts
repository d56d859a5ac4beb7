import { FLOAT_TIE_TOLERANCE } from '../stats/defaults.js';
import { headlineInterval, signed } from './gain-words.js';
import type { PairedGain, RunSummary } from './summary-schema.js';

export interface GateOptions {
  /** The upper end of the 95% interval of the weighted gain (first minus second) must not lie below this, in rubric points. */
  margin: number;
  /**
   * What a comparison without an interval (fewer than 2 pairs) does. It fails by default: a gate that
   * blocks a model switch must not wave one through because nothing could be measured.
   */
  allowNoInterval: boolean;
}

export interface GateVerdict {
  first: string;
  second: string;
  passed: boolean;
  /** One line: why the gate passed or failed, with the interval. */
  reason: string;
}

const SECTION_WORDS: Record<RunSummary['headline'], string> = { unseen: 'unseen items', all: 'all items' };

const pairs = (n: number) => (n === 1 ? '1 pair' : `${n} pairs`);

/** What a failure means, for the margin asked for. */
function failureMeaning(gain: PairedGain, margin: number): string {
  if (margin === 0) return `${gain.first} is significantly worse than ${gain.second}`;
  if (margin < 0) return `${gain.first} is significantly worse than ${gain.second} by more than the ${(-margin).toFixed(2)} the margin tolerates`;
  return `${gain.first} is significantly short of a ${signed(margin)} gain over ${gain.second}`;
}

function gateVerdict(gain: PairedGain, section: RunSummary['headline'], options: GateOptions): GateVerdict {
  const weighted = gain.measures.weighted;
  const interval = headlineInterval(weighted);
  const what = `${gain.first} vs ${gain.second} (${SECTION_WORDS[section]})`;
  if (interval === null || weighted.mean_difference === null) {
    const passed = options.allowNoInterval;
    const why = `no 95% interval of the weighted gain from ${pairs(weighted.n_pairs)} (an interval needs 2 or more)`;
    const next = passed ? 'passed because of --gate-allow-no-interval' : 'score more items, or pass --gate-allow-no-interval';
    return { first: gain.first, second: gain.second, passed, reason: `gate ${passed ? 'passed' : 'failed'}: ${what}: ${why}; ${next}` };
  }
  // An upper end computed equal to the margin may sit a rounding error below it; equal is not below.
  const passed = interval.high >= options.margin - FLOAT_TIE_TOLERANCE;
  const measured =
    `weighted gain ${signed(weighted.mean_difference)}, 95% CI ${signed(interval.low)} to ${signed(interval.high)} (${pairs(weighted.n_pairs)})`;
  const verdict = passed
    ? `the upper end ${signed(interval.high)} is at or above the margin ${signed(options.margin)}`
    : `the upper end ${signed(interval.high)} lies below the margin ${signed(options.margin)}: ${failureMeaning(gain, options.margin)}`;
  return { first: gain.first, second: gain.second, passed, reason: `gate ${passed ? 'passed' : 'failed'}: ${what}: ${measured}; ${verdict}` };
}

/**
 * The gate on each comparison of the first model with another, read from the summary's headline
 * section: unseen items when some items are copies of training inquiries, since those flatter the fine-tune.
 */
export function gateVerdicts(summary: RunSummary, options: GateOptions): GateVerdict[] {
  return summary[summary.headline].comparisons.map((gain) => gateVerdict(gain, summary.headline, options));
}
