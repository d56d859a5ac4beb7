import type { StoredRating } from '../runs/rating.js';
import { byCriterion, byMeasure, CRITERIA, MEASURES, type Criterion, type Measure } from '../scoring/rubric.js';
import { exactAgreement, krippendorffAlpha, labelAgreement, quadraticWeightedKappa, spearman, withinOneAgreement } from '../stats/agreement.js';
import { FLOAT_TIE_TOLERANCE } from '../stats/defaults.js';
import { comparePairedSteps, type PairedComparison } from '../stats/paired.js';
import { wilsonInterval } from '../stats/proportion.js';
import { runSteps, type Steps } from '../stats/steps.js';
import { gainCautions, gainHeadline, percent } from './gain-words.js';
import type { HumanSummary, PreferenceAgreement, ScorerAgreement } from './summary-human-schema.js';
import type { RunProvenance } from './summary-schema.js';

export type { HumanSummary } from './summary-human-schema.js';

/** The summary's calibration sentence while nobody has rated the run. */
export const NOT_CALIBRATED = 'not calibrated: no human ratings';

export type PairwisePreference = 'first' | 'second' | 'tie';

export interface HumanSummaryInput {
  /** The run's models in its order; the first is compared with each other one. */
  models: readonly { alias: string; model_id: string }[];
  scorer: 'judge' | 'heuristic' | 'pairwise' | 'none';
  provenance: Pick<RunProvenance, 'bootstrap' | 'weighted_tie_band' | 'target_half_width'>;
  /** Each rater's current rating of each item. */
  ratings: readonly StoredRating[];
  /** The automated scores by item, then alias; a criterion the scorer could not grade is null. */
  automated: ReadonlyMap<string, ReadonlyMap<string, Readonly<Record<Measure, number | null>>>>;
  /** The pairwise judge's overall preference by item, then the model compared with the first. */
  verdicts: ReadonlyMap<string, ReadonlyMap<string, PairwisePreference>>;
}

/** Criterion levels are whole numbers: only equal means tie, as in the automated comparisons. */
const CRITERION_TIE_BAND = 0;

const byItemThenRater = (a: StoredRating, b: StoredRating) =>
  a.item_id < b.item_id ? -1 : a.item_id > b.item_id ? 1 : a.rater < b.rater ? -1 : a.rater > b.rater ? 1 : 0;

/** Each item's human score per model and measure: the mean of its raters', summed in rater order. */
function itemMeans(ratings: readonly StoredRating[], aliases: readonly string[]): Map<string, Map<string, Record<Measure, number>>> {
  const sums = new Map<string, Map<string, { sums: Record<Measure, number>; n: number }>>();
  for (const rating of ratings) {
    let item = sums.get(rating.item_id);
    if (!item) sums.set(rating.item_id, (item = new Map()));
    for (const alias of aliases) {
      const scores = rating.scores[alias];
      if (!scores) continue;
      let entry = item.get(alias);
      if (!entry) item.set(alias, (entry = { sums: byMeasure(() => 0), n: 0 }));
      for (const measure of MEASURES) entry.sums[measure] += scores[measure];
      entry.n += 1;
    }
  }
  return new Map(
    [...sums].map(([itemId, item]) => [itemId, new Map([...item].map(([alias, { sums: total, n }]) => [alias, byMeasure((measure) => total[measure] / n)]))]),
  );
}

function* humanGain(
  means: ReadonlyMap<string, ReadonlyMap<string, Record<Measure, number>>>,
  itemIds: readonly string[],
  first: string,
  second: string,
  provenance: HumanSummaryInput['provenance'],
): Steps<HumanSummary['comparisons'][number]> {
  const measures = {} as Record<Measure, PairedComparison>;
  for (const measure of MEASURES) {
    const differences: number[] = [];
    for (const id of itemIds) {
      const a = means.get(id)?.get(first)?.[measure];
      const b = means.get(id)?.get(second)?.[measure];
      if (a !== undefined && b !== undefined) differences.push(a - b);
    }
    measures[measure] = yield* comparePairedSteps(differences, {
      seed: provenance.bootstrap.seed,
      resamples: provenance.bootstrap.resamples,
      bootstrapMethod: provenance.bootstrap.method,
      tieBand: measure === 'weighted' ? provenance.weighted_tie_band : CRITERION_TIE_BAND,
      halfWidth: provenance.target_half_width,
    });
  }
  return { first, second, measures, headline: gainHeadline(measures.weighted), cautions: gainCautions(measures.weighted, { first, second }, provenance.target_half_width) };
}

