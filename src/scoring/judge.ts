import type { OpenAI } from 'openai';
import { ContentFilterFinishReasonError, LengthFinishReasonError } from 'openai/core/error';
import { zodResponseFormat, zodTextFormat } from 'openai/helpers/zod';
import type { ParsedChatCompletion } from 'openai/resources/chat/completions';
import type { ParsedResponse } from 'openai/resources/responses/responses';
import { z } from 'zod';
import { AppError, mapUpstreamError } from '../errors.js';
import { fromChatResult, fromResponsesResult, type Usage } from '../models/openai-wire.js';
import { JUDGE_ALIAS, type ModelRegistry, type OpenAIModelEntry } from '../models/registry.js';
import type { UpstreamClients } from '../models/upstream-clients.js';
import { buildJudgeMessages, hasReference, type JudgeMessage } from './judge-prompt.js';
import { CRITERIA, RUBRIC, rubricScores, type Criterion, type RubricScores, type RubricWeights } from './rubric.js';
import type { ScoreContext, ScoreInput } from './score-answer.js';

export { buildJudgeMessages } from './judge-prompt.js';

export interface JudgeDeps {
  registry: ModelRegistry;
  clients: UpstreamClients;
}

// Rationale before score: the model writes its reasoning first and then commits to a level.
const criterionVerdict = (criterion: Criterion) =>
  z
    .object({
      rationale: z.string().describe('One or two sentences naming what decided the score.'),
      score: z.int().min(1).max(5).describe('The rubric level, 1 (worst) to 5 (best).'),
    })
    .describe(RUBRIC[criterion].title);

export const JudgeVerdictSchema = z.object({
  accuracy: criterionVerdict('accuracy'),
  actionability: criterionVerdict('actionability'),
  completeness: criterionVerdict('completeness'),
  safety_tone: criterionVerdict('safety_tone'),
});
export type JudgeVerdict = z.infer<typeof JudgeVerdictSchema>;

const VERDICT_NAME = 'rubric_verdict';
const VERDICT_TEXT_FORMAT = zodTextFormat(JudgeVerdictSchema, VERDICT_NAME);
const VERDICT_RESPONSE_FORMAT = zodResponseFormat(JudgeVerdictSchema, VERDICT_NAME);
const MAX_RATIONALE_CHARS = 500;

type JudgeOutcome = { kind: 'verdict'; value: unknown } | { kind: 'refused'; refusal: string } | { kind: 'unparsable'; problem: string };

interface JudgeReply {
  usage: Usage;
  outcome: JudgeOutcome;
}

const unparsable = (problem: string, cause?: unknown) => new AppError(502, 'judge_unparsable', problem, { cause });

function judgeEntry(registry: ModelRegistry): OpenAIModelEntry {
  const entry = registry.resolve(JUDGE_ALIAS);
  if (entry.kind !== 'openai') {
    throw new AppError(503, 'judge_unavailable', `The '${JUDGE_ALIAS}' alias must be an OpenAI or OpenAI-compatible model to score answers; it is '${entry.model_id}'.`);
  }
  return entry;
}

function truncationProblem(entry: OpenAIModelEntry): string {
  return `The judge's reply was cut by the token limit (${entry.defaults.max_output_tokens} output tokens) before the verdict was complete.`;
}

const FILTERED_PROBLEM = "The judge's reply was stopped by the upstream's content filter.";
const EMPTY_PROBLEM = 'The judge returned no verdict (empty output).';

function fromJudgeResponse(response: ParsedResponse<JudgeVerdict>, entry: OpenAIModelEntry): JudgeReply {
  const { usage, status } = fromResponsesResult(response);
  const refusal = response.output
    .flatMap((item) => (item.type === 'message' ? item.content : []))
    .find((part) => part.type === 'refusal');
  if (refusal) return { usage, outcome: { kind: 'refused', refusal: refusal.refusal } };
  if (status === 'truncated') return { usage, outcome: { kind: 'unparsable', problem: truncationProblem(entry) } };
  if (status === 'content_filtered') return { usage, outcome: { kind: 'unparsable', problem: FILTERED_PROBLEM } };
  if (response.output_parsed === null) return { usage, outcome: { kind: 'unparsable', problem: EMPTY_PROBLEM } };
  return { usage, outcome: { kind: 'verdict', value: response.output_parsed } };
}

function fromJudgeCompletion(completion: ParsedChatCompletion<JudgeVerdict>): JudgeReply {
  const { usage } = fromChatResult(completion);
  const message = completion.choices[0]?.message;
  if (message?.refusal) return { usage, outcome: { kind: 'refused', refusal: message.refusal } };
  if (!message?.parsed) return { usage, outcome: { kind: 'unparsable', problem: EMPTY_PROBLEM } };
  return { usage, outcome: { kind: 'verdict', value: message.parsed } };
}

