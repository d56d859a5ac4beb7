import { basename, extname } from 'node:path';
import type { DataCheckReport, FileReport, FineTuningFileReport } from './data-check-types.js';
import { analyzeFineTuningFile, type DataCheckOptions } from './fine-tuning-file.js';
import { countByKind, findLeakage, findParaphraseClusters, repeatsWithin, type CheckedFile } from './overlap.js';
import { analyzePromptSetFile } from './prompt-set-file.js';

export type * from './data-check-types.js';
export { formatDataCheckReport } from './check-report.js';
export { DEFAULT_DATA_CHECK_OPTIONS, type DataCheckOptions } from './fine-tuning-file.js';
export { FORMAT_ERROR_KINDS, type FormatErrorKind } from './format-checks.js';

type FineTuningAnalysis = ReturnType<typeof analyzeFineTuningFile>;
type PromptSetAnalysis = ReturnType<typeof analyzePromptSetFile>;
type Analysis = FineTuningAnalysis | PromptSetAnalysis;

/** Checks one JSONL file in the chat fine-tuning format. Invalid examples are left out of every figure but the error counts. */
export function checkDataFile(name: string, content: string, options: Partial<DataCheckOptions> = {}): FineTuningFileReport {
  return analyzeFineTuningFile(name, content, options).report;
}

const isPromptSetName = (name: string) => extname(name).toLowerCase() === '.json';
const isFineTuning = (analysis: Analysis): analysis is FineTuningAnalysis => analysis.report.kind === 'fine_tuning';
const isPromptSet = (analysis: Analysis): analysis is PromptSetAnalysis => analysis.report.kind === 'prompt_set';
const ownName = (analysis: Analysis) => basename(analysis.report.name).toLowerCase();

/**
 * Only the file's own name decides its role, never its folder: fixtures living under `test/` would
 * otherwise all look like validation files. Only JSONL files train or validate; without a file named
 * for training, the first JSONL file trains and the others validate. Every prompt set is an evaluation file.
 */
function pickRoles(analyses: readonly Analysis[]) {
  const jsonl = analyses.filter(isFineTuning);
  const evaluation = analyses.filter(isPromptSet);
  const training = jsonl.find((analysis) => ownName(analysis).includes('train'));
  if (training === undefined) return { training: jsonl[0], validation: jsonl.slice(1), evaluation };
  return { training, validation: jsonl.filter((analysis) => analysis !== training && /val|test/.test(ownName(analysis))), evaluation };
}

function hasFormatErrors(file: FileReport): boolean {
  return file.kind === 'prompt_set' ? file.format_errors.count > 0 : Object.keys(file.format_errors).length > 0;
}

export function checkDataFiles(
  files: readonly { name: string; content: string }[],
  options: Partial<DataCheckOptions> = {},
): DataCheckReport {
  const analyses: Analysis[] = files.map(({ name, content }) =>
    isPromptSetName(name) ? analyzePromptSetFile(name, content) : analyzeFineTuningFile(name, content, options),
  );
  const { training, validation, evaluation } = pickRoles(analyses);
  const compared = training ? [...validation, ...evaluation] : [];
  const checked: CheckedFile[] = compared.map(({ report, valid }) => ({ role: report.kind === 'prompt_set' ? 'evaluation' : 'validation', items: valid }));
  const leaks = training && checked.length > 0 ? findLeakage(training.valid, checked) : [];

  if (training) training.report.role = 'training';
  for (const { report } of validation) report.role = 'validation';
  for (const { report } of compared) report.training_overlap = countByKind(leaks.filter((leak) => leak.file === report.name));

  const reports = analyses.map(({ report }) => report);
  const ok = !reports.some(hasFormatErrors);
  const itemsIn = (role: CheckedFile['role']) => checked.reduce((sum, file) => sum + (file.role === role ? file.items.length : 0), 0);
  return {
    files: reports,
    ok,
    strict_ok: ok && leaks.length === 0 && reports.every((report) => repeatsWithin(report) === 0),
    leakage: {
      training_file: checked.length > 0 && training ? training.report.name : null,
      checked_files: compared.map(({ report }) => report.name),
      checked: { validation: itemsIn('validation'), evaluation: itemsIn('evaluation') },
      count: leaks.length,
      by_kind: countByKind(leaks),
      items: leaks,
    },
    paraphrase_clusters: training ? findParaphraseClusters(training.valid, checked) : { count: 0, groups: [] },
  };
}

/** 1 on format errors, and under --strict on leakage or a file repeating itself; 0 otherwise. */
export function dataCheckExitCode(report: DataCheckReport, strict: boolean): number {
  return !report.ok || (strict && !report.strict_ok) ? 1 : 0;
}
