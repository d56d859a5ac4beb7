import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyBaseLogger } from 'fastify';
import { renderQualityChartSvg } from '../export/chart.js';
import { createResultsCsvStream, writeCsvFile } from '../export/csv.js';
import { createWideCsvStream } from '../export/csv-wide.js';
import { renderSummaryMarkdown } from '../export/summary-markdown.js';
import { createSummaryAccumulator, type HeuristicAgreement, type RunProvenance, type RunSummary, type SummaryAccumulator } from '../export/summary.js';
import type { KnowledgeBase } from '../knowledge/knowledge-base.js';
import type { ModelRegistry, Pricing } from '../models/registry.js';
import { batchPriceOf } from '../models/pricing.js';
import { scoreWithHeuristic } from '../scoring/heuristic/score-heuristic.js';
import { measureAgreement, readValidationPairs } from '../scoring/heuristic/validation.js';
import { scoringProvenanceFor } from '../scoring/provenance.js';
import { WEIGHTED_TIE_BAND, type RubricWeights } from '../scoring/rubric.js';
import { knownUiLabels, type ScorerChoice } from '../scoring/score-answer.js';
import { DEFAULT_HALF_WIDTH, DEFAULT_RESAMPLES } from '../stats/defaults.js';
import { API_VERSION } from '../version.js';
import { createHumanSummaries } from './human-summary.js';
import type { RunRecord, RunStatus, RunStore } from './run-store.js';

export interface RunExportsDeps {
  store: RunStore;
  registry: ModelRegistry;
  knowledgeBase: KnowledgeBase;
  log: FastifyBaseLogger;
  config: { REPORTS_DIR: string; DATA_DIR: string; BOOTSTRAP_SEED: number; RUBRIC_WEIGHTS: RubricWeights };
}

/** What will produce a new run's numbers, fixed in its run.json so that a later change of configuration cannot rewrite its history. */
export function runProvenanceFor(
  deps: Pick<RunExportsDeps, 'registry' | 'config'>,
  run: { scorer: ScorerChoice; judge?: string; judge_samples: number; weights: RubricWeights },
): RunProvenance {
  const scoring =
    run.scorer === 'none'
      ? { scorer: run.scorer, judge_alias: null, judge_model_id: null, judge_samples: null, prompt_sha256: null, weights: run.weights, service_version: API_VERSION }
      : scoringProvenanceFor(deps.registry, { scorer: run.scorer, judge: run.judge, judge_samples: run.judge_samples, weights: run.weights });
  return { ...scoring, ...statisticsProvenance(deps.config) };
}

/** How the run's intervals and tests are computed: the same for every run of this configuration. */
const statisticsProvenance = (config: { BOOTSTRAP_SEED: number }) => ({
  bootstrap: { seed: config.BOOTSTRAP_SEED, resamples: DEFAULT_RESAMPLES, method: 'bca' as const },
  weighted_tie_band: WEIGHTED_TIE_BAND,
  target_half_width: DEFAULT_HALF_WIDTH,
});

/** A run created before provenance was recorded: what is known of it, nothing guessed about its judge. */
function provenanceOf(deps: Pick<RunExportsDeps, 'config'>, record: RunRecord): RunProvenance {
  if (record.provenance) return record.provenance;
  return {
    scorer: record.scorer,
    judge_alias: null,
    judge_model_id: null,
    judge_samples: null,
    prompt_sha256: null,
    weights: record.weights,
    service_version: 'unknown',
    ...statisticsProvenance(deps.config),
  };
}

/** The labelled pairs the heuristic's rules were tuned on, and those kept out of tuning. */
export const VALIDATION_FILES = { tuned: ['calibration_pairs.json', 'development_pairs.json'], holdout: ['holdout_pairs.json'] } as const;

/**
 * The heuristic's measured agreement with people, on the labelled pairs in data/scorer_validation:
 * computed from the files, never typed in, so the figure in a summary is the one the rules earn today.
 */
