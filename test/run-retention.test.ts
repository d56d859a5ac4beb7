/**
 * How much of REPORTS_DIR runs may take: ended runs are deleted by age and by total size, and each
 * caller has a cap on runs in progress and on the bytes its runs keep.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import t, { type Test } from 'tap';
import { folderBytes, runsToDelete, type StoredRun } from '../src/runs/retention.js';
import { buildTestApp } from './helpers/build-app.js';
import { startFakeOpenAI } from './helpers/fake-openai.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-12-02T00:00:00Z');
const run = (run_id: string, status: StoredRun['status'], endedDaysAgo: number, bytes: number): StoredRun => ({
  run_id,
  status,
  created_at: new Date(NOW - (endedDaysAgo + 1) * DAY).toISOString(),
  finished_at: status === 'queued' || status === 'running' ? null : new Date(NOW - endedDaysAgo * DAY).toISOString(),
  bytes,
});
const ids = (runs: StoredRun[]) => runs.map((stored) => stored.run_id);

t.test('runsToDelete: by age and by total size, oldest first, never a run in progress nor the newest ended run', async (t) => {
  const runs = [run('a', 'completed', 100, 10), run('b', 'failed', 40, 10), run('c', 'cancelled', 5, 10), run('d', 'completed', 1, 10), run('e', 'running', 200, 10), run('f', 'queued', 300, 10)];
  t.same(ids(runsToDelete(runs, { maxAgeMs: 0, maxTotalBytes: 0 }, NOW)), [], 'no policy, nothing deleted');
  t.same(ids(runsToDelete(runs, { maxAgeMs: 30 * DAY, maxTotalBytes: 0 }, NOW)), ['a', 'b'], 'ended more than 30 days ago; the old running and queued runs stay');
  t.same(ids(runsToDelete(runs, { maxAgeMs: 0, maxTotalBytes: 45 }, NOW)), ['a', 'b'], '60 bytes in all: the two oldest ended runs go to fit 45');
  t.same(ids(runsToDelete(runs, { maxAgeMs: 0, maxTotalBytes: 1 }, NOW)), ['a', 'b', 'c'], 'the newest ended run stays even past the limit; runs in progress count but stay');
  t.same(ids(runsToDelete(runs, { maxAgeMs: 50 * DAY, maxTotalBytes: 45 }, NOW)), ['a', 'b'], 'age first, then size counts what is left');
  t.same(ids(runsToDelete([run('x', 'completed', 400, 1)], { maxAgeMs: DAY, maxTotalBytes: 0 }, NOW)), ['x'], 'the age limit applies to the newest run too');
  const rescoring = [run('a', 'completed', 100, 10), run('b', 'completed', 90, 10), { ...run('r', 'running', 0, 10), rescore_of: 'a' }, { ...run('s', 'completed', 0, 10), rescore_of: 'b' }];
  t.same(ids(runsToDelete(rescoring, { maxAgeMs: 30 * DAY, maxTotalBytes: 0 }, NOW)), ['b'], 'a run being rescored stays until its rescore ends; one rescored before goes');
  t.same(ids(runsToDelete(rescoring, { maxAgeMs: 0, maxTotalBytes: 15 }, NOW)), ['b'], 'by size too, its bytes still counted');
});

t.test('folderBytes: the sum of a run folder’s files; a missing folder is empty', async (t) => {
  const dir = t.testdir({ 'a.json': 'x'.repeat(100), 'b.jsonl': 'y'.repeat(23) });
  t.equal(await folderBytes(dir), 123);
  t.equal(await folderBytes(join(dir, 'missing')), 0);
});

async function completedRun(app: FastifyInstance, label: string, headers: Record<string, string> = {}): Promise<string> {
  const reply = await app.inject({ method: 'POST', url: '/evaluate', headers, payload: { inquiries: [`Where is my ${label} order?`, `Can I return the ${label}?`], models: ['retrieval'], scorer: 'heuristic' } });
  if (reply.statusCode !== 202) throw new Error(`POST /evaluate: ${reply.statusCode} ${reply.body}`);
  const { run_id } = reply.json() as { run_id: string };
  const deadline = Date.now() + 30_000;
  while ((await app.inject({ url: `/evaluate/${run_id}`, headers })).json().status !== 'completed') {
    if (Date.now() > deadline) throw new Error(`run ${run_id} did not complete`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return run_id;
}

/** Three completed runs in a folder of their own, oldest first, written by an app that is then closed. */
async function threeRuns(t: Test) {
  const reportsDir = mkdtempSync(join(tmpdir(), 'reports-retention-'));
  t.teardown(() => rmSync(reportsDir, { recursive: true, force: true }));
  const writer = await buildTestApp({ teardown: () => undefined }, { REPORTS_DIR: reportsDir, RUN_RETENTION_DAYS: '0', REPORTS_MAX_BYTES: '0' });
  const runIds: string[] = [];
  for (const label of ['first', 'second', 'third']) runIds.push(await completedRun(writer.app, label));
  await writer.app.close();
  const folder = (runId: string) => join(reportsDir, 'runs', runId);
  return { reportsDir, runIds, folder, bytes: await Promise.all(runIds.map((runId) => folderBytes(folder(runId)))) };
}

const listed = async (app: FastifyInstance) => ((await app.inject('/evaluate')).json() as { runs: { run_id: string }[] }).runs.map((listedRun) => listedRun.run_id);

