// The report's human-ratings panel, from the summary's `human` section: who rated, the calibration sentence,
// how far the scorer agrees with the people per criterion (and the people with one another), and preferences.
import { byId, fill, h } from './dom.js';
import { count, CRITERIA, MEASURE_NAMES, percent } from './format.js';

/**
 * @typedef {{ n: number, items: number, weighted_kappa: number | null, spearman: number | null, exact: number | null, within_one: number | null }} ScorerAgreement
 * @typedef {{ alpha: number | null, units: number, values: number }} InterRaterAlpha
 * @typedef {{ first: string, second: string, automated: 'pairwise_verdict' | 'weighted_difference', tie_band: number | null,
 *   n: number, items: number, agree: number, rate: number | null, ci95: { low: number, high: number } | null }} PreferenceAgreement
 * @typedef {{ raters: string[], ratings: number, items_rated: number, comparisons: { headline: string }[],
 *   scorer_agreement: { scorer: string, criteria: Record<string, ScorerAgreement> | null },
 *   inter_rater: { raters: number, metric: string, criteria: Record<string, InterRaterAlpha> } | null,
 *   preference_agreement: PreferenceAgreement[] }} HumanSummary
 */

/** @param {number | null | undefined} value */
const fixed = (value, digits = 2) => (value === null || value === undefined ? '–' : value.toFixed(digits));
/** @param {string} text */
const columnHead = (text) => h('th', { attrs: { scope: 'col' } }, text);

/** @param {HumanSummary} human */
function agreementTable(human) {
  const scorer = human.scorer_agreement.criteria;
  const people = human.inter_rater?.criteria ?? null;
  if (!scorer && !people) return null;
  return h(
    'table',
    { className: 'compact agreement', id: 'agreement-table' },
    h('caption', null, `Per criterion: ${[scorer ? `the ${human.scorer_agreement.scorer} scorer against each rater` : null, people ? 'the raters against one another' : null].filter(Boolean).join(', and ')}`),
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        columnHead('Criterion'),
        scorer ? ['Weighted kappa', 'Spearman', 'Exact', 'Within one', 'n (pairs)'].map(columnHead) : null,
        people ? ['Raters’ alpha (ordinal)', 'Answers'].map(columnHead) : null,
      ),
    ),
    h(
      'tbody',
      null,
      CRITERIA.map((criterion) => {
        const agreement = scorer?.[criterion];
        const alpha = people?.[criterion];
        return h(
          'tr',
          { dataset: { criterion } },
          h('th', { attrs: { scope: 'row' } }, MEASURE_NAMES[criterion] ?? criterion),
          agreement
            ? [
                h('td', { className: 'num kappa' }, fixed(agreement.weighted_kappa)),
                h('td', { className: 'num' }, fixed(agreement.spearman)),
                h('td', { className: 'num' }, percent(agreement.exact)),
                h('td', { className: 'num' }, percent(agreement.within_one)),
                h('td', { className: 'num pairs' }, agreement.n),
              ]
            : null,
          alpha ? [h('td', { className: 'num alpha' }, fixed(alpha.alpha, 3)), h('td', { className: 'num' }, alpha.units)] : null,
        );
      }),
    ),
  );
}

/** @param {PreferenceAgreement} pair */
function preferenceLine(pair) {
  const against =
    pair.automated === 'pairwise_verdict' ? "the pairwise judge's verdict" : `the sign of the weighted difference (a tie within ±${pair.tie_band ?? 0.2})`;
  if (pair.n === 0) return h('li', null, `${pair.first} vs ${pair.second}: no rating gave a preference the scorer could be compared with.`);
  return h(
    'li',
    null,
    h('strong', null, `${pair.first} vs ${pair.second}`),
    `: the raters’ preference is ${against} in ${percent(pair.rate)} of ${count(pair.n, 'rating')}`,
    pair.ci95 ? ` (95% CI ${percent(pair.ci95.low)} to ${percent(pair.ci95.high)})` : '',
    '.',
  );
}

/**
 * Fills the panel, or keeps it hidden while nobody has rated the run.
 * @param {{ run_id: string, summary: { calibration?: string, human?: HumanSummary } | null }} run
 * @param {(path: string, filename: string) => void} saveFile the report's download, which says on the page when it fails
 */
export function renderHumanRatings(run, saveFile) {
  const panel = byId('human-ratings');
  const human = run.summary?.human;
  panel.hidden = !human;
  if (!human) return;
  fill(
    byId('human-ratings-body'),
    h(
      'p',
      { id: 'human-raters' },
      `Rated blind by ${human.raters.join(', ')}: ${count(human.items_rated, 'item')}, ${count(human.ratings, 'rating')} (each rater's last rating of each item).`,
    ),
    run.summary?.calibration ? h('p', { className: 'calibration', id: 'calibration' }, h('strong', null, 'Calibration: '), run.summary.calibration) : null,
    agreementTable(human),
    human.preference_agreement.length > 0 ? h('ul', { className: 'preferences', id: 'preference-agreement' }, human.preference_agreement.map(preferenceLine)) : null,
    human.comparisons.length > 0 ? h('ul', { className: 'human-gains' }, human.comparisons.map((comparison) => h('li', null, `By the people: ${comparison.headline}`))) : null,
    h(
      'p',
      { className: 'note' },
      'Kappa is 1 for perfect agreement and 0 for what chance gives; the raters’ alpha is roughly the ceiling any scorer can reach. ',
      h(
        'button',
        { type: 'button', className: 'link-button', on: { click: () => saveFile(`/evaluate/${encodeURIComponent(run.run_id)}/ratings.csv`, `${run.run_id}-ratings.csv`) } },
        'Download ratings.csv (unblinded)',
      ),
    ),
  );
}
