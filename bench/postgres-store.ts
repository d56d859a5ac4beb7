import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { HEARTBEAT_MS } from '../src/runs/pair-queue.js';
import { waitUntilUpstreamIdle } from './evaluate-throughput.js';
import { download, startRun, waitForRun, waitUntilAccepting, type RunStatusView } from './evaluation-client.js';
import type { ForkedProcess } from './forked-process.js';
import { startBenchPostgres, type BenchPostgres } from './postgres-server.js';
import { cpuSecondsOf, cpuSecondsOfTree } from './process-cpu.js';
import type { Check, SectionResult } from './report.js';
import { memoryRunItems } from './run-memory.js';
import { count, mb, ms, perSecond, ratio } from './stats.js';
import { inquiryVariants, type SupportData } from './support-data.js';

const UPSTREAM_LATENCY_MS = 100;
const UPSTREAM_MODELS = ['fine-tuned', 'baseline'];
/** (inquiries, concurrency): 400 and 4,000 calls. */
const UPSTREAM_RUNS = [
  { inquiries: 200, concurrency: 16 },
  { inquiries: 2000, concurrency: 64 },
] as const;
/** PostgreSQL with one process may be this much slower than the file store (wall ÷ ideal, 400 calls). */
const MAX_POSTGRES_SLOWDOWN = 1.1;

const OFFLINE_MODELS = ['retrieval', 'handoff'];
const OFFLINE_CONCURRENCY = 64;
/** Pairs (item, model) of the offline runs: POST /evaluate takes at most 5,000 items, so 10,000 pairs are 5,000 items × 2 models. */
const OFFLINE_PAIRS = 10_000;
const SMALL_OFFLINE_PAIRS = 2_500;
const MIN_WORKER_SPEEDUP = 1.5;
const PEAK_BUDGET_BYTES = 300 * 1024 * 1024;
/** As in run-memory.ts: the peak at the large run may be at most this multiple of the peak at the small one. */
const MAX_GROWTH = 1.25;
const CSV_EXPORTS = ['results.csv', 'results-wide.csv'];

export interface PostgresStoreInput {
  data: SupportData;
  upstream: ForkedProcess;
  /** A fresh service process (the compiled entry, its own reports folder) with these variables over the bench's environment. */
  startService: (env: Record<string, string>) => Promise<ForkedProcess>;
}

/** Who serves and who executes: one process (ROLE=all), or an API process (ROLE=api) and `workers` processes with ROLE=worker. */
interface Layout {
  label: string;
  store: 'file' | 'postgres';
  workers: number;
}

interface Deployment {
  api: ForkedProcess;
  workers: ForkedProcess[];
  stop(): Promise<void>;
}

