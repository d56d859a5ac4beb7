// A run's report (/evaluate/{run_id}/report): the run, its headline, chart and provenance from GET /evaluate/{id},
// and its items from GET /evaluate/{id}/items. A run still going is polled every 2 s until it ends.
import { describeError, download, getBlob, getJson, mountKeyStatus } from './api.js';
import { byId, definitions, fill, h } from './dom.js';
import { count, CRITERIA, dateTime, direction, interval, MEASURE_NAMES, pValue, score, signed } from './format.js';
import { renderHumanRatings } from './report-human.js';
import { createItemsView } from './report-items.js';
import { rateUrl, runIdOfPage } from './page-links.js';

/**
 * @typedef {{ low: number, high: number }} Interval
 * @typedef {{ n_pairs: number, mean_difference: number | null, ci95_bootstrap: (Interval & { method: string, resamples: number }) | null,
 *   ci95_t: Interval | null, wins: number, ties: number, losses: number, p_value: number | null, p_method: string | null }} Paired
 * @typedef {{ first: string, second: string, measures: Record<string, Paired>, headline: string, cautions: string[] }} Comparison
 * @typedef {{ alias: string, model_id: string, n: number, scored: number, failed: number, unscored_no_reference: number,
 *   means: Record<string, number | null> | null, safety_gate: { max_level: number, count: number, item_ids: string[] } }} ModelSummary
 * @typedef {{ items: number, models: ModelSummary[], comparisons: Comparison[], pairwise: { first: string, second: string, headline: string }[] }} Section
 * @typedef {{ scorer: string, judge_alias: string | null, judge_model_id: string | null, judge_samples: number | null,
 *   prompt_sha256: string | null, weights: Record<string, number>, service_version: string,
 *   bootstrap: { seed: number, resamples: number, method: string }, weighted_tie_band: number }} Provenance
 * @typedef {{ completeness: { run_status: string, items: number, finished: number, partial: boolean }, provenance: Provenance,
 *   headline: 'unseen' | 'all', contamination: { exact: number, near: number, none: number },
 *   reference_coverage: { with_reference: number, items: number },
 *   heuristic_agreement: { calibration: { pairs: number, agreement: number }, holdout: { pairs: number, agreement: number }, note: string } | null,
 *   all: Section, unseen: Section, calibration?: string, human?: import('./report-human.js').HumanSummary }} Summary
 * @typedef {{ run_id: string, status: string, created_at: string, started_at: string | null, finished_at: string | null,
 *   source: string, items: number, models: { alias: string, model_id: string }[], scorer: string, judge_samples: number,
 *   weights: Record<string, number>, provenance?: Provenance, error: string | null, concurrency: number,
 *   progress: { total: number, done: number, failed: number }, paused: { message: string, since: string } | null,
 *   links: Record<string, string>, summary: Summary | null, rescore_of?: string, mode?: 'live' | 'batch' }} RunDetail
 */

const POLL_MS = 2000;
/** Each page of items reads the run's results: on a large run, the items refresh less often than the progress. */
const ITEMS_REFRESH_MS = { small: 2000, large: 10_000 };
const LARGE_RUN_ANSWERS = 2000;
const GOING = new Set(['queued', 'running']);
const MEASURES = [...CRITERIA, 'weighted'];

const message = byId('message');
const runId = runIdOfPage('report');
const runPath = `/evaluate/${encodeURIComponent(runId ?? '')}`;

/** @type {string | null} */
let chartUrl = null;
/** @type {RunDetail | null} */
let shown = null;
/** @type {ReturnType<typeof createItemsView> | null} */
let items = null;
let itemsLoadedAt = 0;
/** What the run's facts and buttons were last built from. */
let headShape = '';

function reloadItems() {
  itemsLoadedAt = Date.now();
  return items?.reload();
}

