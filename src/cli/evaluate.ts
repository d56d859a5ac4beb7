import 'dotenv/config';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SingleBar } from 'cli-progress';
import { pino } from 'pino';
import { z } from 'zod';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { AppError } from '../errors.js';
import { gateVerdicts } from '../export/gain-gate.js';
import { junitReport } from '../export/junit.js';
import type { PairwiseResult, RunResult } from '../runs/run-result.js';
import { PromptSetSchema } from '../runs/prompt-set.js';
import { createRunManager, type RunManager, type RunView } from '../runs/run-manager.js';
import { openResponseCache } from '../models/open-response-cache.js';
import { createFileAliasStore } from '../models/model-alias-file-store.js';
import { createModelAliases } from '../models/model-aliases.js';
import { createFileRunStore, runFiles } from '../runs/file-store.js';
import type { RunStore } from '../runs/run-store.js';
import { MAX_JUDGE_SAMPLES, SCORER_CHOICES } from '../scoring/score-answer.js';
import { closeServices, createServices } from '../services.js';
import { asksForHelp, type CommandHelp, helpText, parseCommandOptions, usageLine, UsageError } from './command-line.js';

/** The exit codes, named once: the help lists them and the README quotes them. */
export const EVALUATE_EXIT = { completed: 0, runFailed: 1, usage: 2, gateFailed: 3 } as const;

const DEFAULT_MODELS = 'fine-tuned,baseline';
const DEFAULT_JUDGE_SAMPLES = 1;
const DEFAULT_CONCURRENCY = 8;
const MAX_CONCURRENCY = 64;
/** Weighted scores run from 1 to 5, so a gain lies within ±4 rubric points. */
const MAX_GATE_MARGIN = 4;

export const EVALUATE_HELP: CommandHelp = {
  name: 'evaluate',
  purpose:
    'Runs a prompt set through the models and scores their answers with the engine of POST /evaluate, without the server; ' +
    'prints the summary table and writes the CSV. The first model is compared with each other one, item by item.',
  options: [
    { name: 'prompts', value: 'FILE', required: true, description: 'The prompt set: a JSON list of inquiries, as strings or {id, inquiry, reference, category}.' },
    { name: 'models', value: 'A,B', description: 'Model aliases, the first compared with each other one; retrieval and handoff need no key.', default: DEFAULT_MODELS },
    {
      name: 'scorer',
      value: 'NAME',
      description:
        'judge (an LLM judge grades each answer on the rubric; needs its API key), heuristic (offline rules), ' +
        'pairwise (the judge picks the better of two answers) or none (answers only).',
      default: 'judge when its API key is set, else heuristic',
    },
    { name: 'judge-samples', value: 'N', description: `Judge calls per answer, averaged (1 to ${MAX_JUDGE_SAMPLES}).`, default: String(DEFAULT_JUDGE_SAMPLES) },
    { name: 'concurrency', value: 'N', description: `Answers and scores in flight at once (1 to ${MAX_CONCURRENCY}).`, default: String(DEFAULT_CONCURRENCY) },
    { name: 'out', value: 'FILE', description: 'Also copy the CSV here.', default: "only the run's results.csv and reports/eval_results.csv" },
    { name: 'junit', value: 'FILE', description: 'Write a JUnit XML report here: a testsuite per comparison, with the gate and each failed item.' },
    {
      name: 'gate',
      description:
        `Exit ${EVALUATE_EXIT.gateFailed} when the first model is significantly worse than another: the upper end of the 95% interval of the weighted gain ` +
        '(first minus other, unseen items when some were in training) lies below --gate-margin. Needs two models and a pointwise scorer.',
    },
    { name: 'gate-margin', value: 'POINTS', description: 'With --gate: the weighted gain the interval must reach; -0.1 tolerates a small loss.', default: '0' },
    { name: 'gate-allow-no-interval', description: 'With --gate: pass a comparison that has no interval (fewer than 2 scored pairs) instead of failing it.' },
  ],
  exitCodes: [
    [EVALUATE_EXIT.completed, 'the run completed (with --gate: and every comparison passed the gate)'],
    [EVALUATE_EXIT.runFailed, 'the run failed'],
    [EVALUATE_EXIT.usage, 'a usage, configuration or prompt-file error, or a model without its API key; nothing was run'],
    [EVALUATE_EXIT.gateFailed, 'with --gate: the run completed, and the first model is significantly worse than another, or a comparison has no interval'],
  ],
};

