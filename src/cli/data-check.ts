import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { checkDataFiles, dataCheckExitCode, DEFAULT_DATA_CHECK_OPTIONS, formatDataCheckReport } from '../data/check-data.js';
import { asksForHelp, type CommandHelp, helpText, parseCommandOptions, usageLine, UsageError } from './command-line.js';

export const DATA_CHECK_HELP: CommandHelp = {
  name: 'data-check',
  purpose:
    'Checks OpenAI fine-tuning files and prompt sets before an upload or a run: format errors, repeated and near-duplicate examples, ' +
    'tokens and training cost, and leakage of validation and evaluation inquiries from training.',
  operands: {
    synopsis: 'FILE...',
    description: 'A JSONL fine-tuning file ("train" in the name for training, "val" or "test" for validation), or a .json prompt set.',
  },
  options: [
    { name: 'strict', description: 'Also fail on leakage from training and on a file that repeats itself.' },
    { name: 'json', description: 'Print the whole report as one JSON document.' },
    { name: 'epochs', value: 'N', description: 'Training epochs, for the billed tokens (1 to 50).', default: String(DEFAULT_DATA_CHECK_OPTIONS.epochs) },
    {
      name: 'price-per-million',
      value: 'USD',
      description: 'Price of 1M training tokens.',
      default: DEFAULT_DATA_CHECK_OPTIONS.pricePerMillionTokens.toFixed(2),
    },
    { name: 'context-limit', value: 'TOKENS', description: 'Tokens an example may have.', default: String(DEFAULT_DATA_CHECK_OPTIONS.contextLimit) },
  ],
  exitCodes: [
    [0, 'every file is well-formed (leakage is only a warning without --strict)'],
    [1, 'format errors; with --strict, also leakage from training or a file repeating itself'],
    [2, 'the command itself is wrong (an unknown option, a bad value, an unreadable file)'],
  ],
};

export interface DataCheckIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readFile: (path: string) => Promise<string>;
}

const numberArgument = z.string().trim().regex(/^\d+(\.\d+)?$/, 'expected a non-negative number').transform(Number);

const ArgsSchema = z.object({
  // The fine-tuning API accepts 1 to 50 epochs.
  epochs: numberArgument.pipe(z.number().int().min(1).max(50)).optional(),
  'price-per-million': numberArgument.optional(),
  'context-limit': numberArgument.pipe(z.number().int().min(1)).optional(),
});

function parseCommandLine(argv: readonly string[]) {
  const { values, positionals } = parseCommandOptions(argv, DATA_CHECK_HELP);
  const { json, strict, ...numbers } = values;
  const checked = ArgsSchema.safeParse(numbers);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const option = String(issue?.path[0]);
    throw new UsageError(`--${option}: ${issue?.message} (got ${JSON.stringify(numbers[option])})`);
  }
  if (positionals.length === 0) throw new UsageError(`no data files given; ${usageLine(DATA_CHECK_HELP)} (--help says more)`);
  return {
    files: positionals,
    json: json === true,
    strict: strict === true,
    options: {
      epochs: checked.data.epochs,
      pricePerMillionTokens: checked.data['price-per-million'],
      contextLimit: checked.data['context-limit'],
    },
  };
}

async function readDataFile(path: string, io: DataCheckIo): Promise<string> {
  try {
    return await io.readFile(path);
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

const processIo: DataCheckIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readFile: (path) => readFile(path, 'utf8'),
};

/** The exit codes are DATA_CHECK_HELP's. */
export async function runDataCheck(argv: readonly string[], io: DataCheckIo = processIo): Promise<number> {
  if (asksForHelp(argv)) {
    io.stdout(helpText(DATA_CHECK_HELP));
    return 0;
  }
  try {
    const { files, json, strict, options } = parseCommandLine(argv);
    const contents = await Promise.all(files.map(async (name) => ({ name, content: await readDataFile(name, io) })));
    const report = checkDataFiles(contents, options);
    io.stdout(json ? `${JSON.stringify(report, null, 2)}\n` : formatDataCheckReport(report, { strict }));
    return dataCheckExitCode(report, strict);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`data-check: ${error.message}\n`);
    return 2;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runDataCheck(process.argv.slice(2));
}
