import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { cutPartialLine, JsonLinesWriter, parseRecordLine } from '../runs/file-store.js';
import type { AliasAssignment, AliasStore } from './model-aliases.js';

export const ALIASES_FILE = 'model-aliases.jsonl';

const parseAssignment = (line: string) => parseRecordLine<AliasAssignment>(line, ['alias', 'model_id']);

/**
 * REPORTS_DIR/model-aliases.jsonl: one assignment per line, appended, never rewritten. An assignment counts
 * once its line is written; a line torn by a crash is skipped when read and cut off before the next append.
 * Appends are one at a time within this process; processes sharing the folder on one host append whole
 * lines, and each sees the others' on its next read.
 */
export function createFileAliasStore(reportsDir: string): AliasStore {
  const path = join(reportsDir, ALIASES_FILE);
  const readAll = async (): Promise<AliasAssignment[]> => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return text.split('\n').flatMap((line) => parseAssignment(line) ?? []);
  };
  return {
    readAll,
    async append(alias, decide) {
      const last = (await readAll()).findLast((assignment) => assignment.alias === alias);
      const next = decide(last);
      if (next === last) return next;
      if (await stat(path).then(() => true, () => false)) await cutPartialLine(path);
      else await mkdir(reportsDir, { recursive: true });
      // JsonLinesWriter redacts configured secrets from the line and cuts a line a full disk leaves half written.
      const writer = await JsonLinesWriter.open<AliasAssignment>(path);
      try {
        await writer.append(next);
      } finally {
        await writer.close();
      }
      return next;
    },
    close: async () => undefined,
  };
}
