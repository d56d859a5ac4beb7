import type { FastifyInstance } from 'fastify';

const ENDED = ['completed', 'failed', 'cancelled'];

/** Creates a run through POST /evaluate and polls it until it has ended; resolves with its id. */
export async function runToEnd(app: FastifyInstance, body: object, timeoutMs = 30_000): Promise<string> {
  const created = await app.inject({ method: 'POST', url: '/evaluate', payload: body });
  if (created.statusCode !== 202) throw new Error(`POST /evaluate: ${created.statusCode} ${created.body}`);
  const { run_id } = created.json() as { run_id: string };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = (await app.inject(`/evaluate/${run_id}`)).json() as { status: string };
    if (ENDED.includes(run.status)) return run_id;
    if (Date.now() > deadline) throw new Error(`run ${run_id} still ${run.status}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
