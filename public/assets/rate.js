// A run's blind rating page (/evaluate/{run_id}/rate): one item at a time from GET /evaluate/{id}/rating-items,
// its answers under keys only, rated on the rubric from GET /rubric and saved with POST /evaluate/{id}/ratings.
// The page calls nothing that names a model, so no alias or model id ever reaches it.
import { ApiError, describeError, getJson, hasKey, mountKeyStatus, postJson } from './api.js';
import { byId, definitions, fill, h } from './dom.js';
import { count, dateTime } from './format.js';
import { runIdOfPage } from './page-links.js';
import { createRatingForm } from './rating-form.js';
import { createRatingWindow } from './rating-window.js';
import { readStored, writeStored } from './web-storage.js';

/**
 * @typedef {import('./rating-form.js').Rubric} Rubric
 * @typedef {import('./rating-form.js').Draft} Draft
 * @typedef {import('./rating-window.js').RatingItem} RatingItem
 */

const RATER_STORAGE = 'amazon-electronics-ft.rater-name';
const SAVED_NOTE_MS = 4000;

const runId = runIdOfPage('rate');
const runPath = `/evaluate/${encodeURIComponent(runId ?? '')}`;
const message = byId('message');
const saveStatus = byId('save-status');
const saveButton = /** @type {HTMLButtonElement} */ (byId('save'));
const previousButton = /** @type {HTMLButtonElement} */ (byId('previous'));
const nextButton = /** @type {HTMLButtonElement} */ (byId('next'));

/** Who rates, and whether the service's key says so (then no name is ever sent). */
const rater = { name: '', byKey: false };
/** @type {ReturnType<typeof createRatingWindow> | null} */
let items = null;
/** @type {ReturnType<typeof createRatingForm> | null} */
let form = null;
let at = 0;
let busy = false;
/** What the rater has given but not saved, by item id: kept while they move between items. */
/** @type {Map<string, Draft>} */
const drafts = new Map();
/** @type {number | undefined} */
let savedNoteTimer;

// Nothing can be rated without a name: Escape does not close the form that asks for it.
byId('rater-dialog').addEventListener('cancel', (event) => event.preventDefault());

/** @param {string} [text] */
function showMessage(text) {
  fill(message, text ? h('span', { className: 'error' }, text) : null);
}

const local = () => localStorage;
// Should storage refuse the name (a private mode), it is asked for again on the next visit.
const storedName = () => readStored(local, RATER_STORAGE);
/** @param {string} name */
const storeName = (name) => writeStored(local, RATER_STORAGE, name);

/**
 * Asks the rater's name in the page's dialog (a dialog form: it never navigates).
 * @param {string} reason
 * @returns {Promise<string | null>} null when the browser closed the form all the same (a second Escape)
 */
function askForName(reason) {
  const dialog = /** @type {HTMLDialogElement} */ (byId('rater-dialog'));
  const input = /** @type {HTMLInputElement} */ (byId('rater-input'));
  fill(byId('rater-message'), reason);
  input.value = storedName() ?? '';
  return new Promise((resolve) => {
    /** @param {Event} event */
    const submitted = (event) => {
      event.preventDefault();
      const name = input.value.trim();
      if (name === '') return;
      dialog.close(name);
    };
    dialog.addEventListener('submit', submitted);
    dialog.addEventListener(
      'close',
      () => {
        dialog.removeEventListener('submit', submitted);
        resolve(dialog.returnValue === '' ? null : dialog.returnValue);
      },
      { once: true },
    );
    dialog.returnValue = '';
    dialog.showModal();
    input.focus();
  });
}

/**
 * The name to open the run under: a page cannot rate without one.
 * @param {string} reason
 * @returns {Promise<string>}
 */
async function nameForRating(reason) {
  const name = await askForName(reason);
  if (name !== null) return name;
  fill(byId('rater-status'), h('button', { type: 'button', className: 'link-button', id: 'rater-change', on: { click: () => void changeName() } }, 'Enter your name'));
  throw new Error('Rating needs your name: enter it to start.');
}

function renderRater() {
  fill(
    byId('rater-status'),
    'Rating as ',
    h('strong', { id: 'rater-name' }, rater.name),
    rater.byKey
      ? h('span', { className: 'note-light' }, ' (your API key)')
      : [' ', h('button', { type: 'button', className: 'link-button', id: 'rater-change', on: { click: () => void changeName() } }, 'Change name')],
  );
}

/** Another name means other ratings and another order of the answers: the page opens afresh under it. */
async function changeName() {
  const name = await askForName('Rate under another name: its own ratings, and its own order of the answers.');
  if (name === null) return;
  storeName(name);
  location.reload();
}

