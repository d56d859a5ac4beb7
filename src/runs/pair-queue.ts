import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyBaseLogger } from 'fastify';
import PgBoss from 'pg-boss';
import type { Pool } from 'pg';

/**
 * One job of a run: `answer` one (item, model) and score it (the heuristic or the judge), or for the pairwise
 * scorer `verdict`: the judge's comparison of the first model's answer with `model`'s, once both are stored.
 * Its id is derived from (run, stage, item, model), so enqueueing it twice is a no-op: a restart, a sweep or two
 * workers enqueueing at once never double the work.
 */
export interface PairJob {
  stage: 'answer' | 'verdict';
  item_id: string;
  model: string;
}

export interface FetchedJob extends PairJob {
  id: string;
  /** How many times it was tried before (an expired lease of a dead worker, or a deferred upstream failure). */
  retryCount: number;
}

/** pg-boss's schema in the service's database. */
export const QUEUE_SCHEMA = 'pgboss';
/**
 * A job whose worker stops heartbeating (it died) is expired and handed to another after this, plus maintenance.
 * This module is loaded only with RUNS_STORE=postgres (app.ts imports it on demand): pg-boss stays out of the
 * file store's process.
 */
export const JOB_EXPIRE_SECONDS = 15;
/** How often pg-boss looks for expired jobs: a dead worker's jobs move on within JOB_EXPIRE_SECONDS + twice this. */
export const MAINTENANCE_INTERVAL_SECONDS = 5;
/** Tries of a job: expiries of dead workers and one deferred upstream failure count. */
const RETRY_LIMIT = 10;
const INSERT_CHUNK = 5000;

/** The advisory lock under which a replica starts pg-boss (any constant of this service's own, not the migrations'). */
const QUEUE_START_LOCK_KEY = 0x6576616c_71756575n; // "evalqueu"

/** The namespace of the jobs' UUIDs (v5, RFC 4122): any fixed UUID of this service's own. */
const JOB_NAMESPACE = Buffer.from('6f1c2a4e8b3d4f7a9c0e5d2b1a3f4e6c', 'hex');