async function askJudge(client: OpenAI, entry: OpenAIModelEntry, messages: JudgeMessage[], signal: AbortSignal | undefined): Promise<JudgeReply> {
  const { temperature, max_output_tokens, seed } = entry.defaults;
  if (entry.upstream.api_style === 'chat') {
    const completion = await client.chat.completions.parse(
      {
        model: entry.model_id,
        messages,
        ...(entry.upstream.max_tokens_param === 'max_tokens' ? { max_tokens: max_output_tokens } : { max_completion_tokens: max_output_tokens }),
        ...(temperature === null ? {} : { temperature }),
        ...(seed === null ? {} : { seed }),
        response_format: VERDICT_RESPONSE_FORMAT,
      },
      { signal },
    );
    return fromJudgeCompletion(completion);
  }
  const response = await client.responses.parse(
    {
      model: entry.model_id,
      input: messages,
      max_output_tokens,
      // Answers under review are customer conversations; they are not kept upstream for 30 days by default.
      store: false,
      ...(temperature === null ? {} : { temperature }),
      text: { format: VERDICT_TEXT_FORMAT },
    },
    { signal },
  );
  return fromJudgeResponse(response, entry);
}

/** The verdict itself, validated again: the SDK only parses what the upstream claims is complete. */
function verdictOf(outcome: JudgeOutcome): JudgeVerdict {
  if (outcome.kind === 'refused') throw new AppError(502, 'judge_refused', `The judge refused to score: ${outcome.refusal}`);
  if (outcome.kind === 'unparsable') throw unparsable(outcome.problem);
  const parsed = JudgeVerdictSchema.safeParse(outcome.value);
  if (!parsed.success) throw verdictMismatch(parsed.error);
  return parsed.data;
}

function verdictMismatch(error: z.ZodError): AppError {
  const issues = error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  return new AppError(502, 'judge_unparsable', `The judge's verdict does not match the rubric schema: ${issues.join('; ')}`, { cause: error });
}

/** The SDK parses inside the call, so a malformed verdict surfaces as a thrown error rather than as a reply. */
function toJudgeError(error: unknown, entry: OpenAIModelEntry): AppError {
  if (error instanceof LengthFinishReasonError) return unparsable(truncationProblem(entry), error);
  if (error instanceof ContentFilterFinishReasonError) return unparsable(FILTERED_PROBLEM, error);
  if (error instanceof SyntaxError) return unparsable(`The judge's reply is not valid JSON: ${error.message}`, error);
  if (error instanceof z.ZodError) return verdictMismatch(error);
  return mapUpstreamError(error, JUDGE_ALIAS);
}

function cleanRationale(text: string): string {
  const trimmed = text.trim();
  return trimmed.length > MAX_RATIONALE_CHARS ? `${trimmed.slice(0, MAX_RATIONALE_CHARS - 1).trimEnd()}…` : trimmed;
}

function toRubricScores(verdict: JudgeVerdict, weights: RubricWeights, input: ScoreInput): RubricScores {
  const scores = Object.fromEntries(CRITERIA.map((criterion) => [criterion, verdict[criterion].score])) as Record<Criterion, number>;
  const rationale = Object.fromEntries(CRITERIA.map((criterion) => [criterion, cleanRationale(verdict[criterion].rationale)])) as Record<Criterion, string>;
  return rubricScores({ scores, rationale, scorer: 'judge', reference_source: hasReference(input) ? 'given' : 'none' }, weights);
}

/** Scores one answer with the LLM judge. Every failure throws an AppError; nothing falls back to another scorer. */
export async function scoreWithJudge(deps: JudgeDeps, input: ScoreInput, weights: RubricWeights, ctx: ScoreContext): Promise<RubricScores> {
  const entry = judgeEntry(deps.registry);
  const client = deps.clients.clientFor(entry);
  const logFields = { alias: JUDGE_ALIAS, model_id: entry.model_id, api_style: entry.upstream.api_style };
  const started = performance.now();
  let usage: Usage | null = null;
  try {
    const reply = await deps.clients.call(entry, (signal) => askJudge(client, entry, buildJudgeMessages(input), signal), ctx.signal);
    usage = reply.usage;
    const scores = toRubricScores(verdictOf(reply.outcome), weights, input);
    ctx.log.info({ ...logFields, latency_ms: Math.round(performance.now() - started), usage, outcome: 'scored' }, 'judge call');
    return scores;
  } catch (error) {
    const failure = toJudgeError(error, entry);
    ctx.log.warn(
      {
        ...logFields,
        latency_ms: Math.round(performance.now() - started),
        usage,
        outcome: failure.code,
        upstream_status: failure.upstreamStatus,
        upstream_request_id: failure.upstreamRequestId,
      },
      'judge call',
    );
    throw failure;
  }
}
