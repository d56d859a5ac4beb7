import t from 'tap';
import { runDataCheck } from '../src/cli/data-check.js';
import { runEvaluate } from '../src/cli/evaluate.js';
import { OPENAPI_PATH, runOpenApi } from '../src/cli/openapi.js';

function captured() {
  const out = { stdout: '', stderr: '', written: new Map<string, string>() };
  const io = {
    stdout: (text: string) => (out.stdout += text),
    stderr: (text: string) => (out.stderr += text),
    isTerminal: false,
    env: {},
    readFile: async () => {
      throw new Error('help reads no file');
    },
    writeFile: async (path: string, content: string) => void out.written.set(path, content),
  };
  return { out, io };
}

/** The help with each wrapped text on one line again (continuation lines are indented under the text column). */
const unwrapped = (help: string) => help.replace(/\n {10,}/g, ' ');

const COMMANDS = {
  evaluate: (argv: string[], io: ReturnType<typeof captured>['io']) => runEvaluate(argv, io),
  'data-check': (argv: string[], io: ReturnType<typeof captured>['io']) => runDataCheck(argv, io),
  openapi: (argv: string[], io: ReturnType<typeof captured>['io']) => runOpenApi(argv, io),
};

t.test('every command prints its usage, options with defaults and exit codes on --help or -h, and exits 0', async (t) => {
  for (const [name, run] of Object.entries(COMMANDS)) {
    // Help wins over the rest of the command line, mistakes included: it is what a newcomer who got something wrong asks for.
    for (const argv of [['--help'], ['-h'], ['--bogus', '-h']]) {
      const { out, io } = captured();
      t.equal(await run(argv, io), 0, `${name} ${argv.join(' ')}`);
      t.match(out.stdout, new RegExp(`^usage: ${name} .*\\[--help\\]`), `${name}: the usage line first`);
      t.match(out.stdout, /\n(arguments and )?options:\n[^]*-h, --help +Print this help and exit\.\n/);
      t.match(out.stdout, /\nexit codes:\n {2}0 +\S/);
      t.equal(out.stderr, '');
    }
  }
});

t.test('evaluate --help names every option, its default and the gate exit code', async (t) => {
  const { out, io } = captured();
  await runEvaluate(['--help'], io);
  const help = unwrapped(out.stdout);
  t.match(help, /^usage: evaluate --prompts FILE \[--models A,B\] \[--scorer NAME\] .* \[--junit FILE\] \[--gate\] \[--gate-margin POINTS\] \[--gate-allow-no-interval\] \[--help\]\n/);
  t.match(help, /--prompts FILE +The prompt set: .*\(required\)\n/);
  t.match(help, /--models A,B +.*\(default: fine-tuned,baseline\)\n/);
  t.match(help, /--judge-samples N +.*\(default: 1\)\n/);
  t.match(help, /--concurrency N +.*\(1 to 64\)\. \(default: 8\)\n/);
  t.match(help, /--gate-margin POINTS +.*\(default: 0\)\n/);
  t.match(help, /\n {2}1 +the run failed\n {2}2 +a usage, configuration .*\n {2}3 +with --gate: .*significantly worse/);
});

t.test('data-check --help shows the operand and the defaults it prices with', async (t) => {
  const { out, io } = captured();
  await runDataCheck(['-h'], io);
  const help = unwrapped(out.stdout);
  t.match(help, /^usage: data-check \[--strict\] \[--json\] \[--epochs N\] \[--price-per-million USD\] \[--context-limit TOKENS\] \[--help\] FILE\.\.\.\n/);
  t.match(help, /\n {6}FILE\.\.\. +A JSONL fine-tuning file/);
  t.match(help, /--epochs N +.*\(default: 3\)\n/);
  t.match(help, /--price-per-million USD +.*\(default: 5\.00\)\n/);
  t.match(help, /--context-limit TOKENS +.*\(default: 65536\)\n/);
  t.match(help, /\n {2}2 +the command itself is wrong/);
});

t.test('openapi: an unknown option or argument exits 2 without writing; no argument writes the document', async (t) => {
  for (const argv of [['--bogus'], ['openapi.json']]) {
    const { out, io } = captured();
    t.equal(await runOpenApi(argv, io), 2, argv.join(' '));
    t.match(out.stderr, /^openapi: .*\nusage: openapi \[--help\]\n$/);
    t.equal(out.written.size, 0);
  }
  const { out, io } = captured();
  t.equal(await runOpenApi([], io), 0);
  t.match(JSON.parse(out.written.get(OPENAPI_PATH) ?? '{}'), { openapi: '3.1.0' });
  t.equal(out.stdout, `wrote ${OPENAPI_PATH}\n`);
});
