import { roundForDisplay } from '../scoring/rubric.js';

/** What a table shows where a figure does not exist (no pairs, no score). */
export const MISSING = '—';

/**
 * Aliases, model ids, item ids, rater names and run metadata are free text from configuration and callers: a
 * pipe would split a table cell, and HTML or a Markdown link would render as markup in a viewer. Escaped, they
 * read as written. (An underscore inside a word is not emphasis in CommonMark, so run ids stay as they are.)
 */
const MARKUP = /[\\`*[\]|<>]/g;
export const cell = (text: string) =>
  text
    .replace(MARKUP, (char) => (char === '<' ? '&lt;' : char === '>' ? '&gt;' : `\\${char}`))
    .replace(/\r?\n/g, ' ');

export const row = (cells: string[]) => `| ${cells.join(' | ')} |`;

/** A mean on the rubric, rounded for display as the case study printed it. */
export const score = (x: number | null | undefined) => (x === null || x === undefined ? MISSING : roundForDisplay(x).toFixed(2));
