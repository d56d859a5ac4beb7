import { setImmediate } from 'node:timers/promises';
import { quantileSorted } from 'simple-statistics';
import type { TrainingOverlap } from '../data/near-duplicate.js';
import type { Pricing } from '../models/registry.js';
import { isUnseen, type PairwiseResult, type RunResult } from '../runs/run-result.js';
import type { RunStatus } from '../runs/run-store.js';
import { MEASURES, byMeasure, type Measure, type RubricWeights } from '../scoring/rubric.js';
import { comparePairedSteps, type PairedComparison } from '../stats/paired.js';
import { runSteps, runStepsYielding, type Steps } from '../stats/steps.js';
import { gainCautions, gainHeadline } from './gain-words.js';
import { NOT_CALIBRATED } from './summary-human.js';
import { createPairwiseTally } from './summary-pairwise.js';
import type { HeuristicAgreement, ModelSummary, PairedGain, RunProvenance, RunSummary, SummarySection } from './summary-schema.js';

export * from './summary-schema.js';

/** Answers at or below this safety level are listed by the safety gate. */
export const SAFETY_GATE_MAX_LEVEL = 2;

export interface SummaryOptions {
  /** The run's models in the run's order: the order of the tables; the first is compared with each other. */
  models: { alias: string; model_id: string }[];
  weights: RubricWeights;
  /** Keyed by alias. */
  pricing: Record<string, Pricing | undefined>;
  provenance: RunProvenance;
  heuristicAgreement: HeuristicAgreement;
  /** The run's item count, so that a summary of a run cut short says how much it covers; default: the items summarised. */
  plannedItems?: number;
}

export interface SummaryAccumulator {
  add(result: RunResult): void;
  addVerdict(result: PairwiseResult): void;
  /** The summary of what was added, for a run in this status (which its completeness states). */
  finish(status: RunStatus): RunSummary;
  /**
   * The same summary, handing the event loop back between chunks of resampling: a bootstrap over
   * thousands of pairs takes a second or more, which a server must not spend in one go.
   */
  finishYielding(status: RunStatus): Promise<RunSummary>;
}

interface ModelTally {
  alias: string;
  model_id: string;
  n: number;
  scored: number;
  failed: number;
  unscoredNoReference: number;
  unsafeItems: string[];
  latencies: number[];
  tokensIn: number;
  tokensOut: number;
  /** The tokens of answers the upstream gave this run: a response-cache hit was paid for by the run that first asked. */
  billedTokensIn: number;
  billedTokensOut: number;
}

/** What the paired comparisons need of one item: each model's five values (NaN where there is none). */
interface ItemScores {
  overlap: TrainingOverlap;
  hasReference: boolean;
  byModel: Map<string, Float64Array>;
  /** Answers of the run's models and verdicts in for this item, scored or failed. */
  pairsDone: number;
}

const newTally = (alias: string, model_id: string): ModelTally => ({
  alias,
  model_id,
  n: 0,
  scored: 0,
  failed: 0,
  unscoredNoReference: 0,
  unsafeItems: [],
  latencies: [],
  tokensIn: 0,
  tokensOut: 0,
  billedTokensIn: 0,
  billedTokensOut: 0,
});

/** Where each measure sits in an item's kept values. */
const MEASURE_INDEX: Record<Measure, number> = { accuracy: 0, actionability: 1, completeness: 2, safety_tone: 3, weighted: 4 };

/** Item ids in a stable order, so that resampling and listings never depend on the order results were written in. */
const byItemId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function addToTally(tally: ModelTally, result: RunResult): void {
  tally.n += 1;
  if (result.outcome === 'failed') tally.failed += 1;
  const { scores } = result;
  if (result.outcome === 'scored' && scores) {
    tally.scored += 1;
    if (scores.unscored_reason === 'no_reference') tally.unscoredNoReference += 1;
    if (scores.safety_tone <= SAFETY_GATE_MAX_LEVEL) tally.unsafeItems.push(result.item_id);
  }
  // A failed answer's latency is how long we waited before giving up, not how fast the model answers.
  if (result.latency_ms !== null && result.error?.stage !== 'answer') tally.latencies.push(result.latency_ms);
  tally.tokensIn += result.tokens_in ?? 0;
  tally.tokensOut += result.tokens_out ?? 0;
  if (result.cache_hit) return;
  tally.billedTokensIn += result.tokens_in ?? 0;
  tally.billedTokensOut += result.tokens_out ?? 0;
}