function scorerAgreement(input: HumanSummaryInput, ratings: readonly StoredRating[], criterion: Criterion): ScorerAgreement {
  const automated: number[] = [];
  const human: number[] = [];
  const items = new Set<string>();
  for (const rating of ratings) {
    for (const { alias } of input.models) {
      const person = rating.scores[alias]?.[criterion];
      const machine = input.automated.get(rating.item_id)?.get(alias)?.[criterion];
      if (person === undefined || machine === undefined || machine === null) continue;
      automated.push(machine);
      human.push(person);
      items.add(rating.item_id);
    }
  }
  return {
    n: automated.length,
    items: items.size,
    weighted_kappa: quadraticWeightedKappa(automated, human).value,
    spearman: spearman(automated, human).value,
    exact: exactAgreement(automated, human).value,
    within_one: withinOneAgreement(automated, human).value,
  };
}

/** The scorer's verdict on first against second for an item: the pairwise judge's, or the sign of the weighted difference. */
function automatedPreference(input: HumanSummaryInput, itemId: string, first: string, second: string): PairwisePreference | undefined {
  if (input.scorer === 'pairwise') return input.verdicts.get(itemId)?.get(second);
  const scores = input.automated.get(itemId);
  const a = scores?.get(first)?.weighted;
  const b = scores?.get(second)?.weighted;
  if (a === undefined || a === null || b === undefined || b === null) return undefined;
  const difference = a - b;
  if (Math.abs(difference) <= input.provenance.weighted_tie_band + FLOAT_TIE_TOLERANCE) return 'tie';
  return difference > 0 ? 'first' : 'second';
}

function preferenceAgreement(input: HumanSummaryInput, ratings: readonly StoredRating[], first: string, second: string): PreferenceAgreement {
  const pairs: [PairwisePreference, PairwisePreference][] = [];
  const items = new Set<string>();
  for (const rating of ratings) {
    const person = rating.preference === 'tie' ? 'tie' : rating.preference === first ? 'first' : rating.preference === second ? 'second' : undefined;
    // A rater who preferred a third model, or said nothing, says nothing about these two.
    if (person === undefined || !rating.scores[first] || !rating.scores[second]) continue;
    const machine = automatedPreference(input, rating.item_id, first, second);
    if (machine === undefined) continue;
    pairs.push([machine, person]);
    items.add(rating.item_id);
  }
  const { agree, n, value } = labelAgreement(pairs);
  const pairwise = input.scorer === 'pairwise';
  return {
    first,
    second,
    automated: pairwise ? 'pairwise_verdict' : 'weighted_difference',
    tie_band: pairwise ? null : input.provenance.weighted_tie_band,
    n,
    items: items.size,
    agree,
    rate: value,
    ci95: wilsonInterval(agree, n),
  };
}

const SCORER_NAMES: Record<HumanSummaryInput['scorer'], string> = { judge: 'judge', heuristic: 'heuristic', pairwise: 'pairwise judge', none: 'none' };
const CRITERION_WORDS: Record<Criterion, string> = { accuracy: 'accuracy', actionability: 'actionability', completeness: 'completeness', safety_tone: 'safety/tone' };
const raters = (n: number) => (n === 1 ? '1 rater' : `${n} raters`);
const items = (n: number) => (n === 1 ? '1 item' : `${n} items`);

/**
 * The calibration in one sentence, for summary.md, summary.json and the command line:
 * "judge vs 2 raters on 40 items: weighted kappa 0.71 accuracy, 0.52 actionability, 0.44 completeness, 0.80 safety/tone; preference agreement 78% of 36 ratings".
 */
