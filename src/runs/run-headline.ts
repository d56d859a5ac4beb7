import type { RunSummary } from '../export/summary-schema.js';

/** What a list of runs shows of each ended run: the weighted gains of its headline section. */
export interface RunHeadline {
  section: 'unseen' | 'all';
  /** Items in that section. */
  items: number;
  /** True when the summary covers only the items a run cut short finished. */
  partial: boolean;
  gains: {
    first: string;
    second: string;
    n_pairs: number;
    mean_difference: number | null;
    ci95: { low: number; high: number; method: 'bootstrap' | 't' } | null;
    text: string;
  }[];
}

/**
 * The headline of a summary as written to summary.json. Summaries written by older versions may lack a
 * field; whatever cannot be read gives null rather than a guess.
 */
export function runHeadlineOf(summary: Partial<RunSummary>): RunHeadline | null {
  const section = summary.headline === 'unseen' ? 'unseen' : 'all';
  const chosen = summary[section];
  if (!chosen || !Array.isArray(chosen.comparisons)) return null;
  return {
    section,
    items: chosen.items,
    partial: summary.completeness?.partial ?? false,
    gains: chosen.comparisons.map((comparison) => {
      const weighted = comparison.measures.weighted;
      const interval = weighted.ci95_bootstrap
        ? { low: weighted.ci95_bootstrap.low, high: weighted.ci95_bootstrap.high, method: 'bootstrap' as const }
        : weighted.ci95_t
          ? { low: weighted.ci95_t.low, high: weighted.ci95_t.high, method: 't' as const }
          : null;
      return {
        first: comparison.first,
        second: comparison.second,
        n_pairs: weighted.n_pairs,
        mean_difference: weighted.mean_difference,
        ci95: interval,
        text: comparison.headline,
      };
    }),
  };
}
