import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ERROR_CODES } from '../src/error-codes.js';

const README_TABLE_HEADER = '| Status | Code | When |';

/** The README's error table as the list says it should read. */
function errorTableFromList(): string {
  const rows = Object.entries(ERROR_CODES).map(([code, { status, meaning }]) => `| ${status} | \`${code}\` | ${meaning} |`);
  return [README_TABLE_HEADER, '| --- | --- | --- |', ...rows].join('\n');
}

/** The table that starts with the header, up to its first non-table line. */
function readmeErrorTable(readme: string): string {
  const lines = readme.split('\n');
  const start = lines.indexOf(README_TABLE_HEADER);
  if (start === -1) return '';
  const end = lines.findIndex((line, index) => index > start && !line.startsWith('|'));
  return lines.slice(start, end === -1 ? undefined : end).join('\n');
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

t.test("the README's error table is the list of error codes", async (t) => {
  const expected = errorTableFromList();
  t.equal(readmeErrorTable(readFileSync('README.md', 'utf8')), expected, "README.md's error table is src/error-codes.ts (the diff's expected side is the table to write)");
});

t.test('every `new AppError(status, code` in src/ names a listed code with its status', async (t) => {
  const literal = /new AppError\(\s*(\d{3}),\s*'([a-z_]+)'/g;
  const found: Array<{ file: string; status: number; code: string }> = [];
  for (const file of sourceFiles('src')) {
    for (const [, status, code] of readFileSync(file, 'utf8').matchAll(literal)) found.push({ file, status: Number(status), code: code as string });
  }
  t.ok(found.length >= 30, `the scan finds the errors (${found.length})`);
  for (const { file, status, code } of found) {
    const listed = (ERROR_CODES as Record<string, { status: number }>)[code];
    t.ok(listed, `${file}: '${code}' is in src/error-codes.ts`);
    if (listed) t.equal(status, listed.status, `${file}: '${code}' answers ${listed.status}, as listed`);
  }
});
