import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../runs/file-store.js';
import { redactSecrets } from '../secrets.js';
import type { FineTuneRecord } from './fine-tune-record.js';

/**
 * Where job records live: REPORTS_DIR/fine-tunes with RUNS_STORE=file, the database with RUNS_STORE=postgres.
 * Every write is a compare-and-set on the record's version, so that two replicas (or the follower and a
 * request) never overwrite each other's step: the loser re-reads and decides again.
 */
export interface FineTuneStore {
  insert(record: FineTuneRecord): Promise<void>;
  get(id: string): Promise<FineTuneRecord | null>;
  /** Newest first, after the record named by `after`; undefined when `after` names no record. */
  list(page: { limit: number; after?: string }): Promise<{ records: FineTuneRecord[]; next: string | null } | undefined>;
  /** Every record whose step is not `done`. */
  unfinished(): Promise<FineTuneRecord[]>;
  /** Stores `next` (whose version is one more than the stored one) only if the stored version is still `next.version - 1`. */
  replace(next: FineTuneRecord): Promise<boolean>;
  close(): Promise<void>;
}

/** What is written: secrets removed, whatever text the upstream sent us. */
export const storedText = (record: FineTuneRecord) => redactSecrets(JSON.stringify(record));

/** Newest first: ids start with their creation stamp, and the random tail breaks ties the same way everywhere. */
export const newestFirst = (a: FineTuneRecord, b: FineTuneRecord) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id);

export const FINE_TUNE_ID = /^ftjob_[A-Za-z0-9_]{1,80}$/;

/**
 * One JSON file per job, REPORTS_DIR/fine-tunes/<id>.json, written whole and atomically (temp + rename).
 * The compare-and-set holds within this process, which is the file store's reach: replicas share a
 * PostgreSQL database, never a reports folder.
 */
export function createFileFineTuneStore(reportsDir: string): FineTuneStore {
  const dir = join(reportsDir, 'fine-tunes');
  const pathOf = (id: string) => join(dir, `${id}.json`);
  let writes: Promise<unknown> = Promise.resolve();
  /** Writes one at a time, so that a compare and its set see no other write between them. */
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const next = writes.then(work, work);
    writes = next.catch(() => undefined);
    return next;
  };
  const read = async (id: string): Promise<FineTuneRecord | null> => {
    if (!FINE_TUNE_ID.test(id)) return null;
    try {
      return JSON.parse(await readFile(pathOf(id), 'utf8')) as FineTuneRecord;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  };
  const all = async () => {
    const names = await readdir(dir).catch(() => [] as string[]);
    const records = await Promise.all(names.filter((name) => name.endsWith('.json')).map((name) => read(name.slice(0, -'.json'.length))));
    return records.filter((record): record is FineTuneRecord => record !== null).sort(newestFirst);
  };
  const write = async (record: FineTuneRecord) => {
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(pathOf(record.id), storedText(record));
  };
  return {
    insert: (record) => serially(() => write(record)),
    get: read,
    async list({ limit, after }) {
      const records = await all();
      const start = after === undefined ? 0 : records.findIndex((record) => record.id === after) + 1;
      if (start === 0 && after !== undefined) return undefined;
      const page = records.slice(start, start + limit);
      return { records: page, next: start + limit < records.length ? (page.at(-1)?.id ?? null) : null };
    },
    unfinished: async () => (await all()).filter((record) => record.step !== 'done'),
    replace: (next) =>
      serially(async () => {
        const current = await read(next.id);
        if (current === null || current.version !== next.version - 1) return false;
        await write(next);
        return true;
      }),
    close: async () => {
      await writes;
    },
  };
}
