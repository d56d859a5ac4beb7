import { setTimeout as sleep } from 'node:timers/promises';
import { startRun, waitForRun, waitUntilAccepting } from './evaluation-client.js';
import type { ForkedProcess } from './forked-process.js';
import type { SectionResult } from './report.js';
import { count, ms, ratio } from './stats.js';

const INQUIRIES = 200;
const MODELS = ['fine-tuned', 'baseline'];
const CONCURRENCY = 16;
const UPSTREAM_LATENCY_MS = 100;
const POLL_EVERY_MS = 10;
const MAX_RATIO = 1.15;

export interface EvaluateThroughputInput {
  service: ForkedProcess;
  upstream: ForkedProcess;
  inquiries: readonly string[];
}

/**
 * Calls the service accepted during the previous section may still be on their way to the fake;
 * they must not count as this run's concurrency.
 */
async function waitUntilUpstreamIdle(upstream: ForkedProcess): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const { inFlight } = await upstream.request({ type: 'max-in-flight' }, 'max-in-flight');
    if (inFlight === 0) return;
    await sleep(50);
  }
  throw new Error('the fake upstream still had calls in flight after 5 s');
}

export async function measureEvaluateThroughput(input: EvaluateThroughputInput): Promise<SectionResult> {
  const calls = INQUIRIES * MODELS.length;
  const idealMs = (calls / CONCURRENCY) * UPSTREAM_LATENCY_MS;
  await input.upstream.request({ type: 'set-latency', latencyMs: UPSTREAM_LATENCY_MS }, 'ack');
  await waitUntilUpstreamIdle(input.upstream);
  try {
    const body = { inquiries: input.inquiries.slice(0, INQUIRIES), models: MODELS, scorer: 'none', concurrency: CONCURRENCY };
    const refusals = { count: 0 };
    await waitUntilAccepting(input.service.url);
    const postedAt = performance.now();
    const runId = await startRun(input.service.url, body, refusals);
    const { view, seenEndedAt, polls } = await waitForRun(input.service.url, runId, POLL_EVERY_MS, 60_000, refusals);
    const { maxInFlight } = await input.upstream.request({ type: 'max-in-flight' }, 'max-in-flight');

    const wallMs = seenEndedAt - postedAt;
    const callLatencies = (view.summary?.all.models ?? []).flatMap((model) => (model.latency_ms ? [{ alias: model.alias, ...model.latency_ms }] : []));
    const slowestP50 = Math.max(...callLatencies.map((model) => model.p50));
    const recordedMs = view.started_at && view.finished_at ? Date.parse(view.finished_at) - Date.parse(view.started_at) : Number.NaN;
    const wallRatio = wallMs / idealMs;
    const complete = view.status === 'completed' && view.progress.done === calls && view.progress.failed === 0;
    return {
      title: `2. Evaluate throughput: ${INQUIRIES} inquiries × ${MODELS.length} models, scorer none, ${UPSTREAM_LATENCY_MS} ms upstream latency, concurrency ${CONCURRENCY}`,
      head: ['Measure', 'Value'],
      rows: [
        ['Upstream calls', count(calls)],
        ['Ideal (calls ÷ concurrency × latency)', ms(idealMs, 0)],
        ['Wall time, POST to status completed', ms(wallMs, 0)],
        ["Run's own started_at → finished_at", ms(recordedMs, 0)],
        ['Wall ÷ ideal', ratio(wallRatio)],
        ['Most upstream calls in flight at once (seen by the fake)', String(maxInFlight)],
        ...callLatencies.map((model) => [`Call latency as the service measured it, ${model.alias}: p50 / p95`, `${ms(model.p50, 0)} / ${ms(model.p95, 0)}`]),
        ['Status, done, failed', `${view.status}, ${view.progress.done}, ${view.progress.failed}`],
        ['Polls (every ~10 ms), of which refused with 503/429', `${count(polls)}, ${count(refusals.count)}`],
      ],
      checks: [
        { target: `Wall ÷ ideal ≤ ${MAX_RATIO}`, measured: ratio(wallRatio), pass: wallRatio <= MAX_RATIO && complete },
        { target: `Run completed with all ${calls} calls done, none failed`, measured: `${view.status}, ${view.progress.done} done, ${view.progress.failed} failed`, pass: complete },
        { target: `Never more than ${CONCURRENCY} upstream calls in flight`, measured: String(maxInFlight), pass: maxInFlight <= CONCURRENCY },
      ],
      notes: callLatencies.length === 0 ? [] : [
        `The calls themselves take ${ms(slowestP50, 0)} at p50 where the fake waits ${UPSTREAM_LATENCY_MS} ms, which alone makes a ratio of ${ratio(slowestP50 / UPSTREAM_LATENCY_MS)}; the rest is time between calls (a worker writing its result and taking the next pair, with ${CONCURRENCY} replies landing at once on one thread).`,
      ],
    };
  } finally {
    await input.upstream.request({ type: 'set-latency', latencyMs: 0 }, 'ack');
  }
}
