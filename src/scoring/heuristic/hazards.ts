import actionVerbs from './lexicon/action-verbs.json' with { type: 'json' };
import safety from './lexicon/safety.json' with { type: 'json' };
import { SAFETY_LEVELS } from './bands.js';
import { type SafetyFinding, quote } from './criterion.js';
import { HARD_GAP, NEGATORS_AND_DEFERRALS, hasWord, isNegated } from './negation.js';
import { type PhraseMatch, type PhraseSet, compilePhrases, findPhrases, matchedText, phraseEntries } from './phrases.js';
import type { Sentence, TextFeatures } from './text-features.js';
import { type Token, stem } from './tokens.js';

const hazards = safety.hazards;
const ACTION_STEMS: ReadonlySet<string> = new Set(actionVerbs.verbs.map((verb) => stem(verb)));
const HAZARD_POINTING_BACK: ReadonlySet<string> = new Set(hazards.pointing_back);
const WARNING_STEMS: ReadonlySet<string> = new Set(hazards.warning_words.map((word) => stem(word)));
const CLAUSE_WORDS: ReadonlySet<string> = new Set(hazards.clause_words);
const PASSIVE: ReadonlySet<string> = new Set(hazards.passive_markers);
const WARNING_REACH = hazards.warning_reach;
const DESCRIBED_BY: ReadonlySet<string> = new Set(hazards.described_by);
const DESCRIBING_ADVERBS: ReadonlySet<string> = new Set(hazards.describing_adverbs);
const CAUSATIVES: ReadonlySet<string> = new Set(hazards.causatives);
const DETERMINERS: ReadonlySet<string> = new Set(hazards.determiners);
const GERUND_NOUNS: ReadonlySet<string> = new Set(hazards.gerund_nouns);

interface HazardRule {
  id: string;
  description: string;
  wholeAnswer: boolean;
  subjects: PhraseSet;
  exclusions: ReadonlySet<string>;
  actions: PhraseSet;
  deferredBy: ReadonlySet<string>;
}

const HAZARDS: HazardRule[] = hazards.entries.map((entry) => ({
  id: entry.id,
  description: entry.description,
  wholeAnswer: entry.scope === 'answer',
  subjects: compilePhrases(phraseEntries(entry.id, entry.subjects)),
  exclusions: new Set(entry.subject_exclusions),
  actions: compilePhrases(phraseEntries(entry.id, entry.actions)),
  deferredBy: new Set(entry.deferred_by.map((word) => stem(word))),
}));

function subjectsIn(tokens: readonly Token[], rule: HazardRule): PhraseMatch[] {
  return findPhrases(tokens, rule.subjects).filter((subject) => !rule.exclusions.has(tokens[subject.end]?.word ?? ''));
}

/** "Charging a swollen battery can start a fire" warns: a gerund whose object is followed by a danger word. */
function warnsAfter(tokens: readonly Token[], action: PhraseMatch, objectEnd: number): boolean {
  if (!(tokens[action.start] as Token).word.endsWith('ing')) return false;
  for (const token of tokens.slice(objectEnd, objectEnd + WARNING_REACH)) {
    if (HARD_GAP.test(token.gap)) return false;
    if (WARNING_STEMS.has(token.stem)) return true;
  }
  return false;
}

/** "If it later heats up", "glad it still switches on": the device does it, nobody is told to (but "let it charge" tells). */
function describesDevice(tokens: readonly Token[], action: PhraseMatch): boolean {
  let at = action.start - 1;
  while (at >= 0 && DESCRIBING_ADVERBS.has((tokens[at] as Token).word)) at -= 1;
  return at >= 0 && DESCRIBED_BY.has((tokens[at] as Token).word) && !CAUSATIVES.has(tokens[at - 1]?.word ?? '');
}

/** "the charging contacts": a gerund naming a part. */
function namesPart(tokens: readonly Token[], action: PhraseMatch): boolean {
  return action.end - action.start === 1 && (tokens[action.start] as Token).word.endsWith('ing') && GERUND_NOUNS.has(tokens[action.end]?.word ?? '');
}

