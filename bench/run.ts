/**
 * Benchmarks of the service: proxy overhead, evaluation throughput, memory of a large run,
 * heuristic scorer and retrieval speed. Prints a Markdown report and writes it to reports/bench.md.
 * A missed target shows as FAIL and still exits 0; a section that cannot run exits 1.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.js';
import { measureEvaluateThroughput } from './evaluate-throughput.js';
import { compileService } from './compiled-service.js';
import { forkNode, killForkedProcesses, type ForkedProcess } from './forked-process.js';
import { measureHeuristicThroughput } from './heuristic-throughput.js';
import { measureProxyOverhead } from './proxy-overhead.js';
import { captureEnvironment, renderReport, type SectionResult } from './report.js';
import { measureRetrievalLatency } from './retrieval-latency.js';
import { measureRunMemory } from './run-memory.js';
import { serviceEnv } from './service-env.js';
import { inquiryVariants, loadSupportData } from './support-data.js';

const REPORT_PATH = fileURLToPath(new URL('../reports/bench.md', import.meta.url));
const FAKE_UPSTREAM_ENTRY = new URL('./fake-upstream-process.ts', import.meta.url);
// Well above the ~2.5 minutes the sections take, so only a hang trips it.
const WATCHDOG_MS = 6 * 60_000;

const watchdog = setTimeout(() => {
  console.error(`bench: still running after ${WATCHDOG_MS / 60_000} minutes; stopping.`);
  killForkedProcesses();
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killForkedProcesses();
    process.exit(130);
  });
}

async function runSection(title: string, measure: () => SectionResult | Promise<SectionResult>): Promise<SectionResult> {
  console.error(`bench: ${title}...`);
  let section: SectionResult;
  try {
    section = await measure();
  } catch (error) {
    section = { title, head: [], rows: [], checks: [], notes: [], error: error instanceof Error ? error.message : String(error) };
  }
  console.error(`bench: ${title} done (${section.error ? 'ERROR' : section.checks.every((check) => check.pass) ? 'PASS' : 'FAIL'})`);
  return section;
}

// --expose-gc lets the memory section tell retained memory from garbage not yet collected.
// BENCH_CPU_PROF_DIR: a folder for a CPU profile of every service process (written when it exits).
const serviceNodeOptions = ['--expose-gc', ...(process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`] : [])];

const environment = captureEnvironment();
const started = performance.now();
const data = loadSupportData();
const scratch = mkdtempSync(join(tmpdir(), 'bench-'));
let reportsDirs = 0;
const freshReportsDir = () => join(scratch, `reports-${++reportsDirs}`);
const children: ForkedProcess[] = [];
const startChild = async (entry: URL, env: Record<string, string>, nodeOptions: string[] = []) => {
  const child = await forkNode(entry, env, nodeOptions);
  children.push(child);
  return child;
};
const sections: SectionResult[] = [];

try {
  const serviceEntry = compileService(join(scratch, 'build'));
  const upstream = await startChild(FAKE_UPSTREAM_ENTRY, { FAKE_LATENCY_MS: '0' });
  const startService = () => startChild(serviceEntry, serviceEnv(upstream.url, freshReportsDir()), serviceNodeOptions);

  const service = await startService();
  const config = loadConfig({ ...process.env, ...serviceEnv(upstream.url, scratch) });
  const inquiry = data.validation[0]?.inquiry ?? 'How do I return a defective Bluetooth speaker?';
  sections.push(await runSection('1. Proxy overhead', () => measureProxyOverhead({ service, upstream, config, inquiry })));
  const inquiries = inquiryVariants([...data.validation, ...data.training].map((example) => example.inquiry), 200);
  sections.push(await runSection('2. Evaluate throughput', () => measureEvaluateThroughput({ service, upstream, inquiries })));
  await service.stop();

  sections.push(await runSection('3. Memory', () => measureRunMemory({ data, startService })));
  await upstream.stop();

  // The CPU-bound sections run last, alone, once every child process is gone.
  sections.push(await runSection('4. Heuristic scorer throughput', () => measureHeuristicThroughput(data)));
  sections.push(await runSection('5. Retrieval latency', () => measureRetrievalLatency(data)));
} finally {
  for (const child of children) await child.stop();
  rmSync(scratch, { recursive: true, force: true });
}

const report = renderReport(environment, sections, (performance.now() - started) / 1000);
mkdirSync(join(REPORT_PATH, '..'), { recursive: true });
writeFileSync(REPORT_PATH, `${report}\n`);
console.log(report);
console.error(`bench: report written to ${REPORT_PATH}`);
clearTimeout(watchdog);
process.exitCode = sections.some((section) => section.error) ? 1 : 0;
