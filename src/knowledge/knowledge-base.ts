import { readFileSync } from 'node:fs';
import MiniSearch from 'minisearch';
import { stemmer } from 'stemmer';
import { eng as ENGLISH_STOPWORDS } from 'stopword';
import { ConfigError } from '../config.js';
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
}

// Conversational filler that customers add to any question ("right now", "please help"): as rare
// words in a small knowledge base they would otherwise outweigh the words that carry the topic.
const FILLER_WORDS = ['right', 'now', 'please', 'pls', 'hi', 'hello', 'hey', 'thanks', 'thank', 'just', 'really', 'still', 'want', 'need', 'like', 'know', 'help', 'asap', 'anymore', 'ok', 'okay', 'im', 'ive', 'dont', 'cant', 'wont', 'doesnt', 'didnt', 'isnt'];
const STOPWORDS = new Set([...ENGLISH_STOPWORDS, ...FILLER_WORDS]);
const tokenize = (text: string) => normalizeInquiry(text).split(' ');
const processTerm = (term: string) => (term.length === 0 || STOPWORDS.has(term) ? null : stemmer(term));

/** The content terms of a text as the index sees them (stopwords out, stemmed). */
export function contentTerms(text: string): string[] {
  return [...new Set(tokenize(text).map(processTerm).filter((term): term is string => term !== null))];
}

export function buildKnowledgeBase(source: string, examples: KnowledgeExample[]): KnowledgeBase {
  const index = new MiniSearch<KnowledgeExample & { id: number }>({
    // Answers are indexed too, at a lower weight: they hold the vocabulary customers use
    // ("password", "two-step") that the short training inquiries often lack.
    fields: ['inquiry', 'answer'],
    storeFields: [],
    tokenize,
    processTerm,
    // Typo tolerance on long words only ("bluetoth"): on short ones it turns "cake" into "fake".
    searchOptions: { boost: { inquiry: 3 }, fuzzy: (term) => (term.length >= 6 ? 0.2 : false), prefix: (term) => term.length >= 4, combineWith: 'OR' },
  });
  index.addAll(examples.map((example, position) => ({ ...example, id: position })));
  const normalised = new Set(examples.map((example) => normalizeInquiry(example.inquiry)));

  // Inverse document frequency of each term: a word the knowledge base has never seen ("cake",
  // "paris") weighs most, so an inquiry about something else cannot reach a high confidence
  // by sharing a few common words.
  const documentFrequency = new Map<string, number>();
  for (const example of examples) {
    for (const term of contentTerms(`${example.inquiry} ${example.answer}`)) documentFrequency.set(term, (documentFrequency.get(term) ?? 0) + 1);
  }
  const idf = (term: string) => Math.log(1 + examples.length / ((documentFrequency.get(term) ?? 0) + 0.5));

  return {
    source,
    examples,
    closest(inquiry) {
      const terms = contentTerms(inquiry);
      if (terms.length === 0) return null;
      const [best] = index.search(inquiry);
      if (!best) return null;
      const matched = new Set(best.queryTerms);
      const example = examples[best.id as number] as KnowledgeExample;
      let total = 0;
      let covered = 0;
      for (const term of terms) {
        const weight = idf(term);
        total += weight;
        if (matched.has(term)) covered += weight;
      }
      return { example, score: best.score, confidence: covered / total };
    },
    contains(inquiry) {
      return normalised.has(normalizeInquiry(inquiry));
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
