/**
 * REPORTS_DIR on a real, small filesystem (a tmpfs of its own) that fills up in the middle of a run:
 * the run pauses instead of failing, the files stay whole and true, new runs get 507 in our error
 * shape, and everything picks up again once space is freed.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { freePort, startServerOnSmallDisk } from './helpers/server-process.js';

const DISK_BYTES = 2 * 1024 * 1024;
const PAGE = 4096;

interface RunView {
  status: string;
  progress: { total: number; done: number; failed: number };
  paused: { code: string; message: string; since: string } | null;
}

const inquiries = (count: number, prefix: string) =>
  Array.from({ length: count }, (_, i) => ({
    id: `${prefix}${i}`,
    inquiry: `Question ${i}: my wireless headphones will not pair with my laptop over Bluetooth after the last update. What should I try?`,
    reference: 'Remove the headphones from the Bluetooth list, hold the power button for seven seconds to reset them, then pair again from Settings > Bluetooth.',
  }));

async function startSmallDisk(t: Test) {
  const dir = join(tmpdir(), `reports-small-disk-${process.pid}-${Math.random().toString(36).slice(2)}`);
  // The mount point must exist outside the namespace too: the tmpfs is mounted over it inside.
  mkdirSync(dir, { recursive: true });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const server = startServerOnSmallDisk({ PORT: String(port), HOST: '127.0.0.1', REPORTS_DIR: dir, STORAGE_RETRY_MS: '150', LOG_LEVEL: 'info', RATE_LIMIT_MAX: '0' }, dir, DISK_BYTES);
  t.teardown(() => server.child.kill('SIGKILL'));
  await server.listening;
  const base = `http://127.0.0.1:${port}`;
  const onDisk = (...parts: string[]) => server.seen(join(dir, ...parts));
  const filler = onDisk('filler.bin');

  const api = {
    base,
    onDisk,
    /** Fills the disk until `leave` bytes are free (whole pages). */
    fillLeaving(leave: number) {
      const { bavail, bsize } = statfsSync(onDisk());
      const free = bavail * bsize;
      const current = existsSync(filler) ? statSync(filler).size : 0;
      writeFileSync(filler, Buffer.alloc(Math.max(0, current + free - leave)));
    },
    freeSpace() {
      rmSync(filler, { force: true });
    },
    async start(body: object): Promise<Response> {
      return fetch(`${base}/evaluate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    },
    async view(runId: string): Promise<RunView> {
      return (await (await fetch(`${base}/evaluate/${runId}`)).json()) as RunView;
    },
    async until(runId: string, done: (run: RunView) => boolean, what: string): Promise<RunView> {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const run = await api.view(runId);
        if (done(run)) return run;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(run)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    runDirs: () => readdirSync(onDisk('runs')).sort(),
    /**
     * The .partial files that stay: a write being tried again holds one for a moment (and removes it when it
     * fails), so only a name seen in every one of several looks, across retries, was left behind.
     */
    async partialFiles(runId: string): Promise<string[]> {
      const look = () => [...readdirSync(onDisk()), ...readdirSync(onDisk('runs', runId))].filter((name) => name.endsWith('.partial'));
      let lingering = look();
      for (let i = 0; i < 4 && lingering.length > 0; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const now = look();
        lingering = lingering.filter((name) => now.includes(name));
      }
      return lingering;
    },
    runJson: (runId: string) => JSON.parse(readFileSync(onDisk('runs', runId, 'run.json'), 'utf8')) as { status: string },
    /** Every line of a JSON-lines file; a torn line fails the parse. */
    lines: (runId: string, file: string) => {
      const text = readFileSync(onDisk('runs', runId, file), 'utf8');
      t.ok(text === '' || text.endsWith('\n'), `${file} ends with a whole line`);
      return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { item_id: string });
    },
  };
  return { server, ...api };
}

t.test('the disk fills mid-run: the run pauses with whole files and resumes when space returns; new runs get 507 meanwhile', async (t) => {
  const disk = await startSmallDisk(t);
  disk.fillLeaving(160 * 1024);
  const created = await disk.start({ inquiries: inquiries(200, 'full-'), models: ['retrieval'], scorer: 'heuristic', concurrency: 4 });
  t.equal(created.status, 202, 'there is room for the run itself');
  const { run_id } = (await created.json()) as { run_id: string };

  const paused = await disk.until(run_id, (run) => run.paused !== null, 'the run to pause');
  t.equal(paused.status, 'running', 'a paused run is still running, not failed');
  t.equal(paused.paused?.code, 'insufficient_storage');
  t.match(paused.paused?.message, /REPORTS_DIR\) is full/);
  t.ok(paused.progress.done > 0 && paused.progress.done < paused.progress.total, `paused at ${paused.progress.done} of ${paused.progress.total}`);

  t.equal(disk.runJson(run_id).status, 'running', 'run.json says what the run is');
  t.same(await disk.partialFiles(run_id), [], 'no .partial file is left behind');
  // What the service counts is what is on disk: read the file between two views that agree.
  let agreed = false;
  for (let attempt = 0; attempt < 20 && !agreed; attempt += 1) {
    const before = await disk.view(run_id);
    const lines = disk.lines(run_id, 'results.jsonl');
    const after = await disk.view(run_id);
    if (before.progress.done !== after.progress.done) continue;
    agreed = true;
    t.equal(lines.length, after.progress.done, 'every counted result is a whole line on disk');
    t.equal(new Set(lines.map((line) => line.item_id)).size, lines.length, 'no result is written twice');
  }
  t.ok(agreed, 'the progress held still long enough to compare with the file');

  const dirsBefore = disk.runDirs();
  const refused = await disk.start({ inquiries: inquiries(30, 'refused-'), models: ['retrieval'], scorer: 'heuristic' });
  t.equal(refused.status, 507);
  t.equal(refused.headers.get('retry-after'), '60');
  const body = (await refused.json()) as { error: { code: string; message: string } };
  t.equal(body.error.code, 'insufficient_storage');
  t.notMatch(body.error.message, /reports-small-disk|ENOSPC/, 'neither the path nor the system error is shown');
  t.same(disk.runDirs(), dirsBefore, 'the refused run left no folder behind');

  disk.freeSpace();
  const completed = await disk.until(run_id, (run) => run.status === 'completed', 'the run to complete');
  t.equal(completed.paused, null);
  t.same(completed.progress, { total: 200, done: 200, failed: 0 });
  const lines = disk.lines(run_id, 'results.jsonl');
  t.equal(lines.length, 200, 'every item once, none lost while paused');
  t.equal(new Set(lines.map((line) => line.item_id)).size, 200);
  t.equal(disk.runJson(run_id).status, 'completed');
  t.ok(existsSync(disk.onDisk('runs', run_id, 'summary.json')), 'the exports were written');
  t.same(await disk.partialFiles(run_id), []);

  const again = await disk.start({ inquiries: inquiries(3, 'after-'), models: ['retrieval'], scorer: 'heuristic' });
  t.equal(again.status, 202, 'new runs are accepted again');
  t.match(disk.server.output(), /evaluation run paused: the reports folder cannot be written/);
  t.match(disk.server.output(), /takes writes again; resuming/);
});

t.test('no room for the exports at the end: the run waits with its results whole, and a cancellation is written once space returns', async (t) => {
  const disk = await startSmallDisk(t);
  const body = { inquiries: inquiries(40, 'end-'), models: ['retrieval'], scorer: 'heuristic', concurrency: 2 };
  const first = (await (await disk.start(body)).json()) as { run_id: string };
  await disk.until(first.run_id, (run) => run.status === 'completed', 'a first run on an empty disk');
  const size = (file: string) => Math.ceil(statSync(disk.onDisk('runs', first.run_id, file)).size / PAGE) * PAGE;
  const exportsBytes = ['results.csv', 'summary.json', 'summary.md', 'chart.svg'].reduce((sum, file) => sum + size(file), 0);
  // Room for the items, the results, run.json and the lock (a page each at least), and a margin; not for the exports.
  const room = size('items.jsonl') + size('results.jsonl') + 2 * PAGE + 4 * PAGE;
  t.ok(exportsBytes > 4 * PAGE, `the exports (${exportsBytes} bytes) need more than the margin`);
  disk.fillLeaving(room);

  const { run_id } = (await (await disk.start(body)).json()) as { run_id: string };
  const paused = await disk.until(run_id, (run) => run.paused !== null, 'the run to pause');
  t.equal(paused.status, 'running');
  t.same(paused.progress, { total: 40, done: 40, failed: 0 }, 'every result is on disk; only the exports wait');
  t.equal(disk.lines(run_id, 'results.jsonl').length, 40);
  t.equal(disk.runJson(run_id).status, 'running');
  t.same(await disk.partialFiles(run_id), [], 'an export that did not fit leaves no .partial file');
  const summary = await fetch(`${disk.base}/evaluate/${run_id}/summary.md`);
  t.equal(summary.status, 200, 'the summary is still served, computed from the results');

  const cancelled = await fetch(`${disk.base}/evaluate/${run_id}`, { method: 'DELETE' });
  t.equal(cancelled.status, 200, 'DELETE answers at once instead of waiting for space');
  t.match(await cancelled.json(), { status: 'running', paused: { code: 'insufficient_storage' } });

  disk.freeSpace();
  const ended = await disk.until(run_id, (run) => run.status === 'cancelled', 'the cancellation to be written');
  t.equal(ended.paused, null);
  t.equal(disk.runJson(run_id).status, 'cancelled');
  t.ok(existsSync(disk.onDisk('runs', run_id, 'summary.json')));
});

t.test('SIGTERM while a run waits for space: the process exits 0, and the run stays unfinished on disk, to resume at the next start', async (t) => {
  const disk = await startSmallDisk(t);
  disk.fillLeaving(12 * 1024);
  const created = await disk.start({ inquiries: inquiries(10, 'term-'), models: ['retrieval'], scorer: 'heuristic' });
  t.equal(created.status, 202);
  const { run_id } = (await created.json()) as { run_id: string };
  const paused = await disk.until(run_id, (run) => run.paused !== null, 'the run to pause');
  // So little room that even run.json's move to `running` may wait: the service shows what the file says.
  t.match(paused.status, /^(queued|running)$/);
  t.equal(disk.runJson(run_id).status, paused.status, 'the status shown is the status on disk');
  disk.server.child.kill('SIGTERM');
  t.equal(await disk.server.exited, 0, 'the shutdown went as designed');
  t.notMatch(disk.server.output(), /"level":50/, 'nothing was logged as an error');
});