function measureHeuristicAgreement(deps: RunExportsDeps): HeuristicAgreement {
  const labels = knownUiLabels(deps.knowledgeBase);
  const score = (inquiry: string, answer: string, reference: string | null) =>
    scoreWithHeuristic({ inquiry, answer, reference, knownUiLabels: labels }, deps.config.RUBRIC_WEIGHTS);
  const measure = (files: readonly string[]) => {
    const pairs = files.flatMap((file) => readValidationPairs(join(deps.config.DATA_DIR, 'scorer_validation', file)));
    const { overall } = measureAgreement(pairs, score);
    if (overall.agreement === null) throw new Error(`${files.join(', ')} hold no labelled pairs`);
    return { pairs: overall.pairs, agreement: overall.agreement };
  };
  try {
    return {
      calibration: measure(VALIDATION_FILES.tuned),
      holdout: measure(VALIDATION_FILES.holdout),
      note: 'Share of labelled answer pairs where the heuristic scores the answer a person prefers strictly higher on the criterion in question. A screening tool, not a judge.',
    };
  } catch {
    // A deployment without the validation files still summarises; it just cannot quote the figure.
    return null;
  }
}

export interface RunExports {
  accumulatorOf(record: RunRecord): Promise<SummaryAccumulator>;
  /** The summary from the stored results (a run still going, or one whose summary.json is missing), as of the run's status unless told. */
  summarize(record: RunRecord, status?: RunStatus): Promise<RunSummary>;
  markdownOf(record: RunRecord, summary: RunSummary): string;
  chartOf(record: RunRecord, summary: RunSummary): Promise<string>;
  /** The long CSV (a row per inquiry and model) from the stored results. */
  csvOf(record: RunRecord): Readable;
  /** The wide CSV (a row per inquiry, a group of columns per model) from the stored results. */
  wideCsvOf(record: RunRecord): Readable;
  /**
   * Stores summary.json, summary.md and chart.svg, and the CSVs when the store keeps them; the chart is drawn
   * on its thread while the CSVs are written.
   */
  write(record: RunRecord, summary: RunSummary): Promise<void>;
  /** An ended run's export as it was stored when the run ended; undefined when there is none. */
  saved(record: RunRecord, file: 'summaryJson' | 'chart'): Promise<string | undefined>;
  /**
   * An ended run's saved summary with its ratings as they are now (the human section and the calibration
   * sentence); when they changed since it was written, summary.json and summary.md are written again first.
   */
  current(record: RunRecord, saved: RunSummary): Promise<RunSummary>;
  /**
   * Copies a completed run's CSV to REPORTS_DIR/eval_results.csv, the path the case study's spreadsheets read:
   * always the latest completed run. A copy that fails is logged and never changes the run's outcome.
   */
  publishCaseStudyCsv(record: RunRecord): Promise<void>;
}

