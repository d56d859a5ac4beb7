import knownPages from './lexicon/known-pages.json' with { type: 'json' };
import { containsLabel, extractLabels, namesSegment } from './labels.js';
import type { TextFeatures } from './text-features.js';
import { normalizeText, splitSentences } from './tokens.js';

/** Page, button and setting names that exist: those the knowledge-base answers use. */
export interface KnownUiLabels {
  readonly segments: ReadonlySet<string>;
}

const PAGES: readonly string[] = knownPages.pages;

/** Quoted labels, path segments and known page names a text mentions, lower-cased. */
function uiNamesIn(normalized: string, labels: readonly string[][]): Set<string> {
  const names = new Set(labels.flat());
  for (const page of PAGES) if (containsLabel(normalized, page)) names.add(page);
  return names;
}

/** The UI labels and path segments found in knowledge-base answers (the training file's assistant turns). */
export function knownUiLabelsOf(texts: Iterable<string>): KnownUiLabels {
  const segments = new Set<string>();
  for (const text of texts) {
    const labels = splitSentences(text).flatMap(extractLabels);
    for (const name of uiNamesIn(normalizeText(text), labels)) segments.add(name);
  }
  return { segments };
}

export interface UiNames {
  verified: string[][];
  unverified: string[][];
}

/**
 * A label or path counts only when the knowledge base or the given reference names every segment of
 * it: an invented path ('Support Hub' > 'Order Wizard') reads like a step but sends the customer nowhere.
 */
export function checkUiNames(answer: TextFeatures, reference: TextFeatures | null, known: KnownUiLabels): UiNames {
  const exists = (segment: string) => known.segments.has(segment) || (reference !== null && namesSegment(reference, segment));
  const labelled = new Set(answer.labels.flat());
  const inPaths = new Set(answer.labels.filter((label) => label.length > 1).flat());
  // A quoted segment of a path ('Support Hub' > 'Order Wizard') is shown and checked once, as part of its path.
  const names = [
    ...answer.labels.filter((label) => label.length > 1 || !inPaths.has(label[0] as string)),
    ...PAGES.filter((page) => !labelled.has(page) && containsLabel(answer.normalized, page)).map((page) => [page]),
  ];
  const verified: string[][] = [];
  const unverified: string[][] = [];
  for (const name of names) (name.every(exists) ? verified : unverified).push(name);
  return { verified, unverified };
}

export const showLabel = (label: readonly string[]) => label.map((segment) => `'${segment}'`).join(' > ');