const ArgsSchema = z.object({
  prompts: z.string({ error: '--prompts FILE is required' }).min(1),
  models: z
    .string()
    .default(DEFAULT_MODELS)
    .transform((value) => value.split(',').map((model) => model.trim()).filter(Boolean)),
  scorer: z.enum(SCORER_CHOICES).optional(),
  'judge-samples': z.coerce.number().int().min(1).max(MAX_JUDGE_SAMPLES).default(DEFAULT_JUDGE_SAMPLES),
  concurrency: z.coerce.number().int().min(1).max(MAX_CONCURRENCY).default(DEFAULT_CONCURRENCY),
  out: z.string().min(1).optional(),
  junit: z.string().min(1).optional(),
  gate: z.boolean().default(false),
  'gate-margin': z
    .string()
    .trim()
    .regex(/^[+-]?\d+(\.\d+)?$/, 'expected rubric points, e.g. -0.1')
    .transform(Number)
    .pipe(z.number().min(-MAX_GATE_MARGIN).max(MAX_GATE_MARGIN))
    .optional(),
  'gate-allow-no-interval': z.boolean().default(false),
});

type EvaluateArgs = z.infer<typeof ArgsSchema>;

/** A gate that could never pass is refused before anything is spent. */
function checkGateArgs(args: EvaluateArgs): void {
  if (!args.gate) {
    const stray = (['gate-margin', 'gate-allow-no-interval'] as const).find((option) => args[option] !== undefined && args[option] !== false);
    if (stray) throw new UsageError(`--${stray} goes with --gate`);
    return;
  }
  if (args.models.length < 2) throw new UsageError('--gate compares the first model with another: list at least two in --models');
  if (args.scorer === 'none' || args.scorer === 'pairwise') {
    throw new UsageError(`--gate reads the weighted gain of rubric scores, which --scorer ${args.scorer} does not give: use judge or heuristic`);
  }
}

function parseCommandLine(argv: readonly string[]): EvaluateArgs {
  const parsed = ArgsSchema.safeParse(parseCommandOptions(argv, EVALUATE_HELP).values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`--${String(issue?.path[0])}: ${issue?.message}`);
  }
  checkGateArgs(parsed.data);
  return parsed.data;
}

