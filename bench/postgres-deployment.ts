import { setTimeout as sleep } from 'node:timers/promises';
import { HEARTBEAT_MS } from '../src/runs/queue-worker.js';
import { startRun, waitForRun, waitUntilAccepting, type RunStatusView } from './evaluation-client.js';
import type { ForkedProcess } from './forked-process.js';
import { sampleQueue, type QueueSamples } from './queue-sampler.js';

/** Who serves and who executes: one process (ROLE=all) when `workers` is 0, else an API process (ROLE=api) and that many ROLE=worker processes. */
export interface Layout {
  label: string;
  store: 'file' | 'postgres';
  workers: number;
}

export interface Deployment {
  layout: Layout;
  /** The process the bench talks to. */
  api: ForkedProcess;
  workers: ForkedProcess[];
  stop(): Promise<void>;
}

/** A fresh service process (the compiled entry, its own reports folder) with these variables over the bench's environment. */
export type StartService = (env: Record<string, string>) => Promise<ForkedProcess>;

export async function deploy(startService: StartService, databaseUrl: string, layout: Layout): Promise<Deployment> {
  const started: ForkedProcess[] = [];
  const stop = async () => {
    for (const child of started.reverse()) await child.stop();
  };
  try {
    const storeEnv: Record<string, string> = layout.store === 'postgres' ? { RUNS_STORE: 'postgres', DATABASE_URL: databaseUrl } : { RUNS_STORE: 'file' };
    const api = await startService({ ...storeEnv, ROLE: layout.workers === 0 ? 'all' : 'api' });
    started.push(api);
    const workers: ForkedProcess[] = [];
    for (let index = 0; index < layout.workers; index += 1) {
      const worker = await startService({ ...storeEnv, ROLE: 'worker' });
      started.push(worker);
      workers.push(worker);
    }
    // Each worker counts the live workers at its heartbeat to share a run's concurrency out: until every one
    // has beaten once after the last one started, the first may still count itself alone and take a whole share.
    if (layout.workers > 1) await sleep(HEARTBEAT_MS + 500);
    await waitUntilAccepting(api.url);
    return { layout, api, workers, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** When the bench's polls saw each phase of a run (performance.now()), and what the queue showed meanwhile. */
export interface FollowedRun {
  view: RunStatusView;
  postedAt: number;
  /** The 202: the run and its items are stored (and with PostgreSQL its jobs enqueued). */
  acceptedAt: number;
  firstResultAt: number;
  allDoneAt: number;
  endedAt: number;
  polls: number;
  refusals: number;
  /** With PostgreSQL: the run's jobs sampled from the 202 until every pair was seen done. */
  queue: QueueSamples | null;
}

export interface FollowOptions {
  pollEveryMs: number;
  timeoutMs: number;
  /** With PostgreSQL: sample the run's queue this often. */
  sampling?: { databaseUrl: string; everyMs: number };
  /** Called (synchronously, from the poll) when every pair is first seen done. */
  onAllDone?: () => void;
}

/** POSTs the run and polls it to its end. */
export async function followRun(serviceUrl: string, body: object, options: FollowOptions): Promise<FollowedRun> {
  const refusals = { count: 0 };
  const postedAt = performance.now();
  const runId = await startRun(serviceUrl, body, refusals);
  const acceptedAt = performance.now();
  const sampler = options.sampling ? await sampleQueue(options.sampling.databaseUrl, runId, options.sampling.everyMs) : null;
  // Set from the poll's callback, so held in an object rather than a variable the compiler would narrow.
  const sampling: { stopped?: Promise<QueueSamples> } = {};
  let firstResultAt = Number.NaN;
  let allDoneAt = Number.NaN;
  try {
    const { view, seenEndedAt, polls } = await waitForRun(serviceUrl, runId, options.pollEveryMs, options.timeoutMs, refusals, (seen, at) => {
      if (Number.isNaN(firstResultAt) && seen.progress.done > 0) firstResultAt = at;
      if (Number.isNaN(allDoneAt) && seen.progress.done >= seen.progress.total) {
        allDoneAt = at;
        if (sampler) sampling.stopped = sampler.stop();
        options.onAllDone?.();
      }
    });
    if (Number.isNaN(allDoneAt)) allDoneAt = seenEndedAt;
    const queue = sampler ? await (sampling.stopped ?? sampler.stop()) : null;
    return { view, postedAt, acceptedAt, firstResultAt, allDoneAt, endedAt: seenEndedAt, polls, refusals: refusals.count, queue };
  } catch (error) {
    if (sampler) await (sampling.stopped ?? sampler.stop()).catch(() => undefined);
    throw error;
  }
}

export const completedFully = (view: RunStatusView) => view.status === 'completed' && view.progress.done === view.progress.total && view.progress.failed === 0;
