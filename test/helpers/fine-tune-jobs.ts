import type { FastifyInstance } from 'fastify';

/** A fine-tuning job as GET /fine-tunes/{id} shows it, loosely typed for assertions. */
export type Job = Record<string, any>;

/** Polls GET /fine-tunes/{id} until `until` holds; fails with the last reply after a minute. */
export async function waitForJob(app: FastifyInstance, id: string, until: (job: Job) => boolean): Promise<Job> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const reply = await app.inject(`/fine-tunes/${id}`);
    const job = reply.json() as Job;
    if (reply.statusCode === 200 && until(job)) return job;
    if (Date.now() > deadline) throw new Error(`fine-tune ${id}: ${reply.statusCode} ${reply.body.slice(0, 2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
