import pg from 'pg';
import t from 'tap';
import { openDatabase } from '../src/db/database.js';
import { LATEST_SCHEMA_VERSION, migrate, MIGRATIONS, SchemaTooNewError, type Migration } from '../src/db/migrations.js';
import { startTestPostgres } from './helpers/postgres.js';

const quietLog = { info() {}, warn() {}, error() {}, debug() {} } as never;

async function poolOn(t: { teardown(fn: () => unknown): void }, url: string) {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  t.teardown(() => pool.end());
  return pool;
}

const NEXT = LATEST_SCHEMA_VERSION + 1;
const versions = async (pool: pg.Pool) => (await pool.query<{ version: number }>('select version from schema_migrations order by version')).rows.map((row) => row.version);

t.test('the migrations apply once: a second start finds the schema current and changes nothing', async (t) => {
  const db = await startTestPostgres(t);
  const pool = await poolOn(t, db.url);
  // A database left at version 1 by an earlier release, brought up to date.
  t.same(await migrate(pool, MIGRATIONS.filter((migration) => migration.version === 1)), { applied: [1], version: 1 });
  t.same(await migrate(pool), { applied: [2, 3, 4, 5, 6, 7], version: 7 });
  t.equal(LATEST_SCHEMA_VERSION, 7);
  t.same(await versions(pool), [1, 2, 3, 4, 5, 6, 7]);
  const tables = await pool.query<{ name: string }>(`select table_name as name from information_schema.tables where table_schema = 'public' order by 1`);
  t.same(tables.rows.map((row) => row.name), ['fine_tune_jobs', 'model_alias_assignments', 'rate_limits', 'response_cache', 'run_exports', 'run_items', 'run_locks', 'run_ratings', 'run_results', 'run_verdicts', 'run_workers', 'runs', 'schema_migrations']);
  await pool.query(`insert into runs (run_id, status, created_at, record) values ('run_1', 'queued', now(), '{"run_id":"run_1"}')`);

  t.same(await migrate(pool), { applied: [], version: 7 }, 'nothing applied the second time');
  t.same(await versions(pool), [1, 2, 3, 4, 5, 6, 7]);
  t.equal((await pool.query('select count(*)::int as n from runs')).rows[0].n, 1, 'the data is kept');
});

t.test('two replicas starting together: the advisory lock makes one migrate and the other find it done', async (t) => {
  const db = await startTestPostgres(t);
  // A slow migration that fails if run twice (no "if not exists"), so that an unlocked race would show.
  const slow: Migration[] = [
    ...MIGRATIONS,
    { version: NEXT, name: 'slow', sql: `select pg_sleep(0.5); create table raced (id integer primary key)` },
  ];
  const [a, b, c] = [await poolOn(t, db.url), await poolOn(t, db.url), await poolOn(t, db.url)];
  const outcomes = await Promise.all([migrate(a, slow), migrate(b, slow), migrate(c, slow)]);
  t.same(outcomes.map((outcome) => outcome.version), [NEXT, NEXT, NEXT]);
  t.same(outcomes.flatMap((outcome) => outcome.applied).sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, NEXT], 'each migration applied by exactly one of them');
  t.same(await versions(a), [1, 2, 3, 4, 5, 6, 7, NEXT]);
  const locks = await a.query(`select count(*)::int as n from pg_locks where locktype = 'advisory'`);
  t.equal(locks.rows[0].n, 0, 'the lock is released');
});

t.test('a failing migration rolls back whole and is not recorded', async (t) => {
  const db = await startTestPostgres(t);
  const pool = await poolOn(t, db.url);
  const broken: Migration[] = [...MIGRATIONS, { version: NEXT, name: 'broken', sql: 'create table half (id integer); select no_such_function()' }];
  await t.rejects(migrate(pool, broken), /no_such_function/);
  t.same(await versions(pool), [1, 2, 3, 4, 5, 6, 7]);
  t.equal((await pool.query(`select to_regclass('half') as t`)).rows[0].t, null, 'nothing of it is left');
});

t.test('a schema newer than the code knows is refused, untouched, with both versions in the message', async (t) => {
  const db = await startTestPostgres(t);
  const pool = await poolOn(t, db.url);
  await migrate(pool);
  await pool.query(`insert into schema_migrations (version, name) values (9, 'from a newer release')`);

  const error = await migrate(pool).catch((caught: unknown) => caught);
  t.ok(error instanceof SchemaTooNewError);
  t.match((error as Error).message, /schema is at version 9, newer than this code knows \(up to version 7\)/);

  await t.rejects(openDatabase(db.url, quietLog), { name: 'ConfigError', message: /DATABASE_URL: postgres:\/\/127\.0\.0\.1:\d+\/postgres: the database's schema is at version 9, newer than this code knows \(up to version 7\)/ });
  t.same(await versions(pool), [1, 2, 3, 4, 5, 6, 7, 9], 'the database is left as it was');
});
