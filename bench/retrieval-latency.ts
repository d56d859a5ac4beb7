import { buildKnowledgeBase, type KnowledgeBase } from '../src/knowledge/knowledge-base.js';
import type { RetrievalModelEntry } from '../src/models/registry.js';
import { answerFromKnowledgeBase } from '../src/models/retrieval-model.js';
import type { SectionResult } from './report.js';
import { count, ms, summarizeLatencies, type LatencySummary } from './stats.js';
import { inquiryVariants, synthesizeKnowledgeExamples, type SupportData } from './support-data.js';

const EXAMPLES = 10_000;
const INQUIRIES = 3_000;
const WARMUP_INQUIRIES = 300;
// A slow knowledge base must not stretch the bench: each timing stops after this long, whatever it has covered.
const MAX_SECONDS_PER_TIMING = 3;
const BUDGET_MS = 1;
const MIN_CONFIDENCE = 0.35;

const RETRIEVAL_ENTRY: RetrievalModelEntry = { alias: 'retrieval', kind: 'retrieval', model_id: 'bm25:bench', description: 'bench' };

function timeEach(inquiries: readonly string[], lookUp: (inquiry: string) => unknown): LatencySummary {
  for (const inquiry of inquiries.slice(0, WARMUP_INQUIRIES)) lookUp(inquiry);
  const durations: number[] = [];
  const deadline = performance.now() + MAX_SECONDS_PER_TIMING * 1000;
  for (const inquiry of inquiries) {
    if (performance.now() > deadline) break;
    const before = performance.now();
    lookUp(inquiry);
    durations.push(performance.now() - before);
  }
  return summarizeLatencies(durations);
}

const latencyCells = (latency: LatencySummary) => [ms(latency.mean, 3), ms(latency.p50, 3), ms(latency.p99, 3), ms(latency.max, 3)];

export function measureRetrievalLatency(data: SupportData): SectionResult {
  const inquiries = inquiryVariants(
    data.validation.map((example) => example.inquiry),
    INQUIRIES,
  );

  const buildStarted = performance.now();
  const large = buildKnowledgeBase('synthesized', synthesizeKnowledgeExamples(data.training, EXAMPLES));
  const buildMs = performance.now() - buildStarted;
  const small = buildKnowledgeBase('training', data.training);

  const closestSmall = timeEach(inquiries, (inquiry) => small.closest(inquiry));
  const closestLarge = timeEach(inquiries, (inquiry) => large.closest(inquiry));
  const answerLarge = timeEach(inquiries, (inquiry) => answerFromKnowledgeBase(large, RETRIEVAL_ENTRY, inquiry, MIN_CONFIDENCE));
  const sample = inquiries.slice(0, 500);
  const confident = sample.filter((inquiry) => (large.closest(inquiry)?.confidence ?? 0) >= MIN_CONFIDENCE).length;

  const rows = (label: string, kb: KnowledgeBase, latency: LatencySummary) => [label, count(kb.examples.length), count(latency.count), ...latencyCells(latency)];
  return {
    title: `5. Retrieval latency: up to ${count(INQUIRIES)} customer-like inquiries against a knowledge base of ${count(EXAMPLES)} examples`,
    head: ['Call', 'Examples', 'Inquiries timed', 'Mean', 'p50', 'p99', 'Max'],
    rows: [
      rows('closest (the 185 real examples, for scale)', small, closestSmall),
      rows('closest', large, closestLarge),
      rows('answerFromKnowledgeBase', large, answerLarge),
    ],
    checks: [
      { target: `answerFromKnowledgeBase < ${BUDGET_MS} ms per inquiry (mean)`, measured: ms(answerLarge.mean, 3), pass: answerLarge.mean < BUDGET_MS },
      { target: `answerFromKnowledgeBase < ${BUDGET_MS} ms per inquiry (p99)`, measured: ms(answerLarge.p99, 3), pass: answerLarge.p99 < BUDGET_MS },
    ],
    notes: [
      `Knowledge base built in ${ms(buildMs, 0)}; ${count(confident)} of the first ${count(sample.length)} inquiries (${((confident / sample.length) * 100).toFixed(0)}%) match above the ${MIN_CONFIDENCE} confidence threshold.`,
      `The ${count(EXAMPLES)} examples grow from the ${data.training.length} training examples: the product swapped among 30, a model code (e.g. "XR-2041") in 40%, a sentence borrowed from another answer in 50%. Inquiries are the ${data.validation.length} validation inquiries and rewrites of them: lower case with a typo, another product, greetings, a model code, a dropped word.`,
    ],
  };
}
