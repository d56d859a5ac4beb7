import { GAMING_LIMITS, GAMING_PENALTIES } from './bands.js';
import { percent, plural, quote } from './criterion.js';
import actionVerbs from './lexicon/action-verbs.json' with { type: 'json' };
import filler from './lexicon/filler.json' with { type: 'json' };
import functionWords from './lexicon/function-words.json' with { type: 'json' };
import { compilePhrases, findPhrases, phraseEntries } from './phrases.js';
import type { Sentence, TextFeatures } from './text-features.js';
import { contentStemsOf, stem } from './tokens.js';

/**
 * Ways to raise word overlap without helping the customer. Each is measured on the answer alone or
 * against the given reference, and each criterion decides what it costs (bands.ts, GAMING_PENALTIES).
 */
export interface GamingSignals {
  /** The same sentence or run of words again and again. */
  repetition: { repeatedShare: number; example: string } | null;
  /** Keywords without the grammar of sentences. */
  keywordSoup: { functionShare: number } | null;
  /** Much longer than the reference with little that relates to it, or full of boilerplate. */
  padding: { reason: string } | null;
}

const FILLER = compilePhrases(phraseEntries('filler', filler.phrases));
const ACTION_STEMS: ReadonlySet<string> = new Set(actionVerbs.verbs.map((verb) => stem(verb)));
const AUXILIARIES: ReadonlySet<string> = new Set(functionWords.auxiliaries);

function findRepetition(answer: TextFeatures): GamingSignals['repetition'] {
  const { ngram, minRepeatedShare } = GAMING_LIMITS.repetition;
  const seen = new Set<string>();
  let total = 0;
  let repeated = 0;
  let example: string | null = null;
  for (const sentence of answer.sentences) {
    const words = sentence.tokens.map((token) => token.word);
    for (let at = 0; at + ngram <= words.length; at += 1) {
      const gram = words.slice(at, at + ngram).join(' ');
      total += 1;
      if (seen.has(gram)) {
        repeated += 1;
        example ??= sentence.text;
      } else {
        seen.add(gram);
      }
    }
  }
  // No repeated run (which also covers answers too short to have one).
  if (example === null) return null;
  const repeatedShare = repeated / total;
  return repeatedShare >= minRepeatedShare ? { repeatedShare, example } : null;
}

/** A sentence has a verb when it has an auxiliary, an instruction verb or a past participle: the skeleton of a clause. */
function hasVerb(sentence: Sentence): boolean {
  return sentence.tokens.some((token) => AUXILIARIES.has(token.word) || ACTION_STEMS.has(token.stem) || /[a-z]{3}ed$/.test(token.word));
}

function findKeywordSoup(answer: TextFeatures): GamingSignals['keywordSoup'] {
  const { maxFunctionShare, minWords, minWordsPerSentence, maxVerblessShare } = GAMING_LIMITS.keywordSoup;
  if (answer.words < minWords || answer.functionShare >= maxFunctionShare) return null;
  // A terse numbered list ("2. Select the headphones.") is short on function words too, but it is made of short sentences with verbs.
  const sentences = answer.sentences.filter((sentence) => sentence.tokens.length >= 2);
  const wordsPerSentence = answer.words / Math.max(1, sentences.length);
  const verbless = sentences.filter((sentence) => !hasVerb(sentence)).length / Math.max(1, sentences.length);
  return wordsPerSentence >= minWordsPerSentence || verbless > maxVerblessShare ? { functionShare: answer.functionShare } : null;
}

function findPadding(answer: TextFeatures, reference: TextFeatures | null): GamingSignals['padding'] {
  const limits = GAMING_LIMITS;
  let fillerPhrases = 0;
  let fillerWords = 0;
  let relatedWords = 0;
  for (const sentence of answer.sentences) {
    const matches = findPhrases(sentence.tokens, FILLER);
    fillerPhrases += matches.length;
    for (const match of matches) fillerWords += match.end - match.start;
    if (reference !== null) {
      let shared = 0;
      for (const stem of new Set(contentStemsOf(sentence.tokens))) if (reference.stems.has(stem)) shared += 1;
      if (shared >= limits.padding.minSharedStems && matches.length === 0) relatedWords += sentence.tokens.length;
    }
  }
  const fillerShare = fillerWords / Math.max(1, answer.words);
  if (fillerPhrases >= limits.filler.minPhrases || (fillerPhrases >= limits.filler.minPhrasesForShare && fillerShare >= limits.filler.minShare)) {
    return { reason: `${plural(fillerPhrases, 'filler phrase')} (${percent(fillerShare)} of the words)` };
  }
  if (reference === null || reference.words < limits.padding.minReferenceWords) return null;
  const lengthRatio = answer.words / reference.words;
  const relatedShare = relatedWords / Math.max(1, answer.words);
  if (lengthRatio >= limits.padding.minLengthRatio && relatedShare <= limits.padding.maxRelatedShare) {
    return { reason: `${lengthRatio.toFixed(1)} times the reference's length, ${percent(relatedShare)} of it about the reference` };
  }
  return null;
}

export function detectGaming(answer: TextFeatures, reference: TextFeatures | null): GamingSignals {
  return { repetition: findRepetition(answer), keywordSoup: findKeywordSoup(answer), padding: findPadding(answer, reference) };
}

type GamingSignal = keyof GamingSignals;
type PenalisedCriterion = 'accuracy' | 'completeness' | 'actionability';

/** The signals found, in the rationale's words. */
function gamingFindings(signals: GamingSignals): Array<{ signal: GamingSignal; text: string }> {
  const findings: Array<{ signal: GamingSignal; text: string }> = [];
  if (signals.repetition) {
    const { repeatedShare, example } = signals.repetition;
    findings.push({ signal: 'repetition', text: `repeats itself (${percent(repeatedShare)} of its word runs are repeats, e.g. ${quote(example)})` });
  }
  if (signals.keywordSoup) {
    findings.push({ signal: 'keywordSoup', text: `keywords without sentences (${percent(signals.keywordSoup.functionShare)} function words; running text has about 40%)` });
  }
  if (signals.padding) findings.push({ signal: 'padding', text: `padded: ${signals.padding.reason}` });
  return findings;
}

/** Applies what each signal costs this criterion (bands.ts GAMING_PENALTIES) and says why. */
export function penaliseGaming(criterion: PenalisedCriterion, level: number, signals: GamingSignals): { score: number; note: string } {
  let score = level;
  const reasons: string[] = [];
  for (const finding of gamingFindings(signals)) {
    const penalty = GAMING_PENALTIES[finding.signal][criterion];
    const penalised = Math.max(1, Math.min(penalty.cap, score - penalty.minus));
    if (penalised < score) reasons.push(finding.text);
    score = penalised;
  }
  return { score, note: reasons.length === 0 ? '' : ` Lowered from ${level} to ${score}: ${reasons.join('; ')}.` };
}