t.test('at boot, ended runs older than RUN_RETENTION_DAYS are deleted, and said so in the log', async (t) => {
  const { reportsDir, runIds, folder } = await threeRuns(t);
  const [first, second, third] = runIds as [string, string, string];
  const record = join(folder(first), 'run.json');
  const aged = JSON.parse(readFileSync(record, 'utf8'));
  aged.finished_at = new Date(Date.now() - 31 * DAY).toISOString();
  writeFileSync(record, JSON.stringify(aged));

  const { app, logs } = await buildTestApp(t, { REPORTS_DIR: reportsDir, RUN_RETENTION_DAYS: '30', REPORTS_MAX_BYTES: '0' });
  t.notOk(existsSync(folder(first)), 'the run that ended 31 days ago is gone');
  t.same(await listed(app), [third, second]);
  t.equal((await app.inject(`/evaluate/${first}`)).statusCode, 404);
  t.ok(logs().some((line) => /retention: deleted 1 ended run/.test(String(line.msg)) && (line.runs as string[])[0] === first));
});

t.test('past REPORTS_MAX_BYTES the oldest ended runs are deleted until the rest fits, at boot and whenever a run ends', async (t) => {
  const { reportsDir, runIds, folder, bytes } = await threeRuns(t);
  const [first, second, third] = runIds as [string, string, string];
  const [firstBytes, secondBytes, thirdBytes] = bytes as [number, number, number];
  const limit = secondBytes + thirdBytes + Math.floor(firstBytes / 2);
  const { app } = await buildTestApp(t, { REPORTS_DIR: reportsDir, RUN_RETENTION_DAYS: '0', REPORTS_MAX_BYTES: String(limit) });
  t.notOk(existsSync(folder(first)), 'the oldest run went at boot');
  t.same(await listed(app), [third, second]);

  const fourth = await completedRun(app, 'fourth');
  // The sweep follows the run's end; give it its turn.
  const deadline = Date.now() + 10_000;
  while (existsSync(folder(second)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.notOk(existsSync(folder(second)), 'a new run pushed the next oldest out');
  t.same(await listed(app), [fourth, third]);
});

t.test('each caller: at most MAX_ACTIVE_RUNS_PER_CALLER runs in progress, and CALLER_MAX_STORED_BYTES of stored runs', async (t) => {
  const fake = await startFakeOpenAI({ apiKey: 'sk-caller-caps-0123456789', latencyMs: 300 });
  t.teardown(() => fake.close());
  const [alice, bob] = ['alice-key-0123456789abcdef', 'bob-key-0123456789abcdefgh'];
  const { app, reportsDir } = await buildTestApp(t, {
    SERVICE_API_KEYS: `${alice},${bob}`,
    OPENAI_API_KEY: 'sk-caller-caps-0123456789',
    OPENAI_BASE_URL: fake.url,
    MAX_ACTIVE_RUNS_PER_CALLER: '1',
    CALLER_MAX_STORED_BYTES: '0',
  });
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const slowRun = { inquiries: ['One', 'Two', 'Three'], models: ['fine-tuned'], scorer: 'none', concurrency: 1 };
  const started = await app.inject({ method: 'POST', url: '/evaluate', headers: as(alice), payload: slowRun });
  t.equal(started.statusCode, 202);
  const refused = await app.inject({ method: 'POST', url: '/evaluate', headers: as(alice), payload: slowRun });
  t.equal(refused.statusCode, 429);
  t.equal(refused.headers['retry-after'], '30');
  t.match(refused.json(), { error: { code: 'too_many_runs', message: /1 runs queued or running.*MAX_ACTIVE_RUNS_PER_CALLER/, details: { active: 1, limit: 1 } } });
  t.equal((await app.inject({ method: 'POST', url: '/evaluate', headers: as(bob), payload: slowRun })).statusCode, 202, 'another caller is not held back');

  const { run_id } = started.json() as { run_id: string };
  const stored = JSON.parse(readFileSync(join(reportsDir, 'runs', run_id, 'run.json'), 'utf8'));
  t.match(stored.owner, /^key:[0-9a-f]{16}$/, 'run.json names the caller by a digest of its key');
  t.notOk(JSON.stringify(stored).includes(alice), 'never by the key itself');
  t.notOk('owner' in (await app.inject({ url: `/evaluate/${run_id}`, headers: as(alice) })).json(), 'and the API does not show it');
});

t.test('a caller whose runs take CALLER_MAX_STORED_BYTES gets 429 storage_quota_exceeded; others are not held back', async (t) => {
  const [alice, bob] = ['alice-key-0123456789abcdef', 'bob-key-0123456789abcdefgh'];
  const { app } = await buildTestApp(t, { SERVICE_API_KEYS: `${alice},${bob}`, CALLER_MAX_STORED_BYTES: '1000' });
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  await completedRun(app, 'quota', as(alice));
  const refused = await app.inject({ method: 'POST', url: '/evaluate', headers: as(alice), payload: { inquiries: ['Where is it?'], models: ['retrieval'] } });
  t.equal(refused.statusCode, 429);
  t.match(refused.json(), { error: { code: 'storage_quota_exceeded', message: /KiB of the 1 KiB one caller may keep \(CALLER_MAX_STORED_BYTES\)\. Ended runs are deleted 90 days after they end\./ } });
  await completedRun(app, 'other', as(bob));
});
