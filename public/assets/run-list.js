// The run list (/): GET /evaluate a page at a time, refreshed while a run on the page is still going.
import { describeError, getJson, mountKeyStatus } from './api.js';
import { byId, fill, h } from './dom.js';
import { count, dateTime, direction, interval, signed } from './format.js';
import { isRunId, rateUrl, reportUrl } from './page-links.js';

/**
 * @typedef {{ first: string, second: string, n_pairs: number, mean_difference: number | null,
 *   ci95: { low: number, high: number, method: string } | null, text: string }} Gain
 * @typedef {{ section: 'unseen' | 'all', items: number, partial: boolean, gains: Gain[] } | null} Headline
 * @typedef {{ run_id: string, status: string, created_at: string, source: string, items: number,
 *   models: { alias: string, model_id: string }[], scorer: string, error: string | null,
 *   provenance?: { judge_model_id: string | null },
 *   progress: { total: number, done: number, failed: number }, paused: { message: string } | null,
 *   headline: Headline }} ListedRun
 */

const PAGE_SIZE = 20;
const REFRESH_MS = 3000;
const GOING = new Set(['queued', 'running']);

const rows = byId('runs');
const message = byId('message');
const newer = /** @type {HTMLButtonElement} */ (byId('newer'));
const older = /** @type {HTMLButtonElement} */ (byId('older'));
const pageInfo = byId('page-info');

/** The cursors of the pages before this one, in this tab: the API pages forward only. */
/** @type {(string | null)[]} */
const previous = [];
const initial = new URLSearchParams(location.search).get('cursor');
/** @type {string | null} */
let cursor = initial && isRunId(initial) ? initial : null;
/** @type {string | null} */
let next = null;
/** @type {number | undefined} */
let refresh;

/** @param {ListedRun} run */
function statusCell(run) {
  return h(
    'td',
    null,
    h('span', { className: `status status-${run.status}` }, run.status),
    run.paused ? h('div', { className: 'note' }, `paused: ${run.paused.message}`) : null,
    run.error ? h('div', { className: 'note error' }, run.error) : null,
  );
}

/** @param {ListedRun} run */
function progressCell(run) {
  const { total, done, failed } = run.progress;
  return h(
    'td',
    { className: 'progress-cell' },
    h('progress', { value: String(done), attrs: { max: String(Math.max(total, 1)), 'aria-label': `${done} of ${total} done` } }),
    h('div', { className: 'note' }, `${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')}`, failed > 0 ? h('span', { className: 'failed' }, ` · ${failed} failed`) : null),
  );
}

/** @param {ListedRun} run */
function modelsCell(run) {
  const [first, ...others] = run.models;
  return h(
    'td',
    null,
    first ? h('strong', { title: first.model_id }, first.alias) : null,
    others.length > 0 ? ' vs ' : null,
    others.map((model, index) => [index > 0 ? ', ' : null, h('span', { title: model.model_id }, model.alias)]),
  );
}

/** @param {ListedRun} run */
function headlineCell(run) {
  const { headline } = run;
  if (!headline) return h('td', { className: 'note' }, GOING.has(run.status) ? 'when the run ends' : '–');
  if (headline.gains.length === 0) return h('td', { className: 'note' }, 'one model: no comparison');
  return h(
    'td',
    { className: 'headline-cell' },
    headline.gains.map((gain) =>
      h(
        'div',
        { className: 'gain', title: gain.text },
        headline.gains.length > 1 ? h('span', { className: 'note' }, `vs ${gain.second}: `) : null,
        h('strong', { className: `difference ${direction(gain.mean_difference, 0)}` }, signed(gain.mean_difference)),
        ' ',
        h('span', { className: 'note' }, gain.n_pairs > 0 ? `${interval(gain.ci95)}, ${count(gain.n_pairs, 'pair')}` : 'no paired items'),
      ),
    ),
    h('div', { className: 'note' }, headline.section === 'unseen' ? `items not in training (${headline.items})` : `all ${count(headline.items, 'item')}`, headline.partial ? ', run cut short' : ''),
  );
}

/** @param {ListedRun} run */
function runRow(run) {
  return h(
    'tr',
    { dataset: { runId: run.run_id } },
    h(
      'td',
      null,
      h('a', { href: reportUrl(run.run_id), className: 'run-link' }, run.run_id),
      h('div', { className: 'note' }, `${run.source} · ${count(run.items, 'item')}`),
      h(
        'div',
        { className: 'run-links' },
        h('a', { href: reportUrl(run.run_id) }, 'Report'),
        // Only once there is an answer to rate: before, the rating page could only say so.
        run.progress.done > 0 ? [' · ', h('a', { href: rateUrl(run.run_id), className: 'rate-link' }, 'Rate blindly')] : null,
      ),
    ),
    statusCell(run),
    progressCell(run),
    modelsCell(run),
    h('td', null, run.scorer, run.provenance?.judge_model_id ? h('div', { className: 'note' }, run.provenance.judge_model_id) : null),
    headlineCell(run),
    h('td', null, h('time', { attrs: { datetime: run.created_at } }, dateTime(run.created_at))),
  );
}

async function load() {
  clearTimeout(refresh);
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (cursor) query.set('cursor', cursor);
  try {
    /** @type {{ runs: ListedRun[], next_cursor: string | null }} */
    const page = await getJson(`/evaluate?${query}`);
    next = page.next_cursor;
    fill(rows, page.runs.length > 0 ? page.runs.map(runRow) : h('tr', null, h('td', { colSpan: 7, className: 'empty' }, 'No runs yet. Start one with POST /evaluate (see the API docs).')));
    fill(message);
    newer.disabled = cursor === null;
    older.disabled = next === null;
    fill(pageInfo, cursor === null ? 'Newest runs' : `Runs after ${cursor}`);
    if (page.runs.some((run) => GOING.has(run.status))) refresh = window.setTimeout(reloadWhenVisible, REFRESH_MS);
  } catch (error) {
    fill(message, h('span', { className: 'error' }, `Could not load the runs: ${describeError(error)}`));
    refresh = window.setTimeout(reloadWhenVisible, REFRESH_MS * 5);
  }
}

function reloadWhenVisible() {
  if (document.visibilityState === 'visible') void load();
  else document.addEventListener('visibilitychange', () => void load(), { once: true });
}

/** @param {string | null} to */
function go(to) {
  cursor = to;
  const url = new URL(location.href);
  if (to) url.searchParams.set('cursor', to);
  else url.searchParams.delete('cursor');
  history.replaceState(null, '', url);
  void load();
}

older.addEventListener('click', () => {
  if (next === null) return;
  previous.push(cursor);
  go(next);
});
newer.addEventListener('click', () => go(previous.pop() ?? null));

mountKeyStatus(byId('key-status'));
void load();
