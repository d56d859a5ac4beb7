import { loadavg } from 'node:os';
import { waitUntilUpstreamIdle } from './evaluate-throughput.js';
import { download, waitUntilAccepting } from './evaluation-client.js';
import type { ForkedProcess } from './forked-process.js';
import { completedFully, deploy, followRun, type Deployment, type FollowedRun, type Layout, type StartService } from './postgres-deployment.js';
import { startBenchPostgres, type BenchPostgres } from './postgres-server.js';
import { cpuSecondsOf, cpuSecondsOfTree, machineBusySeconds } from './process-cpu.js';
import { reportPostgresStore } from './postgres-store-report.js';
import type { SectionResult } from './report.js';
import { memoryRunItems } from './run-memory.js';
import { inquiryVariants, type SupportData } from './support-data.js';

const UPSTREAM_LATENCY_MS = 100;
const UPSTREAM_MODELS = ['fine-tuned', 'baseline'];
/** 400 calls at 16, then 4,000 at 64. */
const UPSTREAM_RUNS = [
  { inquiries: 200, concurrency: 16 },
  { inquiries: 2000, concurrency: 64 },
] as const;

const OFFLINE_MODELS = ['retrieval', 'handoff'];
const OFFLINE_CONCURRENCY = 64;
/** Pairs (item, model): POST /evaluate takes at most 5,000 items, so 10,000 pairs are 5,000 items × 2 models. */
const OFFLINE_PAIRS = 10_000;
const SMALL_OFFLINE_PAIRS = 2_500;
const CSV_EXPORTS = ['results.csv', 'results-wide.csv'];
/** How often a run's queue is sampled: each sample scans the run's jobs (about 1-3 ms of the server's CPU at 4,000-10,000 jobs). */
const SAMPLE_EVERY_MS = 100;

export interface PostgresStoreInput {
  data: SupportData;
  upstream: ForkedProcess;
  startService: StartService;
}

// ---- 1. Runs through the fake upstream ----

export interface UpstreamRun {
  calls: number;
  concurrency: number;
  idealMs: number;
  run: FollowedRun;
  maxInFlight: number;
}

export interface UpstreamLayoutResult {
  layout: Layout;
  /** The first run after boot: it compiles the run's code paths and starts the chart thread; shown, not judged. */
  warmUp: UpstreamRun;
  runs: UpstreamRun[];
}

async function timeUpstreamRun(input: PostgresStoreInput, deployment: Deployment, databaseUrl: string, inquiries: readonly string[], concurrency: number): Promise<UpstreamRun> {
  await waitUntilUpstreamIdle(input.upstream);
  await waitUntilAccepting(deployment.api.url);
  const body = { inquiries, models: UPSTREAM_MODELS, scorer: 'heuristic', concurrency };
  // Every 10 ms, as the evaluate section polls, so that the end is seen within 10 ms.
  const run = await followRun(deployment.api.url, body, {
    pollEveryMs: 10,
    timeoutMs: 120_000,
    sampling: deployment.layout.store === 'postgres' ? { databaseUrl, everyMs: SAMPLE_EVERY_MS } : undefined,
  });
  const { maxInFlight } = await input.upstream.request({ type: 'max-in-flight' }, 'max-in-flight');
  const calls = inquiries.length * UPSTREAM_MODELS.length;
  return { calls, concurrency, idealMs: (calls / concurrency) * UPSTREAM_LATENCY_MS, run, maxInFlight };
}

async function measureUpstreamLayout(input: PostgresStoreInput, database: BenchPostgres, layout: Layout, inquiries: readonly string[]): Promise<UpstreamLayoutResult> {
  const deployment = await deploy(input.startService, database.url, layout);
  try {
    const first = UPSTREAM_RUNS[0];
    const warmUp = await timeUpstreamRun(input, deployment, database.url, inquiries.slice(0, first.inquiries), first.concurrency);
    const runs: UpstreamRun[] = [];
    for (const size of UPSTREAM_RUNS) runs.push(await timeUpstreamRun(input, deployment, database.url, inquiries.slice(0, size.inquiries), size.concurrency));
    return { layout, warmUp, runs };
  } finally {
    await deployment.stop();
  }
}