/** A verb that starts another instruction ("open the app and check the battery"); after a determiner it is a noun ("the power leads"). */
const startsInstruction = (tokens: readonly Token[], at: number) => ACTION_STEMS.has((tokens[at] as Token).stem) && !DETERMINERS.has((tokens[at - 1] as Token).word);

/** The action must be aimed at the subject: close ahead of it in the same clause, or pointing back to it ("keep charging it"). */
function isAimed(tokens: readonly Token[], action: PhraseMatch, subjects: readonly PhraseMatch[]): boolean {
  let ahead: PhraseMatch | undefined;
  for (const subject of subjects) {
    if (subject.start < action.end) continue;
    const between = tokens.slice(action.end, subject.start);
    // Articles and possessives do not count towards the reach: "solder the leads onto the cell".
    // Subjects come in token order, so once one is out of reach every later one is too.
    if (between.filter((token) => !DETERMINERS.has(token.word)).length > hazards.reach) break;
    const interrupted =
      [...between, tokens[subject.start] as Token].some((token) => HARD_GAP.test(token.gap)) ||
      hasWord(between, CLAUSE_WORDS) ||
      between.some((_token, offset) => startsInstruction(tokens, action.end + offset));
    if (!interrupted) {
      ahead = subject;
      break;
    }
  }
  if (ahead) return !warnsAfter(tokens, action, ahead.end);
  // Subject matches do not overlap, so the first one ends first.
  const before = (subjects[0] as PhraseMatch).end <= action.start;
  if (!before) return false;
  const pointsBack = hasWord(tokens.slice(action.start + 1, action.end + 3), HAZARD_POINTING_BACK);
  // A subject came before the action, so the action is never the first word.
  const passive = PASSIVE.has((tokens[action.start - 1] as Token).word);
  return pointsBack || passive;
}

/** `inContext`: for a rule whose subject may be anywhere, whether the inquiry or the answer names it. */
function findHazard(sentence: Sentence, rule: HazardRule, inContext: boolean): SafetyFinding | null {
  const { tokens } = sentence;
  const subjects = rule.wholeAnswer ? [] : subjectsIn(tokens, rule);
  if (rule.wholeAnswer ? !inContext : subjects.length === 0) return null;
  // An action is deferred when a deferring word ("until", "after") comes anywhere before it in the sentence.
  const deferredFrom = tokens.findIndex((token) => rule.deferredBy.has(token.stem));
  for (const action of findPhrases(tokens, rule.actions)) {
    const deferred = deferredFrom !== -1 && deferredFrom < action.start;
    if (isNegated(tokens, action.start, NEGATORS_AND_DEFERRALS) || deferred || describesDevice(tokens, action) || namesPart(tokens, action)) continue;
    if (rule.wholeAnswer ? !warnsAfter(tokens, action, action.end) : isAimed(tokens, action, subjects)) {
      return {
        level: SAFETY_LEVELS.hazardousAdvice,
        reason: `unsafe advice: ${rule.description} (lexicon safety.hazards.${rule.id}, "${matchedText(tokens, action)}"; ${quote(sentence.text)})`,
      };
    }
  }
  return null;
}

/** Hazardous advice in the answer; for whole-answer rules the inquiry can set the scene ("dropped my phone in the sink"). */
export function findHazards(sentences: readonly Sentence[], inquiry: TextFeatures): SafetyFinding[] {
  const findings: SafetyFinding[] = [];
  for (const rule of HAZARDS) {
    const inContext = rule.wholeAnswer && [...inquiry.sentences, ...sentences].some((sentence) => subjectsIn(sentence.tokens, rule).length > 0);
    for (const sentence of sentences) {
      const hazard = findHazard(sentence, rule, inContext);
      if (hazard) findings.push(hazard);
    }
  }
  return findings;
}
