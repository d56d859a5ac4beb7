// The report's items: a page of GET /evaluate/{id}/items at a time, filtered, sorted and searched by the
// service, each item opening onto every model's answer side by side with its scores and rationales.
import { describeError, download, getJson } from './api.js';
import { byId, definitions, fill, h, keepingFocus } from './dom.js';
import { count, CRITERIA, direction, MEASURE_NAMES, score, signed } from './format.js';

/**
 * @typedef {{ alias: string, model_id: string }} Model
 * @typedef {{ accuracy: number | null, actionability: number, completeness: number | null, safety_tone: number,
 *   weighted: number | null, rationale: Record<string, string>, scorer: string, reference_source: string,
 *   unscored_reason: string | null, sample_sd: Record<string, number | null> | null }} Scores
 * @typedef {{ model_alias: string, model_id: string, outcome: 'scored' | 'unscored' | 'failed', answer: string | null,
 *   answer_status: string | null, scores: Scores | null, error: { stage: string, code: string, message: string } | null,
 *   latency_ms: number | null, tokens_in: number | null, tokens_out: number | null, unsafe: boolean, csv_row: number }} ItemResult
 * @typedef {{ first: string, second: string, outcome: string, preference: string | null, inconsistent: string[],
 *   rationale: string | null, error: { stage: string, code: string, message: string } | null }} Verdict
 * @typedef {{ position: number, item_id: string, inquiry: string, reference: string | null, category: string | null,
 *   in_training: 'exact' | 'near' | 'none', training_line: number | null, training_similarity: number | null,
 *   flags: { in_training: boolean, failed: boolean, unsafe: boolean, order_inconsistent: boolean, pending: boolean },
 *   results: (ItemResult | null)[], differences: { first: string, second: string, weighted: number | null }[], verdicts: Verdict[] }} Item
 * @typedef {{ run_id: string, models: Model[], versus: string | null, total_items: number, matched: number, offset: number,
 *   limit: number, next_cursor: string | null, facets: { categories: { category: string, items: number }[], flags: Record<string, number> },
 *   items: Item[] }} ItemsPage
 * @typedef {{ flag: string, category: string, q: string, sort: string, versus: string, offset: number, limit: number, item: string }} ItemsState
 */

const SEARCH_DELAY_MS = 300;
const LIMITS = ['25', '50', '100'];

/**
 * @param {string} label
 * @param {string} kind
 */
const badge = (label, kind) => h('span', { className: `badge badge-${kind}` }, label);

/** @param {Item} item */
function flagBadges(item) {
  return [
    item.in_training !== 'none' ? badge(`in training: ${item.in_training}`, 'training') : null,
    item.flags.failed ? badge('failed', 'failed') : null,
    item.flags.unsafe ? badge('unsafe', 'unsafe') : null,
    item.flags.order_inconsistent ? badge('judge order-inconsistent', 'inconsistent') : null,
    item.flags.pending ? badge('pending', 'pending') : null,
  ];
}

/** @param {ItemResult | null} result */
function scoreCell(result) {
  if (!result) return h('td', { className: 'num note' }, 'pending');
  if (result.outcome === 'failed') return h('td', { className: 'num failed' }, 'failed');
  const weighted = result.scores?.weighted ?? null;
  return h(
    'td',
    { className: `num${result.unsafe ? ' unsafe' : ''}`, title: result.scores ? CRITERIA.map((criterion) => `${MEASURE_NAMES[criterion]} ${score(result.scores?.[/** @type {'accuracy'} */ (criterion)])}`).join(' · ') : result.outcome },
    weighted === null ? h('span', { className: 'note' }, result.outcome === 'unscored' ? 'unscored' : result.scores?.unscored_reason === 'no_reference' ? 'no reference' : '–') : score(weighted),
  );
}

/**
 * @param {{ runId: string, models: Model[] }} options
 */
