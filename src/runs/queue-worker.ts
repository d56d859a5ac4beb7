import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { JUDGE_ALIAS } from '../models/registry.js';
import { createPairWork, type PairWorkDeps, type RunSink } from './pair-work.js';
import type { FetchedJob, PairJob, PairQueue } from './pair-queue.js';
import type { PostgresRunStore } from './postgres-store.js';
import type { RunItem } from './run-result.js';
import { resultKey, type RunRecord, type RunStore } from './run-store.js';
import { StorageWaits } from './storage-waits.js';

export type QueueWorkerDeps = PairWorkDeps & {
  store: PostgresRunStore;
  queue: PairQueue;
  config: PairWorkDeps['config'] & {
    STORAGE_RETRY_MS: number;
    RUN_STATUS_POLL_MS: number;
    RUN_SWEEP_INTERVAL_MS: number;
    WORKER_CONCURRENCY: number;
    OPENAI_MAX_CONNECTIONS: number;
  };
  /** Writes a run's exports and final status; called once its work is over (or it was cancelled). */
  finalise(runId: string): Promise<void>;
};

/** How often a worker renews its jobs' leases and says it is alive. */
export const HEARTBEAT_MS = 3000;
/** A worker not seen for this long is no longer counted when a run's concurrency is shared out. */
const WORKER_GONE_MS = 3 * HEARTBEAT_MS + 1000;
/** How long an idle worker waits before looking for work again. */
const IDLE_POLL_MS = 200;

/** A running run as this worker sees it: its jobs under way here, and where their results go. */
interface WorkerRun {
  record: RunRecord;
  controller: AbortController;
  /** By job id. */
  inFlight: Map<string, Promise<void>>;
  sink: RunSink;
  work: ReturnType<typeof createPairWork>;
  /** The upstream servers its jobs call (its models', and the judge's when it scores with one): their calls count against each. */
  upstreams: string[];
}

/** The jobs a run starts with: an answer per (item, model). The pairwise scorer's verdicts follow the answers. */
export async function* jobsOf(store: RunStore, record: RunRecord): AsyncGenerator<PairJob> {
  for await (const item of store.items(record.run_id)) for (const model of record.models) yield { stage: 'answer', item_id: item.item_id, model: model.alias };
}

/** The verdict jobs of a pairwise item: the first model against each other one. */
const verdictJobs = (record: RunRecord, itemId: string): PairJob[] =>
  record.models.slice(1).map((model) => ({ stage: 'verdict' as const, item_id: itemId, model: model.alias }));

/**
 * A process's share of the runs' work with RUNS_STORE=postgres: it fetches jobs from each running run's queue,
 * at most its share of that run's concurrency and of each upstream's connections (divided among the live
 * workers, rounded up) and WORKER_CONCURRENCY in all, answers and scores them, records each result once, and
 * completes the job.
 * A run that leaves `running` (a cancel through any replica) has its calls here aborted within
 * RUN_STATUS_POLL_MS. The last worker to find a run's queue empty asks for it to be finalised.
 */
