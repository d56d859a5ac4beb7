import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseTrainingExamples, type KnowledgeExample } from '../src/knowledge/knowledge-base.js';
import { seededRandom } from '../test/helpers/seeded-random.js';

export const DATA_DIR = fileURLToPath(new URL('../data', import.meta.url));

export interface SupportData {
  training: KnowledgeExample[];
  validation: KnowledgeExample[];
}

function readExamples(fileName: string): KnowledgeExample[] {
  const path = `${DATA_DIR}/${fileName}`;
  return parseTrainingExamples(path, readFileSync(path, 'utf8'));
}

export function loadSupportData(): SupportData {
  return {
    training: readExamples('amazon_electronics_adapted_train.jsonl'),
    validation: readExamples('amazon_electronics_adapted_val.jsonl'),
  };
}

const pick = <T>(list: readonly T[], random: () => number): T => list[Math.floor(random() * list.length)] as T;

// Products the support data already talks about, plus a few it does not, as a larger catalogue would.
const PRODUCTS = [
  'headphones', 'earbuds', 'speaker', 'laptop', 'tablet', 'Kindle', 'Echo', 'TV', 'monitor', 'camera', 'router', 'phone',
  'charger', 'SSD', 'keyboard', 'mouse', 'smartwatch', 'printer', 'console', 'soundbar', 'Fire TV Stick', 'doorbell',
  'webcam', 'projector', 'microphone', 'hard drive', 'power bank', 'dash cam', 'e-reader', 'graphics card',
];
const PRODUCT_PATTERN = new RegExp(`\\b(?:${PRODUCTS.map((product) => product.replace(/ /g, '\\s')).join('|')})\\b`, 'gi');
const BRAND_PREFIXES = ['XR', 'QC', 'WH', 'MX', 'HD', 'TX', 'BT', 'AV', 'NV', 'ZB'];

const swapProduct = (text: string, product: string) => text.replace(PRODUCT_PATTERN, product);
const modelCode = (random: () => number) => `${pick(BRAND_PREFIXES, random)}-${100 + Math.floor(random() * 9900)}`;

function sentencesOf(text: string): string[] {
  return text.split(/(?<=[.!?])\s+/).filter((sentence) => sentence.trim() !== '');
}

/**
 * A knowledge base of `count` examples grown from the real training examples: each variant swaps
 * the product, sometimes names a model code (the rare terms a real catalogue is full of), and
 * sometimes borrows a sentence from another answer, so that the vocabulary stays the support
 * team's while the index has the size and the term spread of a larger knowledge base.
 */
export function synthesizeKnowledgeExamples(training: readonly KnowledgeExample[], count: number): KnowledgeExample[] {
  const random = seededRandom(10_000);
  const examples: KnowledgeExample[] = [];
  for (let index = 0; index < count; index += 1) {
    const base = training[index % training.length] as KnowledgeExample;
    if (index < training.length) {
      examples.push({ ...base, line: index + 1 });
      continue;
    }
    const product = pick(PRODUCTS, random);
    let inquiry = swapProduct(base.inquiry, product);
    let answer = swapProduct(base.answer, product);
    if (random() < 0.4) {
      const code = modelCode(random);
      inquiry = `${inquiry.replace(/[?.!]*$/, '')} (model ${code})?`;
      answer = `${answer} This applies to the ${code} as well.`;
    }
    if (random() < 0.5) {
      const borrowed = pick(sentencesOf(pick(training, random).answer), random);
      answer = `${answer} ${swapProduct(borrowed, product)}`;
    }
    examples.push({ line: index + 1, inquiry, answer });
  }
  return examples;
}

function withTypo(text: string, random: () => number): string {
  const words = text.split(' ');
  const long = words.map((word, position) => ({ word, position })).filter(({ word }) => /^[a-z]{6,}$/i.test(word));
  if (long.length === 0) return text;
  const { word, position } = pick(long, random);
  const at = 1 + Math.floor(random() * (word.length - 2));
  words[position] = `${word.slice(0, at)}${word[at + 1]}${word[at]}${word.slice(at + 2)}`;
  return words.join(' ');
}

function withoutOneWord(text: string, random: () => number): string {
  const words = text.split(' ');
  if (words.length < 4) return text;
  words.splice(Math.floor(random() * words.length), 1);
  return words.join(' ');
}

const OPENERS = ['hi,', 'Hello, quick question:', 'please help -', ''];
const CLOSERS = ['thanks', 'thank you!', 'asap please', ''];

/** Customer-like rewrites of real inquiries: typos, lower case, another product, chatter, a model code, a missing word. */
export function inquiryVariants(inquiries: readonly string[], count: number, seed = 54): string[] {
  const random = seededRandom(seed);
  const variants: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const original = inquiries[index % inquiries.length] as string;
    const round = Math.floor(index / inquiries.length);
    let inquiry = original;
    switch (round % 6) {
      case 0:
        break;
      case 1:
        inquiry = withTypo(original.toLowerCase(), random);
        break;
      case 2:
        inquiry = swapProduct(original, pick(PRODUCTS, random));
        break;
      case 3:
        inquiry = `${pick(OPENERS, random)} ${original} ${pick(CLOSERS, random)}`.trim();
        break;
      case 4:
        inquiry = `${original.replace(/[?.!]*$/, '')}, it's the ${modelCode(random)}`;
        break;
      default:
        inquiry = withTypo(withoutOneWord(original, random), random);
    }
    variants.push(inquiry);
  }
  return variants;
}
