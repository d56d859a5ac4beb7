import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import pg from 'pg';
import t, { type Test } from 'tap';
import { migrate } from '../src/db/migrations.js';
import { createFileRunStore, runFiles } from '../src/runs/file-store.js';
import { createPostgresRunStore, type PostgresRunStoreOptions } from '../src/runs/postgres-store.js';
import type { StoredRating } from '../src/runs/rating.js';
import type { PairwiseResult, RunItem, RunResult } from '../src/runs/run-result.js';
import type { RunRecord, RunStore } from '../src/runs/run-store.js';
import { PAIRWISE_VERDICT_EXAMPLE, type PairwiseVerdict } from '../src/scoring/pairwise-judge.js';
import { DEFAULT_RUBRIC_WEIGHTS, RUBRIC_SCORES_EXAMPLE, type RubricScores } from '../src/scoring/rubric.js';
import { registerSecrets } from '../src/secrets.js';
import { startTestPostgres } from './helpers/postgres.js';

const SECRET = 'sk-contract-secret-0123456789';
registerSecrets([SECRET]);

const record = (runId: string, fields: Partial<RunRecord> = {}): RunRecord => ({
  run_id: runId,
  status: 'running',
  created_at: '2026-11-25T09:00:00.000Z',
  started_at: '2026-11-25T09:00:01.000Z',
  finished_at: null,
  source: 'data/eval.jsonl',
  models: [
    { alias: 'fine-tuned', model_id: 'ft:gpt-4.1-mini-2025-04-14:acme:electronics:b7Xq2' },
    { alias: 'baseline', model_id: 'gpt-4.1-mini-2025-04-14' },
  ],
  scorer: 'heuristic',
  concurrency: 4,
  weights: { ...DEFAULT_RUBRIC_WEIGHTS },
  judge_samples: 1,
  items: 3,
  error: null,
  owner: 'key:3f1c0d5a9e7b',
  ...fields,
});

const item = (n: number): RunItem => ({
  item_id: `item_${n}`,
  inquiry: `My earbuds from order ${n} stopped charging after a week. Can I still return them?`,
  reference: 'Yes: within 30 days of delivery, from Your Orders > Return or replace items.',
  category: 'returns',
  in_training: n % 5 === 0 ? 'near' : 'none',
  training_line: n % 5 === 0 ? n + 1 : null,
  training_similarity: n % 5 === 0 ? 0.87 : null,
});
const items = (count: number) => Array.from({ length: count }, (_, n) => item(n));

const scores: RubricScores = JSON.parse(JSON.stringify(RUBRIC_SCORES_EXAMPLE));
const result = (runId: string, n: number, fields: Partial<RunResult> = {}): RunResult => ({
  ...item(n),
  run_id: runId,
  model_alias: 'fine-tuned',
  model_id: 'ft:gpt-4.1-mini-2025-04-14:acme:electronics:b7Xq2',
  answer: 'Yes. Open Your Orders, choose the earbuds and select "Return or replace items" within 30 days of delivery…',
  answer_status: 'completed',
  tokens_in: 212,
  tokens_out: 87,
  latency_ms: 640,
  cache_hit: false,
  scores,
  outcome: 'scored',
  error: null,
  finished_at: '2026-11-25T09:00:02.000Z',
  ...fields,
});
const failed = (runId: string, n: number, fields: Partial<RunResult> = {}) =>
  result(runId, n, { answer: null, answer_status: null, scores: null, outcome: 'failed', error: { stage: 'answer', code: 'upstream_timeout', message: 'The model did not answer within 30 s.' }, ...fields });

const verdictOf: PairwiseVerdict = JSON.parse(JSON.stringify(PAIRWISE_VERDICT_EXAMPLE));
const verdict = (runId: string, n: number, fields: Partial<PairwiseResult> = {}): PairwiseResult => ({
  run_id: runId,
  item_id: `item_${n}`,
  in_training: 'none',
  first: 'fine-tuned',
  second: 'baseline',
  verdict: verdictOf,
  outcome: 'judged',
  error: null,
  finished_at: '2026-11-25T09:00:03.000Z',
  ...fields,
});

const rating = (runId: string, rater: string, itemId: string, fields: Partial<StoredRating> = {}): StoredRating => ({
  run_id: runId,
  rater,
  item_id: itemId,
  scores: {
    'fine-tuned': { accuracy: 5, actionability: 4, completeness: 4, safety_tone: 5, weighted: 4.5 },
    baseline: { accuracy: 3, actionability: 2, completeness: 3, safety_tone: 5, weighted: 3 },
  },
  preference: 'fine-tuned',
  comment: null,
  shown: ['baseline', 'fine-tuned'],
  rated_at: '2026-11-26T10:00:00.000Z',
  ...fields,
});