export function createQueueWorker(deps: QueueWorkerDeps) {
  const { queue, store } = deps;
  const runs = new Map<string, WorkerRun>();
  let workers = 1;
  let stopping = false;
  let wake = () => {};
  let woken = new Promise<void>((resolve) => (wake = resolve));
  const nudge = () => {
    wake();
    woken = new Promise<void>((resolve) => (wake = resolve));
  };
  const inFlightTotal = () => [...runs.values()].reduce((sum, run) => sum + run.inFlight.size, 0);

  async function open(record: RunRecord): Promise<WorkerRun> {
    const controller = new AbortController();
    // Each job under way links its calls to the run's signal: a listener per job, by design.
    setMaxListeners(deps.config.WORKER_CONCURRENCY + 10, controller.signal);
    const sink: RunSink = {
      recorder: await store.recorder(record.run_id),
      summary: null,
      progress: { done: 0, failed: 0 },
      storage: new StorageWaits(deps.config.STORAGE_RETRY_MS, deps.log.child({ run_id: record.run_id })),
      signal: controller.signal,
    };
    return { record, controller, inFlight: new Map(), sink, work: createPairWork(deps, record, sink), upstreams: upstreamsOf(record) };
  }

  function upstreamsOf(record: RunRecord): string[] {
    const aliases = record.models.map((model) => model.alias);
    if (record.scorer === 'judge' || record.scorer === 'pairwise') aliases.push(record.judge ?? JUDGE_ALIAS);
    const servers = new Set<string>();
    for (const alias of aliases) {
      try {
        const entry = deps.registry.resolve(alias);
        if (entry.kind === 'openai') servers.add(entry.upstream.base_url);
      } catch {
        // An alias removed from the configuration since the run was created: its jobs fail with their reason.
      }
    }
    return [...servers];
  }

  /**
   * Jobs this worker may still start for the run: its share of the run's concurrency, what is left of
   * WORKER_CONCURRENCY, and its share of each upstream's OPENAI_MAX_CONNECTIONS (every worker keeps to its
   * share, so together they keep to the whole). A job holds at most one call at a time, so jobs bound calls.
   */
  function roomFor(run: WorkerRun): number {
    let room = Math.min(Math.ceil(run.record.concurrency / workers) - run.inFlight.size, deps.config.WORKER_CONCURRENCY - inFlightTotal());
    const upstreamShare = Math.ceil(deps.config.OPENAI_MAX_CONNECTIONS / workers);
    for (const server of run.upstreams) {
      const busy = [...runs.values()].filter((other) => other.upstreams.includes(server)).reduce((sum, other) => sum + other.inFlight.size, 0);
      room = Math.min(room, upstreamShare - busy);
    }
    return room;
  }

  /** The items of the jobs, and for verdicts (pairwise) the answers stored for them, by item then alias. */
  async function itemsOf(runId: string, jobs: readonly FetchedJob[]): Promise<{ items: Map<string, RunItem>; answers: Map<string, Map<string, string | null>> }> {
    const items = await store.itemsById(runId, jobs.map((job) => job.item_id));
    const judged = jobs.filter((job) => job.stage === 'verdict').map((job) => job.item_id);
    return { items, answers: judged.length > 0 ? await store.answersOf(runId, judged) : new Map() };
  }

  /**
   * Pairwise: once every model has answered an item, its verdicts are enqueued. Each answer job asks after its
   * own; two finishing at once may both enqueue them, which the jobs' ids make a no-op.
   */
  async function afterAnswer(run: WorkerRun, itemId: string): Promise<void> {
    const answered = (await store.answersOf(run.record.run_id, [itemId])).get(itemId);
    if (run.record.models.every((model) => answered?.has(model.alias))) await queue.enqueue(run.record.run_id, verdictJobs(run.record, itemId));
  }

  /** One job, to its end: completed once its result is stored (or there is nothing left to do), put back otherwise. */
  async function execute(run: WorkerRun, job: FetchedJob, item: RunItem | undefined, answers: ReadonlyMap<string, string | null> | undefined): Promise<void> {
    const runId = run.record.run_id;
    let outcome: 'done' | 'aborted' | 'deferred' = 'done';
    try {
      const model = run.record.models.find((candidate) => candidate.alias === job.model);
      if (item && model && job.stage === 'answer') {
        outcome = await run.work.pair(item, model, run.controller.signal, { mayDefer: job.retryCount === 0 });
        if (outcome === 'done' && run.record.scorer === 'pairwise' && !run.controller.signal.aborted) await afterAnswer(run, item.item_id);
      } else if (item && model && job.stage === 'verdict') {
        outcome = await run.work.verdict(item, model, answers ?? new Map(), run.controller.signal);
      }
      if (run.controller.signal.aborted && outcome === 'done' && stopping) outcome = 'aborted';
      // Cancelled (the run left running): nothing more to do. Shut down or deferred: another try, here or elsewhere.
      if (outcome === 'deferred' || (outcome === 'aborted' && stopping)) await queue.retry(runId, [job.id]);
      else toComplete.set(runId, [...(toComplete.get(runId) ?? []), job.id]);
    } catch (error) {
      deps.log.warn({ err: error, run_id: runId, item_id: job.item_id }, 'job queue: a job could not be finished; it is tried again once its lease lapses');
    }
  }

  async function startJobs(run: WorkerRun, jobs: readonly FetchedJob[]): Promise<void> {
    const { items, answers } = await itemsOf(run.record.run_id, jobs);
    for (const job of jobs) {
      const done = execute(run, job, items.get(job.item_id), answers.get(job.item_id)).finally(() => {
        run.inFlight.delete(job.id);
        nudge();
      });
      run.inFlight.set(job.id, done);
    }
  }

  /**
   * A run whose queue holds nothing more: finalised when every result is in (true once asked for); otherwise,
   * at the sweep (`recover`), its missing jobs are enqueued again (a job whose tries ran out, or a creation that
   * stopped half-way). Cheap to repeat: the ids are deterministic and finalising is asked for once.
   */
  async function settle(record: RunRecord, recover: boolean): Promise<boolean> {
    if ((await queue.unfinished(record.run_id)) > 0) return false;
    const { done } = await store.progress(record);
    const total = record.items * (record.models.length + (record.scorer === 'pairwise' ? record.models.length - 1 : 0));
    if (done >= total) {
      await queue.requestFinalise(record.run_id);
      return true;
    }
    // Missing jobs are looked for at the sweep only, and only while the run is still running: a cancel through
    // another replica empties the queue before this worker sees the status, and its jobs must stay gone.
    if (!recover || (await store.readRecord(record.run_id))?.status !== 'running') return false;
    const missing: PairJob[] = [];
    const finished = new Set<string>();
    for await (const result of store.results(record.run_id)) finished.add(resultKey(result.item_id, result.model_alias));
    const judged = new Set<string>();
    for await (const verdict of store.verdicts(record.run_id)) judged.add(resultKey(verdict.item_id, verdict.second));
    for await (const item of store.items(record.run_id)) {
      const unanswered = record.models.filter((model) => !finished.has(resultKey(item.item_id, model.alias)));
      for (const model of unanswered) missing.push({ stage: 'answer', item_id: item.item_id, model: model.alias });
      // A verdict is due once every model has answered: an answer job that stopped before enqueueing it leaves it to this.
      if (record.scorer === 'pairwise' && unanswered.length === 0) {
        missing.push(...verdictJobs(record, item.item_id).filter((job) => !judged.has(resultKey(item.item_id, job.model))));
      }
    }
    deps.log.warn({ run_id: record.run_id, jobs: missing.length }, 'job queue: a running run had unfinished work and no job for it; enqueued again');
    await queue.forgetEnded(record.run_id, missing);
    await queue.enqueue(record.run_id, missing);
    return false;
  }

  let lastStatusCheck = 0;
  let lastSettle = 0;
  let running: RunRecord[] = [];
  /** Runs whose finalising this worker has asked for: nothing more to fetch or settle until they leave the list. */
  const finalised = new Set<string>();
  /** Jobs whose work is over, by run: completed together at the end of a pass, one statement per run. */
  const toComplete = new Map<string, string[]>();
  /** The finalising under way here: one at a time, beside the jobs, which it must not hold up. */
  let finalising: Promise<void> = Promise.resolve();
  let finalisingNow = false;
  let idleLastPass = true;

  async function completeFinished(): Promise<void> {
    for (const [runId, ids] of toComplete) {
      toComplete.delete(runId);
      // A completion that fails leaves the jobs active: they expire and are done again, and their results,
      // already stored, are refused as duplicates.
      await queue.complete(runId, ids).catch((error: unknown) => deps.log.warn({ err: error, run_id: runId }, 'job queue: could not complete jobs; they are tried again once their leases lapse'));
    }
  }

  async function refreshRunning(): Promise<void> {
    // Batch runs have no jobs: they are driven through the Batch API (queued-batch-runs.ts).
    running = (await store.runningRecords()).filter((record) => record.mode !== 'batch');
    lastStatusCheck = Date.now();
    const ids = new Set(running.map((record) => record.run_id));
    for (const runId of finalised) if (!ids.has(runId)) finalised.delete(runId);
    for (const [runId, run] of runs) {
      if (ids.has(runId)) continue;
      // Cancelled through some replica, ended, or deleted: its calls here stop.
      run.controller.abort();
      if (run.inFlight.size === 0) {
        runs.delete(runId);
        await run.sink.recorder.close();
      }
    }
  }

  async function pass(): Promise<number> {
    await completeFinished();
    const now = Date.now();
    // Idle, or a second since the last look: a new run, or one cancelled elsewhere, is seen at once when idle.
    if (idleLastPass || now - lastStatusCheck >= deps.config.RUN_STATUS_POLL_MS) await refreshRunning();
    let fetched = 0;
    const settleDue = now - lastSettle >= deps.config.RUN_SWEEP_INTERVAL_MS;
    if (settleDue) lastSettle = now;
    for (const record of running) {
      if (stopping) break;
      if (finalised.has(record.run_id)) continue;
      let run = runs.get(record.run_id);
      if (!run) runs.set(record.run_id, (run = await open(record)));
      const room = roomFor(run);
      // Fetches in batches of at least a quarter of the run's share while jobs are under way: pg-boss sorts a
      // queue's waiting jobs at each fetch, which costs the database more than the jobs when taken one by one.
      const batch = Math.max(1, Math.floor(Math.ceil(record.concurrency / workers) / 4));
      if (run.inFlight.size > 0 && room < batch) continue;
      const jobs = await queue.fetch(record.run_id, room);
      fetched += jobs.length;
      if (jobs.length > 0) await startJobs(run, jobs);
      else if (run.inFlight.size === 0 && (room > 0 || settleDue) && (await settle(record, settleDue))) finalised.add(record.run_id);
    }
    if (!finalisingNow) {
      const job = await queue.fetchFinalise();
      if (job) {
        fetched += 1;
        finalisingNow = true;
        finalising = deps
          .finalise(job.runId)
          .then(() => queue.completeFinalise(job.id))
          .catch(async (error: unknown) => {
            deps.log.error({ err: error, run_id: job.runId }, 'job queue: the run could not be finalised; it is tried again');
            await queue.retryFinalise(job.id).catch(() => undefined);
          })
          .finally(() => {
            finalisingNow = false;
            nudge();
          });
      }
    }
    idleLastPass = fetched === 0 && inFlightTotal() === 0;
    return fetched;
  }

  let loop: Promise<void> = Promise.resolve();
  let heartbeat: NodeJS.Timeout | undefined;

  return {
    start(): void {
      const beat = () =>
        queue
          .heartbeat(new Map([...runs].map(([runId, run]) => [runId, [...run.inFlight.keys()]])), WORKER_GONE_MS)
          .then((count) => (workers = count))
          .catch((error: unknown) => deps.log.warn({ err: error }, 'job queue: the heartbeat failed; it is tried again'));
      void beat();
      heartbeat = setInterval(() => void beat(), HEARTBEAT_MS).unref();
      loop = (async () => {
        while (!stopping) {
          // Taken before the pass: a job that ends during it wakes the next wait at once.
          const nudged = woken;
          try {
            await pass();
          } catch (error) {
            idleLastPass = true;
            deps.log.warn({ err: error }, 'job queue: could not look for work; trying again');
            await sleep(deps.config.STORAGE_RETRY_MS);
          }
          // Busy: look again as soon as a job ends. Idle: poll.
          await Promise.race([sleep(IDLE_POLL_MS), nudged]);
        }
        await completeFinished();
      })();
    },

    /** Stops fetching; the jobs under way are put back for another worker, and their calls aborted. */
    async stop(): Promise<void> {
      stopping = true;
      nudge();
      clearInterval(heartbeat);
      for (const run of runs.values()) run.controller.abort();
      await loop;
      await Promise.all([...runs.values()].flatMap((run) => [...run.inFlight.values()]));
      await completeFinished();
      await finalising;
      for (const run of runs.values()) await run.sink.recorder.close().catch(() => undefined);
      runs.clear();
    },
  };
}

export type QueueWorker = ReturnType<typeof createQueueWorker>;
