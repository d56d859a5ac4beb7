/**
 * A fake OpenAI-compatible server on 127.0.0.1 that speaks the real wire format of
 * POST /v1/responses and POST /v1/chat/completions and is strict like the real API:
 * an unknown top-level parameter is a 400 with OpenAI's error body. Behaviour can be
 * scripted per call (status codes, Retry-After, latency, hangs) for fault tests.
 *
 * It also speaks the model-lifecycle endpoints (files, fine-tuning jobs, batches, models: see
 * fake-openai-files.ts and fake-openai-jobs.ts), whose jobs move only when a test advances them.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFileStore, fileRoutes, type FakeFile, type Route } from './fake-openai-files.js';
import {
  createBatches, createFineTuning, DEFAULT_FINE_TUNABLE_MODELS, modelRoutes,
  type BatchControl, type FineTuningControl, type JobDeps, type JobOptions,
} from './fake-openai-jobs.js';

export type { FakeFile } from './fake-openai-files.js';
export type {
  BatchControl, BatchError, BatchLineFate, BatchLineInfo, BatchStatus, FakeBatch, FakeFineTuningJob, FineTuningControl, FineTuningError, FineTuningStatus,
} from './fake-openai-jobs.js';

// From the official OpenAPI spec (see shared/reference/openai-wire.md).
export const RESPONSES_PARAMETERS = new Set([
  'background', 'context_management', 'conversation', 'include', 'input', 'instructions', 'max_output_tokens',
  'max_tool_calls', 'metadata', 'model', 'moderation', 'parallel_tool_calls', 'previous_response_id', 'prompt',
  'prompt_cache_key', 'prompt_cache_options', 'prompt_cache_retention', 'reasoning', 'safety_identifier',
  'service_tier', 'store', 'stream', 'stream_options', 'temperature', 'text', 'tool_choice', 'tools',
  'top_logprobs', 'top_p', 'truncation', 'user',
]);
export const CHAT_PARAMETERS = new Set([
  'audio', 'frequency_penalty', 'function_call', 'functions', 'logit_bias', 'logprobs', 'max_completion_tokens',
  'max_tokens', 'messages', 'metadata', 'modalities', 'model', 'moderation', 'n', 'parallel_tool_calls', 'prediction',
  'presence_penalty', 'prompt_cache_key', 'prompt_cache_options', 'prompt_cache_retention', 'reasoning_effort',
  'response_format', 'safety_identifier', 'seed', 'service_tier', 'stop', 'store', 'stream', 'stream_options',
  'temperature', 'tool_choice', 'tools', 'top_logprobs', 'top_p', 'user', 'verbosity', 'web_search_options',
]);

export type Endpoint = 'responses' | 'chat';

export interface RecordedRequest {
  endpoint: Endpoint;
  path: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
  /** The user turn's text, for convenience. */
  userText: string;
  at: number;
  /** Set when the request is a line of a batch: its custom_id and batch id (batch lines are not in `requests`). */
  customId?: string;
  batchId?: string;
}

/** One call to a lifecycle endpoint (files, fine-tuning, batches, models). */
export interface LifecycleRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
  /** The parsed JSON body, if the call sent one. */
  body: unknown;
  at: number;
}

/** What the fake does with one lifecycle call. Unset fields mean: answer normally. */
export interface LifecycleFault extends Pick<Behaviour, 'status' | 'errorBody' | 'headers' | 'latencyMs' | 'hang'> {
  /** Do the work (create the job, upload the file...), then drop the connection: the reply is lost. */
  loseReply?: boolean;
}