export function calibrationSentence(human: HumanSummary): string {
  const { scorer, criteria } = human.scorer_agreement;
  const who = raters(human.raters.length);
  if (scorer === 'none') return `not calibrated: no automated scorer (scorer none); the summary is human: ${who} on ${items(human.items_rated)}`;
  const kappaItems = criteria ? Math.max(...CRITERIA.map((criterion) => criteria[criterion].items)) : 0;
  const preferences = human.preference_agreement.filter((pair) => pair.n > 0);
  const parts: string[] = [];
  if (criteria && kappaItems > 0) {
    const kappa = (criterion: Criterion) => criteria[criterion].weighted_kappa;
    parts.push(`weighted kappa ${CRITERIA.map((criterion) => `${kappa(criterion)?.toFixed(2) ?? 'n/a'} ${CRITERION_WORDS[criterion]}`).join(', ')}`);
  }
  for (const pair of preferences) {
    const which = human.preference_agreement.length > 1 ? ` (${pair.first} vs ${pair.second})` : '';
    parts.push(`preference agreement ${percent(pair.rate ?? 0)} of ${pair.n} rating${pair.n === 1 ? '' : 's'}${which}`);
  }
  if (parts.length === 0) return `not calibrated: no item has both a human rating and a ${SCORER_NAMES[scorer]} verdict (${who} on ${items(human.items_rated)})`;
  const compared = kappaItems > 0 ? kappaItems : Math.max(...preferences.map((pair) => pair.items));
  return `${SCORER_NAMES[scorer]} vs ${who} on ${items(compared)}: ${parts.join('; ')}`;
}

/**
 * The human section of a run's summary, from each rater's current rating of each item and the automated
 * scores: a pure function of its inputs, the ratings taken in item then rater order whatever their order on
 * disk, so the same results, ratings and seed give the same section, byte for byte.
 */
export function* summarizeHumanSteps(input: HumanSummaryInput): Steps<{ human: HumanSummary; calibration: string }> {
  const ratings = [...input.ratings].sort(byItemThenRater);
  const aliases = input.models.map((model) => model.alias);
  const means = itemMeans(ratings, aliases);
  const itemIds = [...means.keys()].sort();

  const models = input.models.map(({ alias, model_id }) => {
    const sums = byMeasure(() => 0);
    const counts = byMeasure(() => 0);
    for (const id of itemIds) {
      const values = means.get(id)?.get(alias);
      if (!values) continue;
      for (const measure of MEASURES) {
        sums[measure] += values[measure];
        counts[measure] += 1;
      }
    }
    return {
      alias,
      model_id,
      answers_rated: ratings.filter((rating) => rating.scores[alias] !== undefined).length,
      means: byMeasure((measure) => (counts[measure] === 0 ? null : sums[measure] / counts[measure])),
      means_n: counts,
    };
  });

  const [first, ...others] = aliases;
  const comparisons: HumanSummary['comparisons'] = [];
  if (first !== undefined) for (const other of others) comparisons.push(yield* humanGain(means, itemIds, first, other, input.provenance));

  const raterNames = [...new Set(ratings.map((rating) => rating.rater))].sort();
  const pointwise = input.scorer === 'judge' || input.scorer === 'heuristic';
  const byItem = new Map<string, StoredRating[]>();
  for (const rating of ratings) {
    const list = byItem.get(rating.item_id);
    if (list) list.push(rating);
    else byItem.set(rating.item_id, [rating]);
  }
  // A unit is one answer (item and model); its values are the levels its raters gave it.
  const unitsOf = (criterion: Criterion) =>
    itemIds.flatMap((id) => aliases.map((alias) => (byItem.get(id) ?? []).flatMap((rating) => (rating.scores[alias] ? [rating.scores[alias][criterion]] : []))));
  const interRater =
    raterNames.length < 2
      ? null
      : {
          raters: raterNames.length,
          metric: 'ordinal' as const,
          criteria: byCriterion((criterion) => {
            const { value, units, values } = krippendorffAlpha(unitsOf(criterion), 'ordinal');
            return { alpha: value, units, values };
          }),
        };

  const human: HumanSummary = {
    raters: raterNames,
    ratings: ratings.length,
    items_rated: itemIds.length,
    models,
    comparisons,
    scorer_agreement: {
      scorer: input.scorer,
      criteria: pointwise ? byCriterion((criterion) => scorerAgreement(input, ratings, criterion)) : null,
    },
    inter_rater: interRater,
    preference_agreement: input.scorer === 'none' || first === undefined ? [] : others.map((other) => preferenceAgreement(input, ratings, first, other)),
  };
  return { human, calibration: calibrationSentence(human) };
}

export const summarizeHuman = (input: HumanSummaryInput) => runSteps(summarizeHumanSteps(input));
