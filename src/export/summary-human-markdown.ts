import { CRITERIA, type Criterion, MEASURES } from '../scoring/rubric.js';
import { percent, signed } from './gain-words.js';
import { cell, MISSING, row, score } from './markdown-cells.js';
import type { HumanSummary } from './summary-human-schema.js';
import type { Measure, RunSummary } from './summary-schema.js';

const LABELS: Record<Measure, string> = {
  accuracy: 'Accuracy',
  actionability: 'Actionability',
  completeness: 'Completeness',
  safety_tone: 'Safety/tone',
  weighted: '**Weighted score**',
};
const header = (cells: string[]) => [row(cells), row(['---', ...cells.slice(1).map(() => '---:')])];
const fixed = (x: number | null | undefined, digits = 2) => (x === null || x === undefined ? MISSING : x.toFixed(digits));
const share = (x: number | null | undefined) => (x === null || x === undefined ? MISSING : percent(x));
const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** The calibration sentence, as the summary's second paragraph says it. */
export function calibrationLines(summary: Pick<RunSummary, 'calibration'>): string[] {
  return summary.calibration === undefined ? [] : [`**Calibration:** ${cell(summary.calibration)}.`, ''];
}

function meansTable(human: HumanSummary, weights: RunSummary['weights']): string[] {
  const [comparison] = human.comparisons;
  const columns = ['Criterion', ...human.models.map((model) => cell(model.alias)), ...(comparison ? ['Gain (paired)', '95% CI'] : [])];
  return [
    ...header(columns),
    ...MEASURES.map((measure) => {
      const gain = comparison?.measures[measure];
      const interval = gain ? (gain.ci95_bootstrap ?? gain.ci95_t) : null;
      return row([
        measure === 'weighted' ? LABELS.weighted : `${LABELS[measure]} (${weights[measure].toFixed(2)})`,
        ...human.models.map((model) => score(model.means[measure])),
        ...(gain ? [gain.mean_difference === null ? MISSING : signed(gain.mean_difference), interval ? `${signed(interval.low)} to ${signed(interval.high)}` : MISSING] : []),
      ]);
    }),
  ];
}

function agreementTable(human: HumanSummary): string[] {
  const { criteria } = human.scorer_agreement;
  const alpha = human.inter_rater;
  if (!criteria && !alpha) return [];
  const columns = ['Criterion', ...(criteria ? ['Weighted kappa', 'Spearman', 'Exact', 'Within one', 'Pairs'] : []), ...(alpha ? ['Raters’ alpha (ordinal)', 'Answers'] : [])];
  return [
    ...header(columns),
    ...CRITERIA.map((criterion: Criterion) => {
      const agreement = criteria?.[criterion];
      const inter = alpha?.criteria[criterion];
      return row([
        LABELS[criterion],
        ...(agreement ? [fixed(agreement.weighted_kappa), fixed(agreement.spearman), share(agreement.exact), share(agreement.within_one), String(agreement.n)] : []),
        ...(inter ? [fixed(inter.alpha, 3), String(inter.units)] : []),
      ]);
    }),
    '',
  ];
}

/**
 * The people's verdict and how far the scorer agrees with it: for a run with human ratings, after the
 * automated sections (before them for the scorer none, whose only numbers these are).
 */
export function humanSectionLines(summary: RunSummary): string[] {
  const { human } = summary;
  if (!human) return [];
  const { scorer } = human.scorer_agreement;
  const lines = [
    `## Human ratings (${plural(human.raters.length, 'rater')}, ${plural(human.items_rated, 'item')})`,
    '',
    `Rated blind by ${human.raters.map(cell).join(', ')}: each saw an item's answers under the keys A-D, in an order of their own, never the model. ` +
      'Each item counts once, with the mean of its raters.',
    '',
  ];
  for (const gain of human.comparisons) {
    lines.push(`**${cell(gain.first)} vs ${cell(gain.second)}, weighted score as people rated it: ${gain.headline}**`, '', ...gain.cautions.map((caution) => `- ${cell(caution)}`), '');
  }
  lines.push('Human means per model, and the paired gain:', '', ...meansTable(human, summary.weights), '');
  const agreement = agreementTable(human);
  if (agreement.length > 0) {
    const scorerName = scorer === 'pairwise' ? 'the pairwise judge' : `the ${scorer}`;
    const measured = human.scorer_agreement.criteria
      ? `Agreement of ${scorerName} with the raters (kappa: 1 perfect, 0 chance; pairs are rater × item × model)${human.inter_rater ? ', and of the raters with one another' : ''}:`
      : 'Agreement of the raters with one another:';
    lines.push(measured, '', ...agreement);
  }
  for (const pair of human.preference_agreement) {
    const against = pair.automated === 'pairwise_verdict' ? "the pairwise judge's verdict" : `the sign of the weighted difference (a tie within ±${pair.tie_band})`;
    lines.push(
      pair.n === 0
        ? `- Preferences, ${cell(pair.first)} vs ${cell(pair.second)}: no rating to compare with ${against}.`
        : `- Preferences, ${cell(pair.first)} vs ${cell(pair.second)}: people and ${against} agree on ${pair.agree} of ${pair.n} ratings (${share(pair.rate)}${pair.ci95 ? `, 95% CI ${share(pair.ci95.low)} to ${share(pair.ci95.high)}` : ''}).`,
    );
  }
  if (human.preference_agreement.length > 0) lines.push('');
  return lines;
}
