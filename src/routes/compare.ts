import type { FastifyBaseLogger } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { AppError, type ErrorBody } from '../errors.js';
import { answerInquiry, type ModelAnswer } from '../models/answer.js';
import { JUDGE_ALIAS, requireAvailable, resolveDistinctModels, type ModelEntry } from '../models/registry.js';
import { CompareRequestSchema, CompareResponseSchema, type ComparedModel, type ScoreDeltas } from '../schemas/compare.js';
import { ErrorResponseSchema, upstreamErrorResponses } from '../schemas/error.js';
import type { RubricScores } from '../scoring/rubric.js';
import { defaultScorer, scoreAnswer, type ScorerChoice } from '../scoring/score-answer.js';
import type { Services } from '../services.js';

const TIE = 'tie';
// Weighted scores are float sums of the same few levels and weights: equal totals can differ in the last bits.
const TIE_TOLERANCE = 1e-9;

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
  input: { inquiry: string; reference: string | null; scorer: ScorerChoice },
  log: FastifyBaseLogger,
): Promise<ModelOutcome> {
  let answer: ModelAnswer;
  try {
    answer = await answerInquiry(services, entry.alias, { inquiry: input.inquiry }, { log });
  } catch (error) {
    return { entry, answer: null, answerError: asAppError(error, log, 'answer'), scores: null, scoreError: null };
  }
  if (input.scorer === 'none') return { entry, answer, answerError: null, scores: null, scoreError: null };
  try {
    const scores = await scoreAnswer(services, input.scorer, { inquiry: input.inquiry, answer: answer.answer, reference: input.reference }, { log });
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

/** The best weighted score; fewer than two scored models is no contest. */
function pickWinner(results: readonly ComparedModel[]): string | null {
  const ranked = results
    .flatMap((result) => (result.scores ? [{ model: result.model, weighted: result.scores.weighted }] : []))
    .sort((a, b) => b.weighted - a.weighted);
  const [top, runnerUp] = ranked;
  if (!top || !runnerUp) return null;
  return top.weighted - runnerUp.weighted <= TIE_TOLERANCE ? TIE : top.model;
}

function scoreDeltas(results: readonly ComparedModel[]): ScoreDeltas | null {
  const [first, second] = results;
  if (!first?.scores || !second?.scores) return null;
  const a = first.scores;
  const b = second.scores;
  return {
    first: first.model,
    second: second.model,
    accuracy: a.accuracy - b.accuracy,
    actionability: a.actionability - b.actionability,
    completeness: a.completeness - b.completeness,
    safety_tone: a.safety_tone - b.safety_tone,
    weighted: a.weighted - b.weighted,
  };
}

export const compareRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.post('/compare', {
    schema: {
      tags: ['compare'],
      summary: 'Answer one inquiry with several models side by side, scored on the rubric',
      description:
        'Sends the inquiry to 2 to 4 models at once (default: `fine-tuned` and `baseline`), scores each answer on the rubric as soon as it arrives, and names the winner by weighted score. ' +
        'Every model is resolved first: an unknown or repeated model is a 400 before anything is sent. ' +
        'Partial failure: when a model fails, its entry carries `error` (with the upstream status) and the other models still come back with 200; when an answer cannot be scored, its entry keeps the answer, `scores` is null and `score_error` says why. ' +
        'Only when every model fails is the reply an error: the first model\'s error, with its status.',
      body: CompareRequestSchema,
      response: {
        200: CompareResponseSchema,
        ...upstreamErrorResponses,
        400: ErrorResponseSchema.describe('Invalid request (validation_error, unknown_model, duplicate_model).'),
        503: ErrorResponseSchema.describe('No model could answer for lack of an API key, or the judge was asked for and has none.'),
      },
    },
    handler: async (request) => {
      const { inquiry, models, reference } = request.body;
      const entries = resolveDistinctModels(services.registry, models);
      const scorer = request.body.scorer ?? defaultScorer(services);
      // Without this, an unavailable judge would only show after every model had been paid for.
      if (scorer === 'judge') requireAvailable(services.registry, services.registry.resolve(JUDGE_ALIAS));

      const outcomes = await Promise.all(
        entries.map((entry) => answerAndScore(services, entry, { inquiry, reference: reference ?? null, scorer }, request.log)),
      );
      const [first] = outcomes;
      if (first?.answerError && outcomes.every((outcome) => outcome.answerError)) throw first.answerError;

      const results = outcomes.map(toComparedModel);
      const winner = pickWinner(results);
      const referenceSource = results.find((result) => result.scores)?.scores?.reference_source;
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
        deltas: scoreDeltas(results),
      };
    },
  });
};