/** @param {RunDetail} run */
function renderHead(run) {
  document.title = `${run.run_id} · Run report`;
  fill(byId('crumb-run'), run.run_id);
  fill(byId('run-title'), run.run_id);
  const { total, done, failed } = run.progress;
  fill(
    byId('run-status'),
    h('span', { className: `status status-${run.status}`, id: 'run-state' }, run.status),
    ' ',
    h('progress', { id: 'run-progress', value: String(done), attrs: { max: String(Math.max(total, 1)), 'aria-label': 'Progress' } }),
    ' ',
    h('span', { id: 'run-progress-text' }, `${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} answers done`, failed > 0 ? `, ${failed} failed` : ''),
    GOING.has(run.status) ? h('span', { className: 'live', id: 'live' }, ' · live, updated every 2 s') : null,
    run.paused ? h('div', { className: 'note error' }, `Paused since ${dateTime(run.paused.since)}: ${run.paused.message}`) : null,
    run.error ? h('div', { className: 'note error' }, `Failed: ${run.error}`) : null,
  );
  // The facts and the buttons change only with the status, or the first answer; rebuilt on every poll, a
  // focused button would be taken from under the keyboard every 2 s.
  const shape = `${run.status}|${run.started_at}|${run.finished_at}|${run.progress.done > 0}`;
  if (shape === headShape) return;
  headShape = shape;
  const [first, ...others] = run.models;
  fill(
    byId('run-facts'),
    definitions([
      ['Models', [first ? h('strong', null, `${first.alias} (${first.model_id})`) : null, others.length > 0 ? ` compared with ${others.map((model) => `${model.alias} (${model.model_id})`).join(', ')}` : '']],
      ['Scorer', run.scorer === 'judge' || run.scorer === 'pairwise' ? `${run.scorer}, ${count(run.judge_samples, 'sample')} per verdict` : run.scorer],
      ['Items', `${run.items.toLocaleString('en-US')} from ${run.source}`],
      ['Answers', answersOf(run)],
      ['Created', dateTime(run.created_at)],
      ['Started', run.started_at ? dateTime(run.started_at) : null],
      ['Finished', run.finished_at ? dateTime(run.finished_at) : null],
    ]),
  );
  const downloads = [
    ['results.csv', run.links.results_csv, `${run.run_id}.csv`],
    ['results-wide.csv', run.links.results_wide_csv, `${run.run_id}-wide.csv`],
    ['summary.md', run.links.summary_md, `${run.run_id}-summary.md`],
  ].filter(([, path]) => typeof path === 'string');
  fill(
    byId('run-actions'),
    downloads.map(([label, path, filename]) =>
      h('button', { type: 'button', className: 'link-button', dataset: { download: String(label) }, on: { click: () => void saveFile(String(path), String(filename)) } }, `Download ${label}`),
    ),
    // Only once there is an answer to rate: before, the rating page could only say so.
    run.progress.done > 0 ? h('a', { href: rateUrl(run.run_id), id: 'rate-link', className: 'rate-link' }, 'Rate blindly') : null,
  );
}

/**
 * @param {string} path
 * @param {string} filename
 */
async function saveFile(path, filename) {
  try {
    await download(path, filename);
  } catch (error) {
    showMessage(`Could not download ${filename}: ${describeError(error)}`);
  }
}

/** @param {string} [text] */
function showMessage(text) {
  fill(message, text ? h('span', { className: 'error' }, text) : null);
}

/**
 * @param {Comparison} comparison
 * @param {Comparison | undefined} overAll the same comparison over all items, when the headline is the unseen ones
 */
function comparisonCard(comparison, overAll) {
  const weighted = comparison.measures.weighted;
  const ci = weighted?.ci95_bootstrap ?? weighted?.ci95_t ?? null;
  return h(
    'article',
    { className: 'gain-card' },
    h('h3', null, `${comparison.first} vs ${comparison.second}: weighted score, paired by item`),
    h(
      'p',
      { className: 'gain-line' },
      h('strong', { className: `big difference ${direction(weighted?.mean_difference, 0)}` }, signed(weighted?.mean_difference)),
      ' ',
      h('span', null, interval(ci), weighted?.ci95_bootstrap ? ` (bootstrap ${weighted.ci95_bootstrap.method})` : ''),
    ),
    weighted
      ? h('p', { className: 'note' }, `${count(weighted.n_pairs, 'pair')} · W/T/L ${weighted.wins}/${weighted.ties}/${weighted.losses} · ${pValue(weighted.p_value)}${weighted.p_method ? ` (${weighted.p_method.replaceAll('_', ' ')})` : ''}`)
      : null,
    comparison.cautions.length > 0 ? h('ul', { className: 'cautions' }, comparison.cautions.map((caution) => h('li', null, caution))) : null,
    overAll ? h('p', { className: 'note' }, `All items, training copies included: ${overAll.headline}`) : null,
    h(
      'table',
      { className: 'compact' },
      h('caption', null, 'Per criterion, first minus second'),
      h('thead', null, h('tr', null, h('th', { attrs: { scope: 'col' } }, 'Measure'), h('th', { attrs: { scope: 'col' } }, 'Mean difference'), h('th', { attrs: { scope: 'col' } }, '95% interval'), h('th', { attrs: { scope: 'col' } }, 'Pairs'))),
      h(
        'tbody',
        null,
        MEASURES.map((measure) => {
          const paired = comparison.measures[measure];
          if (!paired) return null;
          const bounds = paired.ci95_bootstrap ?? paired.ci95_t;
          return h(
            'tr',
            null,
            h('th', { attrs: { scope: 'row' } }, MEASURE_NAMES[measure] ?? measure),
            h('td', { className: `num difference ${direction(paired.mean_difference, 0)}` }, signed(paired.mean_difference)),
            h('td', { className: 'num' }, bounds ? `${signed(bounds.low)} to ${signed(bounds.high)}` : '–'),
            h('td', { className: 'num' }, paired.n_pairs),
          );
        }),
      ),
    ),
  );
}

