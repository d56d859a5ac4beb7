/**
 * Benchmarks of the service: proxy overhead, evaluation throughput, memory of a large run,
 * heuristic scorer and retrieval speed, responsiveness while runs go on, and runs on the PostgreSQL store
 * (one process, or an API process and workers). Prints a Markdown report and writes it to reports/bench.md.
 * A missed target shows as FAIL and still exits 0; a section that cannot run exits 1.
 * `npm run bench -- proxy memory` runs only the sections named (proxy, evaluate, memory, heuristic,
 * retrieval, responsiveness, postgres); a partial report is printed but not written to reports/bench.md.
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
import { measurePostgresStore } from './postgres-store.js';
import { stopBenchPostgresNow } from './postgres-server.js';
import { measureResponsiveness } from './responsiveness.js';
import { measureProxyOverhead } from './proxy-overhead.js';
import { captureEnvironment, renderReport, type SectionResult } from './report.js';
import { measureRetrievalLatency } from './retrieval-latency.js';
import { measureRunMemory } from './run-memory.js';
import { serviceEnv } from './service-env.js';
import { inquiryVariants, loadSupportData } from './support-data.js';

const REPORT_PATH = fileURLToPath(new URL('../reports/bench.md', import.meta.url));
const FAKE_UPSTREAM_ENTRY = new URL('./fake-upstream-process.ts', import.meta.url);
// Well above the ~8 minutes the sections take (about 4 of them the PostgreSQL section), so only a hang trips it.
const WATCHDOG_MS = 10 * 60_000;

const watchdog = setTimeout(() => {
  console.error(`bench: still running after ${WATCHDOG_MS / 60_000} minutes; stopping.`);
  killForkedProcesses();
  stopBenchPostgresNow();
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killForkedProcesses();
    stopBenchPostgresNow();
    process.exit(130);
  });
}

const SECTION_NAMES = ['proxy', 'evaluate', 'memory', 'heuristic', 'retrieval', 'responsiveness', 'postgres'] as const;
type SectionName = (typeof SECTION_NAMES)[number];
const requested = process.argv.slice(2);
const unknown = requested.filter((name) => !(SECTION_NAMES as readonly string[]).includes(name));
if (unknown.length > 0) {
  console.error(`bench: unknown section ${unknown.join(', ')}; sections are ${SECTION_NAMES.join(', ')}`);
  process.exit(2);
}
const selected = (name: SectionName) => requested.length === 0 || requested.includes(name);

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
  const entries = compileService(join(scratch, 'build'));
  if (selected('proxy') || selected('evaluate') || selected('memory') || selected('responsiveness') || selected('postgres')) {
    const upstream = await startChild(FAKE_UPSTREAM_ENTRY, { FAKE_LATENCY_MS: '0' });
    const startService = () => startChild(entries.service, serviceEnv(upstream.url, freshReportsDir()), serviceNodeOptions);

    if (selected('proxy') || selected('evaluate')) {
      const service = await startService();
      if (selected('proxy')) {
        const config = loadConfig({ ...process.env, ...serviceEnv(upstream.url, scratch) });
        const inquiry = data.validation[0]?.inquiry ?? 'How do I return a defective Bluetooth speaker?';
        const referenceProxy = await startChild(entries.referenceProxy, serviceEnv(upstream.url, freshReportsDir()));
        sections.push(await runSection('1. Proxy overhead', () => measureProxyOverhead({ service, referenceProxy, upstream, config, inquiry })));
        await referenceProxy.stop();
      }
      if (selected('evaluate')) {
        const inquiries = inquiryVariants([...data.validation, ...data.training].map((example) => example.inquiry), 200);
        sections.push(await runSection('2. Evaluate throughput', () => measureEvaluateThroughput({ service, upstream, inquiries })));
      }
      await service.stop();
    }
    if (selected('memory')) sections.push(await runSection('3. Memory', () => measureRunMemory({ data, startService })));
    if (selected('responsiveness')) {
      const service = await startService();
      sections.push(await runSection('6. Responsiveness', () => measureResponsiveness({ service, upstream, data })));
      await service.stop();
    }
    if (selected('postgres')) {
      const startWith = (env: Record<string, string>) => startChild(entries.service, { ...serviceEnv(upstream.url, freshReportsDir()), ...env }, serviceNodeOptions);
      sections.push(await runSection('7. PostgreSQL store', () => measurePostgresStore({ data, upstream, startService: startWith })));
    }
    await upstream.stop();
  }

  // The CPU-bound sections run last, alone, once every child process is gone.
  if (selected('heuristic')) sections.push(await runSection('4. Heuristic scorer throughput', () => measureHeuristicThroughput(data)));
  if (selected('retrieval')) sections.push(await runSection('5. Retrieval latency', () => measureRetrievalLatency(data)));
} finally {
  for (const child of children) await child.stop();
  rmSync(scratch, { recursive: true, force: true });
}

const report = renderReport(environment, sections, (performance.now() - started) / 1000);
console.log(report);
if (requested.length === 0) {
  mkdirSync(join(REPORT_PATH, '..'), { recursive: true });
  writeFileSync(REPORT_PATH, `${report}\n`);
  console.error(`bench: report written to ${REPORT_PATH}`);
}
clearTimeout(watchdog);
process.exitCode = sections.some((section) => section.error) ? 1 : 0;
