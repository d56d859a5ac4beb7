import type {
  AnswerGroup,
  DataCheckReport,
  FineTuningFileReport,
  ItemLocation,
  LeakageReport,
  LeakedItem,
  LineList,
  ParaphraseClusters,
  PromptSetReport,
  SimilarPairList,
  TrainingOverlapCounts,
} from './data-check-types.js';
import { NEAR_DUPLICATE_THRESHOLD } from './near-duplicate.js';
import { countByKind } from './overlap.js';
import type { TokenStats } from './token-accounting.js';

const integer = (value: number) => value.toLocaleString('en-US');
const decimal = (value: number) => value.toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const usd = (value: number) => `$${value.toFixed(value !== 0 && value < 0.01 ? 4 : 2)}`;
const plural = (count: number, noun: string) => `${integer(count)} ${noun}${count === 1 ? '' : 's'}`;
// Wide enough for the longest error kind, so every count lines up in one column.
const label = (text: string, indent = 2) => `${' '.repeat(indent)}${text}`.padEnd(40);
const excerpt = (text: string, length = 60) => JSON.stringify(text.length > length ? `${text.slice(0, length - 1)}…` : text);

function more(shown: number, count: number): string {
  return count > shown ? ` … (+${integer(count - shown)} more)` : '';
}

function lineListText({ count, lines }: LineList): string {
  if (count === 0) return '0';
  return `${integer(count)}   line${count === 1 ? '' : 's'} ${lines.join(', ')}${more(lines.length, count)}`;
}

function pairListText(count: number, pairs: readonly string[], unit = 'lines'): string {
  return count === 0 ? '0' : `${integer(count)}   ${unit} ${pairs.join(', ')}${more(pairs.length, count)}`;
}

function similarPairsText({ count, pairs }: SimilarPairList, unit: string): string {
  const shown = pairs.map(({ lines, similarity }) => `${lines[0]} & ${lines[1]}${similarity < 1 ? ` (${similarity})` : ''}`);
  return pairListText(count, shown, unit);
}

function overlapText(overlap: TrainingOverlapCounts | null): string[] {
  if (overlap === null) return [];
  return [`${label('training overlap')}exact ${overlap.exact}, near ${overlap.near}, same answer ${overlap.same_answer}`];
}

function tokenTable(tokens: TokenStats | null): string[] {
  if (tokens === null) return [`${label('tokens per example')}no valid examples`];
  const columns = ['min', 'mean', 'p95', 'max', 'total'] as const;
  const cells = columns.map((column) => (column === 'mean' ? decimal(tokens.mean) : integer(tokens[column])));
  const widths = columns.map((column, index) => Math.max(column.length, cells[index]?.length ?? 0) + 2);
  return [
    label('tokens per example') + columns.map((column, index) => column.padStart(widths[index] ?? 0)).join(''),
    label('') + cells.map((cell, index) => cell.padStart(widths[index] ?? 0)).join(''),
  ];
}

const heading = (file: { name: string; role: string | null }) => (file.role === null ? file.name : `${file.name}  (${file.role})`);

