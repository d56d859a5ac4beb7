// The browser's storage, which may refuse (some private modes, storage turned off): a refusal reads as nothing
// stored and writes nothing, and the page goes on with what it holds in memory.

/**
 * @param {() => Storage} area a function, since even naming `sessionStorage` throws where storage is off
 * @param {string} name
 * @returns {string | null}
 */
export function readStored(area, name) {
  try {
    return area().getItem(name);
  } catch {
    return null;
  }
}

/**
 * @param {() => Storage} area
 * @param {string} name
 * @param {string | null} value null removes it
 */
export function writeStored(area, name, value) {
  try {
    if (value === null) area().removeItem(name);
    else area().setItem(name, value);
  } catch {
    // Refused: nothing is kept beyond this page.
  }
}
