import { readdir, readFile, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import type { DataCheckReport, FineTuningFileReport } from '../data/check-data.js';
import { AppError } from '../errors.js';
import { listPromptSets } from '../runs/prompt-set.js';
import type { DataCheckSummary, FileRole } from './fine-tune-record.js';

/** One data file of a request: a JSONL file in DATA_DIR by name, or the JSONL text itself. */
export type DataSource = { file: string } | { jsonl: string };

export interface LoadedFile {
  role: FileRole;
  source: string;
  content: string;
}

const jsonlFilesIn = async (dataDir: string) => (await readdir(dataDir).catch(() => [] as string[])).filter((name) => name.endsWith('.jsonl')).sort();

/** Reads a file of DATA_DIR that really lives there: the name has no separators, and a link out of the folder is refused. */
async function readDataFile(dataDir: string, name: string, role: FileRole): Promise<string> {
  const notFound = async () =>
    new AppError(400, 'data_file_not_found', `No ${role} file '${name}' in the data folder (DATA_DIR). Files there: ${(await jsonlFilesIn(dataDir)).join(', ') || 'none'}.`, {
      details: { role, file: name, available: await jsonlFilesIn(dataDir) },
    });
  let folder: string;
  let path: string;
  try {
    folder = await realpath(dataDir);
    path = await realpath(join(folder, name));
  } catch {
    throw await notFound();
  }
  const inside = relative(folder, path);
  if (inside.startsWith('..') || isAbsolute(inside)) throw await notFound();
  try {
    return await readFile(path, 'utf8');
  } catch {
    throw await notFound();
  }
}

export async function loadDataFile(dataDir: string, role: FileRole, source: DataSource): Promise<LoadedFile> {
  if ('jsonl' in source) return { role, source: 'inline', content: source.jsonl };
  return { role, source: source.file, content: await readDataFile(dataDir, source.file, role) };
}

/**
 * The checker's names decide the roles (the one with "train" trains, "val" validates), so the files go in
 * under names that say their role whatever they are called; every prompt set of DATA_DIR/prompt_sets goes
 * in as an evaluation file, for leakage.
 */
export async function checkFineTuneData(dataDir: string, files: readonly LoadedFile[], epochs: number): Promise<DataCheckReport> {
  const promptSets = await Promise.all(
    (await listPromptSets(dataDir)).map(async (name) => ({ name: `prompt_sets/${name}`, content: await readFile(join(dataDir, 'prompt_sets', name), 'utf8').catch(() => '[]') })),
  );
  const named = files.map((file) => ({ name: `${file.role}:${file.source}`, content: file.content }));
  // Loaded on the first job: the tokenizer's tables cost every process tens of megabytes it would otherwise never use.
  const { checkDataFiles } = await import('../data/check-data.js');
  return checkDataFiles([...named, ...promptSets], { epochs });
}

const trainingReport = (report: DataCheckReport) => report.files.find((file): file is FineTuningFileReport => file.kind === 'fine_tuning' && file.role === 'training');

export function summarizeDataCheck(report: DataCheckReport, overridden: boolean): DataCheckSummary {
  const fineTuning = report.files.filter((file): file is FineTuningFileReport => file.kind === 'fine_tuning');
  const training = trainingReport(report);
  return {
    ok: report.ok,
    leaked_items: report.leakage.count,
    duplicate_examples: fineTuning.reduce((sum, file) => sum + file.warnings.duplicate_example.count, 0),
    near_duplicate_inquiries: fineTuning.reduce((sum, file) => sum + file.warnings.near_duplicate_inquiry.count, 0),
    estimated_tokens: training?.estimated_billed_tokens ?? 0,
    estimated_cost_usd: training?.estimated_cost_usd ?? 0,
    overridden,
  };
}

/** Errors or leakage stop a job unless the request overrides the check: the 422 carries the whole report. */
export function refuseOnFindings(report: DataCheckReport): void {
  if (report.ok && report.leakage.count === 0) return;
  const findings = [
    ...(report.ok ? [] : ['format errors']),
    ...(report.leakage.count > 0 ? [`${report.leakage.count} item${report.leakage.count === 1 ? '' : 's'} leaked from training`] : []),
  ];
  throw new AppError(
    422,
    'data_check_failed',
    `The data check found ${findings.join(' and ')}; nothing was uploaded. Fix the files, or send "override_data_check": true to fine-tune on them anyway. The report is in details.`,
    { details: report },
  );
}
