import type { FastifyBaseLogger } from 'fastify';
import { FINE_TUNED_ALIAS, type ModelRegistry } from './registry.js';

/** One change of what an alias points at: a line of the audit trail, and (the last per alias) the current mapping. */
export interface AliasAssignment {
  alias: string;
  model_id: string;
  previous_model_id: string | null;
  /** The caller (an API key's label, `key:` and the start of its SHA-256, or `ip:` and an address; never a key) or 'fine-tune <id>'. */
  assigned_by: string;
  /** ISO 8601. */
  assigned_at: string;
  reason: 'fine_tune' | 'promote';
  fine_tune_id: string | null;
  /** The run that was checked before a promote. */
  evaluation_run_id: string | null;
  overrode_significant_loss: boolean;
  /** Why, in the words of whoever did it (a promote's `reason`); null when none was given. */
  note?: string | null;
  /** The alias whose upstream settings a new alias copied; null when the alias already existed. */
  like?: string | null;
}

export interface AssignAliasInput {
  alias: string;
  model_id: string;
  assigned_by: string;
  reason: 'fine_tune' | 'promote';
  fine_tune_id?: string | null;
  like?: string;
  evaluation_run_id?: string | null;
  overrode_significant_loss?: boolean;
  note?: string | null;
}

export interface ModelAliases {
  /** Points `alias` at `model_id`, registering the alias when it is new (upstream settings copied from `like`, default 'fine-tuned'); persisted; applied to the registry at once; idempotent (the same alias → same model again records nothing new and returns the current assignment). */
  assign(input: AssignAliasInput): Promise<AliasAssignment>;
  /** Every assignment, oldest first (the audit trail); per alias when given. */
  history(alias?: string): Promise<AliasAssignment[]>;
  /** Re-reads the store (other replicas may have assigned); applied to the registry. */
  refresh(): Promise<void>;
  /** The alias's last stored assignment as of the last refresh or assign; undefined when it is as configured. */
  current(alias: string): AliasAssignment | undefined;
  close(): Promise<void>;
}

/**
 * Where assignments are kept: an append-only trail. `append` reads the alias's last assignment and appends what
 * `decide` makes of it, one process or replica at a time where the store can see to it; when `decide` returns
 * `last` itself, nothing is written.
 */
export interface AliasStore {
  readAll(): Promise<AliasAssignment[]>;
  append(alias: string, decide: (last: AliasAssignment | undefined) => AliasAssignment): Promise<AliasAssignment>;
  close(): Promise<void>;
}

/** The last assignment of each alias, in the order those were made. */
export function currentAssignments(trail: readonly AliasAssignment[]): AliasAssignment[] {
  const last = new Map<string, AliasAssignment>();
  for (const assignment of trail) {
    last.delete(assignment.alias);
    last.set(assignment.alias, assignment);
  }
  return [...last.values()];
}

export interface ModelAliasesOptions {
  registry: ModelRegistry;
  store: AliasStore;
  log: FastifyBaseLogger;
  /** How often the store is read again for other replicas' assignments; 0: only when asked. */
  refreshIntervalMs: number;
}

/**
 * Run-time assignments of aliases over the configured registry. Stored assignments are applied over the
 * environment and MODELS_FILE: each is something someone did after the configuration was written.
 */
export async function createModelAliases({ registry, store, log, refreshIntervalMs }: ModelAliasesOptions): Promise<ModelAliases> {
  let current = new Map<string, AliasAssignment>();
  // Assignments and refreshes of this process one at a time, so the registry follows the trail's order.
  let serial: Promise<unknown> = Promise.resolve();
  const oneAtATime = <T>(work: () => Promise<T>): Promise<T> => {
    const done = serial.then(work);
    serial = done.catch(() => undefined);
    return done;
  };

  const apply = (assignment: AliasAssignment) => {
    current.set(assignment.alias, assignment);
    const entry = registry.entries.find((candidate) => candidate.alias === assignment.alias);
    if (entry?.model_id === assignment.model_id) return;
    try {
      registry.assign(assignment.alias, assignment.model_id, assignment.like ?? FINE_TUNED_ALIAS);
    } catch (error) {
      // The configuration changed since (its `like` is gone, or the alias became offline): the alias stays as configured.
      log.warn({ alias: assignment.alias, model_id: assignment.model_id, reason: (error as Error).message }, 'a stored alias assignment cannot be applied');
    }
  };

  const refresh = () =>
    oneAtATime(async () => {
      const latest = currentAssignments(await store.readAll());
      current = new Map();
      for (const assignment of latest) apply(assignment);
    });

  await refresh();
  const timer =
    refreshIntervalMs > 0
      ? setInterval(() => {
          refresh().catch((error: unknown) => log.warn({ reason: (error as Error).message }, 'model aliases could not be read again'));
        }, refreshIntervalMs).unref()
      : undefined;

  return {
    assign: (input) =>
      oneAtATime(async () => {
        const known = registry.entries.find((entry) => entry.alias === input.alias);
        registry.checkAssignable(input.alias, input.like);
        const assignment = await store.append(input.alias, (last) => {
          if (last?.model_id === input.model_id) return last;
          return {
            alias: input.alias,
            model_id: input.model_id,
            previous_model_id: last?.model_id ?? known?.model_id ?? null,
            assigned_by: input.assigned_by,
            assigned_at: new Date().toISOString(),
            reason: input.reason,
            fine_tune_id: input.fine_tune_id ?? null,
            evaluation_run_id: input.evaluation_run_id ?? null,
            overrode_significant_loss: input.overrode_significant_loss ?? false,
            note: input.note ?? null,
            like: known ? null : (input.like ?? FINE_TUNED_ALIAS),
          };
        });
        apply(assignment);
        return assignment;
      }),
    async history(alias) {
      const trail = await store.readAll();
      return alias === undefined ? trail : trail.filter((assignment) => assignment.alias === alias);
    },
    refresh,
    current: (alias) => current.get(alias),
    async close() {
      clearInterval(timer);
      await serial;
      await store.close();
    },
  };
}
