/** What the batch-run tests share: the fake upstream and an app on one reports folder, and how to read a run. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Test } from 'tap';
import { DEFAULT_FT_MODEL_ID } from '../../src/config.js';
import { buildTestApp } from './build-app.js';
import { startFakeOpenAI, type FakeOpenAI, type FakeOpenAIOptions } from './fake-openai.js';

export const KEY = 'sk-test-batch-runs-0123456789';
export const inquiries = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `q${i}`, inquiry: `Batch question ${i}`, reference: `Reference answer ${i}.` }));
export const answerOf = (userText: string) => `Answer to ${userText}`;

/** Waits for a condition on the fake (a batch created, a file uploaded), polling every 2 ms, at most 30 s. */
export async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A fake upstream and an app on a fresh reports folder; `start` builds another app on the same folder (a restart). */
export async function setup(t: Test, options: FakeOpenAIOptions = {}, env: Record<string, string> = {}) {
  const fake = await startFakeOpenAI({ apiKey: KEY, answer: (request) => answerOf(request.userText), ...options });
  t.teardown(() => fake.close());
  const reportsDir = mkdtempSync(join(tmpdir(), 'reports-batch-'));
  t.teardown(() => rmSync(reportsDir, { recursive: true, force: true }));
  const appEnv = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, REPORTS_DIR: reportsDir, BATCH_POLL_MS: '15', RUN_SWEEP_INTERVAL_MS: '100000', ...env };
  const start = async () => (await buildTestApp(t, appEnv)).app;
  return { fake, reportsDir, start, app: await start() };
}

/** Creates a batch run; resolves with its id. */
export async function startRun(app: FastifyInstance, body: object): Promise<string> {
  const reply = await app.inject({ method: 'POST', url: '/evaluate', payload: { mode: 'batch', ...body } });
  if (reply.statusCode !== 202) throw new Error(`POST /evaluate: ${reply.statusCode} ${reply.body}`);
  return (reply.json() as { run_id: string }).run_id;
}

export const resultsOf = (reportsDir: string, runId: string) =>
  readFileSync(join(reportsDir, 'runs', runId, 'results.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, any>);

/** A valid rubric verdict for the judge's schema: every criterion a 4 with a reason. */
export const defaultVerdict = (schema: Record<string, any>) =>
  Object.fromEntries(Object.keys(schema.properties ?? {}).map((criterion) => [criterion, { rationale: 'Fine.', score: 4 }]));

export const batchUploads = (fake: FakeOpenAI) => fake.files.filter((file) => file.purpose === 'batch');
export const linesOf = (content: Buffer) => content.toString('utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, any>);

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

export const verdictLinesOf = (reportsDir: string, runId: string) =>
  readFileSync(join(reportsDir, 'runs', runId, 'verdicts.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, any>);

/**
 * A fake for pairwise runs whose verdicts differ by item: the fine-tuned model answers "FT answer…", the others
 * "BASE answer…"; the judge prefers the FT answer on q0, the BASE answer on q1, and whichever it is shown as
 * Answer A on q3 (a position bias: the orders disagree); a tie elsewhere.
 */
export const pairwiseFake: FakeOpenAIOptions = {
  answer: (request) => `${request.body.model === DEFAULT_FT_MODEL_ID ? 'FT' : 'BASE'} answer to ${request.userText}`,
  structured: (request, schema: Record<string, any>) => {
    if (!schema.properties?.overall) return defaultVerdict(schema);
    const shownA = /<answer_a>([\s\S]*?)<\/answer_a>/.exec(request.userText)?.[1] ?? '';
    const item = /Batch question (\d+)/.exec(request.userText)?.[1];
    const preferred = item === '0' ? 'FT' : item === '1' ? 'BASE' : null;
    const shown = item === '3' ? 'A' : preferred === null ? 'tie' : shownA.includes(preferred) ? 'A' : 'B';
    return Object.fromEntries(Object.keys(schema.properties).map((aspect) => [aspect, { rationale: 'Because.', preference: shown }]));
  },
};
