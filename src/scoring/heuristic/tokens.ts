import { stemmer } from 'stemmer';
import { eng as ENGLISH_STOPWORDS } from 'stopword';
import functionWords from './lexicon/function-words.json' with { type: 'json' };

/**
 * The heuristic's one text pipeline: every criterion and every lexicon sees the same tokens.
 * Words are lower-cased with contractions expanded ("don't" -> "do not"), stemmed with the Porter
 * stemmer and marked as stopwords with the `stopword` list, as the knowledge base does, plus our
 * function words (lexicon/function-words.json).
 */
export interface Token {
  word: string;
  stem: string;
  /** A function word (article, pronoun, auxiliary, preposition, negator): no topic of its own. */
  stop: boolean;
  /** Digits or a number word ("6", "six"). */
  number: boolean;
  /** Punctuation between the previous token and this one ("," ";" ":" "(" ">"), each mark once, or "" when there is none. */
  gap: string;
  /** Offset in the normalized text the token came from. */
  start: number;
}

/** Number words read as numbers: in quantities ("thirty days") and in a phrase's `#` slot ("six-digit code"). */
export const WORD_NUMBERS: Record<string, number> = {
  one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10,
  twelve: 12, fourteen: 14, fifteen: 15, twenty: 20, thirty: 30, forty: 40, sixty: 60, ninety: 90,
};

const STOPWORDS: ReadonlySet<string> = new Set([...ENGLISH_STOPWORDS, ...functionWords.extra_stopwords]);
const CONTRACTIONS: Readonly<Record<string, string[]>> = functionWords.contractions;
const CONTRACTION_SUFFIXES = Object.entries(functionWords.contraction_suffixes);

// Stemming is the costliest step per token; support answers reuse a small vocabulary, so a bounded cache pays.
const STEM_CACHE = new Map<string, string>();
const STEM_CACHE_LIMIT = 50_000;

export function stem(word: string): string {
  let stemmed = STEM_CACHE.get(word);
  if (stemmed === undefined) {
    stemmed = stemmer(word);
    if (STEM_CACHE.size >= STEM_CACHE_LIMIT) STEM_CACHE.clear();
    STEM_CACHE.set(word, stemmed);
  }
  return stemmed;
}

const CURLY_QUOTES = /[‘’“”]/g;
export const straightenQuotes = (text: string) => text.replace(CURLY_QUOTES, (quote) => (quote === '‘' || quote === '’' ? "'" : '"'));

export function normalizeText(text: string): string {
  return straightenQuotes(text).toLowerCase().replace(/\s+/g, ' ').trim();
}

// Numbers keep their separators ("1,000", "3.5") so that a comma inside a number is not read as a clause break.
const TOKEN_PATTERN = /(\d+(?:[.,]\d+)+|[a-z0-9]+(?:'[a-z]+)?)|([,;:!?()>›→])/g;

/** The words of a text as the pipeline sees them: lower-cased, contractions expanded, possessive 's dropped. */
function expandWord(raw: string): string[] {
  const whole = CONTRACTIONS[raw];
  if (whole) return whole;
  const apostrophe = raw.indexOf("'");
  if (apostrophe === -1) return [raw];
  for (const [suffix, expansion] of CONTRACTION_SUFFIXES) {
    // A bare "n't" has no word before it.
    if (raw.endsWith(suffix)) return [raw.slice(0, raw.length - suffix.length), expansion].filter((word) => word !== '');
  }
  return [raw.slice(0, apostrophe)];
}

export function tokensOf(normalized: string): Token[] {
  const tokens: Token[] = [];
  let gap = '';
  for (const match of normalized.matchAll(TOKEN_PATTERN)) {
    const raw = match[1];
    if (raw === undefined) {
      // Only which marks stand between two words matters; keeping each once bounds every test of a gap.
      if (!gap.includes(match[0])) gap += match[0];
      continue;
    }
    for (const word of expandWord(raw)) {
      tokens.push({ word, stem: stem(word), stop: STOPWORDS.has(word), number: /^\d/.test(word) || Object.hasOwn(WORD_NUMBERS, word), gap, start: match.index });
      gap = '';
    }
  }
  return tokens;
}

export const isContent = (token: Token) => !token.stop && (token.word.length > 1 || /\d/.test(token.word));

export function contentStemsOf(tokens: readonly Token[]): string[] {
  const stems: string[] = [];
  for (const token of tokens) if (isContent(token)) stems.push(token.stem);
  return stems;
}

const SENTENCE_BREAK = /(?<=[.!?])\s+(?=["'(\[]?[A-Z0-9])|\n+/;

export function splitSentences(text: string): string[] {
  return text
    .split(SENTENCE_BREAK)
    .map((sentence) => sentence.trim())
    .filter((sentence) => sentence !== '');
}
