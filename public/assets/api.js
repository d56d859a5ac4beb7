// The pages' one way to the JSON API: same origin, with the caller's key when the service asks for one.
// The key is asked for once per tab, kept in sessionStorage, and only ever sent in the Authorization header.
import { byId, fill, h } from './dom.js';
import { readStored, writeStored } from './web-storage.js';

const KEY_STORAGE = 'amazon-electronics-ft.api-key';
const KEY_CHANGED = 'api-key-changed';

/** The key when sessionStorage refuses to keep it (some private modes): it then lasts as long as the page. */
/** @type {string | null} */
let memoryKey = null;
const currentKey = () => storedKey() ?? memoryKey;

/** Whether this tab holds a key: once a call has gone through, whether the service asks for keys at all. */
export const hasKey = () => currentKey() !== null;

/** An error reply of the API, in its one shape, or a network failure (status 0). */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {number | null} [retryAfter] seconds, when the reply said
   */
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

const session = () => sessionStorage;

/** @returns {string | null} */
export function storedKey() {
  return readStored(session, KEY_STORAGE);
}

/** @param {string | null} key */
function storeKey(key) {
  writeStored(session, KEY_STORAGE, key);
  // Should storage refuse it (a private mode), the key lasts as long as this page.
  memoryKey = key;
  window.dispatchEvent(new Event(KEY_CHANGED));
}

/**
 * @param {Response} response
 * @returns {Promise<ApiError>}
 */
async function errorOf(response) {
  const retryAfter = Number(response.headers.get('retry-after')) || null;
  try {
    const body = /** @type {{ error?: { code?: string, message?: string } }} */ (await response.json());
    return new ApiError(response.status, body.error?.code ?? 'error', body.error?.message ?? response.statusText, retryAfter);
  } catch {
    return new ApiError(response.status, 'error', `${response.status} ${response.statusText}`, retryAfter);
  }
}

/**
 * Calls a path of the API, asking for a key when the service answers 401 and trying again with it.
 * @param {string} path a path of this origin, e.g. /evaluate?limit=20
 * @param {{ signal?: AbortSignal, method?: 'GET' | 'POST', json?: unknown }} [options] `json`, the body of a POST
 * @returns {Promise<Response>}
 */
async function authorizedFetch(path, { signal, method = 'GET', json } = {}) {
  for (;;) {
    const key = currentKey();
    /** @type {Record<string, string>} */
    const headers = {};
    if (key) headers.authorization = `Bearer ${key}`;
    if (json !== undefined) headers['content-type'] = 'application/json';
    const body = json === undefined ? undefined : JSON.stringify(json);
    let response;
    try {
      response = await fetch(path, { method, headers, body, signal, cache: 'no-store', credentials: 'omit', redirect: 'error' });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new ApiError(0, 'unreachable', 'The service cannot be reached. Is it running?');
    }
    if (response.status !== 401) {
      if (!response.ok) throw await errorOf(response);
      return response;
    }
    const refused = await errorOf(response);
    if (key) storeKey(null);
    await askForKey(key ? `That key was refused (${refused.message}) Enter another.` : 'This service needs an API key (one of its SERVICE_API_KEYS).');
  }
}

/**
 * @param {string} path
 * @param {{ signal?: AbortSignal }} [options]
 * @returns {Promise<any>} the reply's JSON
 */
export async function getJson(path, options) {
  return (await authorizedFetch(path, options)).json();
}

/**
 * POSTs a JSON body; the status tells a creation (201) from an update (200).
 * @param {string} path
 * @param {unknown} json
 * @returns {Promise<{ status: number, body: any }>}
 */
export async function postJson(path, json) {
  const response = await authorizedFetch(path, { method: 'POST', json });
  return { status: response.status, body: await response.json() };
}

/**
 * @param {string} path
 * @param {{ signal?: AbortSignal }} [options]
 * @returns {Promise<Blob>}
 */
export async function getBlob(path, options) {
  return (await authorizedFetch(path, options)).blob();
}

/**
 * Downloads a file of the API (a CSV, the Markdown summary) with the key, as a link would without one.
 * @param {string} path
 * @param {string} filename
 */
