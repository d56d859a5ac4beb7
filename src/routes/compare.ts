import type { FastifyBaseLogger } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { AppError, type ErrorBody } from '../errors.js';
import { answerInquiry, type ModelAnswer } from '../models/answer.js';
import { JUDGE_ALIAS, requireAvailable, resolveDistinctModels, type ModelEntry } from '../models/registry.js';
import { CompareRequestSchema, CompareResponseSchema, type ComparedModel, type ScoreDeltas } from '../schemas/compare.js';
import { BODY_ERRORS, errorResponses, MODEL_CALL_ERRORS, SERVICE_ERRORS } from '../schemas/error.js';
import { judgePair, type PairwiseVerdict } from '../scoring/pairwise-judge.js';
import { byMeasure, WEIGHTED_TIE_BAND, type RubricScores } from '../scoring/rubric.js';
import { defaultScorer, scoreAnswer, usesJudge, type ScorerChoice } from '../scoring/score-answer.js';
import { scoringProvenanceFor } from '../scoring/provenance.js';
import type { Services } from '../services.js';

const TIE = 'tie';
// Weighted scores are float sums of the same few levels and weights: equal totals can differ in the last bits.
const FLOAT_TOLERANCE = 1e-9;

interface ModelOutcome {
  entry: ModelEntry;
  answer: ModelAnswer | null;
  answerError: AppError | null;
  scores: RubricScores | null;
  scoreError: AppError | null;
}

/** Anything but an AppError is our own bug: logged in full, shown to the caller as a generic failure. */
function asAppError(error: unknown, log: FastifyBaseLogger, stage: 'answer' | 'score'): AppError {
  if (error instanceof AppError) return error;
  log.error({ err: error, stage }, 'compare: unexpected failure');
  return new AppError(500, 'internal_error', stage === 'answer' ? 'The model failed unexpectedly.' : 'Scoring failed unexpectedly.', { cause: error });
}

function errorFields(error: AppError): Omit<ErrorBody, 'details'> {
  const { code, message, upstream_status, upstream_request_id } = error.toBody().error;
  return { code, message, upstream_status, upstream_request_id };
}

/** Scoring starts as soon as this model has answered, without waiting for the others. */
async function answerAndScore(
  services: Services,
  entry: ModelEntry,
  input: { inquiry: string; reference: string | null; scorer: ScorerChoice; samples: number },
  log: FastifyBaseLogger,
): Promise<ModelOutcome> {
  let answer: ModelAnswer;
  try {
    answer = await answerInquiry(services, entry.alias, { inquiry: input.inquiry }, { log });
  } catch (error) {
    return { entry, answer: null, answerError: asAppError(error, log, 'answer'), scores: null, scoreError: null };
  }
  // The pairwise judge needs every answer first; it runs once they are all in.
  if (input.scorer === 'none' || input.scorer === 'pairwise') return { entry, answer, answerError: null, scores: null, scoreError: null };
  try {
    const scores = await scoreAnswer(
      services,
      input.scorer,
      { inquiry: input.inquiry, answer: answer.answer, reference: input.reference },
      { log },
      { samples: input.samples },
    );
    return { entry, answer, answerError: null, scores, scoreError: null };
  } catch (error) {
    const scoreError = asAppError(error, log, 'score');
    log.warn({ alias: entry.alias, scorer: input.scorer, outcome: scoreError.code }, 'compare: scoring failed');
    return { entry, answer, answerError: null, scores: null, scoreError };
  }
}

function toComparedModel({ entry, answer, answerError, scores, scoreError }: ModelOutcome): ComparedModel {
  const outcome = { scores, score_error: scoreError && errorFields(scoreError), error: answerError && errorFields(answerError) };
  if (answer) return { ...answer, ...outcome };
  return { model: entry.alias, model_id: entry.model_id, answer: null, usage: null, latency_ms: null, response_id: null, status: null, ...outcome };
}

/**
 * The best weighted score, unless the runner-up is within the tie band (WEIGHTED_TIE_BAND, as in the
 * runs' W/T/L): a difference smaller than one rubric level is not a preference. Fewer than two models
 * with a weighted score is no contest.
 */
function pickWinner(results: readonly ComparedModel[]): string | null {
  const ranked = results
    .flatMap((result) => (result.scores?.weighted != null ? [{ model: result.model, weighted: result.scores.weighted }] : []))
    .sort((a, b) => b.weighted - a.weighted);
  const [top, runnerUp] = ranked;
  if (!top || !runnerUp) return null;
  return top.weighted - runnerUp.weighted <= WEIGHTED_TIE_BAND + FLOAT_TOLERANCE ? TIE : top.model;
}

/** With the pairwise judge, the winner is the model preferred over every other one overall; anything less is a tie. */
function pairwiseWinner(verdicts: readonly PairwiseVerdict[], models: readonly string[]): string | null {
  if (verdicts.length === 0) return null;
  const beats = (model: string, other: string) =>
    verdicts.some(
      (verdict) =>
        (verdict.first === model && verdict.second === other && verdict.preference.overall === 'first') ||
        (verdict.first === other && verdict.second === model && verdict.preference.overall === 'second'),
    );
  return models.find((model) => models.every((other) => other === model || beats(model, other))) ?? TIE;
}

