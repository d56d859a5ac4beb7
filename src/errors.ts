import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  AuthenticationError,
  PermissionDeniedError,
  RateLimitError,
} from 'openai';
import { UpstreamReplyTooLargeError } from './models/upstream-fetch.js';
import { requestedRetryDelayMs, UpstreamDeadlineError } from './models/upstream-http.js';
import { redactSecrets } from './secrets.js';

/** The body of every error reply: `{ error: ErrorBody }`. */
export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
  upstream_status?: number;
  upstream_request_id?: string;
}

/** An error we mean to show the caller: its status, code and message are safe to send as they are. */
export class AppError extends Error {
  override name = 'AppError';
  readonly statusCode: number;
  readonly code: string;
  readonly details?: unknown;
  readonly upstreamStatus?: number;
  readonly upstreamRequestId?: string;
  readonly headers: Record<string, string>;

  constructor(
    statusCode: number,
    code: string,
    message: string,
    extra: {
      details?: unknown;
      upstreamStatus?: number;
      upstreamRequestId?: string;
      headers?: Record<string, string>;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: extra.cause });
    this.statusCode = statusCode;
    this.code = code;
    this.details = extra.details;
    this.upstreamStatus = extra.upstreamStatus;
    this.upstreamRequestId = extra.upstreamRequestId;
    this.headers = extra.headers ?? {};
  }

  toBody(): { error: ErrorBody } {
    const body: ErrorBody = { code: this.code, message: this.message };
    if (this.details !== undefined) body.details = this.details;
    if (this.upstreamStatus !== undefined) body.upstream_status = this.upstreamStatus;
    if (this.upstreamRequestId) body.upstream_request_id = this.upstreamRequestId;
    return { error: body };
  }
}

/** `availableNow`: the aliases that answer without that key, so that a caller can go on at once. */
export const missingApiKey = (alias: string, variable: string, availableNow: readonly string[]) =>
  new AppError(
    503,
    'missing_api_key',
    `Model '${alias}' is not available: its upstream needs an API key. Set the ${variable} environment variable and restart the service. ${
      availableNow.length > 0 ? `Models that answer now: ${availableNow.join(', ')}.` : 'No model can answer until a key is set.'
    }`,
    { details: { model: alias, variable, available: availableNow } },
  );

export const unsupportedMediaType = () =>
  new AppError(415, 'unsupported_media_type', 'Unsupported media type: send the body as JSON, with the header `content-type: application/json`.');

export const upstreamCircuitOpen = (alias: string, failures: number, cooldownMs: number, retryAfterSeconds: number) =>
  new AppError(
    503,
    'upstream_circuit_open',
    `The upstream of model '${alias}' failed ${failures} times in a row; calls are paused for ${cooldownMs / 1000}s. Try again later.`,
    { headers: { 'retry-after': String(retryAfterSeconds) } },
  );

/** A 2xx reply whose body does not have the shape we read; `problem` names the fields (never their values). */
export const upstreamInvalidReply = (alias: string, problem: string, extra: { issues: unknown; upstreamRequestId?: string }) =>
  new AppError(502, 'upstream_invalid_reply', `The upstream of model '${alias}' sent a reply we cannot read: ${problem}`, {
    details: { issues: extra.issues },
    upstreamRequestId: extra.upstreamRequestId,
  });

/** The message of an upstream error body, without anything that could echo our key back. */
function upstreamMessage(error: APIError): string {
  const body = error.error as { message?: unknown } | undefined;
  const raw = typeof body?.message === 'string' ? body.message : error.message;
  // Every configured secret goes by value, whatever its shape, before the cut (which could split one).
  // OpenAI's 401 message quotes the start and end of the key it was given ("Incorrect API key provided: sk-ab***yz"):
  // masked by pattern too, for keys we do not know.
  return redactSecrets(raw).replace(/\b(sk|key)-[A-Za-z0-9_*-]{4,}/g, '$1-***').slice(0, 500);
}

/** The upstream's requested wait, in whole seconds, for our own Retry-After. */
function retryAfterSeconds(headers: Headers | undefined): string | undefined {
  const delayMs = requestedRetryDelayMs(headers);
  return delayMs === undefined ? undefined : String(Math.ceil(delayMs / 1000));
}

/**
 * The one mapping from an upstream failure (after retries) to our HTTP reply.
 * 401/403 from the upstream are its verdict on *our* key, so the caller gets 502, not 401.
 */
