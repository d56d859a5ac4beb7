import type { Pool, PoolClient } from 'pg';

/** One step of the schema: applied once, in order, inside a transaction, and recorded in schema_migrations. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * The schema, version by version. Never edit a migration that has shipped: add the next one.
 * Version 1 was a start for the PostgreSQL run store (issue 14), a runs table that never held data; version 2
 * replaces it with the store's tables (src/runs/postgres-store.ts). Stored documents are `json`, not `jsonb`:
 * json keeps the text as written, so key order survives and an export made from PostgreSQL is byte for byte
 * the one made from the reports folder. Each result, verdict and rating has a `seq` that gives the order it
 * was recorded in, which reads page through.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'schema_migrations and runs',
    sql: `
      create table schema_migrations (
        version integer primary key,
        name text not null,
        applied_at timestamptz not null default now()
      );
      create table runs (
        run_id text primary key,
        status text not null check (status in ('queued', 'running', 'completed', 'failed', 'cancelled')),
        caller text,
        request jsonb not null,
        total_items integer not null check (total_items >= 0),
        done_items integer not null default 0 check (done_items >= 0),
        failed_items integer not null default 0 check (failed_items >= 0),
        created_at timestamptz not null default now(),
        started_at timestamptz,
        ended_at timestamptz
      );
      create index runs_created_at on runs (created_at desc);
    `,
  },
  {
    version: 2,
    name: 'the run store',
    sql: `
      drop table runs;
      create table runs (
        run_id text primary key,
        status text not null check (status in ('queued', 'running', 'completed', 'failed', 'cancelled')),
        owner text,
        created_at timestamptz not null,
        record json not null,
        done integer not null default 0 check (done >= 0),
        failed integer not null default 0 check (failed >= 0 and failed <= done)
      );
      create index runs_newest_first on runs (created_at desc, run_id desc);
      create table run_items (
        run_id text not null references runs on delete cascade,
        position integer not null,
        item_id text not null,
        item json not null,
        primary key (run_id, item_id),
        unique (run_id, position)
      );
      create table run_results (
        run_id text not null references runs on delete cascade,
        item_id text not null,
        model_alias text not null,
        seq bigint generated always as identity,
        outcome text not null check (outcome in ('scored', 'unscored', 'failed')),
        result json not null,
        primary key (run_id, item_id, model_alias)
      );
      create index run_results_in_order on run_results (run_id, seq);
      create table run_verdicts (
        run_id text not null references runs on delete cascade,
        item_id text not null,
        second text not null,
        seq bigint generated always as identity,
        outcome text not null check (outcome in ('judged', 'failed')),
        verdict json not null,
        primary key (run_id, item_id, second)
      );
      create index run_verdicts_in_order on run_verdicts (run_id, seq);
      create table run_exports (
        run_id text not null references runs on delete cascade,
        name text not null,
        content text not null,
        primary key (run_id, name)
      );
      create table run_ratings (
        run_id text not null references runs on delete cascade,
        rater text not null,
        item_id text not null,
        rating json not null,
        seq bigint generated always as identity,
        primary key (run_id, rater, item_id)
      );
      create table run_locks (
        run_id text primary key references runs on delete cascade,
        holder text not null,
        expires_at timestamptz not null
      );
    `,
  },
  {
    version: 3,
    name: 'the workers that execute runs',
    sql: `
      -- Each process that executes runs says it is alive here every few seconds; a run's concurrency is shared
      -- out among the live ones, so that together they keep to it.
      create table run_workers (
        worker_id text primary key,
        seen_at timestamptz not null default now()
      );
    `,
  },
  {
    version: 4,
    name: 'the rate limit shared by replicas',
    sql: `
      create table rate_limits (
        key text primary key,
        count integer not null,
        window_ends timestamptz not null
      );
    `,
  },
  {
    version: 5,
    name: 'fine-tuning jobs',
    sql: `
      -- One row per fine-tuning job (src/fine-tunes/postgres-fine-tune-store.ts): the record as a document, its
      -- status and times beside it for listing. Every write is conditional on the record's version.
      create table fine_tune_jobs (
        id text primary key,
        record json not null,
        status text not null,
        created_at timestamptz not null,
        updated_at timestamptz not null
      );
      create index fine_tune_jobs_newest_first on fine_tune_jobs (created_at desc, id desc);
    `,
  },
  {
    version: 6,
    name: 'model alias assignments',
    sql: `
      -- The audit trail of run-time alias assignments (src/models/model-alias-postgres-store.ts), appended to,
      -- never updated: an alias's current model is its row with the highest seq.
      create table model_alias_assignments (
        seq bigserial primary key,
        alias text not null,
        model_id text not null,
        previous_model_id text,
        assigned_by text not null,
        assigned_at timestamptz not null,
        reason text not null check (reason in ('fine_tune', 'promote')),
        fine_tune_id text,
        evaluation_run_id text,
        overrode_significant_loss boolean not null default false,
        note text,
        like_alias text
      );
      create index model_alias_assignments_by_alias on model_alias_assignments (alias, seq desc);
    `,
  },
  {
    version: 7,
    name: 'the response cache of evaluation answers',
    sql: `
      -- key: SHA-256 of the upstream request (src/models/response-cache.ts); body: the answer as the service returned it.
      create table response_cache (
        key text primary key,
        model_id text not null,
        body json not null,
        created_at timestamptz not null,
        expires_at timestamptz not null
      );
      create index response_cache_expiry on response_cache (expires_at);
    `,
  },
];

export const LATEST_SCHEMA_VERSION = Math.max(...MIGRATIONS.map((migration) => migration.version));

/** The key of the advisory lock that makes one replica at a time migrate: any constant unique to this service. */
export const MIGRATION_LOCK_KEY = 0x6576616c_72756e73n; // "evalruns"

