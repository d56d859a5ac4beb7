import { readFileSync } from 'node:fs';
import MiniSearch from 'minisearch';
import { stemmer } from 'stemmer';
import { eng as ENGLISH_STOPWORDS } from 'stopword';
import { ConfigError } from '../config.js';
import { buildInquiryIndex, type InquiryMatch } from '../data/near-duplicate.js';
import { extractInquiry, normalizeInquiry } from '../data/normalize-inquiry.js';

/** One training example: the customer's inquiry and the reference answer written for it. */
export interface KnowledgeExample {
  /** 1-based line in the training file; also its id in replies. */
  line: number;
  inquiry: string;
  answer: string;
}

export interface KnowledgeMatch {
  example: KnowledgeExample;
  /** BM25 score of the match (unbounded; comparable within one knowledge base). */
  score: number;
  /** Share of the inquiry's content, weighted by how rare each term is in the knowledge base, that the match contains: 0..1. */
  confidence: number;
}

export interface KnowledgeBase {
  /** The file the examples came from. */
  readonly source: string;
  readonly examples: readonly KnowledgeExample[];
  /** The closest example to an inquiry, or null when no term matches at all. */
  closest(inquiry: string): KnowledgeMatch | null;
  /** Whether this exact inquiry (normalised: case, punctuation, spacing) is a training example. */
  contains(inquiry: string): boolean;
  /** The closest training inquiry by the project's near-duplicate measure, and whether it is exact, near or neither. */
  trainingMatch(inquiry: string): InquiryMatch;
}

// Conversational filler that customers add to any question ("right now", "please help"): as rare
// words in a small knowledge base they would otherwise outweigh the words that carry the topic.
const FILLER_WORDS = ['right', 'now', 'please', 'pls', 'hi', 'hello', 'hey', 'thanks', 'thank', 'just', 'really', 'still', 'want', 'need', 'like', 'know', 'help', 'asap', 'anymore', 'ok', 'okay', 'im', 'ive', 'dont', 'cant', 'wont', 'doesnt', 'didnt', 'isnt'];
const STOPWORDS = new Set([...ENGLISH_STOPWORDS, ...FILLER_WORDS]);
/** How many of an inquiry's rarest words are looked up in the index. */
const RAREST_QUERY_TERMS = 5;
/** How many of the best BM25 matches are re-ranked by confidence. */
const CANDIDATES = 20;
const tokenize = (text: string) => normalizeInquiry(text).split(' ');
const processTerm = (term: string) => (term.length === 0 || STOPWORDS.has(term) ? null : stemmer(term));

/** The content terms of a text as the index sees them (stopwords out, stemmed). */
export function contentTerms(text: string): string[] {
  return [...new Set(tokenize(text).map(processTerm).filter((term): term is string => term !== null))];
}

