import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { checkDataFiles, dataCheckExitCode, formatDataCheckReport } from '../data/check-data.js';

const USAGE =
  'usage: data-check [--strict] [--json] [--epochs N] [--price-per-million USD] [--context-limit TOKENS] FILE... ' +
  '(FILE: a JSONL fine-tuning file, "train" in the name for training, "val" or "test" for validation; or a .json prompt set)';

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

class UsageError extends Error {
  override name = 'UsageError';
}

function parseCommandLine(argv: readonly string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        epochs: { type: 'string' },
        'price-per-million': { type: 'string' },
        'context-limit': { type: 'string' },
        json: { type: 'boolean', default: false },
        strict: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    // parseArgs explains some mistakes over several lines; a usage error stays one line.
    throw new UsageError((error as Error).message.replace(/\s+/g, ' ').trim());
  }
  const { json, strict, ...numbers } = parsed.values;
  const checked = ArgsSchema.safeParse(numbers);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const option = String(issue?.path[0]);
    throw new UsageError(`--${option}: ${issue?.message} (got ${JSON.stringify(numbers[option as keyof typeof numbers])})`);
  }
  if (parsed.positionals.length === 0) throw new UsageError(`no data files given; ${USAGE}`);
  return {
    files: parsed.positionals,
    json,
    strict,
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

/**
 * Exit code 0 when every file is well-formed, 1 on format errors (and with --strict, on leakage from
 * training or a file repeating itself), 2 when the command itself is wrong.
 */
export async function runDataCheck(argv: readonly string[], io: DataCheckIo = processIo): Promise<number> {
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
