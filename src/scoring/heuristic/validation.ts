import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CRITERIA, type Criterion, type RubricScores } from '../rubric.js';

/** One labelled pair: which of two answers a person prefers on one criterion, and why. */
export const ValidationPairSchema = z.object({
  id: z.string().min(1),
  criterion: z.enum(CRITERIA),
  /** The kind of difference the pair tests, e.g. "keyword_soup" or "one_time_code". */
  pattern: z.string().min(1),
  inquiry: z.string(),
  reference: z.string().nullable(),
  a: z.string(),
  b: z.string(),
  preferred: z.enum(['a', 'b']),
  why: z.string(),
});
export type ValidationPair = z.infer<typeof ValidationPairSchema>;

export const ValidationPairsSchema = z.array(ValidationPairSchema).superRefine((pairs, ctx) => {
  const seen = new Set<string>();
  pairs.forEach((pair, index) => {
    if (seen.has(pair.id)) ctx.addIssue({ code: 'custom', message: `id ${pair.id} is used twice`, path: [index, 'id'] });
    seen.add(pair.id);
  });
});

export interface Agreement {
  pairs: number;
  /** The preferred answer scored strictly higher on the pair's criterion. */
  agreed: number;
  /** Both scored the same (or neither was scored). */
  tied: number;
  /** The other answer scored strictly higher. */
  reversed: number;
  /** agreed / pairs; null when there are no pairs. */
  agreement: number | null;
}

export interface AgreementReport {
  byCriterion: Record<Criterion, Agreement>;
  overall: Agreement;
  /** The same counts per pattern, to see which kind of difference the scorer misses. */
  byPattern: Record<string, Agreement>;
  /** The pairs not agreed, with both scores, for the rationale of a miss. */
  misses: Array<{ id: string; pattern: string; criterion: Criterion; outcome: 'tied' | 'reversed'; preferred: number | null; other: number | null }>;
}

export type ScoreAnswer = (inquiry: string, answer: string, reference: string | null) => RubricScores;

type Outcome = 'agreed' | 'tied' | 'reversed';

function outcomeOf(preferred: number | null, other: number | null): Outcome {
  // An unscored criterion (null) has nothing to prefer: it ties with anything.
  if (preferred === null || other === null || preferred === other) return 'tied';
  return preferred > other ? 'agreed' : 'reversed';
}

const emptyCounts = () => ({ pairs: 0, agreed: 0, tied: 0, reversed: 0 });

function withAgreement(counts: ReturnType<typeof emptyCounts>): Agreement {
  return { ...counts, agreement: counts.pairs === 0 ? null : counts.agreed / counts.pairs };
}

/** How often the scorer prefers what a person preferred: pure, given the pairs and a scoring function. */
export function measureAgreement(pairs: readonly ValidationPair[], score: ScoreAnswer): AgreementReport {
  const criteria = new Map(CRITERIA.map((criterion) => [criterion, emptyCounts()]));
  const patterns = new Map<string, ReturnType<typeof emptyCounts>>();
  const overall = emptyCounts();
  const misses: AgreementReport['misses'] = [];
  for (const pair of pairs) {
    const preferredText = pair.preferred === 'a' ? pair.a : pair.b;
    const otherText = pair.preferred === 'a' ? pair.b : pair.a;
    const preferred = score(pair.inquiry, preferredText, pair.reference)[pair.criterion];
    const other = score(pair.inquiry, otherText, pair.reference)[pair.criterion];
    const outcome = outcomeOf(preferred, other);
    const pattern = patterns.get(pair.pattern) ?? emptyCounts();
    patterns.set(pair.pattern, pattern);
    for (const counts of [criteria.get(pair.criterion) as ReturnType<typeof emptyCounts>, pattern, overall]) {
      counts.pairs += 1;
      counts[outcome] += 1;
    }
    if (outcome !== 'agreed') misses.push({ id: pair.id, pattern: pair.pattern, criterion: pair.criterion, outcome, preferred, other });
  }
  return {
    byCriterion: Object.fromEntries(CRITERIA.map((criterion) => [criterion, withAgreement(criteria.get(criterion) as ReturnType<typeof emptyCounts>)])) as Record<Criterion, Agreement>,
    overall: withAgreement(overall),
    byPattern: Object.fromEntries([...patterns].map(([pattern, counts]) => [pattern, withAgreement(counts)])),
    misses,
  };
}

/** Reads and validates a pairs file; a problem names the file and the first issue's path. */
export function readValidationPairs(path: string): ValidationPair[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
  const result = ValidationPairsSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0] as z.core.$ZodIssue;
    throw new Error(`${path}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data;
}
