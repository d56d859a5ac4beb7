import { download, startRun, waitForRun } from './evaluation-client.js';
import type { ForkedProcess } from './forked-process.js';
import type { SectionResult } from './report.js';
import { count, mb, ms, perSecond, ratio } from './stats.js';
import { inquiryVariants, type SupportData } from './support-data.js';

/** Results per run (inquiries × 2 models); POST /evaluate takes at most 5,000 inline inquiries. */
const RESULT_COUNTS = [1_000, 5_000, 10_000];
const MODELS = ['fine-tuned', 'retrieval'];
const CONCURRENCY = 16;
const PEAK_BUDGET_BYTES = 300 * 1024 * 1024;
const MAX_GROWTH = 1.25;

type PromptEntry = string | { inquiry: string; reference: string };

/** Half the items carry a reference (validation answers); the other half are scored on actionability and safety only (no reference). */
export function memoryRunItems(data: SupportData, inquiries: number): PromptEntry[] {
  const referenced = Math.ceil(inquiries / 2);
  const withReference = inquiryVariants(data.validation.map((example) => example.inquiry), referenced, 7);
  const withoutReference = inquiryVariants(data.training.map((example) => example.inquiry), inquiries - referenced, 8);
  const items: PromptEntry[] = [];
  for (let index = 0; index < inquiries; index += 1) {
    const half = Math.floor(index / 2);
    if (index % 2 === 0) {
      const example = data.validation[half % data.validation.length] as { answer: string };
      items.push({ inquiry: withReference[half] as string, reference: example.answer });
    } else {
      items.push(withoutReference[half] as string);
    }
  }
  return items;
}

interface SizeResult {
  results: number;
  wallMs: number;
  status: string;
  failed: number;
  exports: string;
  exportsOk: boolean;
  polls: number;
  /** Requests of the bench the service answered 503 (overloaded) or 429 during this run. */
  refused: number;
  bootRss: number;
  peakRss: number;
  heapAfterGc: number | null;
}

export interface RunMemoryInput {
  data: SupportData;
  /** A fresh service per size, so that each peak is that run's own and not the high-water mark of the previous one. */
  startService: () => Promise<ForkedProcess>;
}

async function measureOneSize(input: RunMemoryInput, results: number): Promise<SizeResult> {
  const service = await input.startService();
  try {
    const refusals = { count: 0 };
    const startedAt = performance.now();
    const runId = await startRun(service.url, {
      inquiries: memoryRunItems(input.data, results / MODELS.length),
      models: MODELS,
      scorer: 'heuristic',
      concurrency: CONCURRENCY,
    }, refusals);
    const { view, seenEndedAt, polls } = await waitForRun(service.url, runId, 100, 120_000, refusals);
    const files = ['results.csv', 'summary.md', 'chart.svg'];
    const downloads = [];
    for (const file of files) downloads.push(await download(service.url, `/evaluate/${runId}/${file}`, refusals));
    const memory = await service.request({ type: 'memory' }, 'memory');
    return {
      results,
      wallMs: seenEndedAt - startedAt,
      status: view.status,
      failed: view.progress.failed,
      exports: downloads.map((file, index) => `${files[index]} ${(file.bytes / 1024).toFixed(0)} KB`).join(', '),
      exportsOk: downloads.every((file) => file.status === 200 && file.bytes > 0),
      polls,
      refused: refusals.count,
      bootRss: memory.bootRss,
      peakRss: Math.max(memory.peakRss, memory.vmHwm ?? 0),
      heapAfterGc: memory.heapAfterGc,
    };
  } finally {
    await service.stop();
  }
}

export async function measureRunMemory(input: RunMemoryInput): Promise<SectionResult> {
  const sizes: SizeResult[] = [];
  for (const results of RESULT_COUNTS) sizes.push(await measureOneSize(input, results));
  const smallest = sizes[0] as SizeResult;
  const largest = sizes[sizes.length - 1] as SizeResult;
  const growth = largest.peakRss / smallest.peakRss;
  const allComplete = sizes.every((size) => size.status === 'completed' && size.failed === 0 && size.exportsOk);
  const polls = sizes.reduce((sum, size) => sum + size.polls, 0);
  const refused = sizes.reduce((sum, size) => sum + size.refused, 0);
  return {
    title: `3. Memory: evaluation runs of ${RESULT_COUNTS.map(count).join(', ')} results (fine-tuned via the fake at 0 ms + offline retrieval, heuristic scorer), then the three exports`,
    head: ['Results', 'Run', 'Results/s', 'Status, failed', 'Polls, refused (503/429)', 'Downloads', 'RSS after boot', 'Peak RSS', 'Heap after GC, at the end'],
    rows: sizes.map((size) => [
      count(size.results),
      ms(size.wallMs, 0),
      perSecond(size.results / (size.wallMs / 1000)),
      `${size.status}, ${size.failed}`,
      `${count(size.polls)}, ${count(size.refused)}`,
      size.exports,
      mb(size.bootRss),
      mb(size.peakRss),
      size.heapAfterGc === null ? 'n/a' : mb(size.heapAfterGc),
    ]),
    checks: [
      { target: `Peak RSS < ${mb(PEAK_BUDGET_BYTES)} at ${count(largest.results)} results`, measured: mb(largest.peakRss), pass: largest.peakRss < PEAK_BUDGET_BYTES },
      {
        target: `Roughly flat: peak at ${count(largest.results)} ≤ ${MAX_GROWTH} × peak at ${count(smallest.results)}`,
        measured: `${ratio(growth)}× (${sizes.map((size) => mb(size.peakRss)).join(' → ')})`,
        pass: growth <= MAX_GROWTH,
      },
      { target: 'Every run completed, no item failed, every export downloaded', measured: allComplete ? 'yes' : 'no', pass: allComplete },
    ],
    notes: [
      'Why this mix: the fine-tuned alias goes through the whole upstream path (retries, circuit breaker, undici pool, the fake answering real support answers) and the retrieval alias through the knowledge base; the heuristic scorer then scores both, half the items against a given reference and half, without one, on actionability and safety only; the summary then resamples every paired comparison (10,000 bootstrap resamples and sign patterns per measure). No network beyond 127.0.0.1.',
      "Peak RSS is the larger of the service's own samples of process.memoryUsage.rss() every 50 ms and the kernel's VmHWM, read in the service process after the downloads; the service process is fresh for each size and runs the service compiled to JavaScript, as in production. Heap after GC is measured after a forced full collection once the downloads are done: what the process still holds, as opposed to garbage it had not yet collected.",
      'Run time goes from the POST until a poll (every 100 ms) sees the run completed; the three downloads come after it, inside the peak but not the time.',
      ...(refused > 0
        ? [
            `The service answered 503 to ${count(refused)} requests of the bench (${count(polls)} status polls every 100 ms, plus the POSTs and downloads) while these runs went on: with an offline model and the heuristic scorer nothing waits on the network, the run keeps the event loop busy, and the load shedding then refuses every other request to the instance (POST /answer included) until the run ends.`,
          ]
        : []),
    ],
  };
}
