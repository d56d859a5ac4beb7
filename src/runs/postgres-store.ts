import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Pool, PoolClient, QueryResult } from 'pg';
import { databaseFailure } from '../errors.js';
import { redactSecrets } from '../secrets.js';
import { byItemThenRater, type StoredRating } from './rating.js';
import { asStoredResult, trainingOverlapOf, withTrainingOverlap, type PairwiseResult, type RunItem, type RunResult } from './run-result.js';
import type { RunLock, RunRecord, RunRecorder, RunStore, SavedExport, StoredProgress } from './run-store.js';

/** A lease nobody has extended for this long is free: its holder is taken to be dead. */
export const POSTGRES_LOCK_STALE_MS = 30_000;
export const POSTGRES_LOCK_HEARTBEAT_MS = 10_000;
/** Rows per read of a run's items, results or verdicts: a page of results with rationales is a few hundred KB. */
export const POSTGRES_PAGE_SIZE = 250;
/** Items per insert when a run is created: a 10,000-item run is 20 statements, none of them huge. */
const ITEMS_PER_INSERT = 500;

export interface PostgresRunStoreOptions {
  lockStaleMs?: number;
  lockHeartbeatMs?: number;
  pageSize?: number;
}

/** What goes into a json column: the text as JSON.stringify writes it (json keeps it byte for byte), secrets redacted. */
const stored = (value: unknown) => redactSecrets(JSON.stringify(value));

/** A database that cannot be reached is 503 `database_unavailable` (a run waits it out); any other error stands. */
const asStoreError = (error: unknown): never => {
  throw databaseFailure(error) ?? error;
};

async function inTransaction(pool: Pool, work: (client: PoolClient) => Promise<void>): Promise<void> {
  const client = await pool.connect().catch(asStoreError);
  try {
    await client.query('begin');
    await work(client);
    await client.query('commit');
  } catch (error) {
    // A connection that cannot even roll back is broken: it is destroyed rather than given back to the pool.
    const broken = await client.query('rollback').then(() => undefined, (rollbackError: Error) => rollbackError);
    client.release(broken);
    return asStoreError(error);
  }
  client.release();
}

/** Keyset reads ($1 run, $2 the last key seen, $3 page size): each page is a fresh query, so no connection is held while the reader is slow. */
const PAGES = {
  items: 'select position as key, item::text as doc from run_items where run_id = $1 and position > $2 order by position limit $3',
  results: 'select seq as key, result::text as doc from run_results where run_id = $1 and seq > $2 order by seq limit $3',
  verdicts: 'select seq as key, verdict::text as doc from run_verdicts where run_id = $1 and seq > $2 order by seq limit $3',
};

/**
 * Records results or verdicts once, only while the run is running, and counts them, all in one statement ($1 run,
 * then arrays of items, models, outcomes and documents): the primary key refuses a duplicate (no row, no count),
 * and the statement returns the keys it recorded. The run's row is locked first. A status change (writeRecord's
 * update) therefore waits for a recording under way to commit, and a recording that waited for a status change
 * re-reads the committed row, where PostgreSQL checks `status = 'running'` again: nothing is recorded once
 * writeRecord has moved the run out of running. The lock also makes a run's recordings commit one at a time in
 * the order of their seq (drawn once the lock is held), so a read paging by seq never misses a row that commits
 * late with a smaller seq. `no key update` is the lock the counters' update takes anyway; unlike `for update` it
 * lets ratings and leases (foreign keys) through.
 */
const recordOnce = (table: 'run_results' | 'run_verdicts', model: 'model_alias' | 'second', doc: 'result' | 'verdict') => `
  with run as (select run_id from runs where run_id = $1 and status = 'running' for no key update),
  recorded as (
    insert into ${table} (run_id, item_id, ${model}, outcome, ${doc})
    select run.run_id, line.item_id, line.model, line.outcome, line.doc
    from run, unnest($2::text[], $3::text[], $4::text[], $5::json[]) with ordinality as line(item_id, model, outcome, doc, position)
    order by line.position
    on conflict do nothing
    returning item_id, ${model} as model, outcome
  ),
  counted as (
    update runs set done = done + (select count(*) from recorded)::int, failed = failed + (select count(*) from recorded where outcome = 'failed')::int
    where runs.run_id = $1 and exists (select 1 from recorded)
  )
  select item_id, model from recorded`;
