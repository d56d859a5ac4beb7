import type { Pool } from 'pg';
import type { ResponseCacheStorage } from './response-cache.js';

const READ = 'select body::text as body from response_cache where key = $1 and expires_at > $2';
const WRITE = `
  insert into response_cache (key, model_id, body, created_at, expires_at) values ($1, $2, $3::json, $4, $5)
  on conflict (key) do update set model_id = excluded.model_id, body = excluded.body, created_at = excluded.created_at, expires_at = excluded.expires_at`;
const DELETE_EXPIRED = 'delete from response_cache where expires_at <= $1';
/** Past the cap, the entries that expire first go (the ones kept longest, as every entry has the same TTL). */
const DELETE_SURPLUS = 'delete from response_cache where key in (select key from response_cache order by expires_at desc, key offset $1)';

/** The response_cache table (migration 7), shared by every replica on the database, as runs are. */
export function createPostgresResponseCacheStorage(pool: Pool): ResponseCacheStorage {
  return {
    kind: 'postgres',
    async read(key, now) {
      const { rows } = await pool.query<{ body: string }>(READ, [key, now]);
      const row = rows[0];
      return row ? (JSON.parse(row.body) as unknown) : null;
    },
    async write(entry) {
      await pool.query(WRITE, [entry.key, entry.model_id, entry.document, entry.created_at, entry.expires_at]);
    },
    async sweep(now, maxEntries) {
      const expired = await pool.query(DELETE_EXPIRED, [now]);
      const surplus = await pool.query(DELETE_SURPLUS, [maxEntries]);
      // A delete always reports its row count.
      return Number(expired.rowCount) + Number(surplus.rowCount);
    },
  };
}
