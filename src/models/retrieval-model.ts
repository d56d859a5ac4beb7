import { basename } from 'node:path';
import type { KnowledgeBase } from '../knowledge/knowledge-base.js';
import type { ModelAnswer } from './answer.js';
import type { RetrievalModelEntry } from './registry.js';

/** What the offline model says when nothing in the knowledge base is close enough: never a guess. */
export const HANDOFF_ANSWER =
  "I can't find a reliable answer to that in our support knowledge base. For order details, check 'Your Orders'; for product details, see the product page. You can also reach Amazon Customer Service through 'Help' > 'Contact Us'.";

export function answerFromKnowledgeBase(
  knowledgeBase: KnowledgeBase,
  entry: RetrievalModelEntry,
  inquiry: string,
  minConfidence: number,
): ModelAnswer {
  const started = performance.now();
  if (entry.handoff_only) return handoffAnswer(entry, started);
  const match = knowledgeBase.closest(inquiry);
  const confident = match !== null && match.confidence >= minConfidence;
  return {
    answer: confident ? match.example.answer : HANDOFF_ANSWER,
    model: entry.alias,
    model_id: entry.model_id,
    // Nothing is billed: no upstream was called.
    usage: { input_tokens: null, output_tokens: null, total_tokens: null },
    latency_ms: Math.round(performance.now() - started),
    response_id: null,
    status: confident ? 'completed' : 'no_match',
    match: match && {
      // The file's name only: the folder it lives in is the server's business, not the caller's.
      source: basename(knowledgeBase.source),
      line: match.example.line,
      inquiry: match.example.inquiry,
      score: Math.round(match.score * 1000) / 1000,
      confidence: Math.round(match.confidence * 1000) / 1000,
      min_confidence: minConfidence,
    },
  };
}

function handoffAnswer(entry: RetrievalModelEntry, started: number): ModelAnswer {
  return {
    answer: HANDOFF_ANSWER,
    model: entry.alias,
    model_id: entry.model_id,
    usage: { input_tokens: null, output_tokens: null, total_tokens: null },
    latency_ms: Math.round(performance.now() - started),
    response_id: null,
    status: 'no_match',
    match: null,
  };
}