export async function download(path, filename) {
  const url = URL.createObjectURL(await getBlob(path));
  const link = h('a', { href: url, className: 'visually-hidden', attrs: { download: filename } });
  document.body.append(link);
  link.click();
  link.remove();
  // The browser has taken the file by the time the click returns; later is only for slow ones.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** @type {Promise<void> | null} */
let prompting = null;

/**
 * Shows the key form (once, however many requests were refused) and resolves when a key is entered.
 * @param {string} reason
 * @returns {Promise<void>}
 */
export function askForKey(reason) {
  prompting ??= /** @type {Promise<void>} */ (new Promise((resolve, reject) => {
    const { dialog, form, input, message } = keyDialog();
    message.textContent = reason;
    input.value = '';
    /** @param {Event} event */
    const submitted = (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (key === '') return;
      storeKey(key);
      input.value = '';
      done();
      resolve();
    };
    /** @param {Event} event */
    const cancelled = (event) => {
      event.preventDefault();
      done();
      reject(new ApiError(401, 'unauthorized', 'No API key was given: the service needs one to show its runs.'));
    };
    const cancelButton = byId('key-cancel');
    const done = () => {
      form.removeEventListener('submit', submitted);
      dialog.removeEventListener('cancel', cancelled);
      cancelButton.removeEventListener('click', cancelled);
      dialog.close();
    };
    form.addEventListener('submit', submitted);
    dialog.addEventListener('cancel', cancelled);
    cancelButton.addEventListener('click', cancelled);
    dialog.showModal();
    input.focus();
  })).finally(() => {
    prompting = null;
  });
  return prompting;
}

/** The key form, built once: a dialog form never navigates, so the key cannot end up in a URL. */
function keyDialog() {
  const existing = document.getElementById('key-dialog');
  if (!(existing instanceof HTMLDialogElement)) {
    const dialog = h(
      'dialog',
      { id: 'key-dialog', className: 'key-dialog', attrs: { 'aria-labelledby': 'key-title' } },
      h(
        'form',
        { id: 'key-form', attrs: { method: 'dialog' } },
        h('h2', { id: 'key-title' }, 'API key'),
        h('p', { id: 'key-message', className: 'key-message' }),
        h(
          'p',
          { className: 'hint' },
          'It is kept in this browser tab only (sessionStorage) and sent as the Authorization header, never in a URL.',
        ),
        h('label', { attrs: { for: 'key-input' } }, 'Key'),
        h('input', { id: 'key-input', type: 'password', attrs: { name: 'api-key', autocomplete: 'off', spellcheck: 'false', required: '' } }),
        h('div', { className: 'dialog-buttons' }, h('button', { type: 'submit', id: 'key-submit' }, 'Authorize'), h('button', { type: 'button', id: 'key-cancel' }, 'Cancel')),
      ),
    );
    document.body.append(dialog);
  }
  return {
    dialog: /** @type {HTMLDialogElement} */ (byId('key-dialog')),
    form: byId('key-form'),
    input: /** @type {HTMLInputElement} */ (byId('key-input')),
    message: byId('key-message'),
  };
}

/**
 * Shows in the page's header whether a key is held, with a way to enter or forget it.
 * @param {HTMLElement} container
 */
export function mountKeyStatus(container) {
  const render = () => {
    const held = currentKey() !== null;
    fill(
      container,
      h('span', { className: 'key-state' }, held ? 'API key: set for this tab' : 'API key: none'),
      ' ',
      held
        ? h('button', { type: 'button', className: 'link-button', id: 'key-forget', on: { click: () => storeKey(null) } }, 'Forget')
        : h('button', { type: 'button', className: 'link-button', id: 'key-enter', on: { click: () => void askForKey('Enter an API key (one of the service’s SERVICE_API_KEYS).').then(() => location.reload(), () => {}) } }, 'Enter key'),
    );
  };
  window.addEventListener(KEY_CHANGED, render);
  render();
}

/**
 * What a failed load says on the page, with what to do next.
 * @param {unknown} error
 */
export function describeError(error) {
  if (error instanceof ApiError) {
    const wait = error.retryAfter ? ` Retrying is possible in ${error.retryAfter} s.` : '';
    return `${error.message}${wait}`;
  }
  return error instanceof Error ? error.message : String(error);
}
