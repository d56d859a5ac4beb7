import type { FastifyBaseLogger } from 'fastify';
import type { createRunCatalog } from './run-catalog.js';
import type { RunExports } from './run-exports.js';
import type { RunProgress } from './run-executor.js';
import type { RunRecord, RunStore } from './run-store.js';
import type { RunPause } from './storage-waits.js';

/**
 * How a process gets the runs' work done, behind the facade (run-manager.ts): in-process, one run per process
 * (local-execution.ts, the file store), or through the job queue shared by every worker (queued-execution.ts,
 * PostgreSQL). The facade creates, reads and cancels runs; this starts, executes and ends them.
 */
export interface RunExecution {
  /** A run just stored as queued: started, queued in this process, enqueued, or left for another process. */
  submit(record: RunRecord): Promise<void>;
  /** What is live of a run this process executes: its progress and pause; undefined for any other run. */
  live(runId: string): { progress: RunProgress; paused: RunPause | null } | undefined;
  /** This process executes the run: its record in memory is the truth. */
  executing(runId: string): boolean;
  /** The run must stay in memory: it is executing or waiting in this process. */
  holds(record: RunRecord): boolean;
  /** Cancels a run queued or executing in this process, once it has stopped; false when it is not here. */
  cancelHere(record: RunRecord): Promise<boolean>;
  /** After the facade stored the cancel of a run executed elsewhere (or nowhere). */
  cancelledElsewhere(runId: string): Promise<void>;
  /** Starts the work: runs left unfinished by an earlier start, and the periodic sweeps. */
  resume(): Promise<void>;
  /** Resolves once the run has ended, or this process stopped. */
  waitFor(record: RunRecord): Promise<void>;
  /** Stops the work without changing any run's status: what is unfinished goes on later (here or elsewhere). */
  close(): Promise<void>;
  /** Called when an ended run is forgotten (deleted). */
  forget(runId: string): void;
}

/** What both ways of executing share with the facade. */
export interface ExecutionContext {
  store: RunStore;
  exports: RunExports;
  catalog: ReturnType<typeof createRunCatalog>;
  log: FastifyBaseLogger;
  /** Whether this process executes runs (ROLE all or worker) or only serves the API (ROLE=api). */
  executes: boolean;
  /** A run has ended here: retention may now apply; `progress` is its final count when this process knows it. */
  onEnded(record: RunRecord, progress?: RunProgress): void;
}
