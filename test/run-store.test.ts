import { mkdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import { readResults, ResultsWriter, runFiles } from '../src/runs/run-store.js';
import type { RunResult } from '../src/runs/run-result.js';

const result = (n: number): RunResult => ({
  run_id: 'run_test',
  item_id: `item_${n}`,
  inquiry: `Inquiry ${n}`,
  category: null,
  reference: null,
  in_training: false,
  model_alias: 'retrieval',
  model_id: 'retrieval',
  answer: `Answer ${n}`,
  answer_status: 'completed',
  tokens_in: null,
  tokens_out: null,
  latency_ms: 1,
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
