import { getEventListeners, setMaxListeners } from 'node:events';
import type { FastifyBaseLogger } from 'fastify';
import { setImmediate } from 'node:timers/promises';
import type { SummaryAccumulator } from '../export/summary.js';
import { createPairWork, type FinishedWork, type PairWorkDeps, type RunSink } from './pair-work.js';
import type { RunItem } from './run-result.js';
import { StorageWaits } from './storage-waits.js';
import { resultKey, type RunRecord, type RunStore } from './run-store.js';

export type RunExecutorDeps = PairWorkDeps & {
  store: RunStore;
  config: PairWorkDeps['config'] & { STORAGE_RETRY_MS: number };
};

export interface RunProgress {
  total: number;
  done: number;
  failed: number;
}

/** A run being executed: its progress is live, its controller stops it. */
export interface ActiveRun {
  record: RunRecord;
  progress: RunProgress;
  controller: AbortController;
  /** Set by DELETE; otherwise an abort means the service is shutting down and the run resumes later. */
  cancelled: boolean;
  /** Its writes, which wait for space when the reports folder's disk is full. */
  storage: StorageWaits;
  finished: Promise<void>;
}

/** A run about to be executed: nothing done yet, its writes waiting for storage every `storageRetryMs`. */
export function newActiveRun(record: RunRecord, storageRetryMs: number, log: FastifyBaseLogger): ActiveRun {
  const run: ActiveRun = {
    record,
    progress: { total: totalOf(record), done: 0, failed: 0 },
    controller: new AbortController(),
    cancelled: false,
    storage: new StorageWaits(storageRetryMs, log.child({ run_id: record.run_id })),
    finished: Promise.resolve(),
  };
  // Each worker links its current item to the run's signal: one listener per worker, by design.
  setMaxListeners(record.concurrency + 10, run.controller.signal);
  return run;
}

/** Answers per item, plus one pairwise verdict per item and other model when the scorer is pairwise. */
export function totalOf(record: RunRecord): number {
  const verdictsPerItem = record.scorer === 'pairwise' ? record.models.length - 1 : 0;
  return record.items * (record.models.length + verdictsPerItem);
}

/** What is stored of a run: its progress, which answers and verdicts are finished, and the answers a pending verdict still needs. */
export interface RunScan extends FinishedWork {
  progress: RunProgress;
}

/** Reads the run's results and verdicts once; each also goes to `tally` if given. */
export async function scanRun(store: RunStore, record: RunRecord, tally?: SummaryAccumulator): Promise<RunScan> {
  const scan: RunScan = { progress: { total: totalOf(record), done: 0, failed: 0 }, finished: new Set(), judged: new Set(), answers: new Map() };
  for await (const verdict of store.verdicts(record.run_id)) {
    tally?.addVerdict(verdict);
    scan.judged.add(resultKey(verdict.item_id, verdict.second));
    scan.progress.done += 1;
    if (verdict.outcome === 'failed') scan.progress.failed += 1;
  }
  const pairwise = record.scorer === 'pairwise';
  const others = record.models.slice(1);
  for await (const result of store.results(record.run_id)) {
    tally?.add(result);
    const key = resultKey(result.item_id, result.model_alias);
    scan.finished.add(key);
    scan.progress.done += 1;
    if (result.outcome === 'failed') scan.progress.failed += 1;
    // A verdict still to be given needs both answers, and neither is asked again.
    if (pairwise && result.answer !== null && others.some((other) => !scan.judged.has(resultKey(result.item_id, other.alias)))) {
      scan.answers.set(key, result.answer);
    }
  }
  return scan;
}

/**
 * The signals a worker hands to its items, each following the run's. The SDK adds an abort listener
 * to the signal it is given and never removes it, so the run's long-lived signal is never handed out,
 * and a signal that still has a listener once its item is done is replaced by a fresh one. Otherwise
 * the worker keeps its signal (see the README's performance notes: one AbortSignal per item grew the process).
 */
function itemSignals(runSignal: AbortSignal): { next(): AbortSignal; close(): void } {
  let current = new AbortController();
  const abortCurrent = () => current.abort();
  runSignal.addEventListener('abort', abortCurrent, { once: true });
  return {
    next() {
      if (getEventListeners(current.signal, 'abort').length > 0) current = new AbortController();
      if (runSignal.aborted) current.abort();
      return current.signal;
    },
    close() {
      runSignal.removeEventListener('abort', abortCurrent);
    },
  };
}

/** Executes a run until every item is done or the run is aborted; the caller writes the exports and the status. */
export async function executeRun(deps: RunExecutorDeps, run: ActiveRun, summary: SummaryAccumulator, scan: RunScan): Promise<void> {
  const { record } = run;
  const runId = record.run_id;
  const pairwise = record.scorer === 'pairwise';
  const sink: RunSink = {
    recorder: await deps.store.recorder(runId),
    summary,
    progress: run.progress,
    storage: run.storage,
    signal: run.controller.signal,
  };

  const work = createPairWork(deps, record, sink);
  /** Pairs whose answer failed for the upstream's sake in the first pass: they get one more try at the end. */
  const retryLater: Array<{ item: RunItem; model: RunRecord['models'][number] }> = [];
  let finalPass = false;

  // A fixed pool of workers pulling work: never more than `concurrency` upstream calls in flight (a
  // worker makes its answer and judge calls one after the other), and memory stays flat in the number
  // of items because items are read from the store as workers take them.
  async function* pendingWork(): AsyncGenerator<{ item: RunItem; model: RunRecord['models'][number] | null }> {
    for await (const item of deps.store.items(runId)) {
      if (pairwise) {
        const done =
          record.models.every((model) => scan.finished.has(resultKey(item.item_id, model.alias))) &&
          record.models.slice(1).every((model) => scan.judged.has(resultKey(item.item_id, model.alias)));
        if (!done) yield { item, model: null };
        continue;
      }
      for (const model of record.models) if (!scan.finished.has(resultKey(item.item_id, model.alias))) yield { item, model };
    }
  }
  let pending: AsyncGenerator<{ item: RunItem; model: RunRecord['models'][number] | null }> = pendingWork();
  const worker = async () => {
    const signals = itemSignals(run.controller.signal);
    try {
      for (let next = await pending.next(); !next.done && !run.controller.signal.aborted; next = await pending.next()) {
        const { item, model } = next.value;
        if (!model) {
          await work.wholeItem(item, signals.next(), scan);
        } else if ((await work.pair(item, model, signals.next(), { mayDefer: !finalPass })) === 'deferred') {
          retryLater.push({ item, model });
        }
        // An offline model and the heuristic never wait on the network: without this turn of the event
        // loop a run would hold it until the end and starve every other request.
        await setImmediate();
      }
    } finally {
      signals.close();
    }
  };
  try {
    await Promise.all(Array.from({ length: record.concurrency }, worker));
    if (retryLater.length > 0 && !run.controller.signal.aborted) {
      // One more pass for pairs the upstream failed, after everything else: a short outage costs a few
      // retries at the end instead of the items it happened to hit.
      deps.log.info({ run_id: runId, pairs: retryLater.length }, 'evaluation run: retrying pairs the upstream failed');
      finalPass = true;
      pending = (async function* () {
        yield* retryLater;
      })();
      await Promise.all(Array.from({ length: record.concurrency }, worker));
    }
  } finally {
    await sink.recorder.close();
  }
}