const RECORD_RESULTS = recordOnce('run_results', 'model_alias', 'result');
const RECORD_VERDICTS = recordOnce('run_verdicts', 'second', 'verdict');
/** Lines per recording statement. */
const LINES_PER_RECORDING = 500;

/** The sum of seq grows with every row added and every rating revised (which draws a new seq); null without rows. */
const CHANGE_MARKS = {
  results: 'select sum(seq)::text as mark from run_results where run_id = $1',
  verdicts: 'select sum(seq)::text as mark from run_verdicts where run_id = $1',
  ratings: 'select sum(seq)::text as mark from run_ratings where run_id = $1',
};

const BYTES_OF = `
  select coalesce(sum(bytes), 0)::float8 as bytes from (
    select octet_length(record::text) as bytes from runs where run_id = $1
    union all select octet_length(item::text) from run_items where run_id = $1
    union all select octet_length(result::text) from run_results where run_id = $1
    union all select octet_length(verdict::text) from run_verdicts where run_id = $1
    union all select octet_length(rating::text) from run_ratings where run_id = $1
    union all select octet_length(content) from run_exports where run_id = $1
  ) as texts`;

/** The server's clock decides whether a lease is live, so the replicas' clocks need not agree. */
const TAKE_LEASE = `
  insert into run_locks (run_id, holder, expires_at) values ($1, $2, now() + $3::int * interval '1 millisecond')
  on conflict (run_id) do update set holder = excluded.holder, expires_at = excluded.expires_at
  where run_locks.expires_at < now()`;
const EXTEND_LEASE = `update run_locks set expires_at = now() + $3::int * interval '1 millisecond' where run_id = $1 and holder = $2`;

/**
 * PostgreSQL as the run store, shared by replicas: a row per run with its result counters, and tables of items,
 * results, verdicts, ratings, exports and leases (migration 2). The CSVs are not kept: they are streamed again
 * from the results. The pool belongs to the caller, who ends it.
 */
/** What the job queue's workers read besides the contract: a database can answer these without a scan. */
export interface PostgresRunStore extends RunStore {
  /** The runs that are running, oldest first. */
  runningRecords(): Promise<RunRecord[]>;
  /** The run's items with these ids, by id. */
  itemsById(runId: string, itemIds: readonly string[]): Promise<Map<string, RunItem>>;
  /** The answers stored for these items, by item then alias (null for a model that failed to answer). */
  answersOf(runId: string, itemIds: readonly string[]): Promise<Map<string, Map<string, string | null>>>;
}

