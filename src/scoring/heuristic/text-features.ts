import { extractLabels, isWordChar } from './labels.js';
import { type Quantity, quantitiesOf } from './quantities.js';
import { type Token, isContent, normalizeText, splitSentences, tokensOf } from './tokens.js';

/** One sentence, read once: its tokens, and the numbers and UI labels it states. */
export interface Sentence {
  text: string;
  tokens: Token[];
  quantities: Quantity[];
  labels: string[][];
}

/** What the scorers need from one text, computed once per text. */
export interface TextFeatures {
  text: string;
  /** Lower-cased, quotes around labels removed, whitespace collapsed: the haystack for label matching. */
  normalized: string;
  sentences: Sentence[];
  /** Number of word tokens (after contractions are expanded). */
  words: number;
  /** Share of the tokens that are function words. */
  functionShare: number;
  stems: ReadonlySet<string>;
  quantities: Quantity[];
  /** Quoted UI labels and `A > B` paths, each as its lower-cased segments. */
  labels: string[][];
}

/** One sentence's tokens, quantities and labels; `index` is its place in the text. */
export function sentenceFeatures(text: string, index = 0): Sentence {
  const normalized = normalizeText(text);
  const tokens = tokensOf(normalized);
  return { text, tokens, quantities: quantitiesOf(normalized, tokens, index), labels: extractLabels(text) };
}

export function textFeatures(text: string): TextFeatures {
  const sentences = splitSentences(text).map((sentence, index) => sentenceFeatures(sentence, index));
  let words = 0;
  let stops = 0;
  const stems = new Set<string>();
  for (const sentence of sentences) {
    for (const token of sentence.tokens) {
      words += 1;
      if (token.stop) stops += 1;
      else if (isContent(token)) stems.add(token.stem);
    }
  }
  return {
    text,
    normalized: normalizeText(text).replace(/["']/g, (quote, offset: number, all: string) =>
      // Apostrophes inside words stay ("don't"); quote marks around labels go, so labels match unquoted mentions.
      quote === "'" && isWordChar(all[offset - 1]) && isWordChar(all[offset + 1]) ? quote : '',
    ),
    sentences,
    words,
    functionShare: words === 0 ? 0 : stops / words,
    stems,
    quantities: sentences.flatMap((sentence) => sentence.quantities),
    labels: sentences.flatMap((sentence) => sentence.labels),
  };
}
