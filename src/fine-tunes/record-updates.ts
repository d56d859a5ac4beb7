import type { FineTuneRecord, StepLease } from './fine-tune-record.js';
import type { FineTuneStore } from './fine-tune-store.js';

/** Attempts at a change whose compare-and-set keeps losing to other writers before it gives up. */
const MAX_ATTEMPTS = 8;

/**
 * Applies `change` to the stored record and writes it over the version it was made from; when another writer
 * came first, re-reads and applies it again (a change is a function of the record, so it merges with theirs).
 * `change` returns null to leave the record as it is. Resolves to the record as stored afterwards.
 */
export async function updateRecord(
  store: FineTuneStore,
  record: FineTuneRecord,
  change: (current: FineTuneRecord) => FineTuneRecord | null,
): Promise<FineTuneRecord> {
  let current = record;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    const changed = change(current);
    if (changed === null) return current;
    const next = { ...changed, version: current.version + 1, updated_at: new Date().toISOString() };
    if (await store.replace(next)) return next;
    const fresh = await store.get(record.id);
    if (fresh === null) throw new Error(`fine-tuning job ${record.id} vanished from its store`);
    current = fresh;
  }
  throw new Error(`fine-tuning job ${record.id}: ${MAX_ATTEMPTS} writers in a row came first`);
}

export const leaseIsLive = (lease: StepLease | null, now = Date.now()) => lease !== null && Date.parse(lease.until) > now;

/**
 * Takes the record's lease for a step that calls the upstream: one compare-and-set, so of two replicas that
 * read the same version, one gets it. Null when someone else holds a live lease or wrote first.
 */
export async function claimStep(store: FineTuneStore, record: FineTuneRecord, holder: string, leaseMs: number): Promise<FineTuneRecord | null> {
  if (leaseIsLive(record.lease) && record.lease?.holder !== holder) return null;
  const now = Date.now();
  const next: FineTuneRecord = {
    ...record,
    lease: { holder, until: new Date(now + leaseMs).toISOString() },
    version: record.version + 1,
    updated_at: new Date(now).toISOString(),
  };
  return (await store.replace(next)) ? next : null;
}
