import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { hasZodFastifySchemaValidationErrors, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { TransportSingleOptions } from 'pino';
import type { Config } from './config.js';
import type { ErrorCode } from './error-codes.js';
import { AppError, storageFailure, unsupportedMediaType } from './errors.js';
import { answerRoutes } from './routes/answer.js';
import { evaluateRoutes } from './routes/evaluate.js';
import { ratingsRoutes } from './routes/ratings.js';
import { createFileRunStore } from './runs/file-store.js';
import type { RunStore } from './runs/run-store.js';
import type { PairQueue } from './runs/pair-queue.js';
import type { PostgresRunStore } from './runs/postgres-store.js';
import { createRunManager } from './runs/run-manager.js';
import { compareRoutes } from './routes/compare.js';
import { healthRoutes } from './routes/health.js';
import { accessControl } from './plugins/access-control.js';
import { bootReport } from './plugins/boot-report.js';
import { browserPolicy } from './plugins/browser-policy.js';
import { openApiDocs } from './plugins/openapi.js';
import { requestLimits } from './plugins/limits.js';
import { isCredentialParameter, REDACTED, redactSecrets } from './secrets.js';
import { modelRoutes } from './routes/models.js';
import { reportPages } from './routes/report-pages.js';
import { rubricRoutes } from './routes/rubric.js';
import { runItemsRoutes } from './routes/run-items.js';
import { closeServices, createServices, type Services } from './services.js';
import type { Database } from './db/database.js';
import { openResponseCache } from './models/open-response-cache.js';
import { openModelAliases } from './models/open-model-aliases.js';
import { openFineTunes } from './fine-tunes/open-fine-tunes.js';
import type { FineTuneAliases } from './fine-tunes/job-steps.js';
import { fineTuneRoutes } from './routes/fine-tunes.js';

export interface BuildAppOptions {
  config: Config;
  /** Fastify logger options; false in tests that do not look at logs. */
  logger?: FastifyServerOptions['logger'];
  /** Prebuilt services, for tests that need to reach them. */
  services?: Services;
  /** Where a succeeded fine-tuning job registers its model, for tests that record it; by default the model aliases. */
  fineTuneAliases?: FineTuneAliases;
}

// Incoming ids are echoed into logs and headers, so only a plain token is kept.
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Headers and keys that must never reach a log line. */
export const LOG_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  '*.apiKey',
  '*.api_key',
  '*.OPENAI_API_KEY',
];

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_body',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_body',
  FST_ERR_BAD_URL: 'bad_url',
  FST_ERR_MAX_PARAM_LENGTH: 'uri_too_long',
};

/** The one mapping from anything thrown in a request to our error reply. */
export function toAppError(error: FastifyError): AppError {
  if (error instanceof AppError) return error;
  // A full or unwritable reports folder reached from any route: 507 or 503 that say so, never a 500.
  const storage = storageFailure(error);
  if (storage) return storage;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = error.validationContext ?? 'body';
    const details = error.validation.map((issue) => ({
      path: `${where}${issue.instancePath.replace(/\//g, '.').replace(/\.$/, '')}`,
      code: issue.keyword,
      message: issue.message,
    }));
    const message = details.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
    return new AppError(400, 'validation_error', `Invalid request: ${message}`, { details });
  }
  // Fastify's own text, "Unsupported Media Type", does not say what to send instead.
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return unsupportedMediaType();
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // A SyntaxError from the JSON parser carries no Fastify code in every version.
    const code = (error.code && FASTIFY_CODES[error.code]) ?? (error instanceof SyntaxError ? 'invalid_json' : 'bad_request');
    return new AppError(status, code, error.message);
  }
  return new AppError(500, 'internal_error', 'Internal server error.', { cause: error });
}

/** Logs and sends any error in the one error shape: the error handler, the router's errors and 404 all go through here. */
function sendError(error: FastifyError | AppError, request: FastifyRequest, reply: FastifyReply) {
  const appError = toAppError(error as FastifyError);
  if (error instanceof AppError) {
    // Our own errors carry a vetted message; their cause (an SDK error) may quote the upstream's raw
    // reply, keys included, so it never reaches a log line.
    const fields = { code: appError.code, status: appError.statusCode, upstream_status: appError.upstreamStatus, upstream_request_id: appError.upstreamRequestId };
    request.log[appError.statusCode >= 500 ? 'warn' : 'info'](fields, appError.message);
  } else if (appError.statusCode >= 500) {
    request.log.error({ err: error }, 'request failed');
  } else {
    request.log.info({ code: appError.code, status: appError.statusCode }, appError.message);
  }
  return reply.code(appError.statusCode).headers(appError.headers).send(redactedBody(appError));
}