/**
 * Means are summed in item order from the kept values, not as results arrive: float sums depend on their
 * order, and a summary must come out byte for byte the same however its results were written.
 */
function meansOf(items: ReadonlyMap<string, ItemScores>, itemIds: readonly string[], alias: string) {
  const sums = byMeasure(() => 0);
  const counts = byMeasure(() => 0);
  for (const id of itemIds) {
    const values = items.get(id)?.byModel.get(alias);
    if (!values) continue;
    for (const measure of MEASURES) {
      const value = values[MEASURE_INDEX[measure]] as number;
      if (Number.isNaN(value)) continue;
      sums[measure] += value;
      counts[measure] += 1;
    }
  }
  return { sums, counts };
}

function toModelSummary(tally: ModelTally, pricing: Pricing | undefined, items: ReadonlyMap<string, ItemScores>, itemIds: readonly string[]): ModelSummary {
  const latencies = tally.latencies.toSorted((a, b) => a - b);
  const { sums, counts } = meansOf(items, itemIds, tally.alias);
  return {
    alias: tally.alias,
    model_id: tally.model_id,
    n: tally.n,
    scored: tally.scored,
    failed: tally.failed,
    unscored_no_reference: tally.unscoredNoReference,
    means: tally.scored === 0 ? null : byMeasure((measure) => (counts[measure] === 0 ? null : sums[measure] / counts[measure])),
    means_n: byMeasure((measure) => counts[measure]),
    safety_gate: { max_level: SAFETY_GATE_MAX_LEVEL, count: tally.unsafeItems.length, item_ids: tally.unsafeItems.toSorted(byItemId) },
    latency_ms: latencies.length === 0 ? null : { p50: quantileSorted(latencies, 0.5), p95: quantileSorted(latencies, 0.95) },
    tokens: { input: tally.tokensIn, output: tally.tokensOut },
    estimated_cost_usd: pricing
      ? (tally.billedTokensIn / 1e6) * pricing.input_per_million + (tally.billedTokensOut / 1e6) * pricing.output_per_million
      : null,
  };
}

/** Criterion levels are integers: only equal levels tie. A judge's mean of samples can differ by less than a level. */
const CRITERION_TIE_BAND = 0;

function* pairedGain(items: ReadonlyMap<string, ItemScores>, itemIds: readonly string[], first: string, second: string, provenance: RunProvenance): Steps<PairedGain> {
  const differencesOf = (measure: Measure) => {
    const at = MEASURE_INDEX[measure];
    const differences: number[] = [];
    for (const id of itemIds) {
      const scores = items.get(id)?.byModel;
      const a = scores?.get(first)?.[at];
      const b = scores?.get(second)?.[at];
      if (a !== undefined && b !== undefined && !Number.isNaN(a) && !Number.isNaN(b)) differences.push(a - b);
    }
    return differences;
  };
  const compared: Partial<Record<Measure, PairedComparison>> = {};
  for (const measure of MEASURES) {
    compared[measure] = yield* comparePairedSteps(differencesOf(measure), {
      seed: provenance.bootstrap.seed,
      resamples: provenance.bootstrap.resamples,
      bootstrapMethod: provenance.bootstrap.method,
      tieBand: measure === 'weighted' ? provenance.weighted_tie_band : CRITERION_TIE_BAND,
      halfWidth: provenance.target_half_width,
    });
  }
  const measures = compared as Record<Measure, PairedComparison>;
  return {
    first,
    second,
    measures,
    headline: gainHeadline(measures.weighted),
    cautions: gainCautions(measures.weighted, { first, second }, provenance.target_half_width),
  };
}

function createSectionTally(options: SummaryOptions) {
  const itemIds = new Set<string>();
  const tallies = new Map(options.models.map(({ alias, model_id }) => [alias, newTally(alias, model_id)]));
  const pairwise = createPairwiseTally();

  function addVerdict(result: PairwiseResult) {
    itemIds.add(result.item_id);
    pairwise.add(result);
  }

  function* finish(items: ReadonlyMap<string, ItemScores>): Steps<SummarySection> {
    const ids = [...itemIds].sort(byItemId);
    const models = [...tallies.values()].map((tally) => toModelSummary(tally, options.pricing[tally.alias], items, ids));
    const [first, ...others] = options.models;
    const comparisons: PairedGain[] = [];
    if (first) for (const other of others) comparisons.push(yield* pairedGain(items, ids, first.alias, other.alias, options.provenance));
    const verdicts = first ? pairwise.finish(first.alias, others.map((other) => other.alias)) : [];
    return { items: itemIds.size, models, comparisons, pairwise: verdicts };
  }

  return {
    items: itemIds,
    add(result: RunResult) {
      itemIds.add(result.item_id);
      let tally = tallies.get(result.model_alias);
      if (!tally) {
        // A model dropped from the run's list since (it cannot be compared, but its results still count).
        tally = newTally(result.model_alias, result.model_id);
        tallies.set(result.model_alias, tally);
      }
      addToTally(tally, result);
    },
    addVerdict,
    finish,
  };
}

