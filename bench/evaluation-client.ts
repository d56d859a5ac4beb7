import { setTimeout as sleep } from 'node:timers/promises';
import { SERVICE_AUTH_HEADERS } from './service-env.js';

export interface RunStatusView {
  run_id: string;
  status: 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
  progress: { total: number; done: number; failed: number };
  /** Present once the run has ended. */
  summary?: { all: { models: Array<{ alias: string; latency_ms: { p50: number; p95: number } | null }> } } | null;
}

const ENDED = new Set(['completed', 'failed', 'cancelled']);
// The service sheds load with 503 and rate-limits with 429, both with Retry-After: a client retries them.
const RETRYABLE = new Set([429, 503]);
const MAX_ATTEMPTS = 40;
const RETRY_PAUSE_MS = 250;

/** How often the service refused a request of this client because it was overloaded or rate-limited. */
export interface Refusals {
  count: number;
}

async function fetchRetrying(url: string, init: { method?: string; headers?: Record<string, string>; body?: string }, refusals: Refusals): Promise<Response> {
  for (let attempt = 1; ; attempt += 1) {
    const response = await fetch(url, { ...init, headers: { ...SERVICE_AUTH_HEADERS, ...init.headers } });
    if (!RETRYABLE.has(response.status) || attempt === MAX_ATTEMPTS) return response;
    refusals.count += 1;
    await response.body?.cancel();
    await sleep(RETRY_PAUSE_MS);
  }
}

/**
 * Waits until the service would accept work again: its load shedding judges the last sampled
 * interval, so right after a saturating run it refuses requests for up to a second.
 */
export async function waitUntilAccepting(serviceUrl: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const response = await fetch(`${serviceUrl}/ready`);
    await response.body?.cancel();
    if (response.status === 200) return;
    await sleep(100);
  }
  throw new Error(`the service still refused GET /ready after ${timeoutMs} ms`);
}

export async function startRun(serviceUrl: string, body: unknown, refusals: Refusals): Promise<string> {
  const response = await fetchRetrying(
    `${serviceUrl}/evaluate`,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
    refusals,
  );
  const reply = (await response.json()) as { run_id?: string; error?: { message: string } };
  if (response.status !== 202 || !reply.run_id) throw new Error(`POST /evaluate answered ${response.status}: ${reply.error?.message ?? JSON.stringify(reply)}`);
  return reply.run_id;
}

export interface EndedRun {
  view: RunStatusView;
  /** performance.now() when the poll that saw the run ended was answered. */
  seenEndedAt: number;
  polls: number;
}

/**
 * Polls until the run has ended, bounded by `timeoutMs` so that a stuck run cannot hang the bench.
 * A refused poll is counted and polled again at the same pace: the end of the run is still seen on time.
 */
export async function waitForRun(
  serviceUrl: string,
  runId: string,
  pollEveryMs: number,
  timeoutMs: number,
  refusals: Refusals,
  /** Called with every status read, and when (performance.now()) it was answered. */
  onView?: (view: RunStatusView, seenAt: number) => void,
): Promise<EndedRun> {
  const deadline = performance.now() + timeoutMs;
  let polls = 0;
  while (performance.now() < deadline) {
    polls += 1;
    const response = await fetch(`${serviceUrl}/evaluate/${runId}`, { headers: SERVICE_AUTH_HEADERS });
    const seenEndedAt = performance.now();
    if (RETRYABLE.has(response.status)) {
      refusals.count += 1;
      await response.body?.cancel();
    } else {
      if (response.status !== 200) throw new Error(`GET /evaluate/${runId} answered ${response.status}: ${await response.text()}`);
      const view = (await response.json()) as RunStatusView;
      onView?.(view, seenEndedAt);
      if (ENDED.has(view.status)) return { view, seenEndedAt, polls };
    }
    await sleep(pollEveryMs);
  }
  throw new Error(`run ${runId} had not ended after ${timeoutMs} ms`);
}

/** Downloads one export to the end and returns its size, so the service does all the work a client would make it do. */
export async function download(serviceUrl: string, path: string, refusals: Refusals): Promise<{ status: number; bytes: number }> {
  const response = await fetchRetrying(`${serviceUrl}${path}`, {}, refusals);
  let bytes = 0;
  if (response.body) for await (const chunk of response.body) bytes += (chunk as Uint8Array).byteLength;
  return { status: response.status, bytes };
}
