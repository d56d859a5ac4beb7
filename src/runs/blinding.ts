import { createHash } from 'node:crypto';
import { seededRandom } from '../stats/random.js';

/** The letters a rater sees instead of model names, at most one per model of a run (1 to 4). */
export const ANSWER_KEYS = ['A', 'B', 'C', 'D'] as const;
export type AnswerKey = (typeof ANSWER_KEYS)[number];

/** A seed from the SHA-256 of the run, the item and the rater: the same three always give the same order. */
function seedOf(runId: string, itemId: string, rater: string): number {
  return createHash('sha256').update(`${runId}\u0000${itemId}\u0000${rater}`).digest().readUInt32BE(0);
}

/**
 * The run's models in the order this rater sees them on this item: a Fisher-Yates shuffle seeded from the
 * run, the item and the rater, so that a reload shows the same order, each rater sees their own, and the
 * position of a model tells nothing about which one it is.
 */
export function blindOrder(runId: string, itemId: string, rater: string, aliases: readonly string[]): string[] {
  const order = [...aliases];
  const random = seededRandom(seedOf(runId, itemId, rater));
  for (let last = order.length - 1; last > 0; last -= 1) {
    const pick = random.int(last + 1);
    [order[last], order[pick]] = [order[pick] as string, order[last] as string];
  }
  return order;
}

/**
 * The keys of the answers an item has, A first: the blind order of all the run's models, with the models that
 * have no answer (failed) left out, so that a gap never shows where a model failed.
 */
export function answerKeys(runId: string, itemId: string, rater: string, runAliases: readonly string[], answered: ReadonlySet<string>): Map<AnswerKey, string> {
  const shown = blindOrder(runId, itemId, rater, runAliases).filter((alias) => answered.has(alias));
  return new Map(shown.map((alias, index) => [ANSWER_KEYS[index] as AnswerKey, alias]));
}
