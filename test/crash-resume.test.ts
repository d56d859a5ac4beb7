/**
 * The service process is killed with SIGKILL in the middle of an evaluation run and started again:
 * the run resumes by itself, completes, and no finished item is sent upstream a second time.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startFakeOpenAI } from './helpers/fake-openai.js';
import { freePort, startServerProcess } from './helpers/server-process.js';

const KEY = 'sk-crash-test-0123456789';
const INQUIRIES = 40;

t.test('SIGKILL mid-run, restart: the run resumes and completes without repeating finished items', async (t) => {
  const fake = await startFakeOpenAI({ apiKey: KEY, latencyMs: 40 });
  t.teardown(() => fake.close());
  const reportsDir = mkdtempSync(join(tmpdir(), 'reports-crash-'));
  t.teardown(() => rmSync(reportsDir, { recursive: true, force: true }));
  const port = await freePort();
  const env = { PORT: String(port), HOST: '127.0.0.1', OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, REPORTS_DIR: reportsDir };
  const base = `http://127.0.0.1:${port}`;

  const first = startServerProcess(env);
  t.teardown(() => first.child.kill('SIGKILL'));
  await first.listening;
  const inquiries = Array.from({ length: INQUIRIES }, (_, i) => ({ id: `c${i}`, inquiry: `Crash test question ${i}` }));
  const created = await fetch(`${base}/evaluate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inquiries, models: ['fine-tuned'], scorer: 'heuristic', concurrency: 2 }),
  });
  t.equal(created.status, 202);
  const { run_id } = (await created.json()) as { run_id: string };
  for (;;) {
    const run = (await (await fetch(`${base}/evaluate/${run_id}`)).json()) as { progress: { done: number } };
    if (run.progress.done >= 10) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  first.child.kill('SIGKILL');
  t.equal(await first.exited, null, 'killed, not exited');

  const resultsFile = join(reportsDir, 'runs', run_id, 'results.jsonl');
  const finished = new Set<string>();
  for (const line of readFileSync(resultsFile, 'utf8').split('\n')) {
    try {
      finished.add((JSON.parse(line) as { inquiry: string }).inquiry);
    } catch {
      // a line cut by the kill is not a finished item
    }
  }
  t.ok(finished.size >= 10 && finished.size < INQUIRIES, `${finished.size} items were finished at the kill`);
  const callsBefore = fake.requests.length;

  const second = startServerProcess(env);
  t.teardown(() => second.child.kill('SIGKILL'));
  await second.listening;
  let run: { status: string; progress: { total: number; done: number; failed: number }; summary?: { all: { items: number; models: Array<{ n: number; scored: number }> } } };
  const deadline = Date.now() + 30_000;
  do {
    await new Promise((resolve) => setTimeout(resolve, 20));
    run = (await (await fetch(`${base}/evaluate/${run_id}`)).json()) as typeof run;
  } while (run.status !== 'completed' && Date.now() < deadline);
  t.equal(run.status, 'completed', 'resumed by itself and completed');
  t.same(run.progress, { total: INQUIRIES, done: INQUIRIES, failed: 0 });

  const callsAfter = fake.requests.slice(callsBefore);
  const repeated = callsAfter.filter((call) => [...finished].some((inquiry) => call.userText === `Inquiry: "${inquiry}"`));
  t.equal(repeated.length, 0, 'no finished item was sent upstream again');
  t.equal(callsAfter.length, INQUIRIES - finished.size, 'each unfinished item was sent once');
  const ids = readFileSync(resultsFile, 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { item_id: string }).item_id);
  t.equal(ids.length, INQUIRIES);
  t.equal(new Set(ids).size, INQUIRIES, 'no duplicate rows');
  // The summary counts what the killed process finished as well as what the resumed one did.
  t.match(run.summary?.all, { items: INQUIRIES, models: [{ n: INQUIRIES, scored: INQUIRIES }] });
  const csvRows = readFileSync(join(reportsDir, 'runs', run_id, 'results.csv'), 'utf8').trim().split('\n').length - 1;
  t.equal(csvRows, INQUIRIES, 'the CSV has one row per item');

  second.child.kill('SIGTERM');
  t.equal(await second.exited, 0);
});