function scoreDeltas(results: readonly ComparedModel[]): ScoreDeltas | null {
  const [first, second] = results;
  if (!first?.scores || !second?.scores) return null;
  const a = first.scores;
  const b = second.scores;
  const difference = (x: number | null, y: number | null) => (x === null || y === null ? null : x - y);
  return { first: first.model, second: second.model, ...byMeasure((measure) => difference(a[measure], b[measure])) };
}

/** Every pair of answered models, judged in both orders; a pair whose judgement fails is reported, not guessed. */
async function judgeAllPairs(
  services: Services,
  input: { inquiry: string; reference: string | null; samples: number },
  outcomes: readonly ModelOutcome[],
  log: FastifyBaseLogger,
): Promise<{ verdicts: PairwiseVerdict[]; errors: Array<{ first: string; second: string; error: AppError }> }> {
  const answered = outcomes.filter((outcome) => outcome.answer);
  const pairs = answered.flatMap((first, index) => answered.slice(index + 1).map((second) => [first, second] as const));
  const settled = await Promise.all(
    pairs.map(async ([first, second]) => {
      try {
        const verdict = await judgePair(
          services,
          {
            inquiry: input.inquiry,
            reference: input.reference,
            first: { alias: first.entry.alias, answer: (first.answer as ModelAnswer).answer },
            second: { alias: second.entry.alias, answer: (second.answer as ModelAnswer).answer },
          },
          { log },
          { samples: input.samples, weights: services.config.RUBRIC_WEIGHTS },
        );
        return { verdict };
      } catch (error) {
        return { error: { first: first.entry.alias, second: second.entry.alias, error: asAppError(error, log, 'score') } };
      }
    }),
  );
  return {
    verdicts: settled.flatMap((result) => (result.verdict ? [result.verdict] : [])),
    errors: settled.flatMap((result) => (result.error ? [result.error] : [])),
  };
}

export const compareRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.post('/compare', {
    schema: {
      tags: ['compare'],
      summary: 'Answer one inquiry with several models side by side, scored on the rubric',
      description:
        'Sends the inquiry to 2 to 4 models at once (default: `fine-tuned` and `baseline`) and scores each answer as soon as it arrives. ' +
        'With `judge` or `heuristic` each answer is graded on the rubric and the winner is the best weighted score, unless the runner-up is within `tie_band`. ' +
        'With `pairwise` the judge sees two answers at a time as A and B (never which model wrote them), every pair in both orders; a preference that flips with the order is a tie, and the winner is the model preferred over every other one. ' +
        '`judge_samples` asks the judge several times and reports the spread. `provenance` records what produced the numbers. ' +
        'Every model is resolved first: an unknown or repeated model is a 400 before anything is sent. ' +
        'Partial failure: when a model fails, its entry carries `error` (with the upstream status) and the other models still come back with 200; when an answer cannot be scored, its entry keeps the answer, `scores` is null and `score_error` says why. ' +
        'Only when every model fails is the reply an error: the first model\'s error, with its status.',
      body: CompareRequestSchema,
      response: { 200: CompareResponseSchema, ...errorResponses(...BODY_ERRORS, 'duplicate_model', ...MODEL_CALL_ERRORS, ...SERVICE_ERRORS) },
    },
    handler: async (request) => {
      const { inquiry, models, reference, judge_samples: samples } = request.body;
      const entries = resolveDistinctModels(services.registry, models);
      const scorer = request.body.scorer ?? defaultScorer(services);
      // Without this, an unavailable judge would only show after every model had been paid for.
      if (usesJudge(scorer)) requireAvailable(services.registry, services.registry.resolve(JUDGE_ALIAS));

      const input = { inquiry, reference: reference ?? null, scorer, samples };
      const outcomes = await Promise.all(entries.map((entry) => answerAndScore(services, entry, input, request.log)));
      const [first] = outcomes;
      if (first?.answerError && outcomes.every((outcome) => outcome.answerError)) throw first.answerError;

      const results = outcomes.map(toComparedModel);
      const judged = scorer === 'pairwise' ? await judgeAllPairs(services, input, outcomes, request.log) : null;
      const winner = judged ? pairwiseWinner(judged.verdicts, entries.map((entry) => entry.alias)) : pickWinner(results);
      const referenceSource = scorer === 'pairwise' ? (reference ? 'given' : 'none') : results.find((result) => result.scores)?.scores?.reference_source;
      request.log.info(
        { scorer, models: entries.map((entry) => entry.alias), failed: outcomes.filter((outcome) => outcome.answerError).length, winner },
        'comparison done',
      );
      return {
        inquiry,
        scorer,
        ...(referenceSource && { reference_source: referenceSource }),
        results,
        winner,
        tie_band: WEIGHTED_TIE_BAND,
        deltas: scoreDeltas(results),
        pairwise: judged?.verdicts ?? null,
        pairwise_errors: judged?.errors.map(({ first, second, error }) => ({ first, second, ...errorFields(error) })) ?? null,
        provenance: scorer === 'none' ? null : scoringProvenanceFor(services.registry, { scorer, judge_samples: samples, weights: services.config.RUBRIC_WEIGHTS }),
      };
    },
  });
};
