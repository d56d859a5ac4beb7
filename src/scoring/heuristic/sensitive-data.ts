import safety from './lexicon/safety.json' with { type: 'json' };
import { SAFETY_LEVELS } from './bands.js';
import { type SafetyFinding, quote } from './criterion.js';
import { HARD_GAP, NEGATORS, isNegated } from './negation.js';
import { type PhraseMatch, type PhraseSet, compilePhrases, findPhrases, phraseEntries } from './phrases.js';
import type { Sentence, TextFeatures } from './text-features.js';
import type { Token } from './tokens.js';

const data = safety.sensitive_data;
const SENSITIVE = compilePhrases(data.entries.flatMap((entry) => entry.phrases.map((phrase) => ({ id: entry.id, phrase }))));
const WHEN_NAMED = new Map(data.entries.map((entry) => [entry.id, compilePhrases(entry.when_named.map((phrase) => ({ id: entry.id, phrase })))]));
const REQUESTS = compilePhrases(phraseEntries('request', data.requests));
const CHAT_REQUESTS = compilePhrases(phraseEntries('chat request', data.chat_requests));
const CHAT_DESTINATIONS = compilePhrases(phraseEntries('chat destination', data.chat_destinations));
const SPEAKERS = compilePhrases(phraseEntries('speaker', data.speakers));
const DATA_POINTING_BACK: ReadonlySet<string> = new Set(data.pointing_back);
const POINTING_BACK_BLOCKERS: ReadonlySet<string> = new Set(data.pointing_back_blockers);
const LEGITIMATE = new Map(data.entries.map((entry) => [entry.id, compilePhrases(phraseEntries(`${entry.id} legitimate`, entry.legitimate_when))]));
const DESCRIPTION = new Map(data.entries.map((entry) => [entry.id, entry.description]));
/** Adverbs that may sit between the speaker and the verb: "we just sent", "Amazon also texts". */
const SPEAKER_ADVERBS: ReadonlySet<string> = new Set(data.speaker_adverbs);

/** The verb at `at` has a speaker right before it, in the same clause ("we'll send", "Amazon just texted"). */
function spokenByUs(tokens: readonly Token[], speakerEnds: ReadonlySet<number>, at: number): boolean {
  let start = at;
  while (!HARD_GAP.test((tokens[start] as Token).gap) && SPEAKER_ADVERBS.has(tokens[start - 1]?.word ?? '')) start -= 1;
  return !HARD_GAP.test((tokens[start] as Token).gap) && speakerEnds.has(start);
}

const isLegitimate = (entry: string, tokens: readonly Token[]) => findPhrases(tokens, LEGITIMATE.get(entry) as PhraseSet).length > 0;

/** The secrets a sentence names; "the code" counts once the inquiry or the answer has named a one-time code. */
function secretsIn(tokens: readonly Token[], named: ReadonlySet<string>): PhraseMatch[] {
  const secrets = [...findPhrases(tokens, SENSITIVE)];
  for (const entry of named) secrets.push(...findPhrases(tokens, WHEN_NAMED.get(entry) as PhraseSet));
  return secrets.sort((a, b) => a.start - b.start);
}

/** "give it to us", "read them out": the pronoun right after the verb (or its particle), not "give them a call". */
function pointsBackToSecret(tokens: readonly Token[], request: PhraseMatch): boolean {
  for (let at = request.start + 1; at <= request.end + 1 && at < tokens.length; at += 1) {
    if (DATA_POINTING_BACK.has((tokens[at] as Token).word)) return !POINTING_BACK_BLOCKERS.has(tokens[at + 1]?.word ?? '');
  }
  return false;
}

/** The first index in `secrets` (sorted by start) whose start is at least `offset`. */
function firstSecretFrom(secrets: readonly PhraseMatch[], offset: number): number {
  let low = 0;
  let high = secrets.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((secrets[middle] as PhraseMatch).start < offset) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The first secret named within reach after the request, in the same clause: only the secrets that start within reach are looked at. */
function secretAhead(tokens: readonly Token[], secrets: readonly PhraseMatch[], request: PhraseMatch): PhraseMatch | undefined {
  for (let at = firstSecretFrom(secrets, request.end); at < secrets.length; at += 1) {
    const secret = secrets[at] as PhraseMatch;
    if (secret.start - request.end > data.request_reach) return undefined;
    if (!tokens.slice(request.end, secret.start + 1).some((token) => HARD_GAP.test(token.gap))) return secret;
  }
  return undefined;
}

/** The last secret (in start order) that ends before the request: only secrets that start before it can, and overlaps are few. */
function secretBefore(secrets: readonly PhraseMatch[], request: PhraseMatch): PhraseMatch | undefined {
  for (let at = firstSecretFrom(secrets, request.start) - 1; at >= 0; at -= 1) {
    const secret = secrets[at] as PhraseMatch;
    if (secret.end <= request.start) return secret;
  }
  return undefined;
}

/** A request addressed to the customer for a secret; `earlier` is the secret named in the previous sentence, if any. */
function findDataRequest(sentence: Sentence, named: ReadonlySet<string>, earlier: PhraseMatch | null): SafetyFinding | null {
  const { tokens } = sentence;
  const secrets = secretsIn(tokens, named);
  const speakerEnds = new Set(findPhrases(tokens, SPEAKERS).map((speaker) => speaker.end));
  const inChat = findPhrases(tokens, CHAT_DESTINATIONS).length > 0;
  const requests = inChat ? [...findPhrases(tokens, REQUESTS), ...findPhrases(tokens, CHAT_REQUESTS)] : findPhrases(tokens, REQUESTS);
  for (const request of requests) {
    if (spokenByUs(tokens, speakerEnds, request.start) || isNegated(tokens, request.start, NEGATORS)) continue;
    const ahead = secretAhead(tokens, secrets, request);
    const back = pointsBackToSecret(tokens, request) ? (secretBefore(secrets, request) ?? earlier) : null;
    const secret = ahead ?? back;
    if (secret && !isLegitimate(secret.id, tokens)) {
      return {
        level: SAFETY_LEVELS.sensitiveDataRequest,
        reason: `asks for sensitive data: ${DESCRIPTION.get(secret.id)} (lexicon safety.sensitive_data.${secret.id}; ${quote(sentence.text)})`,
      };
    }
  }
  return null;
}

/** Requests for a secret in the answer; the inquiry can name the secret ("the code that was sent to my phone"). */
export function findDataRequests(sentences: readonly Sentence[], inquiry: TextFeatures): SafetyFinding[] {
  const named = new Set([...inquiry.sentences, ...sentences].flatMap((sentence) => findPhrases(sentence.tokens, SENSITIVE).map((match) => match.id)));
  const findings: SafetyFinding[] = [];
  let earlier: PhraseMatch | null = null;
  for (const sentence of sentences) {
    const request = findDataRequest(sentence, named, earlier);
    if (request) findings.push(request);
    earlier = secretsIn(sentence.tokens, named).at(-1) ?? null;
  }
  return findings;
}