export function createRunExports(deps: RunExportsDeps): RunExports {
  const { store } = deps;
  let agreement: HeuristicAgreement | undefined;
  const humans = createHumanSummaries(store);
  /** Rewrites of an ended run's summary files in progress; a rating that arrives meanwhile asks for one more pass. */
  const rewriting = new Map<string, { again: boolean; done: Promise<void> }>();
  const withHuman = (record: RunRecord, summary: RunSummary) => humans.attach(record, summary, provenanceOf(deps, record));

  /**
   * Stores summary.json and summary.md again from the saved summary and the ratings as they are when the pass
   * starts, one pass at a time per run. A failed write (a full disk) leaves them as they were: the summary
   * served is computed on every read, and the next read tries again.
   */
  function rewriteSummary(record: RunRecord): Promise<void> {
    const running = rewriting.get(record.run_id);
    if (running) {
      running.again = true;
      return running.done;
    }
    const pass = async () => {
      const text = await exports.saved(record, 'summaryJson');
      if (text === undefined) return;
      const summary = await withHuman(record, JSON.parse(text) as RunSummary);
      const json = `${JSON.stringify(summary, null, 2)}\n`;
      if (json === text) return;
      await store.saveSummary(record.run_id, { summaryJson: json, summaryMd: exports.markdownOf(record, summary) });
    };
    const entry = { again: true, done: Promise.resolve() };
    rewriting.set(record.run_id, entry);
    entry.done = (async () => {
      try {
        while (entry.again) {
          entry.again = false;
          await pass();
        }
      } catch {
        // The files stay as they were; the next read of the summary tries again.
      } finally {
        // In the same turn as the last check of `again`: a request made after it starts a pass of its own.
        rewriting.delete(record.run_id);
      }
    })();
    return entry.done;
  }

  function pricingOf(alias: string): Pricing | undefined {
    try {
      return deps.registry.resolve(alias).pricing;
    } catch {
      return undefined; // the alias was removed from the configuration after the run
    }
  }

  const exports: RunExports = {
    async accumulatorOf(record) {
      const provenance = provenanceOf(deps, record);
      return createSummaryAccumulator({
        models: record.models,
        weights: record.weights,
        // A batch run's requests are billed at the Batch API's price (its few retried lines at the list price are not told apart).
        pricing: Object.fromEntries(record.models.map((model) => [model.alias, record.mode === 'batch' ? batchPriceOf(pricingOf(model.alias)) : pricingOf(model.alias)])),
        provenance,
        heuristicAgreement: provenance.scorer === 'heuristic' ? (agreement ??= measureHeuristicAgreement(deps)) : null,
        plannedItems: record.items,
      });
    },

    async summarize(record, status = record.status) {
      const accumulator = await exports.accumulatorOf(record);
      for await (const result of store.results(record.run_id)) accumulator.add(result);
      for await (const verdict of store.verdicts(record.run_id)) accumulator.addVerdict(verdict);
      return withHuman(record, await accumulator.finishYielding(status));
    },

    markdownOf: (record, summary) => renderSummaryMarkdown(summary, { run_id: record.run_id, created_at: record.created_at, source: record.source }),

    chartOf: (record, summary) => renderQualityChartSvg(summary, { runId: record.run_id }),

    csvOf(record) {
      const provenance = provenanceOf(deps, record);
      return createResultsCsvStream(store.results(record.run_id), { provenance, bootstrap_seed: provenance.bootstrap.seed });
    },

    wideCsvOf(record) {
      const itemIds = async function* () {
        for await (const item of store.items(record.run_id)) yield item.item_id;
      };
      return createWideCsvStream(store.results(record.run_id), { models: record.models.map((model) => model.alias), itemIds: itemIds() });
    },

    async write(record, automated) {
      // A run can be rated while it goes on: its final summary includes the ratings given so far.
      const summary = await withHuman(record, automated);
      // The chart is drawn on its thread while the store writes the CSVs.
      const chart = exports.chartOf(record, summary);
      await store.saveExports(
        record.run_id,
        { summaryJson: `${JSON.stringify(summary, null, 2)}\n`, summaryMd: exports.markdownOf(record, summary), chart },
        { csv: () => exports.csvOf(record), wideCsv: () => exports.wideCsvOf(record) },
      );
    },

    saved: (record, file) => store.savedExport(record.run_id, file),

    async publishCaseStudyCsv(record) {
      const target = join(deps.config.REPORTS_DIR, 'eval_results.csv');
      // Written next to it and renamed, so a full disk leaves the previous copy whole.
      const partial = `${target}.${record.run_id}.partial`;
      try {
        // A kept CSV is copied by the file system: 12 MB for 10,000 results would otherwise pass through this
        // process's buffers just as the run ends.
        if (!(await store.copySavedCsv(record.run_id, 'csv', partial))) await pipeline(exports.csvOf(record), createWriteStream(partial));
        await rename(partial, target);
      } catch (error) {
        await rm(partial, { force: true });
        deps.log.warn({ err: error, run_id: record.run_id }, 'could not update reports/eval_results.csv; the run’s own results.csv is complete');
      }
    },

    async current(record, saved) {
      const summary = await withHuman(record, saved);
      if (summary !== saved && JSON.stringify(summary) !== JSON.stringify(saved)) await rewriteSummary(record);
      return summary;
    },
  };
  return exports;
}
