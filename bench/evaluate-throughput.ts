import { setTimeout as sleep } from 'node:timers/promises';
import { startRun, waitForRun, waitUntilAccepting, type RunStatusView } from './evaluation-client.js';
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
export async function waitUntilUpstreamIdle(upstream: ForkedProcess): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const { inFlight } = await upstream.request({ type: 'max-in-flight' }, 'max-in-flight');
    if (inFlight === 0) return;
    await sleep(50);
  }
  throw new Error('the fake upstream still had calls in flight after 5 s');
}

interface TimedRun {
  view: RunStatusView;
  wallMs: number;
  /** The run's own started_at → finished_at. */
  recordedMs: number;
  maxInFlight: number;
  polls: number;
  refusals: number;
}

async function timeRun(input: EvaluateThroughputInput): Promise<TimedRun> {
  const body = { inquiries: input.inquiries.slice(0, INQUIRIES), models: MODELS, scorer: 'none', concurrency: CONCURRENCY };
  const refusals = { count: 0 };
  await waitUntilUpstreamIdle(input.upstream);
  await waitUntilAccepting(input.service.url);
  const postedAt = performance.now();
  const runId = await startRun(input.service.url, body, refusals);
  const { view, seenEndedAt, polls } = await waitForRun(input.service.url, runId, POLL_EVERY_MS, 60_000, refusals);
  const { maxInFlight } = await input.upstream.request({ type: 'max-in-flight' }, 'max-in-flight');
  const recordedMs = view.started_at && view.finished_at ? Date.parse(view.finished_at) - Date.parse(view.started_at) : Number.NaN;
  return { view, wallMs: seenEndedAt - postedAt, recordedMs, maxInFlight, polls, refusals: refusals.count };
}

export async function measureEvaluateThroughput(input: EvaluateThroughputInput): Promise<SectionResult> {
  const calls = INQUIRIES * MODELS.length;
  const idealMs = (calls / CONCURRENCY) * UPSTREAM_LATENCY_MS;
  await input.upstream.request({ type: 'set-latency', latencyMs: UPSTREAM_LATENCY_MS }, 'ack');
  try {
    // The service's first run pays once for compiling the run's code and starting the chart
    // renderer's thread; a service that evaluates does that once in its life. Both runs are shown,
    // and the target is judged on the second, like the proxy figures after their warm-up.
    const first = await timeRun(input);
    const timed = await timeRun(input);
    const { view } = timed;
    const callLatencies = (view.summary?.all.models ?? []).flatMap((model) => (model.latency_ms ? [{ alias: model.alias, ...model.latency_ms }] : []));
    const slowestP50 = Math.max(...callLatencies.map((model) => model.p50));
    const wallRatio = timed.wallMs / idealMs;
    const completed = (run: TimedRun) => run.view.status === 'completed' && run.view.progress.done === calls && run.view.progress.failed === 0;
    const complete = completed(first) && completed(timed);
    const maxInFlight = Math.max(first.maxInFlight, timed.maxInFlight);
    const outcome = (run: TimedRun) => `${run.view.status}, ${run.view.progress.done} done, ${run.view.progress.failed} failed`;
    return {
      title: `2. Evaluate throughput: ${INQUIRIES} inquiries × ${MODELS.length} models, scorer none, ${UPSTREAM_LATENCY_MS} ms upstream latency, concurrency ${CONCURRENCY}`,
      head: ['Measure', 'First run after boot', 'Next run'],
      rows: [
        ['Upstream calls', count(calls), count(calls)],
        ['Ideal (calls ÷ concurrency × latency)', ms(idealMs, 0), ms(idealMs, 0)],
        ['Wall time, POST to status completed', ms(first.wallMs, 0), ms(timed.wallMs, 0)],
        ["Run's own started_at → finished_at", ms(first.recordedMs, 0), ms(timed.recordedMs, 0)],
        ['Wall ÷ ideal', ratio(first.wallMs / idealMs), ratio(wallRatio)],
        ['Most upstream calls in flight at once (seen by the fake)', String(first.maxInFlight), String(timed.maxInFlight)],
        ...callLatencies.map((model) => [`Call latency as the service measured it, ${model.alias}: p50 / p95`, '', `${ms(model.p50, 0)} / ${ms(model.p95, 0)}`]),
        ['Status, done, failed', outcome(first), outcome(timed)],
        ['Polls (every ~10 ms), of which refused with 503/429', `${count(first.polls)}, ${count(first.refusals)}`, `${count(timed.polls)}, ${count(timed.refusals)}`],
      ],
      checks: [
        { target: `Wall ÷ ideal ≤ ${MAX_RATIO} (next run)`, measured: ratio(wallRatio), pass: wallRatio <= MAX_RATIO && complete },
        { target: `Both runs completed with all ${calls} calls done, none failed`, measured: `${outcome(first)}; ${outcome(timed)}`, pass: complete },
        { target: `Never more than ${CONCURRENCY} upstream calls in flight`, measured: String(maxInFlight), pass: maxInFlight <= CONCURRENCY },
      ],
      notes: [
        `The first run after boot also compiles the run's code paths and starts the chart renderer's thread, which loads Vega (about 300 ms of CPU on the other core); its wall ÷ ideal is ${ratio(first.wallMs / idealMs)}.`,
        ...(callLatencies.length === 0
          ? []
          : [
              `The calls themselves take ${ms(slowestP50, 0)} at p50 where the fake waits ${UPSTREAM_LATENCY_MS} ms, which alone makes a ratio of ${ratio(slowestP50 / UPSTREAM_LATENCY_MS)}; the rest is time between calls (a worker writing its result and taking the next pair, with ${CONCURRENCY} replies landing at once on one thread) and the exports written at the end.`,
            ]),
      ],
    };
  } finally {
    await input.upstream.request({ type: 'set-latency', latencyMs: 0 }, 'ack');
  }
}
