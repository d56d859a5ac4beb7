import type { TextFeatures } from './text-features.js';
import { normalizeText, straightenQuotes } from './tokens.js';

// A single quote opens a label only after a space or bracket, so apostrophes ("don't", "customers'") never do.
const QUOTED_LABEL = /"([^"\n]{2,60})"|(?:^|(?<=[\s(\[]))'([^'\n]{2,60})'(?=[\s.,;:!?)\]]|$)/g;
const PATH_SEPARATOR = /\s*(?:>|›|→)\s*/;
const LABEL_EDGE_PUNCTUATION = /^[\s"'.,;:!?()]+|[\s"'.,;:!?()]+$/g;

const cleanLabel = (label: string) => normalizeText(label).replace(LABEL_EDGE_PUNCTUATION, '');

/** Quoted labels ('Your Orders') and navigation paths (Settings > Bluetooth), as lower-cased segments. */
export function extractLabels(sentence: string): string[][] {
  const labels: string[][] = [];
  const straightened = straightenQuotes(sentence);
  for (const match of straightened.matchAll(QUOTED_LABEL)) {
    const label = cleanLabel(match[1] ?? (match[2] as string));
    if (label !== '') labels.push([label]);
  }
  if (PATH_SEPARATOR.test(straightened)) labels.push(...paths(straightened.split(PATH_SEPARATOR)));
  return labels;
}

const SEGMENT_STOP = /^(?:and|or|to|then|the|a|an|for|on|in|of|if|with|until|from|select|tap|click|choose|open|go)$/i;
/** A part between two arrows that runs on into a clause ("Echo & Alexa, select the device, or use Your Account") ends one path and may start the next. */
const CLAUSE_IN_PART = /[,;:]|(?:\S+\s+){5,}\S/;

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
    const segments = current.filter((segment) => segment !== '');
    if (segments.length > 1) found.push(segments);
  };
  parts.slice(1).forEach((part, index) => {
    const last = index === parts.length - 2;
    if (last || !CLAUSE_IN_PART.test(part)) {
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

/** Whether a text names a label or every segment of a path, quoted or not. */
export const labelFound = (text: TextFeatures, label: readonly string[]) => label.every((segment) => containsLabel(text.normalized, segment));