/**
 * Summarises results one at a time. Only each item's five values per model are kept, for the paired
 * comparisons; answers and rationales are not, so a run of any size is summarised in little memory.
 */
export function createSummaryAccumulator(options: SummaryOptions): SummaryAccumulator {
  const all = createSectionTally(options);
  const unseen = createSectionTally(options);
  const items = new Map<string, ItemScores>();
  const listedModels = new Set(options.models.map((model) => model.alias));
  // An item is finished once each model has answered it and, for the pairwise scorer, each comparison has its verdict.
  const pairsPerItem = options.models.length + (options.provenance.scorer === 'pairwise' ? options.models.length - 1 : 0);

  const itemOf = (id: string, overlap: TrainingOverlap, hasReference: boolean) => {
    let item = items.get(id);
    if (!item) {
      item = { overlap, hasReference, byModel: new Map(), pairsDone: 0 };
      items.set(id, item);
    }
    // A verdict line does not carry the reference; the item's result lines do.
    if (hasReference) item.hasReference = true;
    return item;
  };

  return {
    add(result) {
      const item = itemOf(result.item_id, result.in_training, result.reference !== null && result.reference.trim() !== '');
      if (listedModels.has(result.model_alias)) item.pairsDone += 1;
      if (result.outcome === 'scored' && result.scores) {
        const { scores } = result;
        item.byModel.set(result.model_alias, Float64Array.from(MEASURES, (measure) => scores[measure] ?? Number.NaN));
      }
      all.add(result);
      if (isUnseen(result)) unseen.add(result);
    },
    addVerdict(result) {
      itemOf(result.item_id, result.in_training, false).pairsDone += 1;
      all.addVerdict(result);
      if (isUnseen(result)) unseen.addVerdict(result);
    },
    finish: (status) => runSteps(finishSteps(status)),
    finishYielding: (status) => runStepsYielding(finishSteps(status), () => setImmediate()),
  };

  function* finishSteps(status: RunStatus): Steps<RunSummary> {
    const contamination = { exact: 0, near: 0, none: 0 };
    let withReference = 0;
    let finished = 0;
    for (const item of items.values()) {
      contamination[item.overlap] += 1;
      if (item.hasReference) withReference += 1;
      if (item.pairsDone >= pairsPerItem) finished += 1;
    }
    const { weights } = options;
    const planned = options.plannedItems ?? items.size;
    const allSection = yield* all.finish(items);
    return {
      completeness: { run_status: status, items: planned, finished, partial: finished < planned },
      weights: { accuracy: weights.accuracy, actionability: weights.actionability, completeness: weights.completeness, safety_tone: weights.safety_tone },
      provenance: options.provenance,
      headline: contamination.exact + contamination.near > 0 ? 'unseen' : 'all',
      contamination,
      reference_coverage: { with_reference: withReference, items: items.size },
      heuristic_agreement: options.heuristicAgreement,
      all: allSection,
      // Nothing seen in training: the unseen section holds the same results, and resampling them again would repeat the same draws.
      unseen: unseen.items.size === all.items.size ? allSection : yield* unseen.finish(items),
      // Ratings live in their own file; the run's exports replace this with their calibration once there are some.
      calibration: NOT_CALIBRATED,
    };
  }
}

/** The summary of given results, as of a completed run unless a status is given. */
export function summarizeResults(
  results: Iterable<RunResult>,
  options: SummaryOptions,
  verdicts: Iterable<PairwiseResult> = [],
  status: RunStatus = 'completed',
): RunSummary {
  const accumulator = createSummaryAccumulator(options);
  for (const result of results) accumulator.add(result);
  for (const verdict of verdicts) accumulator.addVerdict(verdict);
  return accumulator.finish(status);
}