/** RFC 4122 version 5 (SHA-1, name-based): pg-boss ids must be UUIDs, and these are the same wherever computed. */
export function jobId(runId: string, job: PairJob): string {
  const hash = createHash('sha1').update(JOB_NAMESPACE).update(`${runId}\u0000${job.stage}\u0000${job.item_id}\u0000${job.model}`, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A queue per run: a worker fetches a run's jobs up to that run's share of its concurrency, and no run waits behind another. */
export const queueOf = (runId: string) => `pairs.${runId}`;
export const FINALISE_QUEUE = 'finalise-runs';

/**
 * pg-boss (pinned to 10.4.2, the last release that runs on Node 20) as the queue of the runs' work, on the
 * service's own database and pool. Its polling `work()` is not used: it ends a handler at the job's expiry and
 * sleeps between batches; the workers fetch themselves and renew their jobs' expiry while they run (the
 * `started_on` of an active job, the one thing 10.4.2 offers no call for: 12.x adds heartbeats).
 */
export function createPairQueue(pool: Pool, log: FastifyBaseLogger) {
  const boss = new PgBoss({
    db: { executeSql: (text: string, values: unknown[]) => pool.query(text, values) },
    schema: QUEUE_SCHEMA,
    schedule: false,
    supervise: true,
    maintenanceIntervalSeconds: MAINTENANCE_INTERVAL_SECONDS,
  });
  boss.on('error', (error: Error) => log.warn({ err: error }, 'job queue: maintenance failed; it is tried again'));
  const workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const created = new Set<string>();

  async function ensureQueue(name: string): Promise<void> {
    if (created.has(name)) return;
    await boss.createQueue(name, { name, policy: 'standard', retryLimit: RETRY_LIMIT, retryDelay: 1, expireInSeconds: JOB_EXPIRE_SECONDS });
    created.add(name);
  }

  const queue = {
    workerId,
    async start(): Promise<void> {
      // pg-boss creates its schema on first start; replicas starting together on a fresh database race to
      // create it (seen: a duplicate key on pg_namespace). Our own advisory lock, held on a connection of its
      // own, lets one replica at a time start it.
      const client = await pool.connect();
      try {
        await client.query('select pg_advisory_lock($1)', [QUEUE_START_LOCK_KEY.toString()]);
        await boss.start();
        await ensureQueue(FINALISE_QUEUE);
      } finally {
        await client.query('select pg_advisory_unlock($1)', [QUEUE_START_LOCK_KEY.toString()]).catch(() => undefined);
        client.release();
      }
    },

    /** Enqueues the jobs; those already enqueued (same run, item and model) are left as they are. */
    async enqueue(runId: string, jobs: readonly PairJob[]): Promise<void> {
      const name = queueOf(runId);
      await ensureQueue(name);
      for (let start = 0; start < jobs.length; start += INSERT_CHUNK) {
        await boss.insert(
          jobs.slice(start, start + INSERT_CHUNK).map((job) => ({
            id: jobId(runId, job),
            name,
            data: job,
            retryLimit: RETRY_LIMIT,
            retryDelay: 1,
            expireInSeconds: JOB_EXPIRE_SECONDS,
          })),
        );
      }
    },

    async fetch(runId: string, count: number): Promise<FetchedJob[]> {
      if (count <= 0) return [];
      const jobs = await boss.fetch<PairJob>(queueOf(runId), { batchSize: count, includeMetadata: true });
      return jobs.map((job) => ({ id: job.id, stage: job.data.stage, item_id: job.data.item_id, model: job.data.model, retryCount: job.retryCount }));
    },

    complete: (runId: string, ids: string[]) => (ids.length > 0 ? boss.complete(queueOf(runId), ids) : Promise.resolve()),
    /** Puts the jobs back for another try (by this worker or another) after pg-boss's retry delay. */
    retry: (runId: string, ids: string[]) => (ids.length > 0 ? boss.fail(queueOf(runId), ids) : Promise.resolve()),

    /** Jobs of the run still to do or being done: none means the run's work is over, or was lost. */
    async unfinished(runId: string): Promise<number> {
      const { rows } = await pool.query<{ jobs: number }>(
        `select count(*)::int as jobs from ${QUEUE_SCHEMA}.job where name = $1 and state < 'completed'`,
        [queueOf(runId)],
      );
      return rows[0]?.jobs ?? 0;
    },

    /**
     * Removes jobs that ended without their result (their tries used up) so that they can be enqueued again:
     * only called once the run has no unfinished job.
     */
    async forgetEnded(runId: string, jobs: readonly PairJob[]): Promise<void> {
      const ids = jobs.map((job) => jobId(runId, job));
      for (let start = 0; start < ids.length; start += INSERT_CHUNK) await boss.deleteJob(queueOf(runId), ids.slice(start, start + INSERT_CHUNK));
    },

    /** Cancel: the jobs not yet taken go; those under way end when their workers see the run's status. */
    async purge(runId: string): Promise<void> {
      await ensureQueue(queueOf(runId));
      await boss.purgeQueue(queueOf(runId));
    },

    /** Drops the run's queue once it has ended: its jobs first (pg-boss refuses to drop a queue that holds any). */
    async drop(runId: string): Promise<void> {
      const name = queueOf(runId);
      await pool.query(`delete from ${QUEUE_SCHEMA}.job where name = $1`, [name]);
      await boss.deleteQueue(name);
      created.delete(name);
    },

    /** Asks for the run to be finalised (exports, final status) once; a second request for the same run is a no-op. */
    async requestFinalise(runId: string): Promise<void> {
      await boss.insert([{ id: jobId(runId, { stage: 'answer', item_id: '', model: 'finalise' }), name: FINALISE_QUEUE, data: { run_id: runId }, retryLimit: RETRY_LIMIT, expireInSeconds: 300 }]);
    },

    async fetchFinalise(): Promise<{ id: string; runId: string } | undefined> {
      const [job] = await boss.fetch<{ run_id: string }>(FINALISE_QUEUE, { batchSize: 1 });
      return job && { id: job.id, runId: job.data.run_id };
    },
    completeFinalise: (id: string) => boss.complete(FINALISE_QUEUE, id),
    retryFinalise: (id: string) => boss.fail(FINALISE_QUEUE, id),

    /**
     * Renews the expiry of the jobs this worker is running (pg-boss expires an active job JOB_EXPIRE_SECONDS
     * after it started) and says this worker is alive. Returns the workers seen within `aliveWithinMs`, to share
     * runs' concurrency out.
     */
    async heartbeat(active: ReadonlyMap<string, readonly string[]>, aliveWithinMs: number): Promise<number> {
      for (const [runId, ids] of active) {
        if (ids.length === 0) continue;
        await pool.query(`update ${QUEUE_SCHEMA}.job set started_on = now() where name = $1 and id = any($2::uuid[]) and state = 'active'`, [queueOf(runId), ids]);
      }
      await pool.query(
        `insert into run_workers (worker_id, seen_at) values ($1, now())
         on conflict (worker_id) do update set seen_at = now()`,
        [workerId],
      );
      const { rows } = await pool.query<{ workers: number }>(
        `select count(*)::int as workers from run_workers where seen_at > now() - $1::int * interval '1 millisecond'`,
        [aliveWithinMs],
      );
      return Math.max(1, rows[0]?.workers ?? 1);
    },

    async stop(): Promise<void> {
      await pool.query(`delete from run_workers where worker_id = $1`, [workerId]).catch(() => undefined);
      await boss.stop({ graceful: false, close: false, wait: true });
    },
  };
  return queue;
}

export type PairQueue = ReturnType<typeof createPairQueue>;
