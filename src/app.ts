import { randomUUID } from 'node:crypto';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Config } from './config.js';
import { AppError } from './errors.js';
import { answerRoutes } from './routes/answer.js';
import { evaluateRoutes } from './routes/evaluate.js';
import { createRunManager } from './runs/run-manager.js';
import { compareRoutes } from './routes/compare.js';
import { healthRoutes } from './routes/health.js';
import { accessControl, BEARER_SCHEME_NAME, bearerSecurityScheme, withBearerSecurity } from './plugins/access-control.js';
import { browserPolicy, withoutUpgradeInsecureRequests } from './plugins/browser-policy.js';
import { requestLimits } from './plugins/limits.js';
import { modelRoutes } from './routes/models.js';
import { closeServices, createServices, type Services } from './services.js';
import { API_VERSION } from './version.js';

export interface BuildAppOptions {
  config: Config;
  /** Fastify logger options; false in tests that do not look at logs. */
  logger?: FastifyServerOptions['logger'];
  /** Prebuilt services, for tests that need to reach them. */
  services?: Services;
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

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
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
  return reply.code(appError.statusCode).headers(appError.headers).send(appError.toBody());
}

export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const { config } = options;
  const app = Fastify({
    logger: options.logger ?? { level: config.LOG_LEVEL, redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' } },
    // genReqId reads x-request-id itself, so that an unsafe incoming id is replaced rather than echoed.
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    genReqId: (request) => {
      const incoming = request.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
    },
    routerOptions: { ignoreTrailingSlash: true },
    bodyLimit: config.BODY_LIMIT_BYTES,
    // The router rejects malformed URLs and over-long path parameters before any route runs; without
    // this they would bypass the error handler and answer in Fastify's own shape.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => sendError(error, request, reply),
  }).withTypeProvider<ZodTypeProvider>();

  // Only JSON bodies are part of the API; a text body gets a clear 415 rather than a confusing validation error.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const services = options.services ?? createServices(config);
  const runs = createRunManager({ ...services, log: app.log });
  // Runs that were in progress when the service stopped go on by themselves.
  app.addHook('onReady', async () => runs.resumeAll());
  // Runs stop before the clients they use; they stay "running" on disk and resume at the next start.
  app.addHook('onClose', async () => {
    await runs.close();
    await closeServices(services);
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
  await app.register(requestLimits, config);
  await app.register(accessControl, { apiKeys: config.SERVICE_API_KEYS });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Amazon Electronics support models',
        version: API_VERSION,
        description:
          'Use, compare and evaluate a fine-tuned support model against its base model. Models are configured aliases (GET /models); every error has the shape `{"error": {"code", "message", "details"?}}`. When the service runs with SERVICE_API_KEYS set, every endpoint except /health, /ready and the docs requires `Authorization: Bearer <key>` (401 otherwise); callers are rate limited per key, or per client address without keys (429 with Retry-After), and an overloaded instance answers 503 with Retry-After.',
      },
      tags: [
        { name: 'answer', description: 'One answer from one model' },
        { name: 'compare', description: 'One inquiry to several models side by side, scored on the rubric' },
        { name: 'evaluate', description: 'Evaluation runs over a prompt set, with CSV, summary and chart' },
        { name: 'models', description: 'The configured model aliases' },
        { name: 'operations', description: 'Health and readiness' },
      ],
      // Declared whatever the environment, so that the committed document does not depend on it.
      components: { securitySchemes: { [BEARER_SCHEME_NAME]: bearerSecurityScheme } },
    },
    transform: withBearerSecurity(jsonSchemaTransform),
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true, transformStaticCSP: withoutUpgradeInsecureRequests });

  await app.register(healthRoutes, { services });
  await app.register(modelRoutes, { services });
  await app.register(answerRoutes, { services });
  await app.register(evaluateRoutes, { runs });
  await app.register(compareRoutes, { services });

  return app;
}
