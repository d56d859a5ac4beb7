import type { TextFeatures } from './text-features.js';
import { normalizeText, straightenQuotes } from './tokens.js';

// A single quote opens a label only after a space or bracket, so apostrophes ("don't", "customers'") never do.
const QUOTED_LABEL = /"([^"\n]{2,60})"|(?:^|(?<=[\s(\[]))'([^'\n]{2,60})'(?=[\s.,;:!?)\]]|$)/g;
const PATH_ARROW = /[>›→]/;
const LABEL_EDGE = /[\s"'.,;:!?()]/;
/**
 * A UI name longer than this is prose, not a name; quoted labels are at most this long already. The cap
 * also bounds the cost of looking a label up in a text (labelFound).
 */
const MAX_LABEL_CHARS = 60;
/**
 * A text is looked up for at most this many distinct label segments; later ones count as not found.
 * Support answers name a handful of pages; the cap keeps a text made of quoted words linear to check.
 */
export const MAX_LABEL_LOOKUPS = 100;

/** Trims edge punctuation with a scan: the regex /[...]+$/ backtracks quadratically on a long run of it mid-text. */
function trimLabelEdges(label: string): string {
  let start = 0;
  let end = label.length;
  while (start < end && LABEL_EDGE.test(label[start] as string)) start += 1;
  while (end > start && LABEL_EDGE.test(label[end - 1] as string)) end -= 1;
  return label.slice(start, end);
}

const cleanLabel = (label: string) => trimLabelEdges(normalizeText(label));

/** Quoted labels ('Your Orders') and navigation paths (Settings > Bluetooth), as lower-cased segments. */
export function extractLabels(sentence: string): string[][] {
  const labels: string[][] = [];
  const straightened = straightenQuotes(sentence);
  for (const match of straightened.matchAll(QUOTED_LABEL)) {
    const label = cleanLabel(match[1] ?? (match[2] as string));
    if (label !== '') labels.push([label]);
  }
  // Split on the arrow, then trim: a regex with \s* around the arrow rescans every run of spaces from each of its positions.
  if (PATH_ARROW.test(straightened)) labels.push(...paths(straightened.split(PATH_ARROW).map((part) => part.trim())));
  return labels;
}

const SEGMENT_STOP = /^(?:and|or|to|then|the|a|an|for|on|in|of|if|with|until|from|select|tap|click|choose|open|go)$/i;
/** A part between two arrows that runs on into a clause ("Echo & Alexa, select the device, or use Your Account") ends one path and may start the next. */
const CLAUSE_IN_PART = /[,;:]/;
const MAX_PART_WORDS = 5;

/** Punctuation, or more than five words: counted in one pass, where /(?:\S+\s+){5,}\S/ backtracks through every long word. */
function isClause(part: string): boolean {
  if (CLAUSE_IN_PART.test(part)) return true;
  let words = 0;
  for (let at = 0; at < part.length; at += 1) {
    if (/\S/.test(part[at] as string) && (at === 0 || /\s/.test(part[at - 1] as string))) words += 1;
  }
  return words > MAX_PART_WORDS;
}

const wordsOf = (part: string) => part.replace(/["']/g, ' ').split(/\s+/).filter((token) => token !== '');

/** The clause before an arrow ends with the first segment: its trailing Capitalised words ("open Your Account"). */
function firstSegment(part: string): string {
  const tokens = wordsOf(part);
  const start = tokens.findLastIndex((token) => !/^[A-Z&]/.test(token) || SEGMENT_STOP.test(token)) + 1;
  return cleanLabel(tokens.slice(start).join(' '));
}

/** The text after an arrow runs on into the sentence: the segment stops at punctuation or a connecting word. */
function lastSegment(part: string): string {
  const picked: string[] = [];
  for (const token of wordsOf(part).slice(0, 4)) {
    if (picked.length > 0 && SEGMENT_STOP.test(token)) break;
    picked.push(token);
    if (/[,;:.!?)]$/.test(token)) break;
  }
  return cleanLabel(picked.join(' '));
}

function paths(parts: string[]): string[][] {
  const found: string[][] = [];
  let current = [firstSegment(parts[0] as string)];
  const close = () => {
    const segments = current.filter((segment) => segment !== '' && segment.length <= MAX_LABEL_CHARS);
    if (segments.length > 1) found.push(segments);
  };
  parts.slice(1).forEach((part, index) => {
    const last = index === parts.length - 2;
    if (last || !isClause(part)) {
      current.push(last ? lastSegment(part) : cleanLabel(part));
      return;
    }
    current.push(lastSegment(part));
    close();
    current = [firstSegment(part)];
  });
  close();
  return found;
}

export const isWordChar = (char: string | undefined) => char !== undefined && /[a-z0-9]/.test(char);

/** Whether `label` occurs in `haystack` as whole words. */
export function containsLabel(haystack: string, label: string): boolean {
  let from = haystack.indexOf(label);
  while (from !== -1) {
    if (!isWordChar(haystack[from - 1]) && !isWordChar(haystack[from + label.length])) return true;
    from = haystack.indexOf(label, from + 1);
  }
  return false;
}

const LOOKUPS = new WeakMap<TextFeatures, Map<string, boolean>>();

/** Whether a text names a segment as whole words: each distinct segment is looked up once per text, up to MAX_LABEL_LOOKUPS. */
export function namesSegment(text: TextFeatures, segment: string): boolean {
  let lookups = LOOKUPS.get(text);
  if (!lookups) {
    lookups = new Map();
    LOOKUPS.set(text, lookups);
  }
  let found = lookups.get(segment);
  if (found === undefined) {
    found = lookups.size < MAX_LABEL_LOOKUPS && containsLabel(text.normalized, segment);
    lookups.set(segment, found);
  }
  return found;
}

/** Whether a text names a label or every segment of a path, quoted or not. */
export const labelFound = (text: TextFeatures, label: readonly string[]) => label.every((segment) => namesSegment(text, segment));
