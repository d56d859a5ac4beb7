import 'dotenv/config';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import { pino } from 'pino';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../config.js';
import { AppError } from '../errors.js';
import { PromptSetSchema } from '../runs/prompt-set.js';
import { createRunManager } from '../runs/run-manager.js';
import { runFiles } from '../runs/run-store.js';
import { MAX_JUDGE_SAMPLES, SCORER_CHOICES } from '../scoring/score-answer.js';
import { closeServices, createServices } from '../services.js';

const USAGE =
  'usage: evaluate --prompts FILE [--models a,b] [--scorer judge|heuristic|pairwise|none] [--judge-samples N] [--concurrency N] [--out reports/eval_results.csv]';

class UsageError extends Error {
  override name = 'UsageError';
}

const ArgsSchema = z.object({
  prompts: z.string({ error: '--prompts FILE is required' }).min(1),
  models: z
    .string()
    .default('fine-tuned,baseline')
    .transform((value) => value.split(',').map((model) => model.trim()).filter(Boolean)),
  scorer: z.enum(SCORER_CHOICES).optional(),
  'judge-samples': z.coerce.number().int().min(1).max(MAX_JUDGE_SAMPLES).default(1),
  concurrency: z.coerce.number().int().min(1).max(64).default(8),
  out: z.string().min(1).optional(),
});

function parseCommandLine(argv: readonly string[]) {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        prompts: { type: 'string' },
        models: { type: 'string' },
        scorer: { type: 'string' },
        'judge-samples': { type: 'string' },
        concurrency: { type: 'string' },
        out: { type: 'string' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\s+/g, ' ').trim());
  }
  const parsed = ArgsSchema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`--${String(issue?.path[0])}: ${issue?.message}`);
  }
  return parsed.data;
}

export interface EvaluateIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  isTerminal: boolean;
  env: NodeJS.ProcessEnv;
}

/**
 * The evaluation engine of the service, without the server: 0 when the run completed, 1 when it
 * failed, 2 on a usage or configuration error.
 */
export async function runEvaluate(argv: readonly string[], io: EvaluateIo): Promise<number> {
  let args;
  let config;
  try {
    args = parseCommandLine(argv);
    config = loadConfig(io.env);
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      io.stderr(`${error.message}\n${error instanceof UsageError ? `${USAGE}\n` : ''}`);
      return 2;
    }
    throw error;
  }

  let entries;
  try {
    const raw = JSON.parse(await readFile(args.prompts, 'utf8'));
    const parsed = PromptSetSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
    }
    entries = parsed.data;
  } catch (error) {
    io.stderr(`--prompts ${args.prompts}: ${(error as Error).message}\n`);
    return 2;
  }

  let services;
  try {
    services = createServices(config);
  } catch (error) {
    io.stderr(`${(error as Error).message}\n`);
    return 2;
  }
  // Log lines go to stderr and only when something is wrong, so the progress bar and the table stay readable.
  const log = pino({ level: 'warn' }, pino.destination(2));
  const runs = createRunManager({ ...services, log });
  const stopOnSignal = () => {
    io.stderr('\ninterrupted: the run stays on disk and resumes when the service starts\n');
    void runs.close();
  };
  process.once('SIGINT', stopOnSignal);

  try {
    const created = await runs.create({
      inquiries: entries,
      source: `file:${args.prompts}`,
      models: args.models,
      scorer: args.scorer,
      judge_samples: args['judge-samples'],
      concurrency: args.concurrency,
    });
    io.stderr(`run ${created.run_id}: ${created.progress.total} answers from ${created.models.map((m) => m.alias).join(', ')}, scorer ${created.scorer}\n`);

    const bar = io.isTerminal ? new SingleBar({ format: '{bar} {value}/{total} done, {failed} failed, ETA {eta}s', hideCursor: true }) : undefined;
    bar?.start(created.progress.total, 0, { failed: 0 });
    const ticker = setInterval(async () => {
      const { progress } = await runs.get(created.run_id);
      bar?.update(progress.done, { failed: progress.failed });
    }, 200);
    const run = await runs.waitFor(created.run_id).finally(() => clearInterval(ticker));
    bar?.update(run.progress.done, { failed: run.progress.failed });
    bar?.stop();

    if (run.status !== 'completed') {
      io.stderr(`run ${run.run_id} ${run.status}${run.error ? `: ${run.error}` : ''}\n`);
      return 1;
    }
    const csv = runFiles(config.REPORTS_DIR, run.run_id).csv;
    if (args.out) {
      await mkdir(dirname(resolve(args.out)), { recursive: true });
      await copyFile(csv, args.out);
    }
    io.stdout(`${await runs.summaryMarkdown(run.run_id)}\n`);
    io.stderr(`CSV: ${args.out ?? csv}\n`);
    return 0;
  } catch (error) {
    if (error instanceof AppError) {
      io.stderr(`${error.message}\n`);
      return 2;
    }
    throw error;
  } finally {
    process.removeListener('SIGINT', stopOnSignal);
    await runs.close();
    await closeServices(services);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await runEvaluate(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    isTerminal: Boolean(process.stderr.isTTY),
    env: process.env,
  });
}