/** What the fake does with one call. Unset fields mean: answer normally. */
export interface Behaviour {
  status?: number;
  /** Replaces the error body for a non-2xx status. */
  errorBody?: unknown;
  headers?: Record<string, string>;
  latencyMs?: number;
  /** Never answer (until the server closes). */
  hang?: boolean;
  /** The answer text (or, for structured output, the JSON text) to return. */
  text?: string;
  /** Reply as cut by the token limit. */
  incomplete?: 'max_output_tokens' | 'content_filter';
  /** Reply with a refusal instead of content. */
  refusal?: string;
  /** Responses style only: these output items instead of the message (e.g. a lone reasoning item). */
  output?: unknown[];
  /** Rewrites a success body before it is sent (replies of the wrong shape). */
  reshape?: (body: Record<string, unknown>) => unknown;
  /** Sends a success body one byte every `intervalMs` (a reply that trickles in but never stalls). */
  drip?: { intervalMs: number };
}

export interface FakeOpenAIOptions extends JobOptions {
  /** The key the fake accepts; any other key is a 401. Undefined: any key. */
  apiKey?: string;
  /** Decides per call; return undefined to answer normally. */
  behaviour?: (request: RecordedRequest, callNumber: number) => Behaviour | undefined;
  /** The answer text for a normal call. */
  answer?: (request: RecordedRequest) => string;
  /** The JSON value for a structured-output call; defaults to a value built from the JSON schema. */
  structured?: (request: RecordedRequest, schema: Record<string, unknown>) => unknown;
  latencyMs?: number;
  /** Decides per lifecycle call; return undefined to answer normally. */
  lifecycleBehaviour?: (request: LifecycleRequest, callNumber: number) => LifecycleFault | undefined;
}

export interface FakeOpenAI {
  /** Base URL to configure, ending in /v1. */
  url: string;
  requests: RecordedRequest[];
  /** Behaviours applied to the next calls, in order, before options.behaviour. */
  queue: Behaviour[];
  /** Highest number of calls in flight at once. */
  maxInFlight: number;
  inFlight: number;
  close(): Promise<void>;
  /** Uploads through POST /v1/files, in order; deleted ones stay, flagged `deleted`. */
  files: FakeFile[];
  fineTuning: FineTuningControl;
  batches: BatchControl;
  /** Calls to the lifecycle endpoints, in order (not counted in `requests`, `inFlight`, `maxInFlight`). */
  lifecycleRequests: LifecycleRequest[];
  /** Faults applied to the next lifecycle calls, in order, before options.lifecycleBehaviour. */
  lifecycleQueue: LifecycleFault[];
}

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
const countTokens = (text: string) => Math.max(1, Math.ceil(text.length / 4));

function errorBody(status: number, message?: string) {
  if (status === 429) {
    return { error: { message: message ?? 'Rate limit reached for requests. Please try again in 1s.', type: 'requests', param: null, code: 'rate_limit_exceeded' } };
  }
  if (status === 401) {
    return { error: { message: message ?? 'Incorrect API key provided: sk-te***ey.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } };
  }
  if (status >= 500) {
    return { error: { message: message ?? 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: null } };
  }
  return { error: { message: message ?? 'Bad request.', type: 'invalid_request_error', param: null, code: null } };
}

/** The smallest value that satisfies a JSON schema, with integers at their maximum. */
export function sampleFromSchema(schema: Record<string, unknown>): unknown {
  const type = schema.type;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if (Array.isArray(schema.anyOf)) return sampleFromSchema(schema.anyOf[0] as Record<string, unknown>);
  if (type === 'object') {
    const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
    return Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, sampleFromSchema(value)]));
  }
  if (type === 'array') return [sampleFromSchema((schema.items ?? {}) as Record<string, unknown>)];
  if (type === 'integer' || type === 'number') return typeof schema.maximum === 'number' ? schema.maximum : 1;
  if (type === 'boolean') return true;
  if (Array.isArray(type) && type.includes('null')) return null;
  return 'fake';
}

function userTextOf(endpoint: Endpoint, body: Record<string, unknown>): string {
  const list = endpoint === 'chat' ? body.messages : body.input;
  if (typeof list === 'string') return list;
  if (!Array.isArray(list)) return '';
  const user = [...list].reverse().find((item) => (item as { role?: string }).role === 'user') as { content?: unknown } | undefined;
  return typeof user?.content === 'string' ? user.content : JSON.stringify(user?.content ?? '');
}

