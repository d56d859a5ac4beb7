import { setTimeout as sleep } from 'node:timers/promises';
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { errors, request, type Dispatcher } from 'undici';
import { API_VERSION } from '../version.js';
import { headerPairs, readCappedBody, UpstreamReplyTooLargeError } from './upstream-fetch.js';

/**
 * Answer calls go to the upstream through undici's request API rather than the OpenAI SDK: per call
 * the SDK's request building, logging and WHATWG fetch cost several times the CPU of everything else
 * the service does for POST /answer. What the SDK gave those calls is kept here on purpose:
 * its timeout per attempt, its retry rule and backoff (Retry-After honoured), and its error classes,
 * so that errors map, count for the circuit breaker and read in logs exactly as the judge's do
 * (the judge stays on the SDK for its structured-output parsing).
 */

/** Longest wait an upstream may ask for before a retry; beyond it the caller gets the 429 and the Retry-After instead. */
export const MAX_RETRY_AFTER_MS = 60_000;
const INITIAL_RETRY_DELAY_MS = 500;
const MAX_RETRY_DELAY_MS = 8_000;

/** How long the upstream asked us to wait (retry-after-ms, then Retry-After in seconds or as a date); undefined if it did not say. */
export function requestedRetryDelayMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  const retryAfterMs = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (!Number.isNaN(retryAfterMs)) return Math.max(0, retryAfterMs);
  const retryAfter = headers?.get('retry-after');
  if (!retryAfter) return undefined;
  const seconds = Number.parseFloat(retryAfter);
  if (!Number.isNaN(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(retryAfter);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The SDK's default backoff before retry `retry` (1, 2, ...): 0.5 s doubling up to 8 s, less up to 25% jitter. */
export function defaultRetryDelayMs(retry: number, random: () => number = Math.random): number {
  return Math.min(INITIAL_RETRY_DELAY_MS * 2 ** (retry - 1), MAX_RETRY_DELAY_MS) * (1 - random() * 0.25);
}

/**
 * A call's total deadline (OPENAI_TOTAL_TIMEOUT_MS) passed, across its attempts and the waits between
 * them: a body that trickles in never trips the per-attempt timeout, which only catches stalls.
 * A timeout for the circuit breaker and the SDK's classes; never retried.
 */
export class UpstreamDeadlineError extends APIConnectionTimeoutError {
  override name = 'UpstreamDeadlineError';
  constructor(readonly deadlineMs: number) {
    super({ message: `The upstream call reached its total deadline of ${deadlineMs} ms (OPENAI_TOTAL_TIMEOUT_MS).` });
  }
}

/**
 * The SDK's rule: the upstream's x-should-retry header wins; otherwise 408, 409, 429 and 5xx are
 * retried, and so are connection failures and timeouts. Our own cancellation never is.
 */
export function isRetryable(error: unknown): boolean {
  if (error instanceof APIUserAbortError || error instanceof UpstreamDeadlineError) return false;
  if (error instanceof APIConnectionError) return true;
  if (!(error instanceof APIError) || error.status === undefined) return false;
  const shouldRetry = error.headers?.get('x-should-retry');
  if (shouldRetry === 'true') return true;
  if (shouldRetry === 'false') return false;
  if ((requestedRetryDelayMs(error.headers) ?? 0) > MAX_RETRY_AFTER_MS) return false;
  return error.status === 408 || error.status === 409 || error.status === 429 || error.status >= 500;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export interface UpstreamHttpSettings {
  /** e.g. https://api.openai.com/v1 */
  baseURL: string;
  apiKey: string;
  /** Per attempt: until the reply's headers, and for any stall within its body. */
  timeoutMs: number;
  /** Per call: every attempt and every wait between them. */
  totalTimeoutMs: number;
  maxRetries: number;
  /** Longest reply body read; a longer one fails with UpstreamReplyTooLargeError. */
  maxReplyBytes: number;
  dispatcher: Dispatcher;
}

export interface UpstreamReply<T> {
  body: T;
  /** How many times the request was sent (1 without retries). */
  attempts: number;
  /** The upstream's x-request-id, for its support. */
  requestId: string | undefined;
}

export interface UpstreamHttp {
  /**
   * POSTs `body` as JSON to `path` (e.g. /responses) under the base URL; resolves with the parsed 2xx
   * reply, or rejects with the SDK's error classes, UpstreamDeadlineError or UpstreamReplyTooLargeError.
   */
  postJson<T>(path: string, body: unknown, signal?: AbortSignal): Promise<UpstreamReply<T>>;
}

export function createUpstreamHttp(settings: UpstreamHttpSettings): UpstreamHttp {
  const baseURL = settings.baseURL.replace(/\/+$/, '');
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json',
    authorization: `Bearer ${settings.apiKey}`,
    'user-agent': `amazon-electronics-ft/${API_VERSION}`,
  };
  /**
   * One attempt, ending by `deadline` (a performance.now() time). The per-attempt timeout is undici's
   * own: the reply's headers must arrive within it, and the body must never stall for longer. The
   * total deadline shortens the wait for headers, and a timer ends a body still arriving when it
   * passes (a timer, not an AbortSignal: on Node 20 each new signal leaves garbage that only a full
   * GC frees). A caller's abort cancels at once.
   */
  async function send(url: string, payload: string, signal: AbortSignal | undefined, deadline: number): Promise<{ body: unknown; requestId: string | undefined }> {
    if (signal?.aborted) throw new APIUserAbortError();
    const remaining = Math.max(1, Math.ceil(deadline - performance.now()));
    const deadlineFirst = remaining < settings.timeoutMs;
    let deadlineTimer: NodeJS.Timeout | undefined;
    try {
      const reply = await request(url, {
        method: 'POST',
        headers,
        body: payload,
        signal,
        headersTimeout: Math.min(settings.timeoutMs, remaining),
        bodyTimeout: settings.timeoutMs,
        dispatcher: settings.dispatcher,
      });
      deadlineTimer = setTimeout(() => reply.body.destroy(new UpstreamDeadlineError(settings.totalTimeoutMs)), Math.max(1, deadline - performance.now()));
      const text = await readCappedBody(reply.body, reply.headers, settings.maxReplyBytes);
      const replyHeaders = new Headers(headerPairs(reply.headers));
      if (reply.statusCode >= 200 && reply.statusCode < 300) {
        const parsed = parseJson(text);
        if (parsed === undefined) throw new APIError(reply.statusCode, undefined, 'the reply was not valid JSON', replyHeaders);
        return { body: parsed, requestId: replyHeaders.get('x-request-id') ?? undefined };
      }
      const errorBody = parseJson(text);
      throw APIError.generate(reply.statusCode, errorBody as object | undefined, errorBody === undefined ? text.slice(0, 500) : undefined, replyHeaders);
    } catch (error) {
      if (error instanceof APIError || error instanceof UpstreamReplyTooLargeError) throw error;
      if (signal?.aborted) throw new APIUserAbortError();
      if (error instanceof errors.HeadersTimeoutError && deadlineFirst) throw new UpstreamDeadlineError(settings.totalTimeoutMs);
      if (error instanceof errors.HeadersTimeoutError || error instanceof errors.BodyTimeoutError) throw new APIConnectionTimeoutError();
      throw new APIConnectionError({ cause: error instanceof Error ? error : new Error(String(error)) });
    } finally {
      clearTimeout(deadlineTimer);
    }
  }

  return {
    async postJson<T>(path: string, body: unknown, signal?: AbortSignal) {
      const url = `${baseURL}${path}`;
      const payload = JSON.stringify(body);
      const deadline = performance.now() + settings.totalTimeoutMs;
      // The SDK's retry loop, written out so that its waits count against the total deadline.
      for (let attempts = 1; ; attempts += 1) {
        try {
          const reply = await send(url, payload, signal, deadline);
          return { body: reply.body as T, attempts, requestId: reply.requestId };
        } catch (error) {
          if (attempts > settings.maxRetries || !isRetryable(error)) throw error;
          const delayMs = (error instanceof APIError ? requestedRetryDelayMs(error.headers) : undefined) ?? defaultRetryDelayMs(attempts);
          // A retry that could not start before the deadline would only turn this failure into a timeout.
          if (performance.now() + delayMs >= deadline) throw error;
          await sleep(delayMs);
        }
      }
    },
  };
}
