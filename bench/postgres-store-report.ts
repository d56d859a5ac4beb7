import { completedFully, type FollowedRun } from './postgres-deployment.js';
import type { CpuSnapshot, OfflineResult, UpstreamLayoutResult, UpstreamRun } from './postgres-store.js';
import type { Check, SectionResult } from './report.js';
import { count, mb, ms, perSecond, ratio } from './stats.js';

/** PostgreSQL with one process may be this much slower than the file store (wall ÷ ideal, 400 calls). */
const MAX_POSTGRES_SLOWDOWN = 1.1;
const MIN_WORKER_SPEEDUP = 1.5;
const PEAK_BUDGET_BYTES = 300 * 1024 * 1024;
/** As in run-memory.ts: the peak at the large run may be at most this multiple of the peak at the small one. */
const MAX_GROWTH = 1.25;

export interface PostgresStoreMeasurements {
  setup: {
    sampleEveryMs: number;
    upstreamLatencyMs: number;
    upstreamModels: string[];
    offlineModels: string[];
    offlineConcurrency: number;
    offlinePairs: number;
    smallOfflinePairs: number;
  };
  loadAtStart: number;
  postgresVersion: string;
  /** File store, PostgreSQL with one process, PostgreSQL with an API process and two workers. */
  upstreamResults: UpstreamLayoutResult[];
  oneWorker: OfflineResult;
  twoWorkers: OfflineResult;
  twoWorkersSmall: OfflineResult;
}

const percent = (share: number) => (Number.isFinite(share) ? `${Math.round(share * 100)}%` : 'n/a');
const seconds = (value: number) => (Number.isFinite(value) ? `${value.toFixed(1)} s` : 'n/a');
const outcome = (run: FollowedRun) => `${run.view.status}, ${count(run.view.progress.done)}/${count(run.view.progress.total)}, ${run.view.progress.failed} failed`;
const wallRatio = (timed: UpstreamRun) => (timed.run.endedAt - timed.run.postedAt) / timed.idealMs;
const idleQueue = (run: FollowedRun) => (run.queue ? `${percent(run.queue.noneActive)} (mean ${run.queue.meanActive.toFixed(1)} active)` : 'n/a');

const pairsPhaseSeconds = (result: OfflineResult) => (result.run.allDoneAt - result.run.acceptedAt) / 1000;
const pairsPerSecond = (result: OfflineResult) => result.pairs / pairsPhaseSeconds(result);
/** The window of the CPU figures: from the POST until every pair was seen done. */
const cpuWindow = (result: OfflineResult) => (result.run.allDoneAt - result.run.postedAt) / 1000;
/** CPU as cores busy on average over the window (1.00 = one core all the time). */
const cores = (cpuSeconds: number, result: OfflineResult) => cpuSeconds / cpuWindow(result);
const workersCpu = (cpu: CpuSnapshot) => cpu.workers.reduce((sum, value) => sum + value, 0);
const ourCpu = (cpu: CpuSnapshot) => cpu.api + workersCpu(cpu) + cpu.postgres + cpu.sampling + cpu.bench;
const largestWorker = (result: OfflineResult) => Math.max(...result.peaks.workers);
/** CPU milliseconds per pair of the service's processes and PostgreSQL. */
const perPairMs = (result: OfflineResult) => ((result.cpu.api + workersCpu(result.cpu) + result.cpu.postgres) / result.pairs) * 1000;
const firstResultMs = (timed: UpstreamRun) => timed.run.firstResultAt - timed.run.postedAt;
const activeOf = (timed: UpstreamRun) => (timed.run.queue ? timed.run.queue.meanActive.toFixed(1) : 'n/a');

