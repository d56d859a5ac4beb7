import { mean, sampleStandardDeviation } from 'simple-statistics';
import { JUDGE_ALIAS } from '../models/registry.js';
import { callJudge, cleanRationale, judgeEntry, judgeSamples, samplingFor, type JudgeDeps } from './judge-call.js';
import { buildJudgeMessages, hasReference, JUDGE_PROMPT_SHA256, JUDGE_VERDICT_FORMAT, type JudgeVerdict } from './judge-prompt.js';
import { byCriterion, byMeasure, rubricScores, weightedScore, type Criterion, type Measure, type RubricScores, type RubricWeights } from './rubric.js';
import type { ScoreContext, ScoreInput } from './score-answer.js';

/** samples: how many times the judge is asked (default 1); judge: the alias that judges (default: the `judge` alias). */
export interface JudgeOptions {
  samples?: number;
  judge?: string;
  /** A run's judge model, recorded when it was created: the judge alias re-pointed since does not change it. */
  judgeModelId?: string | null;
}

export type { JudgeDeps } from './judge-call.js';
export { buildJudgeMessages, JudgeVerdictSchema, type JudgeVerdict } from './judge-prompt.js';

/** The criteria a reference answer is the yardstick for. */
const REFERENCE_CRITERIA: readonly Criterion[] = ['accuracy', 'completeness'];
export const NO_REFERENCE_NOTE = 'No reference answer was given';

/**
 * Without a reference the judge still grades facts and coverage, on its general knowledge; the
 * rationale says so in our words, whatever the model wrote.
 */
function rationaleOf(criterion: Criterion, verdicts: readonly JudgeVerdict[], referenceGiven: boolean): string {
  const [first] = verdicts as [JudgeVerdict, ...JudgeVerdict[]];
  let text = cleanRationale(first[criterion].rationale);
  if (!referenceGiven && REFERENCE_CRITERIA.includes(criterion) && !text.toLowerCase().includes(NO_REFERENCE_NOTE.toLowerCase())) {
    text = `${NO_REFERENCE_NOTE}; judged on general knowledge of Amazon support. ${text}`;
  }
  if (verdicts.length > 1) text += ` (${verdicts.length} samples: ${verdicts.map((verdict) => verdict[criterion].score).join(', ')})`;
  return text;
}

/** Each criterion is the unrounded mean of the samples; the weighted score follows from the means (the same as the mean of the samples' weighted scores). */
export function toRubricScores(verdicts: readonly JudgeVerdict[], weights: RubricWeights, input: ScoreInput, modelId: string, judgeAlias: string = JUDGE_ALIAS): RubricScores {
  const sampleScores = verdicts.map((verdict) => byCriterion((criterion) => verdict[criterion].score));
  const series = (measure: Measure) => sampleScores.map((scores) => (measure === 'weighted' ? weightedScore(scores, weights) : scores[measure]));
  const referenceGiven = hasReference(input);
  return rubricScores(
    {
      scores: byCriterion((criterion) => mean(series(criterion))),
      rationale: byCriterion((criterion) => rationaleOf(criterion, verdicts, referenceGiven)),
      scorer: 'judge',
      reference_source: referenceGiven ? 'given' : 'none',
      sample_sd: verdicts.length > 1 ? byMeasure((measure) => sampleStandardDeviation(series(measure))) : null,
      provenance: { scorer: 'judge', judge_alias: judgeAlias, judge_model_id: modelId, judge_samples: verdicts.length, prompt_sha256: JUDGE_PROMPT_SHA256 },
    },
    weights,
  );
}

/**
 * Scores one answer with the LLM judge, asking it `samples` times (1 by default). The samples go one
 * after another, so that a run's concurrency bound counts one judge call per worker at a time. Any
 * failed sample fails the score with its error: no partial mean, nothing falls back to another scorer.
 */
export async function scoreWithJudge(
  deps: JudgeDeps,
  input: ScoreInput,
  weights: RubricWeights,
  ctx: ScoreContext,
  options: JudgeOptions = {},
): Promise<RubricScores> {
  const samples = judgeSamples(options.samples);
  const entry = judgeEntry(deps.registry, options.judge, options.judgeModelId);
  const messages = buildJudgeMessages(input);
  const verdicts: JudgeVerdict[] = [];
  for (let index = 0; index < samples; index += 1) {
    const sampling = samplingFor(entry, samples, index);
    verdicts.push(await callJudge(deps, entry, { messages, format: JUDGE_VERDICT_FORMAT, sampling, log: { kind: 'pointwise', sample: index + 1, samples } }, ctx));
  }
  return toRubricScores(verdicts, weights, input, entry.model_id, options.judge);
}