/** The error's body without any configured secret: a message or details built from upstream text may quote one. */
function redactedBody(error: AppError) {
  const body = error.toBody();
  const json = JSON.stringify(body);
  const clean = redactSecrets(json);
  return clean === json ? body : (JSON.parse(clean) as typeof body);
}

/**
 * Every log line is scrubbed of configured secrets as it is written, whatever put them there (an error's
 * stack, a nested object): the redact paths only know where a key is expected.
 */
function withSecretRedaction(logger: FastifyServerOptions['logger']): FastifyServerOptions['logger'] {
  if (typeof logger !== 'object') return logger;
  return { ...logger, hooks: { ...logger.hooks, streamWrite: redactSecrets }, serializers: { ...logger.serializers, req: serializeRequest } };
}

export function loggableUrl(url: string): string {
  const query = url.indexOf('?');
  if (query === -1) return url;
  const parameters = url
    .slice(query + 1)
    .split('&')
    .map((pair) => {
      // A caller may send a key as `?api_key=` by mistake.
      const name = pair.split('=', 1)[0] ?? '';
      return isCredentialParameter(name) && pair.includes('=') ? `${name}=${REDACTED}` : pair;
    });
  return `${url.slice(0, query)}?${parameters.join('&')}`;
}

/** Fastify's request serializer, with the URL's credentials taken out. */
function serializeRequest(request: FastifyRequest) {
  return {
    method: request.method,
    url: loggableUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

const CLIENT_ERRORS: Record<string, { status: number; code: ErrorCode; message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'request_timeout', message: 'The request did not arrive in time (REQUEST_TIMEOUT_MS or HEADERS_TIMEOUT_MS).' },
  HPE_HEADER_OVERFLOW: { status: 431, code: 'headers_too_large', message: 'The request headers are too large.' },
};
const MALFORMED_REQUEST = { status: 400, code: 'bad_request' as const, message: 'The request is not valid HTTP.' };

/** Node's clientError: the connection gets one reply in our error shape, then is closed. */
function answerClientError(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, code, message } = CLIENT_ERRORS[error.code ?? ''] ?? MALFORMED_REQUEST;
  this.log.debug({ err: error, code }, 'client error');
  if (socket.writable) {
    const body = JSON.stringify(new AppError(status, code, message).toBody());
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/** JSON nested deeper than this is refused before parsing: a megabyte of `[` costs a parser far more than its size. */
export const MAX_JSON_DEPTH = 64;

/** Whether the text nests arrays and objects deeper than `limit`, in one pass that skips strings. */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === 92 /* \\ */) index += 1;
      else if (char === 34 /* " */) inString = false;
    } else if (char === 34) inString = true;
    else if (char === 91 /* [ */ || char === 123 /* { */) {
      depth += 1;
      if (depth > limit) return true;
    } else if (char === 93 /* ] */ || char === 125 /* } */) depth -= 1;
  }
  return false;
}

/**
 * Pretty, coloured lines for a person at a terminal (pino-pretty, on pino's transport thread); JSON lines
 * for everything else, which log collectors parse. Secrets are removed before either (streamWrite).
 */
function logFormat(config: Config): { transport?: TransportSingleOptions } {
  const pretty = config.LOG_FORMAT === 'pretty' || (config.LOG_FORMAT === 'auto' && process.stdout.isTTY === true);
  return pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', singleLine: false } } } : {};
}