function upstreamTable(results: UpstreamLayoutResult[]): { head: string[]; rows: string[][] } {
  const head = [
    'Configuration',
    'Calls at concurrency',
    'Ideal',
    'Wall (POST → completed)',
    'Wall ÷ ideal',
    'POST → 202',
    'POST → first result',
    'Last result → completed',
    'No job active (202 → last result, sampled)',
    'Most in flight at the fake / concurrency',
    'Status, done, failed',
  ];
  const rows = results.flatMap(({ layout, warmUp, runs }) =>
    [{ note: ' (first run after boot)', timed: warmUp }, ...runs.map((timed) => ({ note: '', timed }))].map(({ note, timed }) => {
      const { run } = timed;
      return [
        layout.label,
        `${count(timed.calls)} at ${timed.concurrency}${note}`,
        ms(timed.idealMs, 0),
        ms(run.endedAt - run.postedAt, 0),
        ratio(wallRatio(timed)),
        ms(run.acceptedAt - run.postedAt, 0),
        ms(run.firstResultAt - run.postedAt, 0),
        ms(run.endedAt - run.allDoneAt, 0),
        idleQueue(run),
        `${timed.maxInFlight} / ${timed.concurrency}`,
        outcome(run),
      ];
    }),
  );
  return { head, rows };
}

function offlineTable(offline: OfflineResult[], sampleEveryMs: number): { head: string[]; rows: string[][] } {
  const each = (cell: (result: OfflineResult) => string) => offline.map(cell);
  const maxWorkers = Math.max(...offline.map((result) => result.workers));
  const perWorker = (label: string, cell: (result: OfflineResult, index: number) => string) =>
    Array.from({ length: maxWorkers }, (_, index) => [`${label}, worker ${index + 1}`, ...each((result) => (index < result.workers ? cell(result, index) : ''))]);
  const share = (cpuSeconds: number, result: OfflineResult) => `${seconds(cpuSeconds)} (${ratio(cores(cpuSeconds, result))})`;
  return {
    head: ['Measure', ...offline.map((result) => `API + ${result.workers} worker${result.workers > 1 ? 's' : ''}, ${count(result.pairs)} pairs`)],
    rows: [
      ['POST → 202 (the API stores the items and enqueues a job per pair)', ...each((result) => ms(result.run.acceptedAt - result.run.postedAt, 0))],
      ['202 → every pair done (polled every 100 ms)', ...each((result) => seconds(pairsPhaseSeconds(result)))],
      ['Pairs per second (202 → every pair done)', ...each((result) => perSecond(pairsPerSecond(result)))],
      ['Every pair done → completed (summary and exports, by one worker)', ...each((result) => ms(result.run.endedAt - result.run.allDoneAt, 0))],
      ['Status, done, failed', ...each((result) => outcome(result.run))],
      [`No job of the run active (202 → every pair done, sampled every ${sampleEveryMs} ms)`, ...each((result) => idleQueue(result.run))],
      ['Backends waiting for a lock, mean', ...each((result) => (result.run.queue ? result.run.queue.meanLockWaits.toFixed(2) : 'n/a'))],
      ['CPU, POST → every pair done (in cores): API', ...each((result) => share(result.cpu.api, result))],
      ...perWorker('CPU', (result, index) => share(result.cpu.workers[index] as number, result)),
      ['CPU, PostgreSQL (server and backends, less the sampling backend)', ...each((result) => share(result.cpu.postgres, result))],
      ["CPU, the bench: its sampling's PostgreSQL backend; its own process (polls)", ...each((result) => `${share(result.cpu.sampling, result)}; ${share(result.cpu.bench, result)}`)],
      ['CPU, all of the above', ...each((result) => share(ourCpu(result.cpu), result))],
      ['CPU, the whole machine (every tenant, of 2 cores)', ...each((result) => share(result.cpu.machine, result))],
      ['CPU per pair: workers / PostgreSQL', ...each((result) => `${ms((workersCpu(result.cpu) / result.pairs) * 1000, 2)} / ${ms((result.cpu.postgres / result.pairs) * 1000, 2)}`)],
      ['Downloads, read to the end from the API (status, size)', ...each((result) => result.downloads.map((file) => `${file.file} ${file.status}, ${(file.bytes / 1024).toFixed(0)} KB`).join('; '))],
      ['RSS after boot: API; workers', ...each((result) => `${mb(result.bootRss.api)}; ${result.bootRss.workers.map(mb).join(', ')}`)],
      ['Peak RSS, API', ...each((result) => mb(result.peaks.api))],
      ...perWorker('Peak RSS', (result, index) => mb(result.peaks.workers[index] as number)),
    ],
  };
}

