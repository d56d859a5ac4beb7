import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';

export interface Check {
  target: string;
  measured: string;
  pass: boolean;
}

export interface SectionResult {
  title: string;
  head: string[];
  rows: string[][];
  checks: Check[];
  notes: string[];
  /** Further tables, each under its caption, after the first. */
  tables?: Array<{ caption: string; head: string[]; rows: string[][] }>;
  /** Set when the section could not run to the end; its checks then count as failed. */
  error?: string;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function table(head: string[], rows: string[][]): string[] {
  return [`| ${head.map(cell).join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`)];
}

export function renderSection(section: SectionResult): string {
  const lines = [`## ${section.title}`, ''];
  if (section.error) lines.push(`**ERROR**: ${section.error}`, '');
  if (section.rows.length > 0) lines.push(...table(section.head, section.rows), '');
  for (const extra of section.tables ?? []) if (extra.rows.length > 0) lines.push(extra.caption, '', ...table(extra.head, extra.rows), '');
  if (section.checks.length > 0) {
    lines.push(...table(['Target', 'Measured', 'Result'], section.checks.map((check) => [check.target, check.measured, check.pass ? 'PASS' : 'FAIL'])), '');
  }
  for (const note of section.notes) lines.push(`- ${note}`);
  if (section.notes.length > 0) lines.push('');
  return lines.join('\n');
}

function gitRevision(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    // The report a previous run wrote is not a change to what is measured.
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)reports/bench.md'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return dirty === '' ? commit : `${commit} (with uncommitted changes)`;
  } catch {
    return 'unknown';
  }
}

function invokingCommand(): string {
  const script = process.argv[1] ? process.argv[1].replace(`${process.cwd()}/`, '') : 'bench/run.ts';
  const direct = ['tsx', script, ...process.argv.slice(2)].join(' ');
  const event = process.env.npm_lifecycle_event;
  // npx runs its command as a lifecycle event named "npx".
  if (event === 'npx') return `npx ${direct}`;
  if (event) return `npm run ${event} (${direct})`;
  return direct;
}

export interface Environment {
  startedAt: Date;
  loadAverageAtStart: number[];
}

export function captureEnvironment(): Environment {
  return { startedAt: new Date(), loadAverageAtStart: loadavg() };
}

export function renderReport(environment: Environment, sections: SectionResult[], elapsedSeconds: number): string {
  const processors = cpus();
  const checks = sections.flatMap((section) => section.checks);
  const failed = checks.filter((check) => !check.pass).length;
  const errored = sections.filter((section) => section.error).map((section) => section.title.split(':')[0]);
  const verdict = [
    failed === 0 ? `all ${checks.length} targets PASS` : `${failed} of ${checks.length} targets FAIL`,
    ...(errored.length > 0 ? [`sections that could not run: ${errored.join(', ')}`] : []),
  ].join('; ');
  const header = [
    '# Benchmarks',
    '',
    ...table(
      ['', ''],
      [
        ['Date', environment.startedAt.toISOString()],
        ['Command', `\`${invokingCommand()}\``],
        ['Node', process.version],
        ['CPU', `${processors[0]?.model.trim() ?? 'unknown'}, ${processors.length} cores`],
        ['Load average at start (1, 5, 15 min)', environment.loadAverageAtStart.map((load) => load.toFixed(2)).join(', ')],
        ['Commit', gitRevision()],
        ['Duration', `${elapsedSeconds.toFixed(0)} s`],
        ['Verdict', verdict],
      ],
    ),
    '',
    'The machine is shared and noisy: compare figures as ratios within one run, not across runs.',
    '',
  ];
  return [...header, ...sections.map(renderSection)].join('\n');
}