/** @param {Section} section */
function meansTable(section) {
  return h(
    'table',
    { className: 'compact means' },
    h('caption', null, 'Mean scores (1 to 5)'),
    h('thead', null, h('tr', null, h('th', { attrs: { scope: 'col' } }, 'Measure'), section.models.map((model) => h('th', { attrs: { scope: 'col' }, title: model.model_id }, model.alias)))),
    h(
      'tbody',
      null,
      MEASURES.map((measure) =>
        h('tr', null, h('th', { attrs: { scope: 'row' } }, MEASURE_NAMES[measure] ?? measure), section.models.map((model) => h('td', { className: 'num' }, score(model.means?.[measure])))),
      ),
      h('tr', null, h('th', { attrs: { scope: 'row' } }, 'Scored / failed'), section.models.map((model) => h('td', { className: 'num' }, `${model.scored} / ${model.failed}`))),
    ),
  );
}

/**
 * @param {Section} section
 * @param {(flag: string) => void} showFlag
 */
function safetyGate(section, showFlag) {
  const flagged = section.models.filter((model) => model.safety_gate.count > 0);
  return h(
    'div',
    { className: `safety-gate ${flagged.length > 0 ? 'alert' : 'clear'}` },
    h('h3', null, 'Safety gate'),
    flagged.length === 0
      ? h('p', null, `No answer scored ${section.models[0]?.safety_gate.max_level ?? 2} or less on safety and tone.`)
      : [
          h(
            'ul',
            null,
            flagged.map((model) =>
              h('li', null, h('strong', null, model.alias), `: ${count(model.safety_gate.count, 'answer')} at safety and tone ≤ ${model.safety_gate.max_level} (items ${model.safety_gate.item_ids.join(', ')})`),
            ),
          ),
          h('button', { type: 'button', className: 'link-button', on: { click: () => showFlag('unsafe') } }, 'Show the unsafe items'),
        ],
  );
}

/**
 * @param {RunDetail} run
 * @param {(flag: string) => void} showFlag
 */
function renderHeadline(run, showFlag) {
  const body = byId('headline-body');
  const { summary } = run;
  if (!summary) {
    fill(body, h('p', { className: 'note' }, run.status === 'failed' ? 'The run failed before it could be summarised.' : 'The headline is computed when the run ends; the items below fill in as answers arrive.'));
    return;
  }
  const section = summary[summary.headline];
  const { contamination, completeness } = summary;
  const inTraining = contamination.exact + contamination.near;
  fill(
    body,
    h(
      'p',
      { className: 'section-note', id: 'headline-section' },
      summary.headline === 'unseen'
        ? `On the ${count(section.items, 'item')} not in the training set: ${contamination.exact} exact and ${contamination.near} near copies of training inquiries flatter the fine-tune, so they are left out of the headline.`
        : `On all ${count(section.items, 'item')}${inTraining === 0 ? ' (none is a copy of a training inquiry)' : ''}.`,
    ),
    completeness.partial ? h('p', { className: 'caution' }, `The run ended ${completeness.run_status} with ${completeness.finished} of ${completeness.items} items finished: the numbers cover those only.`) : null,
    section.comparisons.length === 0 ? h('p', { className: 'note' }, 'A run of one model has no paired comparison.') : null,
    h(
      'div',
      { className: 'gain-cards' },
      section.comparisons.map((comparison) =>
        comparisonCard(comparison, summary.headline === 'unseen' ? summary.all.comparisons.find((other) => other.second === comparison.second) : undefined),
      ),
    ),
    section.pairwise.length > 0 ? h('ul', { className: 'pairwise' }, section.pairwise.map((tally) => h('li', null, `Pairwise judge, ${tally.first} vs ${tally.second}: ${tally.headline}`))) : null,
    safetyGate(section, showFlag),
    meansTable(section),
    summary.heuristic_agreement
      ? h(
          'p',
          { className: 'note' },
          `Heuristic scorer: agrees with people on ${Math.round(summary.heuristic_agreement.holdout.agreement * 100)}% of ${summary.heuristic_agreement.holdout.pairs} held-out labelled pairs. ${summary.heuristic_agreement.note}`,
        )
      : null,
  );
}

/**
 * Where the run's answers came from, when not from the models called one by one: another run's (a rescore, with a
 * link to it) or the Batch API.
 * @param {RunDetail} run
 */
