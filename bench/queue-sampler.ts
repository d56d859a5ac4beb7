import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { QUEUE_SCHEMA, queueOf } from '../src/runs/pair-queue.js';
import { cpuSecondsOf } from './process-cpu.js';

/** What the database showed of a run's work while it went on, sampled from a connection of the bench's own. */
export interface QueueSamples {
  samples: number;
  /** Share of the samples with no job of the run active (taken by a worker and not yet completed). */
  noneActive: number;
  meanActive: number;
  /** Mean number of backends waiting for a heavyweight lock (a row lock, most often the run's row). */
  meanLockWaits: number;
  /** CPU seconds the sampling's own backend used on the server: to be taken out of PostgreSQL's figures. */
  backendCpuSeconds: number;
}

const SAMPLE = `
  select
    (select count(*) from ${QUEUE_SCHEMA}.job where name = $1 and state = 'active')::int as active,
    (select count(*) from pg_stat_activity where wait_event_type = 'Lock')::int as lock_waits`;

/** Samples the run's queue every `everyMs` until stop() is called; stop() resolves with the figures. */
export async function sampleQueue(databaseUrl: string, runId: string, everyMs: number): Promise<{ stop(): Promise<QueueSamples> }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  // Counting a queue's active jobs scans its jobs (a few ms each time at 10,000 jobs): its backend's CPU is measured.
  const { rows: backend } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
  const backendPid = (backend[0] as { pid: number }).pid;
  const backendCpuAtStart = cpuSecondsOf(backendPid);
  let stopping = false;
  let samples = 0;
  let noneActive = 0;
  let active = 0;
  let lockWaits = 0;
  const loop = (async () => {
    while (!stopping) {
      const { rows } = await client.query<{ active: number; lock_waits: number }>(SAMPLE, [queueOf(runId)]);
      const row = rows[0] as { active: number; lock_waits: number };
      samples += 1;
      if (row.active === 0) noneActive += 1;
      active += row.active;
      lockWaits += row.lock_waits;
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      stopping = true;
      let backendCpuSeconds: number;
      try {
        await loop;
      } finally {
        backendCpuSeconds = cpuSecondsOf(backendPid) - backendCpuAtStart;
        await client.end();
      }
      return { samples, noneActive: noneActive / samples, meanActive: active / samples, meanLockWaits: lockWaits / samples, backendCpuSeconds };
    },
  };
}
