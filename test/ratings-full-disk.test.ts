/**
 * Ratings on a real, small filesystem (a tmpfs of its own, as in full-disk.test.ts) that is full: a rating
 * that cannot be stored is a 507 in our error shape, ratings.jsonl keeps only whole lines, and the same
 * rating goes through once space is freed.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { blindOrder } from '../src/runs/blinding.js';
import { freePort, startServerOnSmallDisk } from './helpers/server-process.js';

const DISK_BYTES = 1024 * 1024;

t.test('a full disk: the rating is refused with 507 and nothing torn is left; it is stored once space returns', async (t) => {
  const dir = join(tmpdir(), `reports-ratings-disk-${process.pid}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir, { recursive: true });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const server = startServerOnSmallDisk({ PORT: String(port), HOST: '127.0.0.1', REPORTS_DIR: dir, LOG_LEVEL: 'info', RATE_LIMIT_MAX: '0' }, dir, DISK_BYTES);
  t.teardown(() => server.child.kill('SIGKILL'));
  await server.listening;
  const base = `http://127.0.0.1:${port}`;
  const onDisk = (...parts: string[]) => server.seen(join(dir, ...parts));
  const call = (path: string, body?: object) =>
    fetch(`${base}${path}`, body ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : undefined);

  const created = await call('/evaluate', { inquiries: [{ id: 'q1', inquiry: 'Where is my order?', reference: "Open 'Your Orders'." }], models: ['retrieval', 'handoff'], scorer: 'heuristic' });
  const { run_id: runId } = (await created.json()) as { run_id: string };
  for (let polls = 0; ; polls += 1) {
    if (((await (await call(`/evaluate/${runId}`)).json()) as { status: string }).status === 'completed') break;
    if (polls > 500) throw new Error('the run did not complete');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  const filler = onDisk('filler.bin');
  const { bavail, bsize } = statfsSync(onDisk());
  writeFileSync(filler, Buffer.alloc(bavail * bsize));
  const order = blindOrder(runId, 'q1', 'alice', ['retrieval', 'handoff']);
  const rating = {
    rater: 'alice',
    item_id: 'q1',
    answers: Object.fromEntries(order.map((alias, at) => [['A', 'B'][at], { accuracy: alias === 'retrieval' ? 4 : 2, actionability: 3, completeness: 3, safety_tone: 5 }])),
    comment: 'x'.repeat(1500),
  };
  const refused = await call(`/evaluate/${runId}/ratings`, rating);
  t.equal(refused.status, 507);
  t.equal(refused.headers.get('retry-after'), '60');
  const body = (await refused.json()) as { error: { code: string; message: string } };
  t.equal(body.error.code, 'insufficient_storage');
  t.notMatch(body.error.message, /reports-ratings-disk|ENOSPC/, 'neither the path nor the system error is shown');
  const file = onDisk('runs', runId, 'ratings.jsonl');
  t.ok(!existsSync(file) || statSync(file).size === 0, 'no torn line is left behind');

  rmSync(filler);
  const stored = await call(`/evaluate/${runId}/ratings`, rating);
  t.equal(stored.status, 201, 'the same rating, once there is room: a first rating still');
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  t.equal(lines.length, 1);
  t.match(JSON.parse(lines[0] as string), { rater: 'alice', item_id: 'q1', scores: { retrieval: { accuracy: 4 }, handoff: { accuracy: 2 } } });
});