/** @param {Rubric} rubric */
function renderRubric(rubric) {
  fill(
    byId('rubric-body'),
    h('p', { className: 'note' }, 'Choose the level whose description fits best; between two, the lower one.'),
    rubric.criteria.map((criterion) =>
      h(
        'details',
        { className: 'rubric-criterion', dataset: { criterion: criterion.criterion }, attrs: { open: '' } },
        h('summary', null, criterion.title),
        h('p', { className: 'measures' }, criterion.measures),
        h('ul', { className: 'rubric-levels' }, criterion.levels.map(({ level, description }) => h('li', null, h('strong', null, String(level)), ' ', description))),
      ),
    ),
  );
}

function renderProgress() {
  if (!items) return;
  const { total, rated } = items.progress;
  const bar = /** @type {HTMLProgressElement} */ (byId('rate-progress'));
  bar.max = Math.max(total, 1);
  bar.value = rated;
  fill(byId('rate-progress-text'), `${rated.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} rated`);
}

/** @param {RatingItem} item */
function itemState(item) {
  if (drafts.has(item.item_id)) return h('span', { className: 'badge badge-pending' }, item.rating ? 'changed, not saved' : 'not saved yet');
  if (item.rating) return h('span', { className: 'badge badge-scored' }, `rated, saved ${dateTime(item.rating.rated_at)}`);
  return h('span', { className: 'badge' }, 'not rated yet');
}

/**
 * The saved rating as the form's values.
 * @param {RatingItem} item
 * @returns {Draft | null}
 */
function savedValues(item) {
  if (!item.rating) return null;
  /** @type {Draft['answers']} */
  const answers = {};
  for (const [key, levels] of Object.entries(item.rating.answers)) answers[key] = { ...levels };
  return { answers, preference: item.rating.preference, comment: item.rating.comment ?? '' };
}

function renderItem() {
  const item = items?.item(at);
  if (!items || !form || !item) return;
  document.title = `Item ${item.position} · Blind rating`;
  fill(byId('item-title'), `Item ${item.position}`);
  fill(byId('item-state'), itemState(item));
  fill(
    byId('item-texts'),
    definitions([
      ['Item', h('code', null, item.item_id)],
      ['Category', item.category],
    ]),
    h('h3', null, 'Inquiry'),
    h('div', { className: 'text inquiry-text' }, item.inquiry),
    item.reference !== null ? [h('h3', null, 'Reference answer'), h('div', { className: 'text reference-text' }, item.reference)] : h('p', { className: 'note' }, 'No reference answer: judge on what you know of the policies.'),
  );
  form.show(item, drafts.get(item.item_id) ?? savedValues(item));
  previousButton.disabled = !items.hasPrevious(at);
  nextButton.disabled = !items.hasNext(at);
  renderProgress();
}

/** @param {() => Promise<number | null>} move */
async function go(move) {
  if (busy || !items) return;
  busy = true;
  try {
    const to = await move();
    if (to !== null) {
      at = to;
      showMessage();
      renderItem();
      byId('rate-item').scrollIntoView({ block: 'start' });
    }
  } catch (error) {
    showMessage(`Could not load the item: ${describeError(error)}`);
  } finally {
    busy = false;
  }
}

const goNext = () => go(async () => (items ? items.next(at) : null));
const goPrevious = () => go(async () => (items ? items.previous(at) : null));

/** @param {string} text */
function noteSaved(text) {
  fill(saveStatus, text);
  clearTimeout(savedNoteTimer);
  savedNoteTimer = window.setTimeout(() => fill(saveStatus), SAVED_NOTE_MS);
}

async function save() {
  const item = items?.item(at);
  if (busy || !items || !form || !item) return;
  const missing = form.missing();
  if (missing.length > 0) {
    showMessage(`Give every answer a level on each criterion. Missing: ${missing.map(({ key, criterion }) => `Answer ${key}, ${criterion.title.toLowerCase()}`).join('; ')}.`);
    form.focusMissing(/** @type {import('./rating-form.js').Missing} */ (missing[0]));
    return;
  }
  const draft = form.read();
  busy = true;
  saveButton.disabled = true;
  try {
    const { status, body } = await postJson(`${runPath}/ratings`, {
      ...(rater.byKey ? {} : { rater: rater.name }),
      item_id: item.item_id,
      answers: draft.answers,
      preference: draft.preference,
      comment: draft.comment.trim() === '' ? null : draft.comment,
    });
    items.saved(at, body, status === 201);
    drafts.delete(item.item_id);
    showMessage();
    noteSaved(`Saved item ${item.position}${status === 201 ? '' : ' (revised)'}.`);
    const next = await items.next(at);
    if (next === null) noteSaved(`Saved item ${item.position}, the last one: ${items.progress.rated} of ${count(items.progress.total, 'item')} rated.`);
    else at = next;
    renderItem();
    if (next !== null) byId('rate-item').scrollIntoView({ block: 'start' });
  } catch (error) {
    const reload = error instanceof ApiError && error.code === 'answer_keys_mismatch' ? ' Reload the page to see the item as it is now.' : '';
    showMessage(`Could not save the rating: ${describeError(error)}${reload}`);
  } finally {
    busy = false;
    saveButton.disabled = false;
  }
}

