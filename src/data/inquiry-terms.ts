import { stemmer } from 'stemmer';
import { eng as ENGLISH_STOPWORDS } from 'stopword';
import { normalizeInquiry } from './normalize-inquiry.js';

// Conversational filler customers add to any question ("right now", "please help"), contractions
// left over once normalizeInquiry drops the apostrophe, and "amazon": every inquiry this model sees
// is about Amazon, so the word names the store, not the topic ("a router from Amazon").
const FILLER_WORDS = [
  'right', 'now', 'please', 'pls', 'hi', 'hello', 'hey', 'thanks', 'thank', 'just', 'really', 'still', 'want', 'need',
  'like', 'know', 'help', 'asap', 'anymore', 'ok', 'okay', 'im', 'ive', 'id', 'ill', 'youre', 'its', 'thats', 'theres',
  'whats', 'wheres', 'hows', 'whos', 'amazon',
];
const STOPWORDS = new Set([...ENGLISH_STOPWORDS, ...FILLER_WORDS]);

// "won't pair", "doesn't pair" and "not pairing" report the same problem, and a problem report is
// not the how-to question without the negation, so every negation becomes one term.
const NEGATIONS = new Set([
  'not', 'no', 'never', 'cannot', 'cant', 'wont', 'dont', 'doesnt', 'didnt', 'isnt', 'arent', 'wasnt', 'werent',
  'havent', 'hasnt', 'hadnt', 'couldnt', 'shouldnt', 'wouldnt', 'aint',
]);
const NEGATION = 'not';

/** Shorter stems are left exact: one letter turns "model" into "modem" and "remot" into "remov". */
export const MIN_TYPO_TERM_LENGTH = 6;

/** The content terms of an inquiry, each once: normalised, stopwords out, negations folded into "not", Porter-stemmed. */
export function inquiryTerms(inquiry: string): string[] {
  const terms = new Set<string>();
  for (const word of normalizeInquiry(inquiry).split(' ')) {
    if (NEGATIONS.has(word)) terms.add(NEGATION);
    else if (word !== '' && !STOPWORDS.has(word)) terms.add(stemmer(word));
  }
  return [...terms];
}

/** One edit (a letter added, dropped, changed, or two neighbours swapped) apart: a typo of each other. */
export function oneTypoApart(a: string, b: string): boolean {
  if (a === b || a.length < MIN_TYPO_TERM_LENGTH || b.length < MIN_TYPO_TERM_LENGTH) return false;
  if (Math.abs(a.length - b.length) > 1) return false;
  let start = 0;
  while (a[start] === b[start]) start += 1;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA -= 1;
    endB -= 1;
  }
  const restA = a.slice(start, endA);
  const restB = b.slice(start, endB);
  // What is left after the common start and end is the edit itself.
  if (restA.length + restB.length === 1) return true;
  if (restA.length === 1 && restB.length === 1) return true;
  return restA.length === 2 && restB.length === 2 && restA[0] === restB[1] && restA[1] === restB[0];
}

/**
 * The term itself and every way of dropping one letter: two terms are one typo apart only if these
 * sets meet, so an index keyed by them finds typo partners without comparing every pair.
 */
export function typoKeys(term: string): string[] {
  if (term.length < MIN_TYPO_TERM_LENGTH) return [];
  const keys = new Set([term]);
  for (let position = 0; position < term.length; position += 1) keys.add(term.slice(0, position) + term.slice(position + 1));
  return [...keys];
}
