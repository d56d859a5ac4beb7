import type { Pool } from 'pg';
import { databaseFailure } from '../errors.js';
import type { FineTuneRecord } from './fine-tune-record.js';
import { FINE_TUNE_ID, storedText, type FineTuneStore } from './fine-tune-store.js';

/** A database that cannot be reached is 503 `database_unavailable`; any other error stands. */
const asStoreError = (error: unknown): never => {
  throw databaseFailure(error) ?? error;
};

/**
 * The records in the table fine_tune_jobs (migration 5), shared by every replica on the database. The
 * compare-and-set is one conditional update, so of two replicas moving a job from the same version, one wins.
 */
export function createPostgresFineTuneStore(pool: Pool): FineTuneStore {
  const query = <R extends object>(sql: string, values: unknown[]) => pool.query<R>(sql, values).catch(asStoreError);
  const records = (rows: { record: string }[]) => rows.map((row) => JSON.parse(row.record) as FineTuneRecord);
  return {
    async insert(record) {
      await query('insert into fine_tune_jobs (id, record, status, created_at, updated_at) values ($1, $2, $3, $4, $5)', [
        record.id,
        storedText(record),
        record.status,
        record.created_at,
        record.updated_at,
      ]);
    },
    async get(id) {
      if (!FINE_TUNE_ID.test(id)) return null;
      const { rows } = await query<{ record: string }>('select record::text as record from fine_tune_jobs where id = $1', [id]);
      return records(rows)[0] ?? null;
    },
    async list({ limit, after }) {
      let sql = 'select record::text as record from fine_tune_jobs order by created_at desc, id desc limit $1';
      const values: unknown[] = [limit + 1];
      if (after !== undefined) {
        const exists = await query<{ id: string }>('select id from fine_tune_jobs where id = $1', [after]);
        if (exists.rows.length === 0) return undefined;
        sql = `select record::text as record from fine_tune_jobs
          where (created_at, id) < (select created_at, id from fine_tune_jobs where id = $2)
          order by created_at desc, id desc limit $1`;
        values.push(after);
      }
      const page = records((await query<{ record: string }>(sql, values)).rows);
      const shown = page.slice(0, limit);
      return { records: shown, next: page.length > limit ? (shown.at(-1)?.id ?? null) : null };
    },
    async unfinished() {
      const { rows } = await query<{ record: string }>("select record::text as record from fine_tune_jobs where record->>'step' <> 'done' order by created_at", []);
      return records(rows);
    },
    async replace(next) {
      const { rowCount } = await query(
        "update fine_tune_jobs set record = $2, status = $3, updated_at = $4 where id = $1 and (record->>'version')::int = $5",
        [next.id, storedText(next), next.status, next.updated_at, next.version - 1],
      );
      return rowCount === 1;
    },
    close: async () => undefined,
  };
}
