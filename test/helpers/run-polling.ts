import type { FastifyInstance } from 'fastify';

/** A run as GET /evaluate/{run_id} shows it, with what the batch tests read. */
export type PolledRun = {
  status: string;
  progress: { total: number; done: number; failed: number };
  mode: string;
  error: string | null;
  batch?: { parts: Array<Record<string, any>> };
  summary?: any;
};

const ended = (run: PolledRun) => ['completed', 'failed', 'cancelled'].includes(run.status);

/** Polls the run until `until` holds (by default, until it has ended); fails after `timeoutMs` with what it saw last. */
export async function pollRun(app: FastifyInstance, runId: string, until: (run: PolledRun) => boolean = ended, timeoutMs = 30_000): Promise<PolledRun> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = (await app.inject(`/evaluate/${runId}`)).json() as PolledRun;
    if (until(run)) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} still ${run.status} (${JSON.stringify(run.progress)}, ${JSON.stringify(run.batch)})`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