export function mapUpstreamError(error: unknown, alias: string): AppError {
  if (error instanceof AppError) return error;
  const what = `upstream of model '${alias}'`;
  if (error instanceof APIUserAbortError) {
    return new AppError(499, 'cancelled', `The call to the ${what} was cancelled.`, { cause: error });
  }
  if (error instanceof UpstreamDeadlineError) {
    return new AppError(504, 'upstream_timeout', `The ${what} did not answer within the total deadline of ${error.deadlineMs} ms (OPENAI_TOTAL_TIMEOUT_MS).`, { cause: error });
  }
  if (error instanceof UpstreamReplyTooLargeError) {
    return new AppError(502, 'upstream_reply_too_large', `The ${what} sent a reply larger than ${error.limitBytes} bytes (UPSTREAM_MAX_REPLY_BYTES); it was not read further.`, { cause: error });
  }
  if (error instanceof APIConnectionTimeoutError) {
    return new AppError(504, 'upstream_timeout', `The ${what} did not answer in time.`, { cause: error });
  }
  if (error instanceof APIConnectionError) {
    return new AppError(502, 'upstream_unreachable', `Could not reach the ${what}.`, { cause: error });
  }
  if (error instanceof APIError) {
    const extra = {
      upstreamStatus: error.status,
      upstreamRequestId: error.requestID ?? undefined,
      cause: error,
    };
    if (error instanceof RateLimitError) {
      const retryAfter = retryAfterSeconds(error.headers);
      return new AppError(429, 'upstream_rate_limited', `The ${what} is rate limiting us: ${upstreamMessage(error)}`, {
        ...extra,
        headers: retryAfter ? { 'retry-after': retryAfter } : {},
      });
    }
    if (error instanceof AuthenticationError || error instanceof PermissionDeniedError) {
      return new AppError(502, 'upstream_auth_failed', `The ${what} rejected our credentials: ${upstreamMessage(error)}`, extra);
    }
    return new AppError(502, 'upstream_error', `The ${what} failed: ${upstreamMessage(error)}`, extra);
  }
  return new AppError(502, 'upstream_error', `The ${what} failed unexpectedly.`, { cause: error });
}

/** Errors of the disk holding REPORTS_DIR: no space left, or a quota. They pass once space is freed. */
const STORAGE_FULL = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);
/** The folder cannot be written at all: remounted read-only, permissions changed, or a failing device. */
const STORAGE_UNAVAILABLE = new Set(['EROFS', 'EACCES', 'EPERM', 'EIO']);

const errnoOf = (error: unknown) => (error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined);

/** How long a caller refused for storage is asked to wait: space is usually freed by a person or the retention sweep. */
const STORAGE_RETRY_AFTER_SECONDS = '60';

/**
 * PostgreSQL's SQLSTATEs for a connection that failed or was cut (class 08), and for a server that is shutting
 * down or starting (57P01-57P03): the database is away, not the request wrong.
 */
const DATABASE_AWAY = /^(08...|57P0[1-3])$/;
/** Socket errors and node-postgres's own messages for a connection that could not be made or was lost. */
const CONNECTION_LOST = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const DRIVER_LOST = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/**
 * The database behind RUNS_STORE=postgres cannot be reached: 503 `database_unavailable`, which a run waits out
 * as it waits out a full disk. Applied by the PostgreSQL store to its own errors only: a refused connection
 * elsewhere (an upstream) is not the database's.
 */
export function databaseFailure(error: unknown): AppError | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = errnoOf(error);
  const lost = (code !== undefined && (DATABASE_AWAY.test(code) || CONNECTION_LOST.has(code))) || DRIVER_LOST.test(error.message);
  if (!lost) return undefined;
  return new AppError(503, 'database_unavailable', 'The database (DATABASE_URL) cannot be reached right now; nothing more was stored. Try again shortly.', {
    headers: { 'retry-after': '5' },
    cause: error,
    details: { errno: code ?? 'connection_lost' },
  });
}

/**
 * The one mapping from a failed write to the run store to our reply: for the reports folder, 507 when the
 * disk is full (or a quota is reached), 503 when the folder cannot be written at all; for the database, 503
 * when it cannot be reached; undefined for any other error. The message names neither the path nor the
 * system's text, which would show the server's layout.
 */
export function storageFailure(error: unknown): AppError | undefined {
  if (error instanceof AppError) return ['insufficient_storage', 'storage_unavailable', 'database_unavailable'].includes(error.code) ? error : undefined;
  const errno = errnoOf(error);
  if (errno === undefined) return undefined;
  const extra = { headers: { 'retry-after': STORAGE_RETRY_AFTER_SECONDS }, cause: error, details: { errno } };
  if (STORAGE_FULL.has(errno)) {
    return new AppError(507, 'insufficient_storage', 'The disk holding the reports folder (REPORTS_DIR) is full; nothing more was stored. Try again once space is freed.', extra);
  }
  if (STORAGE_UNAVAILABLE.has(errno)) {
    return new AppError(503, 'storage_unavailable', 'The reports folder (REPORTS_DIR) cannot be written right now; nothing more was stored. Try again later.', extra);
  }
  return undefined;
}
