import { createReadStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat, utimes, writeFile, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import split2 from 'split2';
import { writeCsvFile } from '../export/csv.js';
import { redactSecrets } from '../secrets.js';
import { byItemThenRater, ratingKey, type StoredRating } from './rating.js';
import { folderBytes } from './retention.js';
import { asStoredResult, trainingOverlapOf, withTrainingOverlap, type PairwiseResult, type RunItem, type RunResult } from './run-result.js';
import { resultKey, type CsvExport, type RunLock, type RunRecord, type RunRecorder, type RunStore, type SavedExport, type StoredProgress } from './run-store.js';

/** The files of one run under reports/runs/<run_id>/. */
export function runFiles(reportsDir: string, runId: string) {
  const dir = join(reportsDir, 'runs', runId);
  return {
    dir,
    record: join(dir, 'run.json'),
    items: join(dir, 'items.jsonl'),
    results: join(dir, 'results.jsonl'),
    verdicts: join(dir, 'verdicts.jsonl'),
    summaryJson: join(dir, 'summary.json'),
    summaryMd: join(dir, 'summary.md'),
    csv: join(dir, 'results.csv'),
    wideCsv: join(dir, 'results-wide.csv'),
    chart: join(dir, 'chart.svg'),
    lock: join(dir, 'run.lock'),
  };
}

/**
 * Writes next to the target and renames, so a crash never leaves half a file behind; a write that fails
 * (a full disk) removes its partial file, which also gives back the space it took.
 */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  const partial = `${path}.partial`;
  try {
    await writeFile(partial, content);
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

export async function createRunFiles(reportsDir: string, record: RunRecord, items: readonly RunItem[]): Promise<void> {
  const files = runFiles(reportsDir, record.run_id);
  await mkdir(files.dir, { recursive: true });
  await writeFileAtomic(files.items, items.map((item) => `${JSON.stringify(item)}\n`).join(''));
  await writeFile(files.results, '');
  if (record.scorer === 'pairwise') await writeFile(files.verdicts, '');
  await writeRunRecord(reportsDir, record);
}

export async function writeRunRecord(reportsDir: string, record: RunRecord): Promise<void> {
  await writeFileAtomic(runFiles(reportsDir, record.run_id).record, `${JSON.stringify(record, null, 2)}\n`);
}

/** The runs' folders under reports/runs, whoever wrote them (this process, the CLI, another replica). */
export async function listRunIds(reportsDir: string): Promise<string[]> {
  return readdir(join(reportsDir, 'runs')).catch(() => [] as string[]);
}

/** A run's run.json; undefined when it is missing or unreadable (a run whose creation never finished). */
export async function readRunRecord(reportsDir: string, runId: string): Promise<RunRecord | undefined> {
  try {
    return JSON.parse(await readFile(runFiles(reportsDir, runId).record, 'utf8')) as RunRecord;
  } catch {
    return undefined;
  }
}

/**
 * Small enough that a chunk decodes to a string V8 keeps in the young generation: the default
 * 64 KB, once the text holds a single non-ASCII character (the rationales' "…"), decodes to a
 * 128 KB string, which V8 puts in large-object space and moves to the old generation as soon as
 * it outlives one minor GC.
 */
const READ_CHUNK_BYTES = 16 * 1024;

/** A line's record; a blank or unparsable line is skipped (undefined). */
function parseJsonLine(line: string): object | undefined {
  if (line.trim() === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    // A null would end the stream; our files only hold objects.
    return typeof parsed === 'object' && parsed !== null ? parsed : undefined;
  } catch {
    // Only the last line can be partial (a crash mid-append); repairResults cuts it off before a resume.
    return undefined;
  }
}

/**
 * The file's records, parsed as the consumer reads them. split2 keeps about a chunk of the file
 * ahead of the consumer; readline's async iterator queues up to 1,024 lines, which then live long
 * enough to reach the old generation: each read of a 10,000-result run left about 12 MB of garbage
 * there until a full GC.
 */
async function* readJsonLines<T>(path: string): AsyncGenerator<T> {
  // pipeline destroys split2's stream with a read error, so the loop below throws it.
  const records = pipeline(createReadStream(path, { highWaterMark: READ_CHUNK_BYTES }), split2(parseJsonLine), () => {});
  for await (const record of records) yield record as T;
}

export async function* readItems(reportsDir: string, runId: string): AsyncGenerator<RunItem> {
  for await (const item of readJsonLines<RunItem>(runFiles(reportsDir, runId).items)) yield withTrainingOverlap(item);
}

/** The run's finished results, streamed from disk; a result listed twice counts once. */
export async function* readResults(reportsDir: string, runId: string): AsyncGenerator<RunResult> {
  const seen = new Set<string>();
  for await (const result of readJsonLines<RunResult>(runFiles(reportsDir, runId).results)) {
    const key = resultKey(result.item_id, result.model_alias);
    if (seen.has(key)) continue;
    seen.add(key);
    yield asStoredResult(result);
  }
}

/** The pairwise verdicts of a run (empty for other scorers); a verdict listed twice counts once. */
export async function* readVerdicts(reportsDir: string, runId: string): AsyncGenerator<PairwiseResult> {
  const seen = new Set<string>();
  const path = runFiles(reportsDir, runId).verdicts;
  const exists = await stat(path).then(() => true, () => false);
  if (!exists) return;
  for await (const verdict of readJsonLines<PairwiseResult>(path)) {
    const key = resultKey(verdict.item_id, verdict.second);
    if (seen.has(key)) continue;
    seen.add(key);
    verdict.in_training = trainingOverlapOf(verdict.in_training);
    yield verdict;
  }
}

/** Cuts a partial last line left by a crash, so that the next append starts on a line of its own. */
export async function repairResults(reportsDir: string, runId: string): Promise<void> {
  const files = runFiles(reportsDir, runId);
  await cutPartialLine(files.results);
  if (await stat(files.verdicts).then(() => true, () => false)) await cutPartialLine(files.verdicts);
}

export async function cutPartialLine(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const { size } = await handle.stat();
    // Read backwards from the end until a newline: a large run's file is never read whole here.
    const chunk = Buffer.alloc(64 * 1024);
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - chunk.length);
      const { bytesRead } = await handle.read(chunk, 0, end - start, start);
      const newline = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (newline >= 0) {
        end = start + newline + 1;
        break;
      }
      end = start;
    }
    if (end !== size) await handle.truncate(end);
  } finally {
    await handle.close();
  }
}