export function createPostgresRunStore(pool: Pool, options: PostgresRunStoreOptions = {}): PostgresRunStore {
  const { lockStaleMs = POSTGRES_LOCK_STALE_MS, lockHeartbeatMs = POSTGRES_LOCK_HEARTBEAT_MS, pageSize = POSTGRES_PAGE_SIZE } = options;
  const heartbeats = new Set<NodeJS.Timeout>();
  const query = <Row extends object = Record<string, unknown>>(text: string, values?: unknown[]): Promise<QueryResult<Row>> =>
    pool.query<Row>(text, values).catch(asStoreError);

  async function* read<T>(part: keyof typeof PAGES, runId: string): AsyncGenerator<T> {
    let after: string | number = -1;
    for (;;) {
      const { rows }: QueryResult<{ key: string | number; doc: string }> = await query(PAGES[part], [runId, after, pageSize]);
      for (const row of rows) yield JSON.parse(row.doc) as T;
      const last = rows.at(-1);
      if (!last || rows.length < pageSize) return;
      after = last.key;
    }
  }

  /**
   * A run's recordings, one statement in flight at a time: what arrives meanwhile goes into the next statement
   * together, so a busy run costs the database a statement per batch rather than per result (each locks and
   * updates the run's row), and an idle one records at once.
   */
  function recordingBatches(runId: string, sql: string) {
    interface Line {
      item: string;
      model: string;
      outcome: string;
      doc: string;
      settle(recorded: boolean): void;
      fail(error: unknown): void;
    }
    let waiting: Line[] = [];
    let flushing: Promise<void> | null = null;
    const keyOf = (item: string, model: string) => `${item}\u0000${model}`;

    async function flush(lines: Line[]): Promise<void> {
      // A second line for the same key in one statement would be refused by the first: settled here instead.
      const first = new Map<string, Line>();
      for (const line of lines) {
        if (first.has(keyOf(line.item, line.model))) line.settle(false);
        else first.set(keyOf(line.item, line.model), line);
      }
      const unique = [...first.values()];
      try {
        const { rows } = await query<{ item_id: string; model: string }>(sql, [
          runId,
          unique.map((line) => line.item),
          unique.map((line) => line.model),
          unique.map((line) => line.outcome),
          unique.map((line) => line.doc),
        ]);
        const recorded = new Set(rows.map((row) => keyOf(row.item_id, row.model)));
        for (const line of unique) line.settle(recorded.has(keyOf(line.item, line.model)));
      } catch (error) {
        for (const line of unique) line.fail(error);
      }
    }

    function kick(): void {
      if (flushing || waiting.length === 0) return;
      const lines = waiting.slice(0, LINES_PER_RECORDING);
      waiting = waiting.slice(LINES_PER_RECORDING);
      flushing = flush(lines).finally(() => {
        flushing = null;
        kick();
      });
    }

    return {
      record(item: string, model: string, outcome: string, doc: string): Promise<boolean> {
        return new Promise<boolean>((settle, fail) => {
          waiting.push({ item, model, outcome, doc, settle, fail });
          kick();
        });
      },
      async idle(): Promise<void> {
        while (flushing) await flushing;
      },
    };
  }

  const saveTexts = async (runId: string, texts: Partial<Record<SavedExport, string | Promise<string>>>) => {
    const names = Object.keys(texts) as SavedExport[];
    const contents = await Promise.all(names.map(async (name) => redactSecrets((await texts[name]) ?? '')));
    await query(
      `insert into run_exports (run_id, name, content) select $1::text, * from unnest($2::text[], $3::text[])
       on conflict (run_id, name) do update set content = excluded.content`,
      [runId, names, contents],
    );
  };

  return {
    kind: 'postgres',

    async runningRecords() {
      const { rows } = await query<{ doc: string }>(`select record::text as doc from runs where status = 'running' order by created_at`);
      return rows.map((row) => JSON.parse(row.doc) as RunRecord);
    },

    async itemsById(runId, itemIds) {
      const { rows } = await query<{ doc: string }>('select item::text as doc from run_items where run_id = $1 and item_id = any($2)', [runId, [...new Set(itemIds)]]);
      return new Map(rows.map((row) => withTrainingOverlap(JSON.parse(row.doc) as RunItem)).map((item) => [item.item_id, item]));
    },

    async answersOf(runId, itemIds) {
      const { rows } = await query<{ item_id: string; model_alias: string; answer: string | null }>(
        `select item_id, model_alias, result->>'answer' as answer from run_results where run_id = $1 and item_id = any($2)`,
        [runId, [...new Set(itemIds)]],
      );
      const answers = new Map<string, Map<string, string | null>>();
      for (const row of rows) {
        let byAlias = answers.get(row.item_id);
        if (!byAlias) answers.set(row.item_id, (byAlias = new Map()));
        byAlias.set(row.model_alias, row.answer);
      }
      return answers;
    },

    async create(record, items) {
      await inTransaction(pool, async (client) => {
        await client.query('insert into runs (run_id, status, owner, created_at, record) values ($1, $2, $3, $4, $5)', [
          record.run_id,
          record.status,
          record.owner ?? null,
          record.created_at,
          stored(record),
        ]);
        for (let start = 0; start < items.length; start += ITEMS_PER_INSERT) {
          const chunk = items.slice(start, start + ITEMS_PER_INSERT);
          await client.query('insert into run_items (run_id, position, item_id, item) select $1::text, * from unnest($2::int[], $3::text[], $4::json[])', [
            record.run_id,
            chunk.map((_, index) => start + index),
            chunk.map((item) => item.item_id),
            chunk.map(stored),
          ]);
        }
      });
    },

    // An update, not an upsert: a run deleted meanwhile (retention) must not come back as a record without items.
    async writeRecord(record) {
      const { rowCount } = await query('update runs set status = $2, owner = $3, record = $4 where run_id = $1', [record.run_id, record.status, record.owner ?? null, stored(record)]);
      if (rowCount === 0) throw new Error(`no run '${record.run_id}' to write: it was deleted or never created`);
    },

    async listRunIds() {
      const { rows } = await query<{ run_id: string }>('select run_id from runs order by created_at desc, run_id desc');
      return rows.map((row) => row.run_id);
    },

    async readRecord(runId) {
      const { rows } = await query<{ doc: string }>('select record::text as doc from runs where run_id = $1', [runId]);
      return rows[0] && (JSON.parse(rows[0].doc) as RunRecord);
    },

    async delete(runId) {
      await query('delete from runs where run_id = $1', [runId]);
    },

    async bytesOf(runId) {
      const { rows } = await query<{ bytes: number }>(BYTES_OF, [runId]);
      return rows[0]?.bytes ?? 0;
    },

    async *items(runId) {
      for await (const item of read<RunItem>('items', runId)) yield withTrainingOverlap(item);
    },

    async *results(runId) {
      for await (const result of read<RunResult>('results', runId)) yield asStoredResult(result);
    },

    async *verdicts(runId) {
      for await (const verdict of read<PairwiseResult>('verdicts', runId)) {
        verdict.in_training = trainingOverlapOf(verdict.in_training);
        yield verdict;
      }
    },

    async progress(record) {
      const { rows } = await query<StoredProgress>('select done, failed from runs where run_id = $1', [record.run_id]);
      return { done: rows[0]?.done ?? 0, failed: rows[0]?.failed ?? 0 };
    },

    async recorder(runId) {
      const { rowCount } = await query('select 1 from runs where run_id = $1', [runId]);
      if (rowCount === 0) throw new Error(`no run '${runId}' to record into`);
      const results = recordingBatches(runId, RECORD_RESULTS);
      const verdicts = recordingBatches(runId, RECORD_VERDICTS);
      const recorder: RunRecorder = {
        result: (result) => results.record(result.item_id, result.model_alias, result.outcome, stored(result)),
        verdict: (verdict) => verdicts.record(verdict.item_id, verdict.second, verdict.outcome, stored(verdict)),
        async close() {
          await Promise.all([results.idle(), verdicts.idle()]);
        },
      };
      return recorder;
    },

    async changeMark(runId, part) {
      const { rows } = await query<{ mark: string | null }>(CHANGE_MARKS[part], [runId]);
      return rows[0]?.mark ?? null;
    },

    // One statement each (once every text is made), so all or nothing. The CSVs are left to be streamed again
    // from the results, in pages.
    saveExports: (runId, texts) => saveTexts(runId, texts),
    saveSummary: (runId, texts) => saveTexts(runId, texts),

    async savedExport(runId, name) {
      const { rows } = await query<{ content: string }>('select content from run_exports where run_id = $1 and name = $2', [runId, name]);
      return rows[0]?.content;
    },

    savedCsv: async () => undefined,
    copySavedCsv: async () => false,

    async rate(rating) {
      // xmax is 0 on a row version the statement inserted and the updating transaction's id on one it updated:
      // whether a rating existed, told by the upsert itself, so two ratings of one item at once cannot both say new.
      const { rows } = await query<{ inserted: boolean }>(
        `insert into run_ratings (run_id, rater, item_id, rating) values ($1, $2, $3, $4)
         on conflict (run_id, rater, item_id) do update set rating = excluded.rating, seq = default
         returning xmax = 0 as inserted`,
        [rating.run_id, rating.rater, rating.item_id, stored(rating)],
      );
      return { revised: rows[0]?.inserted === false };
    },

    async ratings(runId) {
      const { rows } = await query<{ doc: string }>('select rating::text as doc from run_ratings where run_id = $1', [runId]);
      return rows.map((row) => JSON.parse(row.doc) as StoredRating).sort(byItemThenRater);
    },

    async lock(runId): Promise<RunLock | null> {
      const holder = `${hostname()}:${process.pid}:${randomUUID()}`;
      const { rowCount } = await query(TAKE_LEASE, [runId, holder, lockStaleMs]);
      if (rowCount !== 1) return null;
      const stop = () => {
        clearInterval(heartbeat);
        heartbeats.delete(heartbeat);
      };
      // A failed extension (the database is briefly away) is tried again on the next beat; a lease found taken
      // by another holder (this process stalled past the stale period) is not won back.
      const heartbeat = setInterval(() => {
        query(EXTEND_LEASE, [runId, holder, lockStaleMs]).then(({ rowCount: extended }) => extended === 0 && stop(), () => undefined);
      }, lockHeartbeatMs);
      heartbeat.unref();
      heartbeats.add(heartbeat);
      return {
        async release() {
          stop();
          await query('delete from run_locks where run_id = $1 and holder = $2', [runId, holder]);
        },
      };
    },

    async close() {
      for (const heartbeat of heartbeats) clearInterval(heartbeat);
      heartbeats.clear();
    },
  };
}
