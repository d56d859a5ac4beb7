import type { PairwiseResult } from '../runs/run-result.js';
import { byAspect, PAIRWISE_ASPECTS, type PairwiseAspect } from '../scoring/pairwise-prompt.js';
import { wilsonInterval } from '../stats/proportion.js';
import { pairwiseHeadline } from './gain-words.js';
import type { PairwiseSummary, PairwiseTally } from './summary-schema.js';

interface PairwiseCounts {
  wins: number;
  ties: number;
  losses: number;
  inconsistent: number;
}

function rate(successes: number, n: number) {
  const interval = wilsonInterval(successes, n);
  return interval === null ? null : { value: successes / n, low: interval.low, high: interval.high };
}

function toPairwiseTally(counts: PairwiseCounts): PairwiseTally {
  const judged = counts.wins + counts.ties + counts.losses;
  return {
    wins: counts.wins,
    ties: counts.ties,
    losses: counts.losses,
    inconsistent: counts.inconsistent,
    inconsistent_share: judged === 0 ? null : counts.inconsistent / judged,
    win_rate: rate(counts.wins, judged),
    decisive_win_rate: rate(counts.wins, counts.wins + counts.losses),
  };
}

/** The pairwise verdicts of one section, per compared model: counts as they come, rates at the end. */
export function createPairwiseTally() {
  const pairs = new Map<string, { judged: number; failed: number; aspects: Record<PairwiseAspect, PairwiseCounts> }>();

  return {
    add(result: PairwiseResult): void {
      let pair = pairs.get(result.second);
      if (!pair) {
        pair = { judged: 0, failed: 0, aspects: byAspect(() => ({ wins: 0, ties: 0, losses: 0, inconsistent: 0 })) };
        pairs.set(result.second, pair);
      }
      if (result.outcome === 'failed' || result.verdict === null) {
        pair.failed += 1;
        return;
      }
      pair.judged += 1;
      for (const aspect of PAIRWISE_ASPECTS) {
        const counts = pair.aspects[aspect];
        const preference = result.verdict.preference[aspect];
        if (preference === 'first') counts.wins += 1;
        else if (preference === 'second') counts.losses += 1;
        else counts.ties += 1;
        if (result.verdict.inconsistent[aspect]) counts.inconsistent += 1;
      }
    },

    /** The first model against each other one that has verdicts, in the run's order. */
    finish(first: string, others: readonly string[]): PairwiseSummary[] {
      return others.flatMap((second) => {
        const pair = pairs.get(second);
        if (!pair) return [];
        const tallies = byAspect((aspect) => toPairwiseTally(pair.aspects[aspect]));
        return [{ first, second, judged: pair.judged, failed: pair.failed, ...tallies, headline: pairwiseHeadline(tallies.overall, { first, second }) }];
      });
    },
  };
}
