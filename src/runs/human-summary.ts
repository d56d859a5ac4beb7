import { setImmediate } from 'node:timers/promises';
import { summarizeHumanSteps, type HumanSummary, type PairwisePreference } from '../export/summary-human.js';
import type { RunProvenance, RunSummary } from '../export/summary-schema.js';
import { MEASURES, type Measure } from '../scoring/rubric.js';
import { runStepsYielding } from '../stats/steps.js';
import type { RunRecord, RunStore } from './run-store.js';

/** Runs whose human section is kept in memory; each entry is a few numbers per rated item. */
const CACHED_RUNS = 32;

/**
 * The human section of a run's summary, computed from the store: the ratings, and the automated scores and
 * verdicts they are compared with. Kept per run until one of those changes, so that serving a summary
 * costs a look at the store's change marks once it is computed.
 */
export function createHumanSummaries(store: RunStore) {
  const cache = new Map<string, { key: string; value: { human: HumanSummary; calibration: string } }>();

  async function compute(record: RunRecord, provenance: RunProvenance) {
    const automated = new Map<string, Map<string, Record<Measure, number | null>>>();
    for await (const result of store.results(record.run_id)) {
      if (result.outcome !== 'scored' || !result.scores) continue;
      const { scores } = result;
      let item = automated.get(result.item_id);
      if (!item) automated.set(result.item_id, (item = new Map()));
      item.set(result.model_alias, Object.fromEntries(MEASURES.map((measure) => [measure, scores[measure]])) as Record<Measure, number | null>);
    }
    const verdicts = new Map<string, Map<string, PairwisePreference>>();
    for await (const verdict of store.verdicts(record.run_id)) {
      if (verdict.outcome !== 'judged' || !verdict.verdict) continue;
      let item = verdicts.get(verdict.item_id);
      if (!item) verdicts.set(verdict.item_id, (item = new Map()));
      item.set(verdict.second, verdict.verdict.preference.overall);
    }
    const ratings = await store.ratings(record.run_id);
    return runStepsYielding(summarizeHumanSteps({ models: record.models, scorer: record.scorer, provenance, ratings, automated, verdicts }), () => setImmediate());
  }

  return {
    /**
     * The summary with its `human` section and `calibration` sentence once the run has ratings; without
     * ratings it is returned as it is (a run summarised before ratings existed reads as before).
     */
    async attach(record: RunRecord, summary: RunSummary, provenance: RunProvenance): Promise<RunSummary> {
      const ratings = await store.changeMark(record.run_id, 'ratings');
      if (ratings === null) return summary;
      const [results, verdicts] = await Promise.all([store.changeMark(record.run_id, 'results'), store.changeMark(record.run_id, 'verdicts')]);
      const key = [ratings, results, verdicts, provenance.bootstrap.seed, provenance.bootstrap.resamples].join('|');
      let entry = cache.get(record.run_id);
      if (entry?.key !== key) {
        entry = { key, value: await compute(record, provenance) };
        cache.delete(record.run_id);
        cache.set(record.run_id, entry);
        if (cache.size > CACHED_RUNS) cache.delete(cache.keys().next().value as string);
      }
      return { ...summary, calibration: entry.value.calibration, human: entry.value.human };
    },
  };
}

export type HumanSummaries = ReturnType<typeof createHumanSummaries>;