async function deploy(input: PostgresStoreInput, database: BenchPostgres, layout: Layout): Promise<Deployment> {
  const started: ForkedProcess[] = [];
  const stop = async () => {
    for (const child of started.reverse()) await child.stop();
  };
  try {
    const storeEnv: Record<string, string> = layout.store === 'postgres' ? { RUNS_STORE: 'postgres', DATABASE_URL: database.url } : { RUNS_STORE: 'file' };
    const api = await input.startService({ ...storeEnv, ROLE: layout.workers === 0 ? 'all' : 'api' });
    started.push(api);
    const workers: ForkedProcess[] = [];
    for (let index = 0; index < layout.workers; index += 1) {
      const worker = await input.startService({ ...storeEnv, ROLE: 'worker' });
      started.push(worker);
      workers.push(worker);
    }
    // Each worker counts the live workers at its heartbeat to share a run's concurrency out: until every one
    // has beaten once after the last one started, the first may still count itself alone and take a whole share.
    if (layout.workers > 1) await sleep(HEARTBEAT_MS + 500);
    await waitUntilAccepting(api.url);
    return { api, workers, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** When a run's phases were seen by the bench's polls (performance.now()). */
interface Followed {
  view: RunStatusView;
  postedAt: number;
  acceptedAt: number;
  firstResultAt: number;
  allDoneAt: number;
  endedAt: number;
  polls: number;
  refusals: number;
}

async function followRun(
  serviceUrl: string,
  body: object,
  pollEveryMs: number,
  timeoutMs: number,
  onAllDone: () => void = () => {},
): Promise<Followed> {
  const refusals = { count: 0 };
  const postedAt = performance.now();
  const runId = await startRun(serviceUrl, body, refusals);
  const acceptedAt = performance.now();
  let firstResultAt = Number.NaN;
  let allDoneAt = Number.NaN;
  const { view, seenEndedAt, polls } = await waitForRun(serviceUrl, runId, pollEveryMs, timeoutMs, refusals, (seen, at) => {
    if (Number.isNaN(firstResultAt) && seen.progress.done > 0) firstResultAt = at;
    if (Number.isNaN(allDoneAt) && seen.progress.done >= seen.progress.total) {
      allDoneAt = at;
      onAllDone();
    }
  });
  if (Number.isNaN(allDoneAt)) allDoneAt = seenEndedAt;
  return { view, postedAt, acceptedAt, firstResultAt, allDoneAt, endedAt: seenEndedAt, polls, refusals: refusals.count };
}

const completedFully = (view: RunStatusView) => view.status === 'completed' && view.progress.done === view.progress.total && view.progress.failed === 0;
const outcome = (view: RunStatusView) => `${view.status}, ${count(view.progress.done)}/${count(view.progress.total)}, ${view.progress.failed} failed`;

// ---- 1. Runs through the fake upstream ----

interface UpstreamRun {
  calls: number;
  concurrency: number;
  idealMs: number;
  run: Followed;
  maxInFlight: number;
}

async function timeUpstreamRun(input: PostgresStoreInput, deployment: Deployment, inquiries: readonly string[], concurrency: number): Promise<UpstreamRun> {
  await waitUntilUpstreamIdle(input.upstream);
  await waitUntilAccepting(deployment.api.url);
  const body = { inquiries, models: UPSTREAM_MODELS, scorer: 'heuristic', concurrency };
  // Every 10 ms, as the evaluate section polls, so that the end is seen within 10 ms.
  const run = await followRun(deployment.api.url, body, 10, 120_000);
  const { maxInFlight } = await input.upstream.request({ type: 'max-in-flight' }, 'max-in-flight');
  const calls = inquiries.length * UPSTREAM_MODELS.length;
  return { calls, concurrency, idealMs: (calls / concurrency) * UPSTREAM_LATENCY_MS, run, maxInFlight };
}

interface UpstreamLayoutResult {
  layout: Layout;
  warmUp: UpstreamRun;
  runs: UpstreamRun[];
}

async function measureUpstreamLayout(input: PostgresStoreInput, database: BenchPostgres, layout: Layout, inquiries: readonly string[]): Promise<UpstreamLayoutResult> {
  const deployment = await deploy(input, database, layout);
  try {
    // The first run after boot compiles the run's code paths and starts the chart thread: shown, not judged.
    const first = UPSTREAM_RUNS[0];
    const warmUp = await timeUpstreamRun(input, deployment, inquiries.slice(0, first.inquiries), first.concurrency);
    const runs: UpstreamRun[] = [];
    for (const size of UPSTREAM_RUNS) runs.push(await timeUpstreamRun(input, deployment, inquiries.slice(0, size.inquiries), size.concurrency));
    return { layout, warmUp, runs };
  } finally {
    await deployment.stop();
  }
}

const wallRatio = (run: UpstreamRun) => (run.run.endedAt - run.run.postedAt) / run.idealMs;

// ---- 2 and 3. Offline runs: CPU-bound throughput, CPU per process, peak memory ----

interface CpuSnapshot {
  api: number;
  workers: number[];
  postgres: number;
  bench: number;
}

interface OfflineResult {
  workers: number;
  pairs: number;
  run: Followed;
  /** CPU seconds from the POST until the bench saw every pair done. */
  cpu: CpuSnapshot;
  downloads: Array<{ file: string; status: number; bytes: number }>;
  /** max(sampled RSS, VmHWM) of the API process and of each worker, after the downloads. */
  peaks: { api: number; workers: number[] };
  bootRss: { api: number; workers: number[] };
}

function cpuSnapshot(deployment: Deployment, database: BenchPostgres): CpuSnapshot {
  const bench = process.cpuUsage();
  return {
    api: cpuSecondsOf(deployment.api.pid),
    workers: deployment.workers.map((worker) => cpuSecondsOf(worker.pid)),
    postgres: cpuSecondsOfTree(database.serverPid()),
    bench: (bench.user + bench.system) / 1e6,
  };
}

const cpuBetween = (before: CpuSnapshot, after: CpuSnapshot): CpuSnapshot => ({
  api: after.api - before.api,
  workers: after.workers.map((seconds, index) => seconds - (before.workers[index] as number)),
  postgres: after.postgres - before.postgres,
  bench: after.bench - before.bench,
});

async function measureOffline(input: PostgresStoreInput, database: BenchPostgres, workers: number, pairs: number): Promise<OfflineResult> {
  const deployment = await deploy(input, database, { label: `API + ${workers} workers`, store: 'postgres', workers });
  try {
    const items = memoryRunItems(input.data, pairs / OFFLINE_MODELS.length);
    const body = { inquiries: items, models: OFFLINE_MODELS, scorer: 'heuristic', concurrency: OFFLINE_CONCURRENCY };
    const before = cpuSnapshot(deployment, database);
    let atAllDone: CpuSnapshot | undefined;
    const run = await followRun(deployment.api.url, body, 100, 240_000, () => (atAllDone = cpuSnapshot(deployment, database)));
    const cpu = cpuBetween(before, atAllDone ?? cpuSnapshot(deployment, database));
    const downloads = [];
    for (const file of CSV_EXPORTS) downloads.push({ file, ...(await download(deployment.api.url, `/evaluate/${run.view.run_id}/${file}`, { count: 0 })) });
    const memories = await Promise.all([deployment.api, ...deployment.workers].map((child) => child.request({ type: 'memory' }, 'memory')));
    const peakOf = (memory: (typeof memories)[number]) => Math.max(memory.peakRss, memory.vmHwm ?? 0);
    const [apiMemory, ...workerMemories] = memories as [(typeof memories)[number], ...typeof memories];
    return {
      workers,
      pairs,
      run,
      cpu,
      downloads,
      peaks: { api: peakOf(apiMemory), workers: workerMemories.map(peakOf) },
      bootRss: { api: apiMemory.bootRss, workers: workerMemories.map((memory) => memory.bootRss) },
    };
  } finally {
    await deployment.stop();
  }
}

const pairsPhaseSeconds = (result: OfflineResult) => (result.run.allDoneAt - result.run.acceptedAt) / 1000;
const pairsPerSecond = (result: OfflineResult) => result.pairs / pairsPhaseSeconds(result);
/** The window of the CPU figures: from the POST until every pair was seen done. */
const cpuWindowSeconds = (result: OfflineResult) => (result.run.allDoneAt - result.run.postedAt) / 1000;
const seconds = (value: number) => (Number.isFinite(value) ? `${value.toFixed(1)} s` : 'n/a');
const cpuShare = (cpuSeconds: number, wallSeconds: number) => `${seconds(cpuSeconds)} (${Math.round((cpuSeconds / wallSeconds) * 100)}%)`;
const totalCpu = (cpu: CpuSnapshot) => cpu.api + cpu.workers.reduce((sum, value) => sum + value, 0) + cpu.postgres + cpu.bench;

// ---- The section ----

export async function measurePostgresStore(input: PostgresStoreInput): Promise<SectionResult> {
  const loadAtStart = loadavg()[0] as number;
  const database = await startBenchPostgres();
  try {
    const inquiries = inquiryVariants([...input.data.validation, ...input.data.training].map((example) => example.inquiry), UPSTREAM_RUNS[1].inquiries);
    const layouts: Layout[] = [
      { label: 'File store, 1 process (ROLE=all)', store: 'file', workers: 0 },
      { label: 'PostgreSQL, 1 process (ROLE=all)', store: 'postgres', workers: 0 },
      { label: 'PostgreSQL, API + 2 workers', store: 'postgres', workers: 2 },
    ];
    const upstreamResults: UpstreamLayoutResult[] = [];
    await input.upstream.request({ type: 'set-latency', latencyMs: UPSTREAM_LATENCY_MS }, 'ack');
    try {
      for (const layout of layouts) upstreamResults.push(await measureUpstreamLayout(input, database, layout, inquiries));
    } finally {
      await input.upstream.request({ type: 'set-latency', latencyMs: 0 }, 'ack');
    }

    const oneWorker = await measureOffline(input, database, 1, OFFLINE_PAIRS);
    const twoWorkers = await measureOffline(input, database, 2, OFFLINE_PAIRS);
    const twoWorkersSmall = await measureOffline(input, database, 2, SMALL_OFFLINE_PAIRS);
    const offline = [oneWorker, twoWorkers, twoWorkersSmall];

    return report({ loadAtStart, database, upstreamResults, offline, oneWorker, twoWorkers, twoWorkersSmall });
  } finally {
    await database.stop();
  }
}

interface Measured {
  loadAtStart: number;
  database: BenchPostgres;
  upstreamResults: UpstreamLayoutResult[];
  offline: OfflineResult[];
  oneWorker: OfflineResult;
  twoWorkers: OfflineResult;
  twoWorkersSmall: OfflineResult;
}

function report(measured: Measured): SectionResult {
  const { upstreamResults, offline, oneWorker, twoWorkers, twoWorkersSmall } = measured;
  const [fileStore, postgresOne, postgresSplit] = upstreamResults as [UpstreamLayoutResult, UpstreamLayoutResult, UpstreamLayoutResult];

  // Part 1.
  const upstreamRows = upstreamResults.flatMap(({ layout, warmUp, runs }) =>
    [{ label: 'first run after boot', timed: warmUp }, ...runs.map((timed) => ({ label: '', timed }))].map(({ label, timed }) => {
      const { run } = timed;
      return [
        layout.label,
        `${count(timed.calls)} at ${timed.concurrency}${label ? ` (${label})` : ''}`,
        ms(timed.idealMs, 0),
        ms(run.endedAt - run.postedAt, 0),
        ratio(wallRatio(timed)),
        ms(run.firstResultAt - run.postedAt, 0),
        ms(run.endedAt - run.allDoneAt, 0),
        `${timed.maxInFlight} / ${timed.concurrency}`,
        outcome(run.view),
      ];
    }),
  );
  const fileRatio = wallRatio(fileStore.runs[0] as UpstreamRun);
  const postgresRatio = wallRatio(postgresOne.runs[0] as UpstreamRun);
  const upstreamTimed = upstreamResults.flatMap((result) => [result.warmUp, ...result.runs]);
  const overConcurrency = upstreamTimed.filter((timed) => timed.maxInFlight > timed.concurrency);
  const upstreamComplete = upstreamTimed.every((timed) => completedFully(timed.run.view));

  // Part 2.
  const speedup = pairsPerSecond(twoWorkers) / pairsPerSecond(oneWorker);
  const offlineHead = ['Measure', ...offline.map((result) => `API + ${result.workers} worker${result.workers > 1 ? 's' : ''}, ${count(result.pairs)} pairs`)];
  const perOffline = (cell: (result: OfflineResult) => string) => offline.map(cell);
  const maxWorkers = Math.max(...offline.map((result) => result.workers));
  const offlineRows: string[][] = [
    ['POST → 202 (the API stores the items and enqueues a job per pair)', ...perOffline((result) => ms(result.run.acceptedAt - result.run.postedAt, 0))],
    ['202 → every pair done (polled every 100 ms)', ...perOffline((result) => seconds(pairsPhaseSeconds(result)))],
    ['Pairs per second (202 → every pair done)', ...perOffline((result) => perSecond(pairsPerSecond(result)))],
    ['Every pair done → completed (summary, exports, by one worker)', ...perOffline((result) => ms(result.run.endedAt - result.run.allDoneAt, 0))],
    ['Status', ...perOffline((result) => outcome(result.run.view))],
    ['CPU while the pairs ran (share of one core): API', ...perOffline((result) => cpuShare(result.cpu.api, cpuWindowSeconds(result)))],
    ...Array.from({ length: maxWorkers }, (_, index) => [
      `Same, worker ${index + 1}`,
      ...perOffline((result) => (index < result.workers ? cpuShare(result.cpu.workers[index] as number, cpuWindowSeconds(result)) : '')),
    ]),
    ['Same, PostgreSQL (server and backends)', ...perOffline((result) => cpuShare(result.cpu.postgres, cpuWindowSeconds(result)))],
    ['Same, the bench (polls)', ...perOffline((result) => cpuShare(result.cpu.bench, cpuWindowSeconds(result)))],
    ['Same, all of these (of 200% on 2 cores)', ...perOffline((result) => cpuShare(totalCpu(result.cpu), cpuWindowSeconds(result)))],
    ['CPU per pair: workers / PostgreSQL', ...perOffline((result) => `${ms((result.cpu.workers.reduce((sum, value) => sum + value, 0) / result.pairs) * 1000, 2)} / ${ms((result.cpu.postgres / result.pairs) * 1000, 2)}`)],
    ['Downloads (read to the end from the API)', ...perOffline((result) => result.downloads.map((file) => `${file.file} ${file.status} ${(file.bytes / 1024).toFixed(0)} KB`).join(', '))],
    ['RSS after boot: API; workers', ...perOffline((result) => `${mb(result.bootRss.api)}; ${result.bootRss.workers.map(mb).join(', ')}`)],
    ['Peak RSS: API', ...perOffline((result) => mb(result.peaks.api))],
    ...Array.from({ length: maxWorkers }, (_, index) => [`Peak RSS: worker ${index + 1}`, ...perOffline((result) => (index < result.workers ? mb(result.peaks.workers[index] as number) : ''))]),
  ];

  // Part 3.
  const largestWorker = (result: OfflineResult) => Math.max(...result.peaks.workers);
  const peaksAtLarge = [twoWorkers.peaks.api, ...twoWorkers.peaks.workers];
  const apiGrowth = twoWorkers.peaks.api / twoWorkersSmall.peaks.api;
  const workerGrowth = largestWorker(twoWorkers) / largestWorker(twoWorkersSmall);
  const offlineComplete = offline.every((result) => completedFully(result.run.view) && result.downloads.every((file) => file.status === 200 && file.bytes > 0));

  const phaseSeconds = cpuWindowSeconds(twoWorkers);
  const busyCores = totalCpu(twoWorkers.cpu) / phaseSeconds;
  const workerCores = twoWorkers.cpu.workers.reduce((sum, value) => sum + value, 0) / phaseSeconds;
  const oneWorkerSeconds = cpuWindowSeconds(oneWorker);

  const checks: Check[] = [
    {
      target: `PostgreSQL, 1 process: wall ÷ ideal at 400 calls ≤ ${MAX_POSTGRES_SLOWDOWN} × the file store's`,
      measured: `${ratio(postgresRatio)} vs ${ratio(fileRatio)} (limit ${ratio(fileRatio * MAX_POSTGRES_SLOWDOWN)}; ${ratio(postgresRatio / fileRatio)}×)`,
      pass: postgresRatio <= fileRatio * MAX_POSTGRES_SLOWDOWN && upstreamComplete,
    },
    {
      target: "Never more calls in flight at the fake than the run's concurrency (every run above)",
      measured: overConcurrency.length === 0 ? `at most ${upstreamTimed.map((timed) => `${timed.maxInFlight}/${timed.concurrency}`).join(', ')}` : `${overConcurrency.length} runs over`,
      pass: overConcurrency.length === 0,
    },
    { target: 'Every run through the fake completed, all calls done, none failed', measured: upstreamComplete ? 'yes' : upstreamTimed.map((timed) => outcome(timed.run.view)).join('; '), pass: upstreamComplete },
    {
      target: `Offline, ${count(OFFLINE_PAIRS)} pairs: 2 workers ≥ ${MIN_WORKER_SPEEDUP} × 1 worker (pairs/s)`,
      measured: `${ratio(speedup)}× (${perSecond(pairsPerSecond(twoWorkers))} vs ${perSecond(pairsPerSecond(oneWorker))})`,
      pass: speedup >= MIN_WORKER_SPEEDUP,
    },
    {
      target: `Peak RSS < ${mb(PEAK_BUDGET_BYTES)} per process (${count(OFFLINE_PAIRS)} pairs and both CSVs, API + 2 workers)`,
      measured: `API ${mb(twoWorkers.peaks.api)}, workers ${twoWorkers.peaks.workers.map(mb).join(', ')}`,
      pass: peaksAtLarge.every((peak) => peak < PEAK_BUDGET_BYTES),
    },
    {
      target: `Flat: peak at ${count(OFFLINE_PAIRS)} pairs ≤ ${MAX_GROWTH} × peak at ${count(SMALL_OFFLINE_PAIRS)}, API and the larger worker`,
      measured: `API ${ratio(apiGrowth)}× (${mb(twoWorkersSmall.peaks.api)} → ${mb(twoWorkers.peaks.api)}), worker ${ratio(workerGrowth)}× (${mb(largestWorker(twoWorkersSmall))} → ${mb(largestWorker(twoWorkers))})`,
      pass: apiGrowth <= MAX_GROWTH && workerGrowth <= MAX_GROWTH,
    },
    { target: 'Every offline run completed, no pair failed, both CSVs downloaded', measured: offlineComplete ? 'yes' : offline.map((result) => outcome(result.run.view)).join('; '), pass: offlineComplete },
  ];

  const notes = [
    `PostgreSQL ${measured.database.version}: a throwaway cluster for this section (initdb in a temporary folder, \`fsync=off\`, so the figures leave out the disk's flushes that a production server pays on every commit), stopped and deleted at the end; one database shared by every configuration, each with processes of its own. Load average (1 min) at the start of the section: ${measured.loadAtStart.toFixed(2)}.`,
    `Runs through the fake: ${UPSTREAM_LATENCY_MS} ms per call, models ${UPSTREAM_MODELS.join(' and ')}, heuristic scorer (no references: actionability and safety), ideal = calls × ${UPSTREAM_LATENCY_MS} ms ÷ concurrency. Wall time goes from the POST until a poll (every 10 ms) sees the run completed; "POST → first result" is when a poll first saw a result counted (at least one call's ${UPSTREAM_LATENCY_MS} ms, plus the time until a worker takes the jobs), "last result → completed" is the summary, the exports and the final status. Each configuration runs a first run after boot (shown, not judged), then the two measured runs.`,
    `With API + workers, the bench waits one heartbeat (${HEARTBEAT_MS} ms) after the last worker is up before the first run, so that every worker counts the others when it takes its share of a run's concurrency.`,
    `Offline runs: ${OFFLINE_MODELS.join(' and ')} (no upstream), heuristic scorer, concurrency ${OFFLINE_CONCURRENCY}; half the items carry a reference (run-memory.ts's items). "${count(OFFLINE_PAIRS)} items" is read as ${count(OFFLINE_PAIRS)} pairs (${count(OFFLINE_PAIRS / 2)} inquiries × 2 models) because POST /evaluate takes at most 5,000 items; the small run is ${count(SMALL_OFFLINE_PAIRS / 2)} × 2. Each configuration has fresh processes, so each peak is that run's own (and its downloads').`,
    `CPU is read from /proc/<pid>/stat (user + system, every thread) of each process, PostgreSQL's postmaster and its backends together, from the POST until the poll that saw every pair done; a share is of one core over that time.`,
    `Two workers against one: ${ratio(speedup)}×. With two workers, the processes above used ${ratio(busyCores)} of the machine's 2 cores while the pairs ran (the workers ${ratio(workerCores)}, PostgreSQL ${ratio(twoWorkers.cpu.postgres / phaseSeconds)}, the API ${ratio(twoWorkers.cpu.api / phaseSeconds)}); with one, ${ratio(totalCpu(oneWorker.cpu) / oneWorkerSeconds)} (the worker ${ratio((oneWorker.cpu.workers[0] as number) / oneWorkerSeconds)}, PostgreSQL ${ratio(oneWorker.cpu.postgres / oneWorkerSeconds)}). ${
      speedup >= MIN_WORKER_SPEEDUP
        ? 'The second worker found a core to run on.'
        : `A second worker can only add what is left of the 2 cores once the first worker, PostgreSQL and the API have theirs, and this shared machine's other tenants take some too (load average ${measured.loadAtStart.toFixed(2)} at the start): the target needs a third core, the measurement shows where the CPU went.`
    }`,
    'Peak RSS is the larger of the process\'s own samples of its RSS every 50 ms and the kernel\'s VmHWM, read after both CSVs were downloaded (streamed from PostgreSQL, 250 rows a page); the worker that took the finalising job also computed the summary and the exports.',
  ];

  return {
    title: `7. PostgreSQL store: runs through the fake (${UPSTREAM_LATENCY_MS} ms) by store and layout; offline runs with 1 and 2 workers; peak memory per process`,
    head: ['Configuration', 'Calls at concurrency', 'Ideal', 'Wall (POST → completed)', 'Wall ÷ ideal', 'POST → first result', 'Last result → completed', 'Most in flight at the fake / concurrency', 'Status, done, failed'],
    rows: upstreamRows,
    tables: [{ caption: `Offline runs (${OFFLINE_MODELS.join(', ')}; heuristic; concurrency ${OFFLINE_CONCURRENCY}) with PostgreSQL, an API process (ROLE=api) and workers (ROLE=worker):`, head: offlineHead, rows: offlineRows }],
    checks,
    notes,
  };
}