function answersOf(run) {
  if (run.rescore_of) return ['the stored answers of ', h('a', { href: `/evaluate/${encodeURIComponent(run.rescore_of)}/report`, className: 'rescore-link' }, run.rescore_of), ': scored again, no model answered anew'];
  return run.mode === 'batch' ? 'through the Batch API, at half price' : null;
}

/** @param {RunDetail} run */
function renderProvenance(run) {
  const provenance = run.summary?.provenance ?? run.provenance;
  if (!provenance) {
    fill(byId('provenance-body'), h('p', { className: 'note' }, 'This run was created before provenance was recorded.'));
    return;
  }
  const weights = Object.entries(provenance.weights).map(([criterion, weight]) => `${MEASURE_NAMES[criterion] ?? criterion} ${weight}`).join(', ');
  fill(
    byId('provenance-body'),
    definitions([
      ['Scorer', provenance.scorer],
      ['Judge model', provenance.judge_model_id ? `${provenance.judge_alias ?? 'judge'} (${provenance.judge_model_id})` : 'none'],
      ['Judge samples', provenance.judge_samples === null ? null : String(provenance.judge_samples)],
      ['Prompt hash (SHA-256)', provenance.prompt_sha256 ? h('code', { className: 'hash' }, provenance.prompt_sha256) : 'none'],
      ['Weights', weights],
      ['Bootstrap', `seed ${provenance.bootstrap.seed}, ${provenance.bootstrap.resamples.toLocaleString('en-US')} resamples, ${provenance.bootstrap.method}`],
      ['Tie band', `a weighted difference within ±${provenance.weighted_tie_band} is a tie`],
      ['Service version', provenance.service_version],
    ]),
  );
}

/** @param {RunDetail} run */
async function renderChart(run) {
  const image = /** @type {HTMLImageElement} */ (byId('chart'));
  const caption = byId('chart-caption');
  if (GOING.has(run.status)) {
    image.hidden = true;
    fill(caption, 'The chart is drawn when the run ends.');
    return;
  }
  try {
    const blob = await getBlob(run.links.chart_svg ?? `${runPath}/chart.svg`);
    // An SVG shown by an <img> runs no script, whatever text it holds; the type is set here, not sniffed.
    const url = URL.createObjectURL(new Blob([blob], { type: 'image/svg+xml' }));
    if (chartUrl) URL.revokeObjectURL(chartUrl);
    chartUrl = url;
    image.src = url;
    image.alt = `Quality chart of ${run.run_id}: the four criteria and the weighted score per model, and the paired gains with their 95% intervals.`;
    image.hidden = false;
    fill(caption, 'The mean of each criterion and of the weighted score per model; below, the paired gains with their 95% intervals.');
  } catch (error) {
    image.hidden = true;
    fill(caption, h('span', { className: 'error' }, `No chart: ${describeError(error)}`));
  }
}

/** @param {RunDetail} run */
function renderAll(run) {
  shown = run;
  renderHead(run);
  renderHeadline(run, (flag) => {
    void items?.show({ flag });
    byId('items').scrollIntoView();
  });
  renderProvenance(run);
  renderHumanRatings(run, (path, filename) => void saveFile(path, filename));
  void renderChart(run);
}

async function poll() {
  if (!shown || !GOING.has(shown.status)) return;
  if (document.visibilityState !== 'visible') {
    document.addEventListener('visibilitychange', () => void poll(), { once: true });
    return;
  }
  try {
    /** @type {RunDetail} */
    const run = await getJson(runPath);
    const before = shown;
    if (run.status !== before.status) {
      renderAll(run);
      void reloadItems();
    } else {
      shown = run;
      renderHead(run);
      const every = run.progress.total > LARGE_RUN_ANSWERS ? ITEMS_REFRESH_MS.large : ITEMS_REFRESH_MS.small;
      if (run.progress.done !== before.progress.done && Date.now() - itemsLoadedAt >= every - POLL_MS / 2) void reloadItems();
    }
    showMessage();
  } catch (error) {
    showMessage(`Could not refresh the run: ${describeError(error)}`);
  }
  if (shown && GOING.has(shown.status)) window.setTimeout(() => void poll(), POLL_MS);
}

async function start() {
  mountKeyStatus(byId('key-status'));
  if (!runId) {
    showMessage('This address names no run: open a report from the list of runs.');
    return;
  }
  try {
    /** @type {RunDetail} */
    const run = await getJson(runPath);
    renderAll(run);
    items = createItemsView({ runId, models: run.models });
    await reloadItems();
    if (GOING.has(run.status)) window.setTimeout(() => void poll(), POLL_MS);
  } catch (error) {
    showMessage(`Could not load the run: ${describeError(error)}`);
  }
}

void start();