function formatFineTuningFile(file: FineTuningFileReport): string {
  const errorKinds = Object.entries(file.format_errors);
  const errorCount = errorKinds.reduce((sum, [, list]) => sum + list.count, 0);
  const { missing_system_message, duplicate_example, near_duplicate_inquiry, over_context_limit } = file.warnings;
  return [
    heading(file),
    `${label('examples')}${integer(file.examples)} (${integer(file.valid_examples)} valid)`,
    `${label('format errors')}${errorCount === 0 ? 'none' : integer(errorCount)}`,
    ...errorKinds.map(([kind, list]) => `${label(kind, 4)}${lineListText(list)}`),
    '  warnings',
    `${label('missing_system_message', 4)}${lineListText(missing_system_message)}`,
    `${label('duplicate_example', 4)}${pairListText(duplicate_example.count, duplicate_example.pairs.map(([a, b]) => `${a} & ${b}`))}`,
    `${label('near_duplicate_inquiry', 4)}${similarPairsText(near_duplicate_inquiry, 'lines')}`,
    `${label('over_context_limit', 4)}${lineListText(over_context_limit)}`,
    ...tokenTable(file.tokens),
    `${label('assistant tokens')}${integer(file.assistant_tokens.total)} total, ${decimal(file.assistant_tokens.mean)} per example`,
    `${label('billed tokens')}${integer(file.billed_tokens_per_epoch)} per epoch × ${file.epochs} epochs = ${integer(file.estimated_billed_tokens)}`,
    `${label('estimated cost')}${usd(file.estimated_cost_usd)} at ${usd(file.price_per_million_tokens)} per 1M training tokens`,
    ...overlapText(file.training_overlap),
  ].join('\n');
}

function formatPromptSet(file: PromptSetReport): string {
  const { count, issues } = file.format_errors;
  return [
    heading(file),
    `${label('items')}${integer(file.items)} (${integer(file.valid_items)} valid)`,
    `${label('format errors')}${count === 0 ? 'none' : integer(count)}`,
    ...issues.map(({ kind, path, message }) => `${label(kind, 4)}${path === '' ? '(root)' : path}: ${message}`),
    ...(count > issues.length ? [`${label('', 4)}${more(issues.length, count).trim()}`] : []),
    '  warnings',
    `${label('near_duplicate_inquiry', 4)}${similarPairsText(file.warnings.near_duplicate_inquiry, 'items')}`,
    ...overlapText(file.training_overlap),
  ].join('\n');
}

function locationText({ file, line, item, id }: ItemLocation): string {
  if (line !== null) return `${file}:${line}`;
  return `${file} item ${item}${id === null ? '' : ` (${id})`}`;
}

const MAX_LEAKS_SHOWN = 50;
const MAX_GROUPS_SHOWN = 10;

const kindsText = ({ exact, near, same_answer }: TrainingOverlapCounts) =>
  `exact ${integer(exact)}, near ${integer(near)}${same_answer > 0 ? `, same answer ${integer(same_answer)}` : ''}`;

/** "54 of 54 validation examples leak from training (exact 54, near 0)", one clause per role that leaks. */
function leakSummary(leakage: LeakageReport): string | null {
  const clauses = (['validation', 'evaluation'] as const).flatMap((role) => {
    const leaks = leakage.items.filter((leak) => leak.role === role);
    if (leaks.length === 0) return [];
    const noun = role === 'validation' ? 'validation examples' : 'evaluation items';
    return [`${integer(leaks.length)} of ${integer(leakage.checked[role])} ${noun} ${leaks.length === 1 ? 'leaks' : 'leak'} from training (${kindsText(countByKind(leaks))})`];
  });
  return clauses.length === 0 ? null : clauses.join('; ');
}

