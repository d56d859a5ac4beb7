import type { Pool } from 'pg';
import { databaseFailure } from '../errors.js';
import { redactSecrets } from '../secrets.js';
import type { AliasAssignment, AliasStore } from './model-aliases.js';

const COLUMNS = [
  'alias',
  'model_id',
  'previous_model_id',
  'assigned_by',
  'assigned_at',
  'reason',
  'fine_tune_id',
  'evaluation_run_id',
  'overrode_significant_loss',
  'note',
  'like_alias',
] as const;

interface AssignmentRow {
  alias: string;
  model_id: string;
  previous_model_id: string | null;
  assigned_by: string;
  assigned_at: Date;
  reason: AliasAssignment['reason'];
  fine_tune_id: string | null;
  evaluation_run_id: string | null;
  overrode_significant_loss: boolean;
  note: string | null;
  like_alias: string | null;
}

const SELECT = `select ${COLUMNS.join(', ')} from model_alias_assignments`;

const toAssignment = ({ assigned_at, like_alias, ...row }: AssignmentRow): AliasAssignment => ({
  ...row,
  assigned_at: assigned_at.toISOString(),
  like: like_alias,
});

const valuesOf = (assignment: AliasAssignment) => [
  assignment.alias,
  assignment.model_id,
  assignment.previous_model_id,
  assignment.assigned_by,
  assignment.assigned_at,
  assignment.reason,
  assignment.fine_tune_id,
  assignment.evaluation_run_id,
  assignment.overrode_significant_loss,
  // A caller's own words may quote a key.
  assignment.note == null ? null : redactSecrets(assignment.note),
  assignment.like ?? null,
];

const asStoreError = (error: unknown): never => {
  throw databaseFailure(error) ?? error;
};

/**
 * The table model_alias_assignments (migration 6), shared by every replica. An append locks the table for its
 * transaction, so two replicas assigning at once are taken in turn and each sees the other's assignment as
 * the previous one.
 */
export function createPostgresAliasStore(pool: Pool): AliasStore {
  return {
    async readAll() {
      const { rows } = await pool.query<AssignmentRow>(`${SELECT} order by seq`).catch(asStoreError);
      return rows.map(toAssignment);
    },
    async append(alias, decide) {
      const client = await pool.connect().catch(asStoreError);
      try {
        await client.query('begin');
        // Readers are not blocked; another append waits for this one to commit.
        await client.query('lock table model_alias_assignments in share row exclusive mode');
        const { rows } = await client.query<AssignmentRow>(`${SELECT} where alias = $1 order by seq desc limit 1`, [alias]);
        const last = rows[0] && toAssignment(rows[0]);
        const next = decide(last);
        if (next !== last) {
          const placeholders = COLUMNS.map((_, index) => `$${index + 1}`).join(', ');
          await client.query(`insert into model_alias_assignments (${COLUMNS.join(', ')}) values (${placeholders})`, valuesOf(next));
        }
        await client.query('commit');
        client.release();
        return next;
      } catch (error) {
        const broken = await client.query('rollback').then(() => undefined, (rollbackError: Error) => rollbackError);
        client.release(broken);
        return asStoreError(error);
      }
    },
    close: async () => undefined,
  };
}
