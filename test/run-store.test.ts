import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import t from 'tap';
import { openVerdictsWriter, readItems, readResults, readVerdicts, repairResults, ResultsWriter, runFiles } from '../src/runs/file-store.js';
import type { RunResult } from '../src/runs/run-result.js';

const result = (n: number): RunResult => ({
  run_id: 'run_test',
  item_id: `item_${n}`,
  inquiry: `Inquiry ${n}`,
  category: null,
  reference: null,
  in_training: 'none',
  training_line: null,
  training_similarity: null,
  model_alias: 'retrieval',
  model_id: 'retrieval',
  answer: `Answer ${n}`,
  answer_status: 'completed',
  tokens_in: null,
  tokens_out: null,
  latency_ms: 1,
  cache_hit: false,
  scores: null,
  outcome: 'unscored',
  error: null,
  finished_at: '2026-11-25T00:00:00.000Z',
});

t.test('appends that arrive together are written in order, each resolved only once its line is on disk', async (t) => {
  const reportsDir = t.testdir();
  mkdirSync(runFiles(reportsDir, 'run_test').dir, { recursive: true });
  const path = runFiles(reportsDir, 'run_test').results;
  const writer = await ResultsWriter.open(reportsDir, 'run_test');
  const onDiskWhenResolved: boolean[] = [];
  await Promise.all(
    Array.from({ length: 50 }, (_, n) =>
      writer.append(result(n)).then(() => {
        onDiskWhenResolved.push(readFileSync(path, 'utf8').includes(`"item_id":"item_${n}"`));
      }),
    ),
  );
  t.equal(onDiskWhenResolved.length, 50);
  t.ok(onDiskWhenResolved.every(Boolean), 'no append resolved before its line was written');
  await writer.append(result(50));
  await writer.close();
  const ids: string[] = [];
  for await (const written of readResults(reportsDir, 'run_test')) ids.push(written.item_id);
  t.same(ids, Array.from({ length: 51 }, (_, n) => `item_${n}`), 'every line, once, in the order appended');
});

t.test('a failed write rejects the appends it carried, and close waits for writes under way', async (t) => {
  const reportsDir = t.testdir();
  mkdirSync(runFiles(reportsDir, 'run_test').dir, { recursive: true });
  const writer = await ResultsWriter.open(reportsDir, 'run_test');
  const pending = writer.append(result(1));
  await writer.close();
  await pending;
  t.match(readFileSync(runFiles(reportsDir, 'run_test').results, 'utf8'), /"item_id":"item_1"/, 'close let the write finish');
  const afterClose = await writer.append(result(2)).then(
    () => null,
    (error: unknown) => error,
  );
  t.ok(afterClose instanceof Error, 'a write on a closed file rejects its append');
});

t.test('runs written before near-duplicates were checked read their boolean in_training as exact or none', async (t) => {
  const reportsDir = t.testdir();
  const files = runFiles(reportsDir, 'run_old');
  mkdirSync(files.dir, { recursive: true });
  const old = (n: number, inTraining: boolean) => JSON.stringify({ ...result(n), in_training: inTraining, training_line: undefined, training_similarity: undefined });
  writeFileSync(files.results, `${old(1, true)}\n${old(2, false)}\n`);
  writeFileSync(files.items, `${JSON.stringify({ item_id: 'item_1', inquiry: 'x', reference: null, category: null, in_training: true })}\n`);
  const read: Array<[string, unknown, unknown]> = [];
  for await (const r of readResults(reportsDir, 'run_old')) read.push([r.item_id, r.in_training, r.training_line]);
  t.same(read, [
    ['item_1', 'exact', null],
    ['item_2', 'none', null],
  ]);
  for await (const item of readItems(reportsDir, 'run_old')) t.same([item.in_training, item.training_similarity], ['exact', null]);
  const verdicts = [];
  for await (const verdict of readVerdicts(reportsDir, 'run_old')) verdicts.push(verdict);
  t.same(verdicts, [], 'a run without a verdicts file has no verdicts');
});

t.test('verdicts: a partial last line left by a crash is cut, a verdict listed twice counts once', async (t) => {
  const reportsDir = t.testdir();
  const files = runFiles(reportsDir, 'run_pairwise');
  mkdirSync(files.dir, { recursive: true });
  writeFileSync(files.results, '');
  const verdict = (item: string) => ({
    run_id: 'run_pairwise',
    item_id: item,
    in_training: true,
    first: 'fine-tuned',
    second: 'baseline',
    verdict: null,
    outcome: 'failed' as const,
    error: { stage: 'score' as const, code: 'judge_unparsable', message: 'x' },
    finished_at: 'now',
  });
  const writer = await openVerdictsWriter(reportsDir, 'run_pairwise');
  await writer.append({ ...verdict('a'), in_training: 'none' });
  await writer.append({ ...verdict('a'), in_training: 'none' });
  await writer.close();
  writeFileSync(files.verdicts, `${readFileSync(files.verdicts, 'utf8')}${JSON.stringify(verdict('b')).slice(0, 30)}`);
  await repairResults(reportsDir, 'run_pairwise');
  t.notMatch(readFileSync(files.verdicts, 'utf8'), '"item_id":"b"');
  const read = [];
  for await (const v of readVerdicts(reportsDir, 'run_pairwise')) read.push(v.item_id);
  t.same(read, ['a']);
  writeFileSync(files.verdicts, `${JSON.stringify(verdict('c'))}\n`);
  for await (const v of readVerdicts(reportsDir, 'run_pairwise')) t.equal(v.in_training, 'exact', 'a boolean from an older line reads as exact');
});

t.test('a run lock: one holder at a time; a dead holder on this host or a silent one elsewhere frees it', async (t) => {
  const { acquireRunLock, RUN_LOCK_STALE_MS } = await import('../src/runs/file-store.js');
  const { hostname } = await import('node:os');
  const { spawnSync } = await import('node:child_process');
  const { utimesSync } = await import('node:fs');
  const reportsDir = t.testdir();
  const files = runFiles(reportsDir, 'run_locked');
  mkdirSync(files.dir, { recursive: true });

  const first = await acquireRunLock(reportsDir, 'run_locked');
  t.ok(first, 'free at first');
  t.equal(await acquireRunLock(reportsDir, 'run_locked'), null, 'a live holder keeps it');
  await first?.release();
  const again = await acquireRunLock(reportsDir, 'run_locked');
  t.ok(again, 'released, it can be taken again');
  await again?.release();

  const deadPid = spawnSync(process.execPath, ['-e', '']).pid as number;
  writeFileSync(files.lock, JSON.stringify({ pid: deadPid, host: hostname() }));
  const afterCrash = await acquireRunLock(reportsDir, 'run_locked');
  t.ok(afterCrash, 'a process on this host that died (SIGKILL) does not hold it');
  await afterCrash?.release();

  writeFileSync(files.lock, JSON.stringify({ pid: 1, host: 'another-host' }));
  t.equal(await acquireRunLock(reportsDir, 'run_locked'), null, 'a holder on another host that touched it recently keeps it');
  const old = new Date(Date.now() - RUN_LOCK_STALE_MS - 1000);
  utimesSync(files.lock, old, old);
  const stale = await acquireRunLock(reportsDir, 'run_locked');
  t.ok(stale, 'one silent for longer than the stale limit does not');
  await stale?.release();

  writeFileSync(files.lock, 'not json');
  const old2 = new Date(Date.now() - RUN_LOCK_STALE_MS - 1000);
  utimesSync(files.lock, old2, old2);
  t.ok(await acquireRunLock(reportsDir, 'run_locked'), 'an unreadable, silent lock is stale too');
});