function formatLeakage(leakage: LeakageReport): string {
  const { training_file: trainingFile, checked } = leakage;
  if (trainingFile === null) return 'leakage: not checked (needs a training file and a validation file or prompt set)';
  const header = `leakage from ${trainingFile} (near: inquiry similarity ≥ ${NEAR_DUPLICATE_THRESHOLD})`;
  const summary = leakSummary(leakage);
  if (summary === null) {
    const checkedText = [
      ...(checked.validation > 0 ? [plural(checked.validation, 'validation example')] : []),
      ...(checked.evaluation > 0 ? [plural(checked.evaluation, 'evaluation item')] : []),
    ];
    return `${header}: ${checkedText.length === 0 ? 'nothing to check (no valid validation example or evaluation item)' : `none of ${checkedText.join(' and ')}`}`;
  }
  const shown = leakage.items.slice(0, MAX_LEAKS_SHOWN).map((leak) => ({
    leak,
    location: locationText(leak),
    kind: leak.kind === 'near' ? `near ${leak.similarity.toFixed(3)}` : leak.kind === 'exact' ? 'exact' : 'same answer',
    training: `${trainingFile}:${leak.training_line}`,
  }));
  const locationWidth = Math.max(...shown.map(({ location }) => location.length));
  const trainingWidth = Math.max(...shown.map(({ training }) => training.length));
  const lines = shown.map(({ leak, location, kind, training }) => {
    const trainingInquiry = leak.kind === 'exact' ? '' : `  ~  ${JSON.stringify(leak.training_inquiry)}`;
    return `  ${location.padEnd(locationWidth)}  ${kind.padEnd(11)}  ${training.padEnd(trainingWidth)}  ${JSON.stringify(leak.inquiry)}${trainingInquiry}`;
  });
  return [
    `${header}: ${summary}`,
    ...lines,
    ...(leakage.count > shown.length ? [`  … (+${integer(leakage.count - shown.length)} more)`] : []),
  ].join('\n');
}

function groupLines(group: AnswerGroup): string[] {
  const members = group.members.map((member) => `    ${locationText(member)}  ${JSON.stringify(member.inquiry)}`);
  const total = group.training + group.other;
  const elsewhere = group.other > 0 ? `, ${integer(group.other)} in validation or evaluation` : '';
  return [`  ${excerpt(group.answer)}  (${integer(group.training)} in training${elsewhere})`, ...members, ...(total > members.length ? [`    ${more(members.length, total).trim()}`] : [])];
}

function formatClusters(clusters: ParaphraseClusters, trainingFile: string | null): string[] {
  if (trainingFile === null) return [];
  if (clusters.count === 0) return ['paraphrase clusters: none (each training answer is taught for one inquiry)'];
  // Each group takes several lines; the JSON report has more of them.
  const shownGroups = clusters.groups.slice(0, MAX_GROUPS_SHOWN);
  return [
    [
      `paraphrase clusters: ${plural(clusters.count, 'answer')} given for several inquiries`,
      ...shownGroups.flatMap(groupLines),
      ...(clusters.count > shownGroups.length ? [`  … (+${integer(clusters.count - shownGroups.length)} more)`] : []),
    ].join('\n'),
  ];
}

function verdict(report: DataCheckReport, strict: boolean): string {
  const leaks = leakSummary(report.leakage);
  if (!report.ok) return `${leaks === null ? '' : `WARNING: ${leaks}.\n`}FAILED: fix the format errors before uploading`;
  const repeats = report.files.flatMap((file) => {
    const duplicates = file.kind === 'fine_tuning' ? file.warnings.duplicate_example.count : 0;
    const near = file.warnings.near_duplicate_inquiry.count;
    return duplicates + near === 0 ? [] : [`${file.name} repeats itself (duplicate_example ${duplicates}, near_duplicate_inquiry ${near})`];
  });
  if (strict && !report.strict_ok) return `FAILED (--strict): ${[...(leaks === null ? [] : [leaks]), ...repeats].join('; ')}`;
  if (leaks !== null) return `WARNING: ${leaks}; scores on them flatter the fine-tune. Use --strict to fail on this.`;
  return report.leakage.training_file === null ? 'OK: no format errors' : 'OK: no format errors, no leakage from training';
}

/** A plain-text report for a terminal; `--json` gives the same data whole. */
export function formatDataCheckReport(report: DataCheckReport, { strict = false }: { strict?: boolean } = {}): string {
  const files = report.files.map((file) => (file.kind === 'prompt_set' ? formatPromptSet(file) : formatFineTuningFile(file)));
  const trainingFile = report.files.find((file) => file.role === 'training')?.name ?? null;
  return `${[...files, formatLeakage(report.leakage), ...formatClusters(report.paraphrase_clusters, trainingFile), verdict(report, strict)].join('\n\n')}\n`;
}