function validate(endpoint: Endpoint, body: Record<string, unknown>): { status: number; body: unknown } | undefined {
  const allowed = endpoint === 'chat' ? CHAT_PARAMETERS : RESPONSES_PARAMETERS;
  for (const key of Object.keys(body)) {
    if (!allowed.has(key)) {
      return {
        status: 400,
        body: { error: { message: `Unknown parameter: '${key}'.`, type: 'invalid_request_error', param: key, code: 'unknown_parameter' } },
      };
    }
  }
  const missing = (param: string) => ({
    status: 400,
    body: { error: { message: `Missing required parameter: '${param}'.`, type: 'invalid_request_error', param, code: 'missing_required_parameter' } },
  });
  if (typeof body.model !== 'string') return missing('model');
  if (endpoint === 'chat' && !Array.isArray(body.messages)) return missing('messages');
  if (endpoint === 'responses' && body.input === undefined && body.prompt === undefined) return missing('input');
  if (endpoint === 'responses' && typeof body.max_output_tokens === 'number' && body.max_output_tokens < 16) {
    return {
      status: 400,
      body: { error: { message: `Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got ${body.max_output_tokens} instead.`, type: 'invalid_request_error', param: 'max_output_tokens', code: 'integer_below_min_value' } },
    };
  }
  if (typeof body.temperature === 'number' && (body.temperature < 0 || body.temperature > 2)) {
    return { status: 400, body: { error: { message: "Invalid 'temperature'.", type: 'invalid_request_error', param: 'temperature', code: 'decimal_above_max_value' } } };
  }
  return undefined;
}

function structuredSchema(endpoint: Endpoint, body: Record<string, unknown>): Record<string, unknown> | undefined {
  if (endpoint === 'responses') {
    const format = (body.text as { format?: { type?: string; schema?: Record<string, unknown> } } | undefined)?.format;
    return format?.type === 'json_schema' ? format.schema : undefined;
  }
  const format = body.response_format as { type?: string; json_schema?: { schema?: Record<string, unknown> } } | undefined;
  return format?.type === 'json_schema' ? format.json_schema?.schema : undefined;
}

function successBody(endpoint: Endpoint, request: RecordedRequest, text: string, behaviour: Behaviour) {
  const input_tokens = countTokens(JSON.stringify(request.body.input ?? request.body.messages ?? ''));
  const output_tokens = countTokens(text);
  const model = request.body.model as string;
  if (endpoint === 'responses') {
    const content = behaviour.refusal
      ? [{ type: 'refusal', refusal: behaviour.refusal }]
      : [{ type: 'output_text', text, annotations: [], logprobs: [] }];
    return {
      id: id('resp'),
      object: 'response',
      created_at: Math.floor(Date.now() / 1000),
      status: behaviour.incomplete ? 'incomplete' : 'completed',
      background: false,
      error: null,
      incomplete_details: behaviour.incomplete ? { reason: behaviour.incomplete } : null,
      instructions: request.body.instructions ?? null,
      max_output_tokens: request.body.max_output_tokens ?? null,
      model,
      output: behaviour.output ?? [{ id: id('msg'), type: 'message', status: behaviour.incomplete ? 'incomplete' : 'completed', role: 'assistant', content }],
      parallel_tool_calls: true,
      previous_response_id: null,
      prompt: request.body.prompt ?? null,
      reasoning: { effort: null, summary: null },
      store: request.body.store ?? true,
      temperature: request.body.temperature ?? 1,
      text: request.body.text ?? { format: { type: 'text' } },
      tool_choice: 'auto',
      tools: [],
      top_p: 1,
      truncation: 'disabled',
      usage: {
        input_tokens,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: input_tokens + output_tokens,
      },
      user: null,
      metadata: {},
    };
  }
  const finish_reason = behaviour.incomplete === 'max_output_tokens' ? 'length' : behaviour.incomplete === 'content_filter' ? 'content_filter' : 'stop';
  return {
    id: id('chatcmpl'),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: behaviour.refusal ? null : text, refusal: behaviour.refusal ?? null, annotations: [] },
        logprobs: null,
        finish_reason,
      },
    ],
    usage: {
      prompt_tokens: input_tokens,
      completion_tokens: output_tokens,
      total_tokens: input_tokens + output_tokens,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_fake',
  };
}