/**
 * Appends records one line at a time, in order. A record counts as done only once its line is written;
 * written lines survive a killed process (they are in the OS page cache), which is what resuming needs.
 * A line that fails part-way (a full disk) is cut off again, so the file only ever holds whole lines
 * and the caller may append the same record once space returns.
 */
export class JsonLinesWriter<T> {
  private chain: Promise<void> = Promise.resolve();
  private constructor(
    private readonly handle: FileHandle,
    /** Bytes of whole lines in the file: where a failed append is cut back to. */
    private size: number,
  ) {}

  static async open<T>(path: string): Promise<JsonLinesWriter<T>> {
    const handle = await open(path, 'a');
    return new JsonLinesWriter<T>(handle, (await handle.stat()).size);
  }

  append(result: T): Promise<void> {
    // The one place results and verdicts are stored (the CSV and summaries are built from these files):
    // a secret quoted in a message, an answer or a rationale never reaches the disk.
    const line = Buffer.from(`${redactSecrets(JSON.stringify(result))}\n`);
    const written = this.chain.then(async () => {
      try {
        await this.handle.appendFile(line);
        this.size += line.length;
      } catch (error) {
        await this.handle.truncate(this.size).catch(() => undefined);
        throw error;
      }
    });
    this.chain = written.catch(() => undefined);
    return written;
  }

  async close(): Promise<void> {
    await this.chain;
    await this.handle.close();
  }
}

export type ResultsWriter = JsonLinesWriter<RunResult>;
export const ResultsWriter = {
  open: (reportsDir: string, runId: string) => JsonLinesWriter.open<RunResult>(runFiles(reportsDir, runId).results),
};
export const openVerdictsWriter = (reportsDir: string, runId: string) => JsonLinesWriter.open<PairwiseResult>(runFiles(reportsDir, runId).verdicts);

/** A lock whose holder has not touched it for this long is taken to be dead (a crashed process on another host). */
export const RUN_LOCK_STALE_MS = 30_000;
const RUN_LOCK_HEARTBEAT_MS = 10_000;

interface LockHolder {
  pid: number;
  host: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the run's lock, so that two processes sharing a reports folder never execute the same run (and
 * never call a model twice for one item). A lock is free when its holder is a dead process on this host,
 * or when nobody has touched it for RUN_LOCK_STALE_MS; a live holder touches it every 10 s. null when
 * another process holds it.
 */
