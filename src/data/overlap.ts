import type {
  AnswerGroup,
  FileReport,
  ItemLocation,
  LeakedItem,
  ParaphraseClusters,
  SimilarPair,
  TrainingOverlapCounts,
} from './data-check-types.js';
import { buildInquiryIndex, inquirySimilarity } from './near-duplicate.js';
import { normalizeInquiry } from './normalize-inquiry.js';

/** An example or prompt-set item as the overlap checks see it. */
export interface CheckedItem extends ItemLocation {
  inquiry: string;
  /** The answer it teaches or expects, as written; null when it has none (a prompt-set item without reference). */
  answer: string | null;
}

/** Training examples always come from a JSONL file, so each has a line. */
export type TrainingItem = CheckedItem & { line: number };

/** Enough to find a problem; a systematic one in a large file would otherwise flood the report. */
export const MAX_LISTED = 20;
const MAX_GROUP_MEMBERS = 10;

const memberOf = ({ file, line, item, id, inquiry }: CheckedItem) => ({ file, line, item, id, inquiry });
const round = (value: number) => Math.round(value * 1000) / 1000;
// "The same answer" is the same text once spacing and case are ignored: a rewording is a new answer.
const answerKey = (answer: string) => answer.replace(/\s+/g, ' ').trim().toLowerCase();

export function findDuplicateExamples(examples: readonly { line: number; key: string }[]): [number, number][] {
  const firstLine = new Map<string, number>();
  const pairs: [number, number][] = [];
  for (const { key, line } of examples) {
    const first = firstLine.get(key);
    if (first === undefined) firstLine.set(key, line);
    else pairs.push([first, line]);
  }
  return pairs;
}

/**
 * Pairs of items whose inquiries are near duplicates by the one measure. Items with the same normalised
 * inquiry are paired with the first of them, unless they share `key` (whole examples that are equal are
 * duplicate_example already); the first of each such group is then searched in an inverted index.
 */
export function findNearDuplicateInquiries(items: readonly { line: number; inquiry: string; key?: string }[]): SimilarPair[] {
  const pairs: SimilarPair[] = [];
  const firstWithText = new Map<string, { line: number; key?: string }>();
  const distinct: { line: number; inquiry: string }[] = [];
  for (const item of items) {
    const text = normalizeInquiry(item.inquiry);
    if (text === '') continue;
    const first = firstWithText.get(text);
    if (first === undefined) {
      firstWithText.set(text, item);
      distinct.push(item);
    } else if (first.key === undefined || first.key !== item.key) pairs.push({ lines: [first.line, item.line], similarity: 1 });
  }
  const index = buildInquiryIndex(distinct);
  for (const item of distinct) {
    for (const match of index.nearDuplicates(item.inquiry)) {
      if (match.line > item.line) pairs.push({ lines: [item.line, match.line], similarity: match.similarity });
    }
  }
  return pairs.sort((a, b) => a.lines[0] - b.lines[0] || a.lines[1] - b.lines[1]);
}

export interface CheckedFile {
  role: 'validation' | 'evaluation';
  items: CheckedItem[];
}

/** Every validation or evaluation item whose inquiry is exact or near a training inquiry, or whose answer is a training answer. */
export function findLeakage(training: readonly TrainingItem[], checked: readonly CheckedFile[]): LeakedItem[] {
  const index = buildInquiryIndex(training);
  const byAnswer = new Map<string, TrainingItem>();
  for (const example of training) {
    if (example.answer !== null && !byAnswer.has(answerKey(example.answer))) byAnswer.set(answerKey(example.answer), example);
  }
  return checked.flatMap(({ role, items }) =>
    items.flatMap((checkedItem): LeakedItem[] => {
      const item = memberOf(checkedItem);
      const match = index.nearest(item.inquiry);
      if (match.in_training !== 'none') {
        const { in_training: kind, training_line, training_inquiry, similarity } = match;
        return [{ kind, role, ...item, training_line: training_line as number, training_inquiry: training_inquiry as string, similarity: similarity as number }];
      }
      const { answer } = checkedItem;
      const sameAnswer = answer === null ? undefined : byAnswer.get(answerKey(answer));
      if (sameAnswer === undefined) return [];
      const { line, inquiry } = sameAnswer;
      return [{ kind: 'same_answer', role, ...item, training_line: line, training_inquiry: inquiry, similarity: round(inquirySimilarity(item.inquiry, inquiry)) }];
    }),
  );
}

/** Pairs a file repeats within itself (duplicate examples, near-duplicate inquiries): what --strict fails on besides leakage. */
export function repeatsWithin(file: FileReport): number {
  const duplicates = file.kind === 'fine_tuning' ? file.warnings.duplicate_example.count : 0;
  return duplicates + file.warnings.near_duplicate_inquiry.count;
}

export function countByKind(leaks: readonly LeakedItem[]): TrainingOverlapCounts {
  const counts: TrainingOverlapCounts = { exact: 0, near: 0, same_answer: 0 };
  for (const leak of leaks) counts[leak.kind] += 1;
  return counts;
}

/**
 * Answers taught for several training inquiries (paraphrase augmentation, fine on its own), and
 * training answers that a validation or evaluation item also has (leakage: the reply is known).
 */
export function findParaphraseClusters(training: readonly TrainingItem[], checked: readonly CheckedFile[]): ParaphraseClusters {
  const groups = new Map<string, { answer: string; training: CheckedItem[]; other: CheckedItem[] }>();
  for (const example of training) {
    if (example.answer === null) continue;
    const key = answerKey(example.answer);
    const group = groups.get(key) ?? { answer: example.answer, training: [], other: [] };
    group.training.push(example);
    groups.set(key, group);
  }
  for (const { items } of checked) for (const item of items) if (item.answer !== null) groups.get(answerKey(item.answer))?.other.push(item);

  const shown: AnswerGroup[] = [...groups.values()]
    .filter((group) => group.training.length > 1 || group.other.length > 0)
    .map((group) => ({
      answer: group.answer,
      training: group.training.length,
      other: group.other.length,
      members: [...group.training, ...group.other].slice(0, MAX_GROUP_MEMBERS).map(memberOf),
    }));
  return { count: shown.length, groups: shown.slice(0, MAX_LISTED) };
}