export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const { config } = options;
  const app = Fastify({
    logger: withSecretRedaction(options.logger ?? { level: config.LOG_LEVEL, redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' }, ...logFormat(config) }),
    // genReqId reads x-request-id itself, so that an unsafe incoming id is replaced rather than echoed.
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    genReqId: (request) => {
      const incoming = request.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
    },
    routerOptions: { ignoreTrailingSlash: true },
    bodyLimit: config.BODY_LIMIT_BYTES,
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    // Node checks the request and header deadlines only this often (30 s by default), which would let a
    // dripping client hold its socket for half a minute past them.
    http: { headersTimeout: config.HEADERS_TIMEOUT_MS, connectionsCheckingInterval: Math.min(1000, config.HEADERS_TIMEOUT_MS) },
    // Errors Node's HTTP parser raises before any route runs (a timeout, a header overflow, a malformed
    // request line) answer in our error shape too.
    clientErrorHandler: answerClientError,
    // The router rejects malformed URLs and over-long path parameters before any route runs; without
    // this they would bypass the error handler and answer in Fastify's own shape.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => sendError(error, request, reply),
  }).withTypeProvider<ZodTypeProvider>();

  // Past MAX_CONNECTIONS Node closes new connections at once: thousands of slow clients then cost sockets,
  // not the file descriptors every other request, log line and run file needs.
  app.server.maxConnections = config.MAX_CONNECTIONS;
  // A resource error on accepting (EMFILE, ENFILE) is logged, and the server keeps serving the connections it has.
  app.server.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EADDRINUSE' && error.code !== 'EACCES') app.log.error({ err: error }, 'server error');
  });

  // Only JSON bodies are part of the API; a text body gets a clear 415 rather than a confusing validation error.
  app.removeContentTypeParser('text/plain');
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (nestsDeeperThan(body as string, MAX_JSON_DEPTH)) {
      done(new AppError(400, 'invalid_json', `The JSON body nests arrays or objects deeper than ${MAX_JSON_DEPTH} levels.`), undefined);
      return;
    }
    parseJson(request, body as string, done);
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const services = options.services ?? createServices(config);
  // After createServices, which registers DATABASE_URL's password as a secret before anything can print it.
  // PostgreSQL's modules (node-postgres, pg-boss) are loaded only when they are used: the file store's process
  // does without them.
  let database: Database | null = null;
  let queue: PairQueue | undefined;
  let store: RunStore = createFileRunStore(config.REPORTS_DIR);
  let postgresStore: PostgresRunStore | undefined;
  if (config.RUNS_STORE === 'postgres') {
    try {
      database = await (await import('./db/database.js')).openDatabase(config.DATABASE_URL as string, app.log);
      store = postgresStore = (await import('./runs/postgres-store.js')).createPostgresRunStore(database.pool);
      queue = (await import('./runs/pair-queue.js')).createPairQueue(database.pool, app.log);
      await queue.start();
    } catch (error) {
      await database?.close();
      if (!options.services) await closeServices(services);
      throw error;
    }
  }
  // Before any run resumes or route answers: an alias re-pointed at run time resolves to its new model from the start.
  const aliases = await openModelAliases(config, services.registry, app.log, database?.pool).catch(async (error: unknown) => {
    await queue?.stop();
    await database?.close();
    if (!options.services) await closeServices(services);
    throw error;
  });
  const responseCache = openResponseCache(config, app.log, database?.pool);
  const runs = createRunManager({ ...services, responseCache, store, log: app.log, queue: postgresStore && queue ? { jobs: queue, store: postgresStore } : undefined });
  // Runs that were in progress when the service stopped go on by themselves.
  app.addHook('onReady', async () => runs.resumeAll());
  const fineTunes = await openFineTunes({ services, pool: database?.pool, aliases: options.fineTuneAliases ?? aliases, runs, log: app.log });
  // Fine-tuning jobs are followed where runs are executed; an API-only replica leaves them to those.
  app.addHook('onReady', async () => {
    if (config.ROLE !== 'api') fineTunes.follower.start();
  });
  // Runs stop before the clients they use; they stay "running" on disk and resume at the next start.
  app.addHook('onClose', async () => {
    await fineTunes.close();
    await runs.close();
    await aliases.close();
    await queue?.stop();
    await store.close();
    await responseCache?.close();
    await closeServices(services);
    await database?.close();
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // A keep-alive connection that was busy when shutdown began would otherwise hold close() open
  // until the grace period runs out: ask the client to close it with the last reply.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  app.setErrorHandler((error: FastifyError, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) => {
    const error = new AppError(404, 'not_found', `No route ${request.method} ${request.url.split('?')[0]}. See /docs for the API.`);
    return sendError(error, request, reply);
  });

  // Before any route, because the rate limit attaches to each route as it is declared.
  await app.register(browserPolicy, { corsOrigins: config.CORS_ORIGINS });
  await app.register(requestLimits, { ...config, database: database?.pool });
  await app.register(accessControl, { apiKeys: config.SERVICE_API_KEYS, labels: config.serviceKeyLabels });

  await app.register(openApiDocs);

  await app.register(healthRoutes, { services, database });
  // A worker executes runs; its HTTP port answers only the probes an orchestrator needs.
  if (config.ROLE === 'worker') {
    await app.register(bootReport, { services });
    return app;
  }
  await app.register(modelRoutes, { services, aliases, runs });
  await app.register(answerRoutes, { services });
  await app.register(evaluateRoutes, { runs });
  await app.register(ratingsRoutes, { runs, store });
  await app.register(runItemsRoutes, { runs });
  await app.register(fineTuneRoutes, { fineTunes });
  await app.register(rubricRoutes, { weights: config.RUBRIC_WEIGHTS });
  await app.register(reportPages);
  await app.register(compareRoutes, { services });
  await app.register(bootReport, { services });

  return app;
}
