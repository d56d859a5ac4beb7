import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp, LOG_REDACT_PATHS } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

interface TapLike {
  teardown(fn: () => unknown): void;
}

export interface TestApp {
  app: FastifyInstance;
  reportsDir: string;
  /** Every log line the app wrote, parsed. */
  logs: () => Record<string, unknown>[];
  /** The raw log output, for asserting that a secret never appears in it. */
  rawLogs: () => string;
}

/**
 * Builds the app as `npm start` would, from an environment given by the test. Logs are
 * captured (with the production redaction rules) instead of printed.
 */
export async function buildTestApp(t: TapLike, env: Record<string, string | undefined> = {}): Promise<TestApp> {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      callback();
    },
  });
  // Evaluation runs write under REPORTS_DIR: a fresh folder per app unless the test shares one.
  const ownReportsDir = env.REPORTS_DIR === undefined ? mkdtempSync(join(tmpdir(), 'reports-')) : undefined;
  const reportsDir = env.REPORTS_DIR ?? (ownReportsDir as string);
  // Rate limiting and load shedding depend on request counts and timing, not on the behaviour a test
  // looks at; tests of those limits turn them on themselves.
  const timingFreeLimits = { RATE_LIMIT_MAX: '0', MAX_EVENT_LOOP_DELAY_MS: '0', MAX_EVENT_LOOP_UTILIZATION: '0' };
  const config = loadConfig({ OPENAI_MAX_RETRIES: '0', OPENAI_TIMEOUT_MS: '2000', ...timingFreeLimits, ...env, REPORTS_DIR: reportsDir });
  const app = await buildApp({
    config,
    logger: { level: 'info', stream, redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' } },
  });
  t.teardown(async () => {
    await app.close();
    if (ownReportsDir) rmSync(ownReportsDir, { recursive: true, force: true });
  });
  await app.ready();
  return {
    app,
    reportsDir,
    logs: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    rawLogs: () => lines.join('\n'),
  };
}