export function reportPostgresStore(measured: PostgresStoreMeasurements): SectionResult {
  const { upstreamResults, oneWorker, twoWorkers, twoWorkersSmall } = measured;
  const { upstreamLatencyMs, upstreamModels, offlineModels, offlineConcurrency, offlinePairs, smallOfflinePairs } = measured.setup;
  const offline = [oneWorker, twoWorkers, twoWorkersSmall];
  const [fileStore, postgresOne] = upstreamResults as [UpstreamLayoutResult, UpstreamLayoutResult, UpstreamLayoutResult];
  const fileSmall = fileStore.runs[0] as UpstreamRun;
  const postgresSmall = postgresOne.runs[0] as UpstreamRun;
  const postgresLarge = postgresOne.runs[1] as UpstreamRun;
  const fileRatio = wallRatio(fileSmall);
  const postgresRatio = wallRatio(postgresSmall);
  const upstreamTimed = upstreamResults.flatMap((result) => [result.warmUp, ...result.runs]);
  const overConcurrency = upstreamTimed.filter((timed) => timed.maxInFlight > timed.concurrency);
  const upstreamComplete = upstreamTimed.every((timed) => completedFully(timed.run.view));
  const speedup = pairsPerSecond(twoWorkers) / pairsPerSecond(oneWorker);
  const peaksAtLarge = [twoWorkers.peaks.api, ...twoWorkers.peaks.workers];
  const apiGrowth = twoWorkers.peaks.api / twoWorkersSmall.peaks.api;
  const workerGrowth = largestWorker(twoWorkers) / largestWorker(twoWorkersSmall);
  const offlineComplete = offline.every((result) => completedFully(result.run.view) && result.downloads.every((file) => file.status === 200 && file.bytes > 0));

  const checks: Check[] = [
    {
      target: `PostgreSQL, 1 process: wall ÷ ideal at ${count(postgresSmall.calls)} calls ≤ ${MAX_POSTGRES_SLOWDOWN} × the file store's`,
      measured: `${ratio(postgresRatio)} vs ${ratio(fileRatio)} (limit ${ratio(fileRatio * MAX_POSTGRES_SLOWDOWN)}; ${ratio(postgresRatio / fileRatio)}×)`,
      pass: postgresRatio <= fileRatio * MAX_POSTGRES_SLOWDOWN && upstreamComplete,
    },
    {
      target: "Never more calls in flight at the fake than the run's concurrency (every run above)",
      measured: overConcurrency.length === 0 ? upstreamTimed.map((timed) => `${timed.maxInFlight}/${timed.concurrency}`).join(', ') : `${overConcurrency.length} runs over`,
      pass: overConcurrency.length === 0,
    },
    {
      target: 'Every run through the fake completed, all calls done, none failed',
      measured: upstreamComplete ? 'yes' : upstreamTimed.map((timed) => outcome(timed.run)).join('; '),
      pass: upstreamComplete,
    },
    {
      target: `Offline, ${count(offlinePairs)} pairs: 2 workers ≥ ${MIN_WORKER_SPEEDUP} × 1 worker (pairs/s)`,
      measured: `${ratio(speedup)}× (${perSecond(pairsPerSecond(twoWorkers))} vs ${perSecond(pairsPerSecond(oneWorker))})`,
      pass: speedup >= MIN_WORKER_SPEEDUP,
    },
    {
      target: `Peak RSS < ${mb(PEAK_BUDGET_BYTES)} per process (${count(offlinePairs)} pairs and both CSVs, API + 2 workers)`,
      measured: `API ${mb(twoWorkers.peaks.api)}, workers ${twoWorkers.peaks.workers.map(mb).join(', ')}`,
      pass: peaksAtLarge.every((peak) => peak < PEAK_BUDGET_BYTES),
    },
    {
      target: `Flat: peak at ${count(offlinePairs)} pairs ≤ ${MAX_GROWTH} × peak at ${count(smallOfflinePairs)}, the API and the larger worker`,
      measured: `API ${ratio(apiGrowth)}× (${mb(twoWorkersSmall.peaks.api)} → ${mb(twoWorkers.peaks.api)}), worker ${ratio(workerGrowth)}× (${mb(largestWorker(twoWorkersSmall))} → ${mb(largestWorker(twoWorkers))})`,
      pass: apiGrowth <= MAX_GROWTH && workerGrowth <= MAX_GROWTH,
    },
    {
      target: 'Every offline run completed, no pair failed, both CSVs downloaded',
      measured: offlineComplete ? 'yes' : offline.map((result) => outcome(result.run)).join('; '),
      pass: offlineComplete,
    },
  ];

  // What the pairs would allow if nothing waited: the whole cost of a pair must fit in the 2 cores, and one worker's share in its one event loop.
  const postgresPerPairMs = (oneWorker.cpu.postgres / oneWorker.pairs) * 1000;
  const workerPerPairMs = (workersCpu(oneWorker.cpu) / oneWorker.pairs) * 1000;
  const twoCoreCeiling = 2000 / perPairMs(oneWorker);
  const ourCores = (result: OfflineResult) => cores(ourCpu(result.cpu), result);
  const machineCores = (result: OfflineResult) => cores(result.cpu.machine, result);
  const notes = [
    `PostgreSQL ${measured.postgresVersion}: a throwaway cluster for this section (initdb in a temporary folder, \`fsync=off\`: the figures leave out the flush a production server makes at every commit), stopped and deleted at the end, even on failure; one database for every configuration, each with fresh processes. Load average (1 min) at the start of the section: ${measured.loadAtStart.toFixed(2)}.`,
    `Runs through the fake: ${upstreamLatencyMs} ms per call, models ${upstreamModels.join(' and ')}, heuristic scorer (no references: actionability and safety only); ideal = calls × ${upstreamLatencyMs} ms ÷ concurrency. Wall time goes from the POST until a poll (every 10 ms) sees the run completed. "POST → first result" is when a poll first saw a result counted: one call's ${upstreamLatencyMs} ms plus the time until a process takes the run's work. "No job active" is the share of samples (every ${measured.setup.sampleEveryMs} ms, from pgboss.job; the sampling backend's CPU is kept out of PostgreSQL's figures below) with none of the run's jobs taken and not yet completed. Each configuration makes a first run after boot (shown, not judged), then the two measured runs.`,
    `With an API process and workers, the bench waits one worker heartbeat (3 s) after the last worker is up, so that each counts the others when it takes its share of a run's concurrency.`,
    `Offline runs: ${offlineModels.join(' and ')} (no upstream), heuristic scorer, concurrency ${offlineConcurrency}, half the items with a reference (run-memory.ts's items). "${count(offlinePairs)} items" is read as ${count(offlinePairs)} pairs, ${count(offlinePairs / 2)} inquiries × 2 models, because POST /evaluate takes at most 5,000 items; the small run is ${count(smallOfflinePairs / 2)} × 2. CPU comes from /proc/<pid>/stat (user + system, every thread; PostgreSQL's postmaster and backends together) and /proc/stat for the whole machine, from the POST until the poll that saw every pair done, in cores (1.00 = one core all the time).`,
    `Wall ÷ ideal at ${count(postgresSmall.calls)} calls: PostgreSQL with one process ${ratio(postgresRatio)}, the file store ${ratio(fileRatio)} (${ratio(postgresRatio / fileRatio)}×). Before the first result: ${ms(firstResultMs(postgresSmall), 0)} against ${ms(firstResultMs(fileSmall), 0)}, of which POST → 202 ${ms(postgresSmall.run.acceptedAt - postgresSmall.run.postedAt, 0)} (the API stores the items and enqueues a job per pair; an idle worker looks for new runs every 200 ms; the first run after boot waited ${ms(firstResultMs(postgresOne.warmUp), 0)}). While the run went on: on average ${activeOf(postgresSmall)} of its ${postgresSmall.concurrency} jobs were under way, and ${activeOf(postgresLarge)} of ${postgresLarge.concurrency} at ${count(postgresLarge.calls)} calls: while jobs are under way, a worker fetches in batches of at least a quarter of its share of the run (src/runs/queue-worker.ts), since each fetch makes pg-boss sort the queue's waiting jobs. Each result costs a database statement of its own (with the run's counters, in a batch when several arrive together) and each job a completion, which the file store's one append per result does not.`,
    `Offline, two workers against one: ${ratio(speedup)}×. While the pairs ran, the service's processes, PostgreSQL and the bench used ${ratio(ourCores(oneWorker))} cores with one worker (the worker ${ratio(cores(workersCpu(oneWorker.cpu), oneWorker))}, PostgreSQL ${ratio(cores(oneWorker.cpu.postgres, oneWorker))}) and ${ratio(ourCores(twoWorkers))} with two (the workers ${ratio(cores(workersCpu(twoWorkers.cpu), twoWorkers))}, PostgreSQL ${ratio(cores(twoWorkers.cpu.postgres, twoWorkers))}); the whole machine, other tenants included, was ${ratio(machineCores(oneWorker))} and ${ratio(machineCores(twoWorkers))} of 2 cores busy. ${
      ourCores(twoWorkers) < 1.5
        ? `So these runs were not bound by CPU: no job of the run was under way in ${percent(oneWorker.run.queue?.noneActive ?? Number.NaN)} (one worker) and ${percent(twoWorkers.run.queue?.noneActive ?? Number.NaN)} (two) of the samples.`
        : `These runs were bound by CPU: a second worker only has what the first worker, PostgreSQL (${ms((oneWorker.cpu.postgres / oneWorker.pairs) * 1000, 2)} of CPU per pair with one worker, against ${ms((workersCpu(oneWorker.cpu) / oneWorker.pairs) * 1000, 2)} for the worker) and the other tenants leave of the 2 cores.`
    } Were they not waiting, CPU would set the ceiling: each pair cost ${ms(perPairMs(oneWorker), 2)} of CPU with one worker (PostgreSQL ${ms(postgresPerPairMs, 2)}, the worker ${ms(workerPerPairMs, 2)}, the API the rest; at this slow pace, idle polling included), so 2 idle cores allow at most ${perSecond(twoCoreCeiling)} whatever the number of workers, while one worker's event loop alone could go to ${perSecond(1000 / workerPerPairMs)}: a second worker could add at most ${ratio(twoCoreCeiling / Math.min(twoCoreCeiling, 1000 / workerPerPairMs))}× on this machine${
      postgresPerPairMs >= workerPerPairMs ? ", because each pair costs PostgreSQL more CPU than the worker (statements of its own: the result with the run's counters, the job's completion)" : ''
    }.`,
    `The size of the run matters: with two workers, ${count(twoWorkersSmall.pairs)} pairs went at ${perSecond(pairsPerSecond(twoWorkersSmall))} (no job under way in ${percent(twoWorkersSmall.run.queue?.noneActive ?? Number.NaN)} of the samples) and ${count(twoWorkers.pairs)} at ${perSecond(pairsPerSecond(twoWorkers))} (${percent(twoWorkers.run.queue?.noneActive ?? Number.NaN)}): the start (enqueueing, the first fetches) and the end (the summary and exports, by one worker) weigh more in a short run.`,
    "Peak RSS is the larger of the process's own samples of its RSS every 50 ms and the kernel's VmHWM, read after both CSVs were downloaded from the API process (streamed from PostgreSQL, 250 rows a page); the worker that took the finalising job also computed the summary and wrote the exports.",
  ];

  const upstream = upstreamTable(upstreamResults);
  const offlineRows = offlineTable(offline, measured.setup.sampleEveryMs);
  return {
    title: `7. PostgreSQL store: runs through the fake (${upstreamLatencyMs} ms) by store and layout; offline runs with 1 and 2 workers; peak memory per process`,
    head: upstream.head,
    rows: upstream.rows,
    tables: [
      {
        caption: `Offline runs (${offlineModels.join(', ')}; heuristic scorer; concurrency ${offlineConcurrency}) on PostgreSQL, created through an API process (ROLE=api), executed by workers (ROLE=worker):`,
        head: offlineRows.head,
        rows: offlineRows.rows,
      },
    ],
    checks,
    notes,
  };
}