export class SchemaTooNewError extends Error {
  override name = 'SchemaTooNewError';
  constructor(
    readonly databaseVersion: number,
    readonly codeVersion: number,
  ) {
    super(
      `the database's schema is at version ${databaseVersion}, newer than this code knows (up to version ${codeVersion}): a newer release of the service has migrated it. Run that release, or point DATABASE_URL at another database.`,
    );
  }
}

async function schemaVersion(client: PoolClient): Promise<number> {
  const { rows } = await client.query<{ table: string | null }>(`select to_regclass('schema_migrations')::text as table`);
  if (!rows[0]?.table) return 0;
  const version = await client.query<{ version: number | null }>('select max(version) as version from schema_migrations');
  return version.rows[0]?.version ?? 0;
}

export interface MigrationOutcome {
  /** The versions this call applied; empty when another replica (or an earlier start) already had. */
  applied: number[];
  version: number;
}

/**
 * Brings the database to the latest schema. Replicas starting together queue on a session advisory lock, so
 * each migration runs once; the lock goes with the connection if this process dies mid-way, and a migration
 * that fails rolls back whole. A database migrated by a newer release is refused, never touched.
 */
export async function migrate(pool: Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationOutcome> {
  const latest = Math.max(0, ...migrations.map((migration) => migration.version));
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    try {
      const current = await schemaVersion(client);
      if (current > latest) throw new SchemaTooNewError(current, latest);
      const applied: number[] = [];
      for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
        if (migration.version <= current) continue;
        await client.query('begin');
        try {
          await client.query(migration.sql);
          await client.query('insert into schema_migrations (version, name) values ($1, $2)', [migration.version, migration.name]);
          await client.query('commit');
        } catch (error) {
          await client.query('rollback');
          throw error;
        }
        applied.push(migration.version);
      }
      return { applied, version: Math.max(current, ...applied) };
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]);
    }
  } finally {
    client.release();
  }
}