export async function acquireRunLock(reportsDir: string, runId: string): Promise<RunLock | null> {
  const path = runFiles(reportsDir, runId).lock;
  const me: LockHolder = { pid: process.pid, host: hostname() };
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      await writeFile(path, `${JSON.stringify(me)}\n`, { flag: 'wx' });
      const heartbeat = setInterval(() => {
        const now = new Date();
        utimes(path, now, now).catch(() => undefined);
      }, RUN_LOCK_HEARTBEAT_MS);
      heartbeat.unref();
      return {
        async release() {
          clearInterval(heartbeat);
          await rm(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const [holder, touched] = await Promise.all([
      readFile(path, 'utf8')
        .then((text) => JSON.parse(text) as LockHolder)
        .catch(() => null),
      stat(path).then((info) => info.mtimeMs, () => 0),
    ]);
    const deadHere = holder !== null && holder.host === me.host && !isAlive(holder.pid);
    if (!deadHere && Date.now() - touched < RUN_LOCK_STALE_MS) return null;
    await rm(path, { force: true });
  }
  return null;
}

export const RATINGS_FILE = 'ratings.jsonl';
export const ratingsPath = (reportsDir: string, runId: string) => join(runFiles(reportsDir, runId).dir, RATINGS_FILE);

/** A line of an append-only JSON Lines file (ratings, alias assignments) whose `keys` are strings; undefined otherwise. */
export function parseRecordLine<T>(line: string, keys: readonly (keyof T & string)[]): T | undefined {
  const parsed = parseJsonLine(line) as Record<string, unknown> | undefined;
  return parsed !== undefined && keys.every((key) => typeof parsed[key] === 'string') ? (parsed as T) : undefined;
}

const parseRating = (line: string) => parseRecordLine<StoredRating>(line, ['rater', 'item_id']);

/** Each (rater, item)'s current rating: the last line written for it. Empty when nobody has rated the run (no file). */
async function readLatestRatings(reportsDir: string, runId: string): Promise<StoredRating[]> {
  let text: string;
  try {
    text = await readFile(ratingsPath(reportsDir, runId), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const latest = new Map<string, StoredRating>();
  for (const line of text.split('\n')) {
    const rating = parseRating(line);
    if (rating) latest.set(ratingKey(rating), rating);
  }
  return [...latest.values()].sort(byItemThenRater);
}

/** Size and modification time, or null without the file: a cheap test of whether it changed. */
const fileMark = (path: string) => stat(path).then((info) => `${info.size}:${info.mtimeMs}`, () => null);

async function appendOne<T>(path: string, record: T): Promise<void> {
  const writer = await JsonLinesWriter.open<T>(path);
  try {
    await writer.append(record);
  } finally {
    await writer.close();
  }
}

/**
 * The reports folder as the run store: a folder per run under reports/runs/ with run.json, items.jsonl,
 * results.jsonl (and verdicts.jsonl for the pairwise scorer), ratings.jsonl and the exports. A result counts
 * once its line is written (it survives a killed process); a line torn by a crash is cut off before the next
 * append, and a result listed twice is read once. Other processes sharing the folder (the CLI, a replica)
 * see the same runs; run.lock keeps two of them from executing one run.
 */
export function createFileRunStore(reportsDir: string): RunStore {
  /** Rating appends per run, one at a time within this process, each opening the file afresh. */
  const ratingQueues = new Map<string, Promise<unknown>>();

  const store: RunStore = {
    kind: 'file',

    async create(record, items) {
      try {
        await createRunFiles(reportsDir, record, items);
      } catch (error) {
        await rm(runFiles(reportsDir, record.run_id).dir, { recursive: true, force: true });
        throw error;
      }
    },

    writeRecord: (record) => writeRunRecord(reportsDir, record),
    listRunIds: () => listRunIds(reportsDir),
    readRecord: (runId) => readRunRecord(reportsDir, runId),
    delete: (runId) => rm(runFiles(reportsDir, runId).dir, { recursive: true, force: true }),
    bytesOf: (runId) => folderBytes(runFiles(reportsDir, runId).dir),
    items: (runId) => readItems(reportsDir, runId),
    results: (runId) => readResults(reportsDir, runId),
    verdicts: (runId) => readVerdicts(reportsDir, runId),

    async progress(record) {
      const progress: StoredProgress = { done: 0, failed: 0 };
      for await (const line of readResults(reportsDir, record.run_id)) {
        progress.done += 1;
        if (line.outcome === 'failed') progress.failed += 1;
      }
      for await (const line of readVerdicts(reportsDir, record.run_id)) {
        progress.done += 1;
        if (line.outcome === 'failed') progress.failed += 1;
      }
      return progress;
    },

    async recorder(runId) {
      await repairResults(reportsDir, runId);
      // What is already recorded: a second result for one pair is refused, as the database's primary key does.
      const recorded = new Set<string>();
      for await (const result of readResults(reportsDir, runId)) recorded.add(resultKey(result.item_id, result.model_alias));
      const judged = new Set<string>();
      for await (const verdict of readVerdicts(reportsDir, runId)) judged.add(resultKey(verdict.item_id, verdict.second));
      const results = await ResultsWriter.open(reportsDir, runId);
      let verdicts: Promise<JsonLinesWriter<PairwiseResult>> | undefined;
      /** Claims the key before writing, so two calls at once cannot both write it; a failed write gives it back. */
      async function once(keys: Set<string>, key: string, write: () => Promise<void>): Promise<boolean> {
        if (keys.has(key)) return false;
        keys.add(key);
        try {
          await write();
          return true;
        } catch (error) {
          keys.delete(key);
          throw error;
        }
      }
      const recorder: RunRecorder = {
        result: (result) => once(recorded, resultKey(result.item_id, result.model_alias), () => results.append(result)),
        verdict: (verdict) =>
          once(judged, resultKey(verdict.item_id, verdict.second), async () => {
            verdicts ??= openVerdictsWriter(reportsDir, runId);
            await (await verdicts).append(verdict);
          }),
        async close() {
          await results.close();
          if (verdicts) await (await verdicts).close();
        },
      };
      return recorder;
    },

    changeMark(runId, part) {
      const files = runFiles(reportsDir, runId);
      return fileMark(part === 'ratings' ? ratingsPath(reportsDir, runId) : files[part]);
    },

    async saveExports(runId, texts, csvs) {
      const files = runFiles(reportsDir, runId);
      await Promise.all([
        writeCsvFile(csvs.csv(), files.csv),
        writeCsvFile(csvs.wideCsv(), files.wideCsv),
        ...(Object.keys(texts) as SavedExport[]).map(async (name) => writeFileAtomic(files[name], await texts[name])),
      ]);
    },

    async saveSummary(runId, texts) {
      const files = runFiles(reportsDir, runId);
      await writeFileAtomic(files.summaryJson, texts.summaryJson);
      await writeFileAtomic(files.summaryMd, texts.summaryMd);
    },

    savedExport: (runId, name) => readFile(runFiles(reportsDir, runId)[name], 'utf8').catch(() => undefined),

    async savedCsv(runId, name: CsvExport): Promise<Readable | undefined> {
      const saved = await open(runFiles(reportsDir, runId)[name]).catch(() => undefined);
      return saved?.createReadStream();
    },

    /**
     * A rating counts as stored once its line is written (the same guarantee as a result), with secrets
     * redacted by JsonLinesWriter and a line that does not fit on a full disk cut off again.
     */
    rate(rating) {
      const previous = ratingQueues.get(rating.run_id) ?? Promise.resolve();
      const done = previous.then(async () => {
        const path = ratingsPath(reportsDir, rating.run_id);
        const revised = (await readLatestRatings(reportsDir, rating.run_id)).some((earlier) => ratingKey(earlier) === ratingKey(rating));
        if ((await fileMark(path)) !== null) await cutPartialLine(path);
        await appendOne(path, rating);
        return { revised };
      });
      const settled = done.catch(() => undefined);
      ratingQueues.set(rating.run_id, settled);
      void settled.then(() => {
        if (ratingQueues.get(rating.run_id) === settled) ratingQueues.delete(rating.run_id);
      });
      return done;
    },

    async copySavedCsv(runId, name, target) {
      const source = runFiles(reportsDir, runId)[name];
      if ((await fileMark(source)) === null) return false;
      await copyFile(source, target);
      return true;
    },

    ratings: (runId) => readLatestRatings(reportsDir, runId),
    lock: (runId) => acquireRunLock(reportsDir, runId),
    close: async () => undefined,
  };
  return store;
}
