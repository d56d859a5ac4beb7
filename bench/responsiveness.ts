import { setTimeout as sleep } from 'node:timers/promises';
import { startRun, waitForRun, waitUntilAccepting, type Refusals } from './evaluation-client.js';
import type { ForkedProcess } from './forked-process.js';
import type { SectionResult } from './report.js';
import { SERVICE_AUTH_HEADERS } from './service-env.js';
import { count, ms, summarizeLatencies, type LatencySummary } from './stats.js';
import type { SupportData } from './support-data.js';

const UPSTREAM_LATENCY_MS = 100;
const ANSWERS = 60;
// 5,000 calls at 64 at once take about 8 s against a 100 ms upstream: longer than the 60 interactive calls measured meanwhile.
const BATCH_INQUIRIES = 5000;
const BATCH_CONCURRENCY = 64;
const OFFLINE_INQUIRIES = 2500;
const HEALTH_EVERY_MS = 20;
/** Interactive calls during a run at its full concurrency: their p50 may grow by this much over calls alone. */
const MAX_P50_GROWTH = 1.5;
const MAX_HEALTH_P99_MS = 250;

export interface ResponsivenessInput {
  service: ForkedProcess;
  upstream: ForkedProcess;
  data: SupportData;
}

async function timeAnswers(serviceUrl: string, inquiry: string): Promise<{ latency: LatencySummary; failed: number }> {
  const latencies: number[] = [];
  let failed = 0;
  for (let index = 0; index < ANSWERS; index += 1) {
    const started = performance.now();
    const response = await fetch(`${serviceUrl}/answer`, {
      method: 'POST',
      headers: { ...SERVICE_AUTH_HEADERS, 'content-type': 'application/json' },
      body: JSON.stringify({ inquiry }),
    });
    await response.arrayBuffer();
    latencies.push(performance.now() - started);
    if (response.status !== 200) failed += 1;
  }
  return { latency: summarizeLatencies(latencies), failed };
}

/** /health every HEALTH_EVERY_MS until `done` resolves: what a load balancer's probe sees. */
async function probeHealth(serviceUrl: string, done: Promise<unknown>): Promise<LatencySummary> {
  const latencies: number[] = [];
  let finished = false;
  void done.finally(() => (finished = true));
  while (!finished) {
    const started = performance.now();
    const response = await fetch(`${serviceUrl}/health`);
    await response.arrayBuffer();
    latencies.push(performance.now() - started);
    await sleep(HEALTH_EVERY_MS);
  }
  return summarizeLatencies(latencies);
}

const show = (latency: LatencySummary) => `${ms(latency.p50, 1)} / ${ms(latency.p99, 1)}`;

export async function measureResponsiveness(input: ResponsivenessInput): Promise<SectionResult> {
  const { service, upstream, data } = input;
  const inquiry = data.validation[0]?.inquiry ?? 'How do I return a defective Bluetooth speaker?';
  await upstream.request({ type: 'set-latency', latencyMs: UPSTREAM_LATENCY_MS }, 'ack');
  try {
    await waitUntilAccepting(service.url);
    await timeAnswers(service.url, inquiry); // warm-up
    const alone = await timeAnswers(service.url, inquiry);

    const refusals: Refusals = { count: 0 };
    const batch = Array.from({ length: BATCH_INQUIRIES }, (_, index) => `${inquiry} (${index})`);
    const batchRun = await startRun(service.url, { inquiries: batch, models: ['fine-tuned'], scorer: 'none', concurrency: BATCH_CONCURRENCY }, refusals);
    await sleep(300);
    const duringRun = await timeAnswers(service.url, inquiry);
    const measuredAt = Date.now();
    const batchEnded = await waitForRun(service.url, batchRun, 100, 120_000, refusals);
    const runOutlasted = batchEnded.view.finished_at !== null && Date.parse(batchEnded.view.finished_at) > measuredAt;

    // CPU-bound: the offline models and the heuristic never wait on the network.
    const examples = [...data.validation, ...data.training];
    const offline = Array.from({ length: OFFLINE_INQUIRIES }, (_, index) => {
      const example = examples[index % examples.length] as { inquiry: string; answer: string };
      return { id: `offline-${index}`, inquiry: `${example.inquiry} (${index})`, reference: example.answer };
    });
    await waitUntilAccepting(service.url);
    const offlineRun = await startRun(service.url, { inquiries: offline, models: ['retrieval', 'handoff'], scorer: 'heuristic', concurrency: 8 }, refusals);
    const offlineEnded = waitForRun(service.url, offlineRun, 250, 300_000, refusals);
    const health = await probeHealth(service.url, offlineEnded);
    const offlineView = (await offlineEnded).view;

    const growth = duringRun.latency.p50 / alone.latency.p50;
    return {
      title: `6. Responsiveness: POST /answer alone and during a run at concurrency ${BATCH_CONCURRENCY}; /health during a CPU-bound offline run`,
      head: ['Measure', 'p50 / p99', 'Requests', 'Failed'],
      rows: [
        [`POST /answer alone (upstream ${UPSTREAM_LATENCY_MS} ms)`, show(alone.latency), count(alone.latency.count), count(alone.failed)],
        [`POST /answer during a run of ${count(BATCH_INQUIRIES)} calls at concurrency ${BATCH_CONCURRENCY}`, show(duringRun.latency), count(duringRun.latency.count), count(duringRun.failed)],
        [`GET /health every ${HEALTH_EVERY_MS} ms during an offline run (${count(OFFLINE_INQUIRIES)} items × retrieval, handoff, heuristic scorer)`, show(health), count(health.count), '0'],
      ],
      checks: [
        {
          target: `POST /answer p50 during the run ≤ ${MAX_P50_GROWTH} × alone`,
          measured: `${ms(duringRun.latency.p50, 1)} vs ${ms(alone.latency.p50, 1)} (${growth.toFixed(2)}×)`,
          pass: growth <= MAX_P50_GROWTH && duringRun.failed === 0 && runOutlasted,
        },
        { target: `GET /health p99 < ${MAX_HEALTH_P99_MS} ms during the offline run`, measured: ms(health.p99, 1), pass: health.p99 < MAX_HEALTH_P99_MS },
        {
          target: 'Both runs completed',
          measured: `${batchEnded.view.status}, ${offlineView.status} (${count(offlineView.progress.done)} results)`,
          pass: batchEnded.view.status === 'completed' && offlineView.status === 'completed',
        },
      ],
      notes: [
        `Interactive calls and runs use separate connection pools per upstream, so a run holding all its connections does not make /answer wait for one. The run ${runOutlasted ? 'was still going when the last of the interactive calls was answered' : 'ended before the interactive calls did, so the check fails'}.`,
        `The offline run scores every answer with the heuristic on the service's event loop; its workers hand the loop back after each item and its summary yields every 10 ms, which is what /health's p99 shows. Requests refused with 503/429 while polling: ${count(refusals.count)}.`,
      ],
    };
  } finally {
    await upstream.request({ type: 'set-latency', latencyMs: 0 }, 'ack');
  }
}