/** As a POSIX shell reads it back: a word with anything special in single quotes. */
const shellWord = (word: string) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`);

const MissingKeyDetailsSchema = z.object({ model: z.string(), variable: z.string() });

/**
 * The service's own message says to restart the service, which a command-line user has not started:
 * say instead how to give this command the key, or which models need none.
 */
function missingKeyAdvice(error: AppError, argv: readonly string[]): string {
  const details = MissingKeyDetailsSchema.safeParse(error.details);
  const { model, variable } = details.success ? details.data : { model: 'a model', variable: 'OPENAI_API_KEY' };
  return [
    `Model '${model}' needs an API key, and ${variable} is not set.`,
    `Set it for this command: ${variable}=... npm run evaluate -- ${argv.map(shellWord).join(' ')}`,
    `(or put ${variable}=... in .env), or evaluate the offline models, which need no key: --models retrieval,handoff --scorer heuristic`,
  ].join('\n');
}

async function readPrompts(path: string) {
  const raw = JSON.parse(await readFile(path, 'utf8'));
  const parsed = PromptSetSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  return parsed.data;
}

async function collect<T>(records: AsyncIterable<T>, keep: (record: T) => boolean): Promise<T[]> {
  const kept: T[] = [];
  for await (const record of records) if (keep(record)) kept.push(record);
  return kept;
}

/** The files and lines of a completed run, and its exit code: the CSV, the table, the JUnit report and the gate. */
async function reportCompletedRun(run: RunView, runs: RunManager, store: RunStore, args: EvaluateArgs, config: Config, io: EvaluateIo): Promise<number> {
  const csv = runFiles(config.REPORTS_DIR, run.run_id).csv;
  if (args.out) {
    await mkdir(dirname(resolve(args.out)), { recursive: true });
    await copyFile(csv, args.out);
  }
  io.stdout(`${await runs.summaryMarkdown(run.run_id)}\n`);
  io.stderr(`CSV: ${args.out ?? csv}\n`);
  const summary = await runs.summary(run.run_id);
  // Rated in the service later (POST /evaluate/{run_id}/ratings); until then the run says it is not calibrated.
  if (summary.calibration !== undefined) io.stderr(`Calibration: ${summary.calibration}\n`);

  const gates = gateVerdicts(summary, { margin: args['gate-margin'] ?? 0, allowNoInterval: args['gate-allow-no-interval'] });
  if (args.junit) {
    const failed = {
      results: await collect<RunResult>(store.results(run.run_id), (result) => result.outcome === 'failed'),
      verdicts: await collect<PairwiseResult>(store.verdicts(run.run_id), (verdict) => verdict.outcome === 'failed'),
    };
    const models = run.models.map((model) => model.alias);
    await mkdir(dirname(resolve(args.junit)), { recursive: true });
    await writeFile(args.junit, junitReport({ runId: run.run_id, models, gates, gateEnforced: args.gate, failed }));
    io.stderr(`JUnit: ${args.junit}\n`);
  }
  if (!args.gate) return EVALUATE_EXIT.completed;
  for (const gate of gates) io.stderr(`${gate.reason}\n`);
  return gates.every((gate) => gate.passed) ? EVALUATE_EXIT.completed : EVALUATE_EXIT.gateFailed;
}

export interface EvaluateIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  isTerminal: boolean;
  env: NodeJS.ProcessEnv;
}

/** The evaluation engine of the service, without the server; the exit codes are EVALUATE_EXIT's. */
export async function runEvaluate(argv: readonly string[], io: EvaluateIo): Promise<number> {
  if (asksForHelp(argv)) {
    io.stdout(helpText(EVALUATE_HELP));
    return EVALUATE_EXIT.completed;
  }
  let args;
  let config;
  try {
    args = parseCommandLine(argv);
    config = loadConfig(io.env);
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      io.stderr(`${error.message}\n${error instanceof UsageError ? `${usageLine(EVALUATE_HELP)}\n` : ''}`);
      return EVALUATE_EXIT.usage;
    }
    throw error;
  }

  let entries;
  try {
    entries = await readPrompts(args.prompts);
  } catch (error) {
    io.stderr(`--prompts ${args.prompts}: ${(error as Error).message}\n`);
    return EVALUATE_EXIT.usage;
  }

  let services;
  try {
    services = createServices(config);
  } catch (error) {
    io.stderr(`${(error as Error).message}\n`);
    return EVALUATE_EXIT.usage;
  }
  // Log lines go to stderr and only when something is wrong, so the progress bar and the table stay readable.
  const log = pino({ level: 'warn' }, pino.destination(2));
  // The aliases as the service has them: a promote or a fine-tuning job re-points them here too.
  const aliases = await createModelAliases({ registry: services.registry, store: createFileAliasStore(config.REPORTS_DIR), log, refreshIntervalMs: 0 });
  const store = createFileRunStore(config.REPORTS_DIR);
  const responseCache = openResponseCache(config, log);
  const runs = createRunManager({ ...services, responseCache, store, log });
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
      return EVALUATE_EXIT.runFailed;
    }
    return await reportCompletedRun(run, runs, store, args, config, io);
  } catch (error) {
    if (error instanceof AppError) {
      io.stderr(`${error.code === 'missing_api_key' ? missingKeyAdvice(error, argv) : error.message}\n`);
      return EVALUATE_EXIT.usage;
    }
    throw error;
  } finally {
    process.removeListener('SIGINT', stopOnSignal);
    await runs.close();
    await aliases.close();
    await responseCache?.close();
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