/** @param {EventTarget | null} target */
const typingIn = (target) => target instanceof HTMLTextAreaElement || (target instanceof HTMLInputElement && target.type !== 'radio');

/** @param {KeyboardEvent} event */
function onKey(event) {
  if (event.defaultPrevented || event.isComposing || !form || document.querySelector('dialog[open]')) return;
  if (event.key === 'Enter') {
    const command = event.ctrlKey || event.metaKey;
    // Enter on a button, a link or a rubric heading does what it says there.
    const onControl = event.target instanceof HTMLElement && event.target.matches('button, a, summary');
    if (command || (!typingIn(event.target) && !onControl)) {
      event.preventDefault();
      void save();
    }
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey || typingIn(event.target)) return;
  const key = event.key.toLowerCase();
  if (key === 'n' || key === 'j') void goNext();
  else if (key === 'p' || key === 'k') void goPrevious();
  else if (!choose(form, key)) return;
  event.preventDefault();
}

/**
 * A level for the criterion in focus, or a preference.
 * @param {ReturnType<typeof createRatingForm>} form
 * @param {string} key
 * @returns {boolean} whether the key meant something on this item
 */
function choose(form, key) {
  if (/^[1-5]$/.test(key)) return form.setLevel(Number(key));
  if (key === 't') return form.setPreference('tie');
  if (key === '0') return form.setPreference('');
  return /^[a-d]$/.test(key) && form.setPreference(key.toUpperCase());
}

/**
 * Opens the run for this rater. Called once a first call has gone through: a tab that holds a key by then is
 * on a service with SERVICE_API_KEYS, where the key says who rates and no name is sent; on any other, raters
 * name themselves. The service's refusals correct a wrong guess either way.
 * @returns {Promise<boolean>} whether every item is already rated
 */
async function openItems() {
  let name = hasKey() ? null : (storedName() ?? (await nameForRating('Who is rating? Enter your name.')));
  for (;;) {
    const opening = createRatingWindow({ runId: runId ?? '', rater: name });
    try {
      const opened = await opening.open();
      items = opening;
      at = opened.at;
      rater.name = opened.rater;
      rater.byKey = name === null;
      if (name !== null) storeName(name);
      return opened.done;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.code === 'rater_mismatch') name = null;
      else if (error.code === 'rater_required') name = storedName() ?? (await nameForRating('Who is rating? Enter your name.'));
      else if (error.code === 'validation_error' && name !== null) name = await nameForRating(`That name cannot be used: ${error.message}`);
      else throw error;
    }
  }
}

async function start() {
  mountKeyStatus(byId('key-status'));
  if (!runId) {
    showMessage('This address names no run: ask for the link to the run you are to rate.');
    return;
  }
  try {
    /** @type {Rubric} */
    const rubric = await getJson('/rubric');
    const done = await openItems();
    renderRater();
    renderRubric(rubric);
    form = createRatingForm({
      rubric,
      onChange: (draft) => {
        const item = items?.item(at);
        if (!item) return;
        drafts.set(item.item_id, draft);
        fill(byId('item-state'), itemState(item));
      },
    });
    byId('rate-bar').hidden = false;
    byId('rate-layout').hidden = false;
    renderItem();
    if (done && items) fill(saveStatus, `You have rated all ${count(items.progress.total, 'item')}; any of them can be revised.`);
  } catch (error) {
    showMessage(
      error instanceof ApiError && error.code === 'no_answers_yet' ? 'The run has no answer to rate yet: come back once it has some.' : `Could not open the run for rating: ${describeError(error)}`,
    );
    return;
  }
  byId('rating-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void save();
  });
  previousButton.addEventListener('click', () => void goPrevious());
  nextButton.addEventListener('click', () => void goNext());
  document.addEventListener('keydown', onKey);
}

void start();