function decodeParam(param: string): string {
  try {
    return decodeURIComponent(param);
  } catch {
    return param;
  }
}

async function readRawBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const hanging = new Set<ServerResponse>();
  let calls = 0;
  let lifecycleCalls = 0;

  const replyBodyFor = (endpoint: Endpoint, recorded: RecordedRequest, behaviour: Behaviour) => {
    const schema = structuredSchema(endpoint, recorded.body);
    const text =
      behaviour.text ??
      (schema
        ? JSON.stringify(options.structured ? options.structured(recorded, schema) : sampleFromSchema(schema))
        : options.answer
          ? options.answer(recorded)
          : `Fake answer from ${recorded.body.model as string} to ${recorded.userText}`);
    const success = successBody(endpoint, recorded, text, behaviour);
    return behaviour.reshape ? behaviour.reshape(success) : success;
  };

  // A batch line is answered by the same logic as a synchronous call; latency, drip and headers do not apply.
  const answerBatchLine: JobDeps['answer'] = (endpoint, body, context) => {
    const recorded: RecordedRequest = { endpoint, body, userText: userTextOf(endpoint, body), at: Date.now(), ...context };
    calls += 1;
    const behaviour = options.behaviour?.(recorded, calls) ?? {};
    if (behaviour.hang) return undefined;
    if (behaviour.status && behaviour.status >= 400) return { status: behaviour.status, body: behaviour.errorBody ?? errorBody(behaviour.status) };
    return { status: 200, body: replyBodyFor(endpoint, recorded, behaviour) };
  };
  const uploads: FakeFile[] = [];
  const fileStore = createFileStore(uploads);
  const jobDeps: JobDeps = { options, files: fileStore, validateRequest: validate, errorBody, answer: answerBatchLine };
  const fineTuning = createFineTuning(jobDeps);
  const batches = createBatches(jobDeps);
  const lifecycleRoutes: Route[] = [
    ...fileRoutes(fileStore),
    ...fineTuning.routes,
    ...batches.routes,
    ...modelRoutes(() => options.fineTunableModels ?? DEFAULT_FINE_TUNABLE_MODELS, fineTuning.fineTunedModels, options.organization ?? 'fake-org'),
  ];

  const fake: FakeOpenAI = {
    url: '',
    requests: [],
    queue: [],
    maxInFlight: 0,
    inFlight: 0,
    close: async () => {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    files: uploads,
    fineTuning: fineTuning.control,
    batches: batches.control,
    lifecycleRequests: [],
    lifecycleQueue: [],
  };

  const send = (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    response.writeHead(status, { 'content-type': 'application/json', 'x-request-id': id('req'), ...headers });
    response.end(JSON.stringify(body));
  };

  const server = createServer(async (req, res) => {
    const endpoint: Endpoint | undefined =
      req.method === 'POST' && req.url === '/v1/responses' ? 'responses' : req.method === 'POST' && req.url === '/v1/chat/completions' ? 'chat' : undefined;
    if (!endpoint && (await serveLifecycle(req, res))) return;
    if (!endpoint) return send(res, 404, { error: { message: `Invalid URL (${req.method} ${req.url})`, type: 'invalid_request_error', param: null, code: null } });

    let body: Record<string, unknown>;
    try {
      body = JSON.parse(await readBody(req)) as Record<string, unknown>;
    } catch {
      return send(res, 400, { error: { message: 'We could not parse the JSON body of your request.', type: 'invalid_request_error', param: null, code: null } });
    }
    const recorded: RecordedRequest = {
      endpoint,
      path: req.url ?? '',
      authorization: req.headers.authorization,
      body,
      userText: userTextOf(endpoint, body),
      at: Date.now(),
    };
    fake.requests.push(recorded);
    calls += 1;
    fake.inFlight += 1;
    fake.maxInFlight = Math.max(fake.maxInFlight, fake.inFlight);
    res.on('close', () => {
      fake.inFlight -= 1;
      hanging.delete(res);
    });

    const behaviour = fake.queue.shift() ?? options.behaviour?.(recorded, calls) ?? {};
    const latency = behaviour.latencyMs ?? options.latencyMs ?? 0;
    if (latency > 0) await new Promise((resolve) => setTimeout(resolve, latency));
    if (behaviour.hang) {
      hanging.add(res);
      return;
    }

    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return send(res, 401, errorBody(401));
    }
    if (behaviour.status && behaviour.status >= 400) {
      return send(res, behaviour.status, behaviour.errorBody ?? errorBody(behaviour.status), behaviour.headers);
    }
    const invalid = validate(endpoint, body);
    if (invalid) return send(res, invalid.status, invalid.body);

    const replyBody = replyBodyFor(endpoint, recorded, behaviour);
    if (behaviour.drip) return drip(res, JSON.stringify(replyBody), behaviour.drip.intervalMs);
    send(res, 200, replyBody, behaviour.headers);
  });

  /** Answers a lifecycle call; false when no lifecycle route matches (the caller sends its 404). */
  const serveLifecycle = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://fake-openai.local');
    let params: string[] = [];
    const route = lifecycleRoutes.find((candidate) => {
      const match = candidate.method === req.method ? candidate.pattern.exec(url.pathname) : null;
      if (match) params = match.slice(1).map(decodeParam);
      return match !== null;
    });
    if (!route) return false;

    const raw = await readRawBody(req);
    const contentType = req.headers['content-type'] ?? '';
    let body: unknown;
    try {
      body = contentType.includes('application/json') ? JSON.parse(raw.toString('utf8')) : undefined;
    } catch {
      body = undefined;
    }
    const recorded: LifecycleRequest = {
      method: req.method ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorization: req.headers.authorization,
      body,
      at: Date.now(),
    };
    fake.lifecycleRequests.push(recorded);
    lifecycleCalls += 1;
    res.on('close', () => hanging.delete(res));

    const fault = fake.lifecycleQueue.shift() ?? options.lifecycleBehaviour?.(recorded, lifecycleCalls) ?? {};
    if (fault.latencyMs) await new Promise((resolve) => setTimeout(resolve, fault.latencyMs));
    if (fault.hang) {
      hanging.add(res);
      return true;
    }
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      send(res, 401, errorBody(401));
      return true;
    }
    if (fault.status && fault.status >= 400) {
      send(res, fault.status, fault.errorBody ?? errorBody(fault.status), fault.headers);
      return true;
    }
    let reply;
    try {
      reply = await route.handle({ params, query: url.searchParams, contentType, raw, authorization: req.headers.authorization });
    } catch (error) {
      reply = { status: 500, body: errorBody(500, `The fake failed: ${(error as Error).message}`) };
    }
    if (fault.loseReply) {
      res.destroy();
    } else if (reply.bytes) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-request-id': id('req'), ...fault.headers });
      res.end(reply.bytes);
    } else {
      send(res, reply.status, reply.body, fault.headers);
    }
    return true;
  };

  const drip = (response: ServerResponse, text: string, intervalMs: number) => {
    hanging.add(response);
    response.writeHead(200, { 'content-type': 'application/json', 'x-request-id': id('req') });
    const bytes = Buffer.from(text, 'utf8');
    let sent = 0;
    const timer = setInterval(() => {
      if (response.destroyed || sent >= bytes.length) {
        clearInterval(timer);
        if (!response.destroyed) response.end();
        return;
      }
      response.write(bytes.subarray(sent, sent + 1));
      sent += 1;
    }, intervalMs);
    response.on('close', () => clearInterval(timer));
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return fake;
}
