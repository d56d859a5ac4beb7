import { parseArgs } from 'node:util';

/** A mistake in the command itself: a one-line reason and exit code 2, never a stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface CommandOption {
  /** The long name, without the dashes. */
  name: string;
  short?: string;
  /** The value's placeholder in the help, e.g. "FILE"; an option without one is a flag. */
  value?: string;
  description: string;
  /** The default as the help shows it. */
  default?: string;
  required?: boolean;
}

/** Everything `--help` says about a command; the parser takes its options from the same list. */
export interface CommandHelp {
  name: string;
  /** What the command does, in a sentence or two. */
  purpose: string;
  options: readonly CommandOption[];
  /** Positional arguments, as the usage line shows them ("FILE..."), and what they are. */
  operands?: { synopsis: string; description: string };
  exitCodes: readonly (readonly [code: number, meaning: string])[];
}

const HELP_OPTION: CommandOption = { name: 'help', short: 'h', description: 'Print this help and exit.' };

const flagOf = (option: CommandOption) => `--${option.name}${option.value ? ` ${option.value}` : ''}`;

/** "usage: evaluate --prompts FILE [--models A,B] ... [--help]": what a usage error repeats. */
export function usageLine(help: CommandHelp): string {
  const words = [...help.options, HELP_OPTION].map((option) => (option.required ? flagOf(option) : `[${flagOf(option)}]`));
  if (help.operands) words.push(help.operands.synopsis);
  return `usage: ${help.name} ${words.join(' ')}`;
}

// Terminals and CI logs are often 100 columns wide or more; an option's text wraps under itself.
const LINE_WIDTH = 100;

function wrap(text: string, indent: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && indent + line.length + 1 + word.length > LINE_WIDTH) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

/** Two columns: the names (or exit code) at two spaces in, the text wrapped beside them. */
function table(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...rows.map(([names]) => names.length)) + 2;
  return rows.map(([names, text]) => `  ${names.padEnd(width)}${wrap(text, width + 2)}`);
}

export function helpText(help: CommandHelp): string {
  const rows: (readonly [string, string])[] = [...help.options, HELP_OPTION].map((option) => {
    const names = `${option.short ? `-${option.short}, ` : '    '}${flagOf(option)}`;
    const notes = [option.required ? 'required' : undefined, option.default === undefined ? undefined : `default: ${option.default}`].filter(Boolean);
    return [names, `${option.description}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`];
  });
  if (help.operands) rows.unshift([`    ${help.operands.synopsis}`, help.operands.description]);
  return [
    usageLine(help),
    '',
    wrap(help.purpose, 0),
    '',
    help.operands ? 'arguments and options:' : 'options:',
    ...table(rows),
    '',
    'exit codes:',
    ...table(help.exitCodes.map(([code, meaning]) => [String(code), meaning])),
    '',
  ].join('\n');
}

/** Before the `--` that ends the options: help is given even when the rest of the command is wrong. */
export function asksForHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

/**
 * parseArgs calls `--gate-margin -0.1` ambiguous (the value looks like an option); a negative number
 * after an option that takes a value is that value, as `--gate-margin=-0.1` would say.
 */
function joinNegativeValues(argv: readonly string[], takesValue: ReadonlySet<string>): string[] {
  const joined: string[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index] as string;
    const next = argv[index + 1];
    if (arg === '--') return [...joined, ...argv.slice(index)];
    if (arg.startsWith('--') && takesValue.has(arg.slice(2)) && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      index += 1;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

/** The command's options as strings (flags as booleans) and its operands; any mistake is a one-line UsageError. */
export function parseCommandOptions(argv: readonly string[], help: CommandHelp) {
  const options = Object.fromEntries(
    help.options.map((option) => [option.name, { type: option.value ? ('string' as const) : ('boolean' as const), ...(option.short ? { short: option.short } : {}) }]),
  );
  const takesValue = new Set(help.options.filter((option) => option.value).map((option) => option.name));
  try {
    const { values, positionals } = parseArgs({ args: joinNegativeValues(argv, takesValue), options, allowPositionals: Boolean(help.operands) });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (error) {
    // parseArgs explains some mistakes over several lines; a usage error stays one line.
    throw new UsageError((error as Error).message.replace(/\s+/g, ' ').trim());
  }
}
