import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';
import { asksForHelp, type CommandHelp, helpText, parseCommandOptions, usageLine, UsageError } from './command-line.js';

/** The OpenAPI document as the code generates it, from a config that depends on nothing local. */
export async function generateOpenApiDocument(): Promise<string> {
  const app = await buildApp({ config: loadConfig({}), logger: false });
  await app.ready();
  const document = app.swagger();
  await app.close();
  return `${JSON.stringify(document, null, 2)}\n`;
}

export const OPENAPI_PATH = 'openapi/openapi.json';

export const OPENAPI_HELP: CommandHelp = {
  name: 'openapi',
  purpose: `Writes the service's OpenAPI document, generated from its route schemas, to ${OPENAPI_PATH} (a test fails while the committed one is stale).`,
  options: [],
  exitCodes: [
    [0, `${OPENAPI_PATH} written`],
    [1, 'the document could not be generated or written'],
    [2, 'the command itself is wrong (an unknown option or argument)'],
  ],
};

export interface OpenApiIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  writeFile: (path: string, content: string) => Promise<void>;
}

const processIo: OpenApiIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  writeFile: async (path, content) => {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
  },
};

/** The exit codes are OPENAPI_HELP's; a failure to generate or write is thrown, and Node exits 1. */
export async function runOpenApi(argv: readonly string[], io: OpenApiIo = processIo): Promise<number> {
  if (asksForHelp(argv)) {
    io.stdout(helpText(OPENAPI_HELP));
    return 0;
  }
  try {
    parseCommandOptions(argv, OPENAPI_HELP);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`openapi: ${error.message}\n${usageLine(OPENAPI_HELP)}\n`);
    return 2;
  }
  await io.writeFile(OPENAPI_PATH, await generateOpenApiDocument());
  io.stdout(`wrote ${OPENAPI_PATH}\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runOpenApi(process.argv.slice(2));
}
