// Every page element is built here, and every piece of data goes in as a text node or a property: never as
// markup. The pages' Content-Security-Policy enforces it too (Trusted Types: `innerHTML = text` throws).

/**
 * @typedef {string | number | Node | null | undefined | false | Children} Child
 * @typedef {Array<Child>} Children
 * @typedef {{ className?: string, id?: string, title?: string, href?: string, type?: string, value?: string,
 *   hidden?: boolean, disabled?: boolean, colSpan?: number, dataset?: Record<string, string>,
 *   attrs?: Record<string, string>, on?: Record<string, EventListener> }} Props
 */

/**
 * An element with its properties and children; strings and numbers become text nodes.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props | null} [props]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props, ...children) {
  const element = document.createElement(tag);
  if (props) {
    const { dataset, attrs, on, ...plain } = props;
    Object.assign(element, plain);
    for (const [name, value] of Object.entries(dataset ?? {})) element.dataset[name] = value;
    for (const [name, value] of Object.entries(attrs ?? {})) element.setAttribute(name, value);
    for (const [name, listener] of Object.entries(on ?? {})) element.addEventListener(name, listener);
  }
  append(element, children);
  return element;
}

/**
 * @param {Node} parent
 * @param {Child[]} children
 */
function append(parent, children) {
  for (const child of children) {
    if (Array.isArray(child)) {
      append(parent, child);
      continue;
    }
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

/**
 * Replaces an element's children.
 * @param {Element} element
 * @param {...Child} children
 */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

const FOCUSABLE = 'a[href], button, input, select, textarea';

/**
 * Rebuilds `container` with `rebuild` and gives the focus back to the same control of the same row
 * (the nearest ancestor with `data-item-id`): a refresh every few seconds must not take the keyboard's
 * place away from the person reading.
 * @param {Element} container
 * @param {() => void} rebuild
 */
export function keepingFocus(container, rebuild) {
  const focused = document.activeElement;
  const row = focused instanceof HTMLElement && container.contains(focused) ? focused.closest('[data-item-id]') : null;
  const itemId = row instanceof HTMLElement ? row.dataset.itemId : undefined;
  const index = row && focused ? [...row.querySelectorAll(FOCUSABLE)].indexOf(focused) : -1;
  rebuild();
  if (itemId === undefined || index < 0) return;
  const again = [...container.querySelectorAll('[data-item-id]')].find((element) => element instanceof HTMLElement && element.dataset.itemId === itemId);
  const control = again?.querySelectorAll(FOCUSABLE)[index];
  if (control instanceof HTMLElement) control.focus();
}

/**
 * The element with this id, which the page's shell must have.
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @returns {T}
 */
export function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return /** @type {T} */ (element);
}

/**
 * A definition list from [term, description] pairs; pairs without a description are left out.
 * @param {Array<[string, Child]>} pairs
 */
export function definitions(pairs) {
  return h(
    'dl',
    { className: 'facts' },
    pairs.filter(([, value]) => value !== null && value !== undefined && value !== '').map(([term, value]) => h('div', null, h('dt', null, term), h('dd', null, value))),
  );
}
