/**
 * The reports folder is the store of runs: a run another process creates (the CLI, a second replica)
 * shows up in this one's listing and status without a restart, and a run deleted from the folder goes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildTestApp } from './helpers/build-app.js';

t.test('two processes on one REPORTS_DIR see each other’s runs as they are created, progress and are deleted', async (t) => {
  const reportsDir = mkdtempSync(join(tmpdir(), 'reports-shared-'));
  t.teardown(() => rmSync(reportsDir, { recursive: true, force: true }));
  const writer = await buildTestApp(t, { REPORTS_DIR: reportsDir });
  const reader = await buildTestApp(t, { REPORTS_DIR: reportsDir });
  t.same((await reader.app.inject('/evaluate')).json().runs, [], 'the reader has looked once, before any run existed');

  const created = await writer.app.inject({ method: 'POST', url: '/evaluate', payload: { inquiries: ['Where is my order?', 'Can I return it?'], models: ['retrieval'], scorer: 'heuristic' } });
  const { run_id } = created.json() as { run_id: string };
  t.same(((await reader.app.inject('/evaluate')).json() as { runs: { run_id: string }[] }).runs.map((run) => run.run_id), [run_id], 'listed without a restart');

  const deadline = Date.now() + 30_000;
  let seen: { status: string; progress: { done: number } } = (await reader.app.inject(`/evaluate/${run_id}`)).json();
  while (seen.status !== 'completed' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    seen = (await reader.app.inject(`/evaluate/${run_id}`)).json();
  }
  t.match(seen, { status: 'completed', progress: { total: 2, done: 2 } }, 'its status follows run.json, written by the other process');
  t.equal((await reader.app.inject(`/evaluate/${run_id}/results.csv`)).statusCode, 200);

  rmSync(join(reportsDir, 'runs', run_id), { recursive: true });
  t.same((await reader.app.inject('/evaluate')).json().runs, [], 'a run deleted from the folder is no longer listed');
  t.equal((await reader.app.inject(`/evaluate/${run_id}`)).statusCode, 404);
});