async function all<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}
/** The texts as they were stored, key order included. */
const asText = (values: unknown[]) => values.map((value) => JSON.stringify(value));

/** Polls a condition of the outside world (a lease's expiry on the server's clock, a query waiting on a lock). */
async function waitUntil(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface OpenedStore {
  store: RunStore;
  /** Makes creating this run fail part-way, for real; returns the items to create it with. */
  breakCreate(runId: string, items: RunItem[]): RunItem[];
  /** Every text stored for the run, as it is on disk or in the tables. */
  storedText(runId: string): Promise<string>;
}

/** A store over an empty place: a fresh folder, or emptied tables. */
type OpenStore = (t: Test, options?: PostgresRunStoreOptions) => Promise<OpenedStore>;

function runStoreContract(t: Test, open: OpenStore) {
  t.test('a run is stored with its items, read back in their order and as written', async (t) => {
    const { store } = await open(t);
    t.same(await store.listRunIds(), []);
    t.equal(await store.readRecord('run_a'), undefined);
    // More items than one insert and one page; ids out of order, so the order read back is the order given.
    const many = Array.from({ length: 1234 }, (_, n) => item((n * 7919) % 1234));
    await store.create(record('run_a', { items: many.length }), many);
    await store.create(record('run_b', { created_at: '2026-11-25T10:00:00.000Z', owner: undefined }), items(3));
    t.same(asText([await store.readRecord('run_a')]), asText([record('run_a', { items: many.length })]));
    t.same((await store.listRunIds()).sort(), ['run_a', 'run_b']);
    t.same(asText(await all(store.items('run_a'))), asText(many));
    t.same(await all(store.results('run_a')), [], 'no results yet');
    t.same(await store.progress(record('run_a')), { done: 0, failed: 0 });
  });

  t.test('a create that fails part-way leaves no trace, and the run can be created again', async (t) => {
    const { store, breakCreate } = await open(t);
    await t.rejects(store.create(record('run_broken'), breakCreate('run_broken', items(1234))));
    t.same(await store.listRunIds(), []);
    t.equal(await store.readRecord('run_broken'), undefined);
    await store.create(record('run_broken'), items(1234));
    t.equal((await all(store.items('run_broken'))).length, 1234);
  });

  t.test('writeRecord changes the record read back', async (t) => {
    const { store } = await open(t);
    await store.create(record('run_w', { status: 'queued', started_at: null }), items(3));
    await store.writeRecord(record('run_w'));
    t.equal((await store.readRecord('run_w'))?.status, 'running');
    const ended = record('run_w', { status: 'failed', finished_at: '2026-11-25T09:30:00.000Z', error: 'The judge was unavailable.' });
    await store.writeRecord(ended);
    t.same(asText([await store.readRecord('run_w')]), asText([ended]));
  });

  t.test('results: each recorded once, in order, a duplicate refused and counted once, failures counted', async (t) => {
    const { store } = await open(t);
    await store.create(record('run_r'), items(3));
    const recorder = await store.recorder('run_r');
    t.equal(await recorder.result(result('run_r', 2)), true);
    t.equal(await recorder.result(failed('run_r', 0)), true);
    t.equal(await recorder.result(result('run_r', 2, { answer: 'a second answer' })), false, 'the same (item, model) again');
    t.equal(await recorder.result(result('run_r', 2, { model_alias: 'baseline', model_id: 'gpt-4.1-mini-2025-04-14' })), true, 'the same item, another model');
    await recorder.close();
    t.same(asText(await all(store.results('run_r'))), asText([result('run_r', 2), failed('run_r', 0), result('run_r', 2, { model_alias: 'baseline', model_id: 'gpt-4.1-mini-2025-04-14' })]));
    t.same(await store.progress(record('run_r')), { done: 3, failed: 1 });

    const resumed = await store.recorder('run_r');
    t.equal(await resumed.result(result('run_r', 0)), false, 'a recorder opened later (a resume) refuses what is recorded');
    await resumed.close();
    t.same(await store.progress(record('run_r')), { done: 3, failed: 1 });
  });

  t.test('verdicts: each recorded once, in order, counted with the results', async (t) => {
    const { store } = await open(t);
    await store.create(record('run_v', { scorer: 'pairwise', judge_samples: 3 }), items(3));
    t.same(await all(store.verdicts('run_v')), []);
    const recorder = await store.recorder('run_v');
    const judged = verdict('run_v', 1);
    const unparsable = verdict('run_v', 0, { verdict: null, outcome: 'failed', error: { stage: 'score', code: 'judge_unparsable', message: 'The judge did not return JSON.' } });
    t.equal(await recorder.verdict(judged), true);
    t.equal(await recorder.verdict(unparsable), true);
    t.equal(await recorder.verdict(verdict('run_v', 1, { outcome: 'failed' })), false, 'the same (item, second model) again');
    t.equal(await recorder.result(result('run_v', 1, { scores: null, outcome: 'unscored' })), true);
    await recorder.close();
    t.same(asText(await all(store.verdicts('run_v'))), asText([judged, unparsable]));
    t.same(await store.progress(record('run_v')), { done: 3, failed: 1 });
  });

  t.test('more results than a page come back complete and in the order recorded', async (t) => {
    const { store } = await open(t, { pageSize: 100 });
    await store.create(record('run_p', { items: 1234 }), items(1234));
    const recorder = await store.recorder('run_p');
    const order = Array.from({ length: 1234 }, (_, n) => (n * 7919) % 1234);
    for (const n of order) await recorder.result(n % 100 === 0 ? failed('run_p', n) : result('run_p', n));
    await recorder.close();
    t.same((await all(store.results('run_p'))).map((read) => read.item_id), order.map((n) => `item_${n}`));
    t.same(await store.progress(record('run_p')), { done: 1234, failed: 13 });
  });

  t.test('recordings at once: 50 distinct pairs and 10 copies of one pair make 51 results', async (t) => {
    const { store } = await open(t);
    await store.create(record('run_c', { items: 50 }), items(50));
    const recorder = await store.recorder('run_c');
    const outcomes = await Promise.all([
      ...Array.from({ length: 50 }, (_, n) => recorder.result(result('run_c', n))),
      ...Array.from({ length: 10 }, () => recorder.result(result('run_c', 7, { model_alias: 'baseline' }))),
    ]);
    await recorder.close();
    t.equal(outcomes.filter(Boolean).length, 51);
    t.equal((await all(store.results('run_c'))).length, 51);
    t.same(await store.progress(record('run_c')), { done: 51, failed: 0 });
  });

  t.test('changeMark changes when a result, verdict or rating is added; no ratings mark before the first', async (t) => {
    const { store } = await open(t);
    await store.create(record('run_m', { scorer: 'pairwise' }), items(3));
    t.equal(await store.changeMark('run_m', 'ratings'), null);
    const before = { results: await store.changeMark('run_m', 'results'), verdicts: await store.changeMark('run_m', 'verdicts') };
    const recorder = await store.recorder('run_m');
    await recorder.result(result('run_m', 0));
    await recorder.verdict(verdict('run_m', 0));
    await recorder.close();
    const results = await store.changeMark('run_m', 'results');
    t.not(results, before.results);
    t.not(await store.changeMark('run_m', 'verdicts'), before.verdicts);

    await store.rate(rating('run_m', 'ana', 'item_0'));
    const rated = await store.changeMark('run_m', 'ratings');
    t.not(rated, null);
    await store.rate(rating('run_m', 'ana', 'item_0', { preference: 'tie' }));
    t.not(await store.changeMark('run_m', 'ratings'), rated, 'a revised rating changes it too');
    t.equal(await store.changeMark('run_m', 'results'), results, 'unchanged while nothing is added');
  });

  t.test('exports: saved, read back, the summary replaced', async (t) => {
    const { store } = await open(t);
    await store.create(record('run_e', { status: 'completed' }), items(3));
    t.equal(await store.savedExport('run_e', 'summaryJson'), undefined);
    const csv = 'run_id,item_id,model_alias\nrun_e,item_0,fine-tuned\n';
    await store.saveExports(
      'run_e',
      { summaryJson: '{"run_id":"run_e","b":1,"a":2}\n', summaryMd: '# Run run_e\n', chart: Promise.resolve('<svg xmlns="http://www.w3.org/2000/svg"/>') },
      { csv: () => Readable.from([csv]), wideCsv: () => Readable.from([csv]) },
    );
    t.equal(await store.savedExport('run_e', 'summaryJson'), '{"run_id":"run_e","b":1,"a":2}\n');
    t.equal(await store.savedExport('run_e', 'chart'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    const kept = await store.savedCsv('run_e', 'csv');
    if (kept) t.equal(await text(kept), csv, 'a kept CSV is the one made');
    else t.equal(kept, undefined, 'or none is kept');
    await store.saveSummary('run_e', { summaryJson: '{"run_id":"run_e","ratings":1}\n', summaryMd: '# Run run_e, rated\n' });
    t.equal(await store.savedExport('run_e', 'summaryJson'), '{"run_id":"run_e","ratings":1}\n');
    t.equal(await store.savedExport('run_e', 'summaryMd'), '# Run run_e, rated\n');
    t.equal(await store.savedExport('run_e', 'chart'), '<svg xmlns="http://www.w3.org/2000/svg"/>', 'the chart is kept');
  });

  t.test('ratings: a revision replaces the rating, read by item then rater', async (t) => {
    const { store } = await open(t);
    await store.create(record('run_h', { status: 'completed' }), items(11));
    t.same(await store.ratings('run_h'), []);
    t.same(await store.rate(rating('run_h', 'bo', 'item_2')), { revised: false });
    t.same(await store.rate(rating('run_h', 'ana', 'item_2')), { revised: false });
    t.same(await store.rate(rating('run_h', 'bo', 'item_10')), { revised: false });
    const revision = rating('run_h', 'bo', 'item_2', { preference: 'baseline', comment: 'On second reading the baseline is clearer.', rated_at: '2026-11-26T11:00:00.000Z' });
    t.same(await store.rate(revision), { revised: true });
    t.same(asText(await store.ratings('run_h')), asText([rating('run_h', 'bo', 'item_10'), rating('run_h', 'ana', 'item_2'), revision]));
  });

  t.test('a run lock: one holder at a time, free again once released', async (t) => {
    const { store } = await open(t);
    await store.create(record('run_l'), items(3));
    const first = await store.lock('run_l');
    t.ok(first);
    t.equal(await store.lock('run_l'), null, 'held');
    await first?.release();
    const second = await store.lock('run_l');
    t.ok(second, 'taken again after release');
    await second?.release();
  });

  t.test('delete removes the run; its size is counted and grows with its results', async (t) => {
    const { store } = await open(t);
    await store.create(record('run_d'), items(3));
    await store.create(record('run_kept'), items(3));
    const created = await store.bytesOf('run_d');
    t.ok(created > 0);
    const recorder = await store.recorder('run_d');
    await recorder.result(result('run_d', 0));
    await recorder.close();
    t.ok((await store.bytesOf('run_d')) > created);
    await store.delete('run_d');
    t.same(await store.listRunIds(), ['run_kept']);
    t.equal(await store.readRecord('run_d'), undefined);
    t.equal(await store.bytesOf('run_d'), 0);
  });

  t.test('a secret in a result, verdict or rating is stored and read back redacted', async (t) => {
    const { store, storedText } = await open(t);
    await store.create(record('run_s', { scorer: 'pairwise' }), items(3));
    const recorder = await store.recorder('run_s');
    await recorder.result(result('run_s', 0, { answer: `Use the key ${SECRET} to sign in.` }));
    await recorder.verdict(verdict('run_s', 0, { verdict: { ...verdictOf, rationale: `Answer A leaks "${SECRET}".` } }));
    await recorder.close();
    await store.rate(rating('run_s', 'ana', 'item_0', { comment: `The answer quotes ${SECRET}` }));
    const [read] = await all(store.results('run_s'));
    t.equal(read?.answer, 'Use the key [redacted] to sign in.');
    t.equal((await all(store.verdicts('run_s')))[0]?.verdict?.rationale, 'Answer A leaks "[redacted]".');
    t.equal((await store.ratings('run_s'))[0]?.comment, 'The answer quotes [redacted]');
    const stored = await storedText('run_s');
    t.match(stored, '[redacted]');
    t.notMatch(stored, SECRET);
  });
}

t.test('the reports folder', async (t) => {
  runStoreContract(t, async (t) => {
    const dir = t.testdir();
    const store = createFileRunStore(dir);
    t.teardown(() => store.close());
    return {
      store,
      breakCreate(runId, items) {
        // A folder where run.json's partial file goes: the items and results are written, then run.json fails.
        mkdirSync(`${runFiles(dir, runId).record}.partial`, { recursive: true });
        return items;
      },
      async storedText(runId) {
        const folder = runFiles(dir, runId).dir;
        return readdirSync(folder)
          .map((name) => readFileSync(join(folder, name), 'utf8'))
          .join('\n');
      },
    };
  });
  // Recording only while the run is running is left to run.lock here: the file store records whatever it is given.
});

const STORED_TEXT = `
  select record::text as doc from runs where run_id = $1
  union all select item::text from run_items where run_id = $1
  union all select result::text from run_results where run_id = $1
  union all select verdict::text from run_verdicts where run_id = $1
  union all select rating::text from run_ratings where run_id = $1
  union all select content from run_exports where run_id = $1`;

t.test('PostgreSQL', async (t) => {
  // A server that cannot start fails this test: it is never skipped.
  const db = await startTestPostgres(t);
  const pool = new pg.Pool({ connectionString: db.url, max: 8 });
  t.teardown(() => pool.end());
  await migrate(pool);
  const open: OpenStore = async (t, options) => {
    await pool.query('truncate runs cascade');
    const store = createPostgresRunStore(pool, options);
    t.teardown(() => store.close());
    return {
      store,
      // The same item twice: the primary key refuses the last insert, after the run and 1,000 items went in.
      breakCreate: (_runId, items) => [...items, ...items.slice(3, 4)],
      storedText: async (runId) => (await pool.query<{ doc: string }>(STORED_TEXT, [runId])).rows.map((row) => row.doc).join('\n'),
    };
  };
  runStoreContract(t, open);

  t.test('a result for a run that is not running is refused and not stored', async (t) => {
    const { store } = await open(t);
    await store.create(record('run_q', { status: 'queued', started_at: null }), items(3));
    const recorder = await store.recorder('run_q');
    t.equal(await recorder.result(result('run_q', 0)), false, 'queued');
    await store.writeRecord(record('run_q'));
    t.equal(await recorder.result(result('run_q', 1)), true, 'running');
    await store.writeRecord(record('run_q', { status: 'cancelled', finished_at: '2026-11-25T09:10:00.000Z' }));
    t.equal(await recorder.result(result('run_q', 2)), false, 'cancelled');
    t.equal(await recorder.verdict(verdict('run_q', 2)), false, 'cancelled');
    await recorder.close();
    t.same((await all(store.results('run_q'))).map((read) => read.item_id), ['item_1']);
    t.same(await store.progress(record('run_q')), { done: 1, failed: 0 });
  });

  t.test('a result that waited for a cancel under way is refused once the cancel commits', async (t) => {
    const { store } = await open(t);
    await store.create(record('run_x'), items(3));
    const recorder = await store.recorder('run_x');
    // Another replica's writeRecord, caught between its update and its commit.
    const canceller = await pool.connect();
    t.teardown(() => canceller.release());
    await canceller.query('begin');
    await canceller.query(`update runs set status = 'cancelled' where run_id = 'run_x'`);
    const recording = recorder.result(result('run_x', 0));
    const waiting = async () => (await pool.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock'`)).rows[0]?.n === 1;
    await waitUntil(waiting, 'the recording waits for the run row');
    await canceller.query('commit');
    t.equal(await recording, false);
    await recorder.close();
    t.same(await all(store.results('run_x')), []);
    t.same(await store.progress(record('run_x')), { done: 0, failed: 0 });
  });

  t.test('a lease nobody extends can be taken over; the old holder then cannot free it', async (t) => {
    const { store } = await open(t, { lockStaleMs: 100, lockHeartbeatMs: 60_000 });
    await store.create(record('run_dead'), items(3));
    const dead = await store.lock('run_dead');
    t.ok(dead);
    t.equal(await store.lock('run_dead'), null, 'live until it expires');
    const expired = async () => (await pool.query<{ expired: boolean }>(`select expires_at < now() as expired from run_locks where run_id = 'run_dead'`)).rows[0]?.expired === true;
    await waitUntil(expired, 'the lease expires');
    const next = await store.lock('run_dead');
    t.ok(next, 'taken over');
    await dead?.release();
    t.equal(await store.lock('run_dead'), null, "the old holder's release left the new lease alone");
    await next?.release();
  });

  t.test('a heartbeat keeps a lease live past its stale period', async (t) => {
    const { store } = await open(t, { lockStaleMs: 300, lockHeartbeatMs: 20 });
    await store.create(record('run_beat'), items(3));
    const lock = await store.lock('run_beat');
    const expiry = async () => (await pool.query<{ at: string }>(`select expires_at::text as at from run_locks where run_id = 'run_beat'`)).rows[0]?.at;
    const first = await expiry();
    await waitUntil(async () => (await pool.query<{ past: boolean }>('select now() > $1::timestamptz as past', [first])).rows[0]?.past === true, 'the first expiry has passed');
    t.equal(await store.lock('run_beat'), null, 'still held: the heartbeats extended it');
    await lock?.release();
    t.equal(await expiry(), undefined, 'released');
  });
});
