import { type Token, stem } from './tokens.js';

/**
 * Lexicon phrases are matched on stems, so "open", "opens" and "opening" are one entry. A phrase is
 * words separated by spaces, where a word may list alternatives ("swollen|bulging"), `*` skips up to
 * three words ("read * manual" matches "read the user manual"), `#` is any number ("# digit code"),
 * and a leading `^` anchors the phrase at the start of the sentence.
 */
export interface PhraseEntry {
  /** Names the lexicon entry in rationales, e.g. "safety.sensitive_data.one_time_code". */
  id: string;
  phrase: string;
}

export interface PhraseMatch {
  id: string;
  phrase: string;
  /** Token indices, end exclusive. */
  start: number;
  end: number;
}

type Slot = { kind: 'word'; stems: ReadonlySet<string> } | { kind: 'gap' } | { kind: 'number' };

interface CompiledPhrase {
  id: string;
  phrase: string;
  anchored: boolean;
  slots: Slot[];
}

export interface PhraseSet {
  /** Phrases indexed by the stems their first word may have, so a sentence is scanned once. */
  byFirstStem: ReadonlyMap<string, CompiledPhrase[]>;
  numberFirst: CompiledPhrase[];
  size: number;
}

const MAX_GAP = 3;
const NONE: readonly CompiledPhrase[] = [];
// A gap never reaches over a clause break: "read it; the manual" is two thoughts.
const HARD_GAP = /[;:!?()]/;

function compile(entry: PhraseEntry): CompiledPhrase {
  const parts = entry.phrase.trim().toLowerCase().split(/\s+/);
  const anchored = parts[0] === '^';
  const slots: Slot[] = (anchored ? parts.slice(1) : parts).map((part) => {
    if (part === '*') return { kind: 'gap' };
    if (part === '#') return { kind: 'number' };
    return { kind: 'word', stems: new Set(part.split('|').map((word) => stem(word))) };
  });
  const first = slots[0];
  if (first === undefined || first.kind === 'gap' || slots.at(-1)?.kind === 'gap') {
    throw new Error(`lexicon phrase ${JSON.stringify(entry.phrase)} (${entry.id}) must start and end with a word`);
  }
  return { id: entry.id, phrase: entry.phrase, anchored, slots };
}

export function compilePhrases(entries: Iterable<PhraseEntry>): PhraseSet {
  const byFirstStem = new Map<string, CompiledPhrase[]>();
  const numberFirst: CompiledPhrase[] = [];
  let size = 0;
  for (const entry of entries) {
    const phrase = compile(entry);
    size += 1;
    const first = phrase.slots[0] as Exclude<Slot, { kind: 'gap' }>;
    if (first.kind === 'number') {
      numberFirst.push(phrase);
      continue;
    }
    for (const firstStem of first.stems) {
      const list = byFirstStem.get(firstStem) ?? [];
      list.push(phrase);
      byFirstStem.set(firstStem, list);
    }
  }
  return { byFirstStem, numberFirst, size };
}

/** Phrase entries from a list of phrases that name themselves. */
export const phraseEntries = (prefix: string, phrases: readonly string[]): PhraseEntry[] => phrases.map((phrase) => ({ id: `${prefix}: ${phrase}`, phrase }));


/** The end (exclusive) of the phrase's match from `at`, or -1. */
function matchFrom(tokens: readonly Token[], slots: readonly Slot[], slot: number, at: number): number {
  if (slot === slots.length) return at;
  const current = slots[slot] as Slot;
  if (current.kind === 'gap') {
    for (let skip = 0; skip <= MAX_GAP && at + skip <= tokens.length; skip += 1) {
      if (skip > 0 && HARD_GAP.test((tokens[at + skip - 1] as Token).gap)) break;
      const end = matchFrom(tokens, slots, slot + 1, at + skip);
      if (end !== -1) return end;
    }
    return -1;
  }
  const token = tokens[at];
  if (token === undefined) return -1;
  if (slot > 0 && slots[slot - 1]?.kind !== 'gap' && HARD_GAP.test(token.gap)) return -1;
  const fits = current.kind === 'number' ? token.number : current.stems.has(token.stem);
  return fits ? matchFrom(tokens, slots, slot + 1, at + 1) : -1;
}

// A sentence is scanned with the same set by several rules (a secret is looked for by the request rule
// and by the next sentence); its tokens array is made once per text, so it keys a cache of the scans.
const SCANS = new WeakMap<readonly Token[], Map<PhraseSet, PhraseMatch[]>>();

/**
 * The matches of the set's phrases in one sentence's tokens, in token order. Where matches overlap the
 * leftmost, then the longest, wins: "it depends on" is one hedge, not "it depends" and "depends on".
 * The result is shared between callers: do not change it.
 */
export function findPhrases(tokens: readonly Token[], set: PhraseSet): PhraseMatch[] {
  let scans = SCANS.get(tokens);
  const cached = scans?.get(set);
  if (cached) return cached;
  const matches: PhraseMatch[] = [];
  let free = 0;
  for (let at = 0; at < tokens.length; at += 1) {
    const token = tokens[at] as Token;
    const byStem = set.byFirstStem.get(token.stem);
    const numbered = token.number ? set.numberFirst : NONE;
    if ((byStem === undefined && numbered.length === 0) || at < free) continue;
    let best: PhraseMatch | null = null;
    for (const candidates of [byStem ?? NONE, numbered]) {
      for (const phrase of candidates) {
        if (phrase.anchored && at !== 0) continue;
        const end = matchFrom(tokens, phrase.slots, 0, at);
        if (end !== -1 && (best === null || end > best.end)) best = { id: phrase.id, phrase: phrase.phrase, start: at, end };
      }
    }
    if (best) {
      matches.push(best);
      free = best.end;
    }
  }
  if (!scans) {
    scans = new Map();
    SCANS.set(tokens, scans);
  }
  scans.set(set, matches);
  return matches;
}

/** The words a match covers, for a rationale. */
export const matchedText = (tokens: readonly Token[], match: PhraseMatch) =>
  tokens
    .slice(match.start, match.end)
    .map((token) => token.word)
    .join(' ');