// ---- 2 and 3. Offline runs: CPU-bound throughput, CPU per process, peak memory ----

/** CPU seconds (user + system) of each process, and of the whole machine. */
export interface CpuSnapshot {
  api: number;
  workers: number[];
  /** The server and its backends, less the bench's sampling backend. */
  postgres: number;
  /** The backend of the bench's sampling connection. */
  sampling: number;
  bench: number;
  machine: number;
}

export interface OfflineResult {
  workers: number;
  pairs: number;
  run: FollowedRun;
  /** From the POST until the bench saw every pair done. */
  cpu: CpuSnapshot;
  downloads: Array<{ file: string; status: number; bytes: number }>;
  /** max(sampled RSS, VmHWM) of the API process and of each worker, read after the downloads. */
  peaks: { api: number; workers: number[] };
  bootRss: { api: number; workers: number[] };
}

function cpuSnapshot(deployment: Deployment, database: BenchPostgres): CpuSnapshot {
  const bench = process.cpuUsage();
  return {
    api: cpuSecondsOf(deployment.api.pid),
    workers: deployment.workers.map((worker) => cpuSecondsOf(worker.pid)),
    postgres: cpuSecondsOfTree(database.serverPid()),
    sampling: 0,
    bench: (bench.user + bench.system) / 1e6,
    machine: machineBusySeconds(),
  };
}

const cpuBetween = (before: CpuSnapshot, after: CpuSnapshot): CpuSnapshot => ({
  api: after.api - before.api,
  workers: after.workers.map((seconds, index) => seconds - (before.workers[index] as number)),
  postgres: after.postgres - before.postgres,
  sampling: after.sampling - before.sampling,
  bench: after.bench - before.bench,
  machine: after.machine - before.machine,
});

async function measureOffline(input: PostgresStoreInput, database: BenchPostgres, workers: number, pairs: number): Promise<OfflineResult> {
  const deployment = await deploy(input.startService, database.url, { label: `API + ${workers} workers`, store: 'postgres', workers });
  try {
    const body = { inquiries: memoryRunItems(input.data, pairs / OFFLINE_MODELS.length), models: OFFLINE_MODELS, scorer: 'heuristic', concurrency: OFFLINE_CONCURRENCY };
    const before = cpuSnapshot(deployment, database);
    let atAllDone: CpuSnapshot | undefined;
    const run = await followRun(deployment.api.url, body, {
      pollEveryMs: 100,
      timeoutMs: 240_000,
      sampling: { databaseUrl: database.url, everyMs: SAMPLE_EVERY_MS },
      onAllDone: () => (atAllDone = cpuSnapshot(deployment, database)),
    });
    const cpu = cpuBetween(before, atAllDone ?? cpuSnapshot(deployment, database));
    // The bench's own sampling backend is not the service's work.
    cpu.sampling = run.queue?.backendCpuSeconds ?? 0;
    cpu.postgres -= cpu.sampling;
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

/**
 * Runs on the PostgreSQL store against the file store, through the fake upstream; offline runs with one and two
 * workers (throughput, CPU per process); peak memory per process. A PostgreSQL server of its own, deleted at the end.
 */
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
    const setup = {
      sampleEveryMs: SAMPLE_EVERY_MS,
      upstreamLatencyMs: UPSTREAM_LATENCY_MS,
      upstreamModels: UPSTREAM_MODELS,
      offlineModels: OFFLINE_MODELS,
      offlineConcurrency: OFFLINE_CONCURRENCY,
      offlinePairs: OFFLINE_PAIRS,
      smallOfflinePairs: SMALL_OFFLINE_PAIRS,
    };
    return reportPostgresStore({ setup, loadAtStart, postgresVersion: database.version, upstreamResults, oneWorker, twoWorkers, twoWorkersSmall });
  } finally {
    await database.stop();
  }
}