export function buildKnowledgeBase(source: string, examples: KnowledgeExample[]): KnowledgeBase {
  // Inverse document frequency of each term: a word the knowledge base has never seen ("cake",
  // "paris") weighs most, so an inquiry about something else cannot reach a high confidence
  // by sharing a few common words.
  const termsOf = examples.map((example) => new Set(contentTerms(example.inquiry)));
  const documentFrequency = new Map<string, number>();
  for (const terms of termsOf) {
    for (const term of terms) documentFrequency.set(term, (documentFrequency.get(term) ?? 0) + 1);
  }
  const index = new MiniSearch<KnowledgeExample & { id: number }>({
    // Inquiries only: indexing the answers too found a few more paraphrases on the real data, but made
    // every common word match most of a large knowledge base: about 4 times slower at 10,000 examples.
    fields: ['inquiry'],
    storeFields: [],
    tokenize,
    processTerm,
    // Every search option is given here, once, and none per search: MiniSearch merges per-search
    // options into these by object spread for each query term, and on Node 20 (V8 11.3) each merge
    // that adds keys makes a hidden class that only a full GC frees (about 2 KB per lookup).
    searchOptions: {
      tokenize,
      processTerm,
      combineWith: 'OR',
      // Typo tolerance only for words the knowledge base does not know, and only long ones ("bluetoth"):
      // on short words it turns "cake" into "fake", and on known words it only adds cost.
      fuzzy: (term) => (!documentFrequency.has(term) && term.length >= 6 ? 0.2 : false),
      prefix: (term) => !documentFrequency.has(term) && term.length >= 4,
    },
  });
  index.addAll(examples.map((example, position) => ({ ...example, id: position })));
  const normalised = new Set(examples.map((example) => normalizeInquiry(example.inquiry)));
  const trainingInquiries = buildInquiryIndex(examples);

  const idf = (term: string) => Math.log(1 + examples.length / ((documentFrequency.get(term) ?? 0) + 0.5));

  return {
    source,
    examples,
    closest(inquiry) {
      const stemOf = new Map<string, string>();
      for (const word of tokenize(inquiry)) {
        const stem = processTerm(word);
        if (stem !== null && !stemOf.has(stem)) stemOf.set(stem, word);
      }
      if (stemOf.size === 0) return null;
      // Only the rarest words go to the index: a common word ("order") matches thousands of examples,
      // and scoring them all is what makes a large knowledge base slow. Unknown long words go too, so
      // that a typo ("bluetoth") can still match fuzzily. Every word still counts in the confidence.
      const known = [...stemOf.keys()].filter((stem) => documentFrequency.has(stem)).sort((a, b) => idf(b) - idf(a));
      const unknownLong = [...stemOf.keys()].filter((stem) => !documentFrequency.has(stem) && stem.length >= 6);
      const queryWords = [...known.slice(0, RAREST_QUERY_TERMS), ...unknownLong.slice(0, 2)].map((stem) => stemOf.get(stem) as string);
      if (queryWords.length === 0) return null;
      const candidates = index.search(queryWords.join(' ')).slice(0, CANDIDATES);

      let total = 0;
      for (const stem of stemOf.keys()) total += idf(stem);
      let best: KnowledgeMatch | null = null;
      for (const candidate of candidates) {
        const matched = new Set(candidate.queryTerms);
        const terms = termsOf[candidate.id as number] as Set<string>;
        let covered = 0;
        for (const stem of stemOf.keys()) if (matched.has(stem) || terms.has(stem)) covered += idf(stem);
        const confidence = covered / total;
        if (!best || candidate.score * confidence > best.score * best.confidence) {
          best = { example: examples[candidate.id as number] as KnowledgeExample, score: candidate.score, confidence };
        }
      }
      return best;
    },
    contains(inquiry) {
      return normalised.has(normalizeInquiry(inquiry));
    },
    trainingMatch(inquiry) {
      return trainingInquiries.nearest(inquiry);
    },
  };
}

/** Parses a chat-format JSONL training file; any problem names the file and the line. */
export function parseTrainingExamples(path: string, content: string): KnowledgeExample[] {
  const examples: KnowledgeExample[] = [];
  const lines = content.split(/\r?\n/);
  lines.forEach((text, index) => {
    if (text.trim() === '') return;
    const line = index + 1;
    const fail = (problem: string): never => {
      throw new ConfigError(`${path} line ${line}: ${problem}`);
    };
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch {
      fail('not valid JSON');
    }
    const messages = (record as { messages?: unknown } | null)?.messages;
    if (!Array.isArray(messages)) fail('expected an object with a "messages" list');
    const contentOf = (role: string) => {
      const message = (messages as Array<{ role?: unknown; content?: unknown }>).find((m) => m?.role === role);
      return typeof message?.content === 'string' && message.content.trim() !== '' ? message.content : undefined;
    };
    const user = contentOf('user') ?? fail('no user message with text content');
    const answer = contentOf('assistant') ?? fail('no assistant message with text content');
    examples.push({ line, inquiry: extractInquiry(user), answer: answer.trim() });
  });
  if (examples.length === 0) throw new ConfigError(`${path}: no training examples`);
  return examples;
}

export function loadKnowledgeBase(path: string): KnowledgeBase {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw new ConfigError(`${path}: ${reason}. Set DATA_DIR to the folder that holds the training file.`);
  }
  return buildKnowledgeBase(path, parseTrainingExamples(path, content));
}
