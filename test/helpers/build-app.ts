import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp, LOG_REDACT_PATHS } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

interface TapLike {
  teardown(fn: () => unknown): void;
}

export interface TestApp {
  app: FastifyInstance;
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
  const config = loadConfig({ OPENAI_MAX_RETRIES: '0', OPENAI_TIMEOUT_MS: '2000', ...env });
  const app = await buildApp({
    config,
    logger: { level: 'info', stream, redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' } },
  });
  t.teardown(() => app.close());
  return {
    app,
    logs: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    rawLogs: () => lines.join('\n'),
  };
}
