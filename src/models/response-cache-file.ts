import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResponseCacheEntry, ResponseCacheStorage } from './response-cache.js';

const ENTRY_SUFFIX = '.json';
const PARTIAL_SUFFIX = '.partial';
/** A partial file older than this was left by a process that died while writing it. */
const ABANDONED_PARTIAL_MS = 10 * 60_000;

interface StoredEntry {
  model_id: string;
  created_at: string;
  expires_at: string;
  answer: unknown;
}

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT';

/**
 * One file per key in `dir` (REPORTS_DIR/cache), written next to its place and renamed, so a reader never sees half
 * an entry. Each file's modification time is set to its expiry: a sweep then finds what expired, and what expires
 * first, from the folder's listing and a stat per file, without reading any entry.
 */
export function createFileResponseCacheStorage(dir: string): ResponseCacheStorage {
  const pathOf = (key: string) => join(dir, `${key}${ENTRY_SUFFIX}`);

  return {
    kind: 'file',
    async read(key, now) {
      let text: string;
      try {
        text = await readFile(pathOf(key), 'utf8');
      } catch (error) {
        if (isMissing(error)) return null;
        throw error;
      }
      const entry = JSON.parse(text) as StoredEntry;
      return Date.parse(entry.expires_at) > now.getTime() ? entry.answer : null;
    },

    async write(entry: ResponseCacheEntry) {
      await mkdir(dir, { recursive: true });
      const target = pathOf(entry.key);
      const partial = `${target}.${randomUUID()}${PARTIAL_SUFFIX}`;
      // The document is spliced in as written, already redacted.
      const text = `{"model_id":${JSON.stringify(entry.model_id)},"created_at":"${entry.created_at.toISOString()}","expires_at":"${entry.expires_at.toISOString()}","answer":${entry.document}}\n`;
      try {
        await writeFile(partial, text);
        await utimes(partial, entry.created_at, entry.expires_at);
        await rename(partial, target);
      } catch (error) {
        await rm(partial, { force: true });
        throw error;
      }
    },

    async sweep(now, maxEntries) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (error) {
        if (isMissing(error)) return 0;
        throw error;
      }
      const kept: { path: string; expires: number }[] = [];
      const doomed: string[] = [];
      for (const name of names) {
        const path = join(dir, name);
        // Another process may have swept or replaced it meanwhile: what cannot be looked at now waits for the next sweep.
        const info = await stat(path).catch(() => null);
        if (!info) continue;
        if (name.endsWith(PARTIAL_SUFFIX)) {
          if (info.ctimeMs < now.getTime() - ABANDONED_PARTIAL_MS) doomed.push(path);
        } else if (name.endsWith(ENTRY_SUFFIX)) {
          if (info.mtimeMs <= now.getTime()) doomed.push(path);
          else kept.push({ path, expires: info.mtimeMs });
        }
      }
      kept.sort((a, b) => a.expires - b.expires);
      doomed.push(...kept.slice(0, Math.max(0, kept.length - maxEntries)).map((entry) => entry.path));
      for (const path of doomed) await rm(path, { force: true });
      return doomed.length;
    },
  };
}