export function createItemsView({ runId, models }) {
  const base = `/evaluate/${encodeURIComponent(runId)}`;
  const flagSelect = /** @type {HTMLSelectElement} */ (byId('filter-flag'));
  const categorySelect = /** @type {HTMLSelectElement} */ (byId('filter-category'));
  const sortSelect = /** @type {HTMLSelectElement} */ (byId('filter-sort'));
  const versusSelect = /** @type {HTMLSelectElement} */ (byId('filter-versus'));
  const searchInput = /** @type {HTMLInputElement} */ (byId('filter-q'));
  const limitSelect = /** @type {HTMLSelectElement} */ (byId('filter-limit'));
  const info = byId('items-info');
  const head = byId('items-head');
  const body = byId('items-body');
  const previousButton = /** @type {HTMLButtonElement} */ (byId('items-previous'));
  const nextButton = /** @type {HTMLButtonElement} */ (byId('items-next'));
  const pageLabel = byId('items-page');
  const flagLabels = new Map([...flagSelect.options].map((option) => [option.value, option.text]));
  const [first, ...others] = models;

  const params = new URLSearchParams(location.search);
  /** @type {ItemsState} */
  const state = {
    flag: params.get('flag') ?? '',
    category: params.get('category') ?? '',
    q: params.get('q') ?? '',
    sort: params.get('sort') ?? 'position',
    versus: params.get('versus') ?? '',
    offset: Math.max(0, Number.parseInt(params.get('cursor') ?? '0', 10) || 0),
    limit: LIMITS.includes(params.get('limit') ?? '') ? Number(params.get('limit')) : 25,
    item: params.get('item') ?? '',
  };
  /** Items opened on this page, by id: kept open while a running run refreshes. */
  const open = new Set(state.item ? [state.item] : []);
  /** @type {ItemsPage | null} */
  let page = null;
  /** @type {AbortController | null} */
  let inFlight = null;
  let generation = 0;

  // Controls that do not depend on the data.
  flagSelect.value = flagLabels.has(state.flag) ? state.flag : '';
  sortSelect.value = state.sort;
  if (sortSelect.value !== state.sort) sortSelect.value = state.sort = 'position';
  sortSelect.disabled = others.length === 0;
  searchInput.value = state.q;
  limitSelect.value = String(state.limit);
  byId('versus-label').hidden = others.length < 2;
  fill(versusSelect, others.map((model) => h('option', { value: model.alias }, model.alias)));
  if (others.some((model) => model.alias === state.versus)) versusSelect.value = state.versus;
  else state.versus = '';
  fill(
    head,
    h(
      'tr',
      null,
      h('th', { attrs: { scope: 'col' } }, '#'),
      h('th', { attrs: { scope: 'col' } }, 'Item'),
      h('th', { attrs: { scope: 'col' } }, 'Inquiry'),
      models.map((model) => h('th', { className: 'num', title: `${model.model_id}: weighted score`, attrs: { scope: 'col' } }, model.alias)),
      others.map((model) => h('th', { className: 'num', title: `Weighted score, ${first?.alias} minus ${model.alias}`, attrs: { scope: 'col' } }, `Δ vs ${model.alias}`)),
      h('th', { attrs: { scope: 'col' } }, 'Flags'),
      h('th', { attrs: { scope: 'col' }, title: 'Rows in results.csv as a spreadsheet numbers them (the header is row 1)' }, 'CSV rows'),
      h('th', { attrs: { scope: 'col' } }, h('span', { className: 'visually-hidden' }, 'Open')),
    ),
  );
  const columns = 6 + models.length + others.length;

  /** @param {Partial<ItemsState>} change */
  function show(change) {
    Object.assign(state, change, { offset: change.offset ?? 0 });
    flagSelect.value = state.flag;
    categorySelect.value = state.category;
    sortSelect.value = state.sort;
    searchInput.value = state.q;
    return reload();
  }

  function queryOf() {
    const query = new URLSearchParams({ limit: String(state.limit) });
    if (state.offset > 0) query.set('cursor', String(state.offset));
    if (state.flag) query.set('flag', state.flag);
    if (state.category) query.set('category', state.category);
    if (state.q.trim()) query.set('q', state.q.trim());
    if (state.sort !== 'position') query.set('sort', state.sort);
    if (state.versus) query.set('versus', state.versus);
    return query;
  }

  /** The filters in the page's address, so that a reload or a shared link shows the same items; never the key. */
  function remember() {
    const query = queryOf();
    query.delete('limit');
    if (state.limit !== 25) query.set('limit', String(state.limit));
    if (state.item) query.set('item', state.item);
    const search = query.toString();
    history.replaceState(null, '', `${location.pathname}${search ? `?${search}` : ''}`);
  }

  async function reload() {
    inFlight?.abort();
    const controller = new AbortController();
    inFlight = controller;
    const mine = (generation += 1);
    remember();
    body.setAttribute('aria-busy', 'true');
    try {
      /** @type {ItemsPage} */
      const loaded = await getJson(`${base}/items?${queryOf()}`, { signal: controller.signal });
      if (mine !== generation) return;
      page = loaded;
      render(loaded);
    } catch (error) {
      if (controller.signal.aborted) return;
      fill(info, h('span', { className: 'error' }, `Could not load the items: ${describeError(error)}`));
    } finally {
      if (mine === generation) body.removeAttribute('aria-busy');
    }
  }

  /** @param {ItemsPage} loaded */
  function renderFacets(loaded) {
    for (const option of flagSelect.options) {
      if (option.value === '') continue;
      option.text = `${flagLabels.get(option.value)} (${loaded.facets.flags[option.value] ?? 0})`;
    }
    const wanted = ['', ...loaded.facets.categories.map((entry) => entry.category)];
    const present = [...categorySelect.options].map((option) => option.value);
    if (wanted.join('\u0000') !== present.join('\u0000')) {
      fill(
        categorySelect,
        h('option', { value: '' }, 'All categories'),
        loaded.facets.categories.map((entry) => h('option', { value: entry.category }, `${entry.category} (${entry.items})`)),
      );
      categorySelect.value = state.category;
    }
  }

  /** @param {ItemsPage} loaded */
  function render(loaded) {
    renderFacets(loaded);
    const { offset, matched, total_items: total, items } = loaded;
    if (matched === 0) {
      fill(info, total === 0 ? 'No items yet.' : `No item matches (of ${count(total, 'item')}).`);
    } else {
      fill(info, `Items ${offset + 1}–${offset + items.length} of ${matched.toLocaleString('en-US')}${matched !== total ? ` matching (of ${count(total, 'item')})` : ''}`);
    }
    keepingFocus(body, () => fill(body, items.map((item) => [itemRow(item), open.has(item.item_id) ? detailRow(item) : null])));
    previousButton.disabled = offset === 0;
    nextButton.disabled = loaded.next_cursor === null;
    fill(pageLabel, matched > 0 ? `Page ${Math.floor(offset / state.limit) + 1} of ${Math.max(1, Math.ceil(matched / state.limit))}` : '');
  }

  /** @param {Item} item */
  function itemRow(item) {
    const detailId = `item-detail-${item.position}`;
    const expanded = open.has(item.item_id);
    return h(
      'tr',
      { className: `item-row${expanded ? ' open' : ''}`, dataset: { itemId: item.item_id, position: String(item.position) } },
      h('td', { className: 'num' }, item.position),
      h('td', { className: 'item-id' }, h('code', null, item.item_id), item.category ? h('div', { className: 'category' }, item.category) : null),
      h('td', { className: 'inquiry' }, h('div', { className: 'clamp' }, item.inquiry)),
      item.results.map((result) => scoreCell(result)),
      item.differences.map((difference) =>
        h('td', { className: `num difference ${direction(difference.weighted)}`, dataset: { versus: difference.second } }, signed(difference.weighted)),
      ),
      h('td', { className: 'flags' }, flagBadges(item)),
      h('td', { className: 'csv-rows' }, item.results.map((result, index) => (result ? [index > 0 ? ' ' : null, csvLink(result, String(result.csv_row))] : null))),
      h(
        'td',
        null,
        h(
          'button',
          {
            type: 'button',
            className: 'open-button',
            attrs: { 'aria-expanded': String(expanded), 'aria-controls': detailId },
            on: { click: () => toggle(item) },
          },
          expanded ? 'Close' : 'Open',
        ),
      ),
    );
  }

  /** @param {Item} item */
  function toggle(item) {
    if (open.has(item.item_id)) {
      open.delete(item.item_id);
      if (state.item === item.item_id) state.item = '';
    } else {
      open.add(item.item_id);
      state.item = item.item_id;
    }
    remember();
    if (page) render(page);
  }

  /**
   * @param {ItemResult} result
   * @param {string} label
   */
  function csvLink(result, label) {
    return h(
      'button',
      {
        type: 'button',
        className: 'link-button csv-row',
        title: `${result.model_alias}: row ${result.csv_row} of results.csv (the header is row 1). Downloads results.csv.`,
        on: { click: () => void download(`${base}/results.csv`, `${runId}.csv`).catch((error) => fill(info, h('span', { className: 'error' }, describeError(error)))) },
      },
      label,
    );
  }

  /** @param {Item} item */
  function detailRow(item) {
    return h(
      'tr',
      { className: 'detail-row', id: `item-detail-${item.position}` },
      h(
        'td',
        { colSpan: columns },
        h(
          'div',
          { className: 'item-detail', dataset: { itemId: item.item_id } },
          h(
            'div',
            { className: 'item-texts' },
            h('section', null, h('h3', null, 'Inquiry'), h('p', { className: 'text inquiry-text' }, item.inquiry)),
            h(
              'section',
              null,
              h('h3', null, 'Reference'),
              item.reference === null ? h('p', { className: 'note' }, 'No reference answer: the heuristic scorer leaves accuracy and completeness unscored.') : h('p', { className: 'text reference-text' }, item.reference),
            ),
            definitions([
              ['Item', [h('code', null, item.item_id), ` · #${item.position} in the run`]],
              ['Category', item.category],
              [
                'In training',
                item.in_training === 'none'
                  ? `no${item.training_similarity !== null ? ` (closest: line ${item.training_line}, similarity ${item.training_similarity.toFixed(2)})` : ''}`
                  : `${item.in_training} copy of line ${item.training_line} of the training file${item.training_similarity !== null ? ` (similarity ${item.training_similarity.toFixed(2)})` : ''}`,
              ],
              ['Difference', item.differences.map((difference, index) => [index > 0 ? ', ' : null, `${difference.first} − ${difference.second}: ${signed(difference.weighted)}`])],
            ]),
          ),
          h('div', { className: 'answers' }, models.map((model, index) => answerCard(model, item.results[index] ?? null))),
          item.verdicts.length > 0 ? h('div', { className: 'verdicts' }, item.verdicts.map(verdictBlock)) : null,
        ),
      ),
    );
  }

  /**
   * @param {Model} model
   * @param {ItemResult | null} result
   */
  function answerCard(model, result) {
    const title = h('h3', null, model.alias, ' ', h('span', { className: 'note' }, model.model_id));
    if (!result) return h('article', { className: 'answer-card pending' }, title, h('p', { className: 'note' }, 'Not answered yet.'));
    const { scores } = result;
    return h(
      'article',
      { className: `answer-card outcome-${result.outcome}`, dataset: { model: model.alias } },
      title,
      h(
        'p',
        { className: 'answer-meta' },
        badge(result.outcome, result.outcome),
        result.answer_status && result.answer_status !== 'completed' ? [' ', badge(result.answer_status.replaceAll('_', ' '), 'status')] : null,
        result.unsafe ? [' ', badge('unsafe', 'unsafe')] : null,
        ' ',
        csvLink(result, `results.csv row ${result.csv_row}`),
      ),
      result.error ? h('p', { className: 'error' }, `${result.error.stage} failed (${result.error.code}): ${result.error.message}`) : null,
      h('p', { className: 'text answer-text' }, result.answer ?? 'No answer.'),
      scores
        ? h(
            'table',
            { className: 'compact scores' },
            h('thead', null, h('tr', null, h('th', { attrs: { scope: 'col' } }, 'Criterion'), h('th', { className: 'num', attrs: { scope: 'col' } }, 'Score'), h('th', { attrs: { scope: 'col' } }, 'Rationale'))),
            h(
              'tbody',
              null,
              CRITERIA.map((criterion) => {
                const value = scores[/** @type {'accuracy'} */ (criterion)];
                return h(
                  'tr',
                  { className: criterion === 'safety_tone' && result.unsafe ? 'unsafe' : '' },
                  h('th', { attrs: { scope: 'row' } }, MEASURE_NAMES[criterion] ?? criterion),
                  h('td', { className: 'num' }, value === null ? h('span', { className: 'note' }, scores.unscored_reason === 'no_reference' ? 'no reference' : 'unscored') : score(value)),
                  h('td', { className: 'rationale' }, scores.rationale[criterion] ?? ''),
                );
              }),
              h('tr', { className: 'weighted' }, h('th', { attrs: { scope: 'row' } }, 'Weighted'), h('td', { className: 'num' }, score(scores.weighted)), h('td', { className: 'note' }, `${scores.scorer} scorer, reference ${scores.reference_source}`)),
            ),
          )
        : null,
      h(
        'p',
        { className: 'note' },
        [result.latency_ms !== null ? `${Math.round(result.latency_ms)} ms` : null, result.tokens_in !== null || result.tokens_out !== null ? `tokens ${result.tokens_in ?? '–'} in, ${result.tokens_out ?? '–'} out` : null]
          .filter(Boolean)
          .join(' · '),
      ),
    );
  }

  /** @param {Verdict} verdict */
  function verdictBlock(verdict) {
    const preferred = verdict.preference === 'first' ? verdict.first : verdict.preference === 'second' ? verdict.second : 'neither (tie)';
    return h(
      'div',
      { className: 'verdict' },
      h('h3', null, `Pairwise judge: ${verdict.first} vs ${verdict.second}`),
      verdict.error ? h('p', { className: 'error' }, `${verdict.error.stage} failed (${verdict.error.code}): ${verdict.error.message}`) : h('p', null, `Prefers ${preferred} over both orders.`),
      verdict.inconsistent.length > 0 ? h('p', null, badge('judge order-inconsistent', 'inconsistent'), ` The verdict flipped with the order on: ${verdict.inconsistent.join(', ')}.`) : null,
      verdict.rationale ? h('p', { className: 'text rationale' }, verdict.rationale) : null,
    );
  }

  // The controls: each change reloads from the first page; typing waits for a pause.
  byId('filters').addEventListener('submit', (event) => event.preventDefault());
  flagSelect.addEventListener('change', () => void show({ flag: flagSelect.value }));
  categorySelect.addEventListener('change', () => void show({ category: categorySelect.value }));
  sortSelect.addEventListener('change', () => void show({ sort: sortSelect.value }));
  versusSelect.addEventListener('change', () => void show({ versus: versusSelect.value }));
  limitSelect.addEventListener('change', () => void show({ limit: Number(limitSelect.value) }));
  /** @type {number | undefined} */
  let typing;
  searchInput.addEventListener('input', () => {
    clearTimeout(typing);
    typing = window.setTimeout(() => void show({ q: searchInput.value }), SEARCH_DELAY_MS);
  });
  previousButton.addEventListener('click', () => void show({ offset: Math.max(0, state.offset - state.limit) }));
  nextButton.addEventListener('click', () => {
    if (page?.next_cursor) void show({ offset: Number(page.next_cursor) });
  });

  return { reload, show };
}
