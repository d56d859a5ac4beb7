import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { runDataCheck, type DataCheckIo } from '../src/cli/data-check.js';
import {
  checkDataFile,
  checkDataFiles,
  formatDataCheckReport,
  type DataCheckReport,
  type FormatErrorKind,
} from '../src/data/check-data.js';
import { extractInquiry, normalizeInquiry } from '../src/data/normalize-inquiry.js';
import { billedTokensForExample, textTokens } from '../src/data/token-accounting.js';

const FIXTURES = 'test/fixtures/data-check';

type Message = { role?: string; content?: unknown; [key: string]: unknown };

const line = (messages: Message[], extra: Record<string, unknown> = {}) => JSON.stringify({ messages, ...extra });
const example = (inquiry: string, answer = 'Check Your Orders.', system = true) =>
  line([
    ...(system ? [{ role: 'system', content: 'Be kind.' }] : []),
    { role: 'user', content: `Inquiry: "${inquiry}"` },
    { role: 'assistant', content: answer },
  ]);
const jsonl = (...lines: string[]) => `${lines.join('\n')}\n`;

t.test('normalizeInquiry ignores case, punctuation, symbols, spacing and compatibility forms', async (t) => {
  t.equal(normalizeInquiry('  Where is   MY order?!\n'), 'where is my order');
  t.equal(normalizeInquiry('Ｗｈｅｒｅ ｉｓ my order？'), 'where is my order');
  t.equal(normalizeInquiry("Don't charge $5 — really?! 🙂"), 'dont charge 5 really');
  t.equal(normalizeInquiry('«Kindle»\t+ case'), 'kindle case');
  t.equal(normalizeInquiry('?!'), '');
});

t.test('extractInquiry unwraps the training template and tolerates rows without it', async (t) => {
  t.equal(extractInquiry('Inquiry: "Where is my order?"'), 'Where is my order?');
  t.equal(extractInquiry('  inquiry:   “Where is my order?”  '), 'Where is my order?');
  t.equal(extractInquiry('Inquiry: Where is my order?'), 'Where is my order?');
  t.equal(extractInquiry('  Where is my order?  '), 'Where is my order?');
  t.equal(extractInquiry('Inquiry: "He said "hi" twice"'), 'He said "hi" twice');
});

t.test('each kind of format error is reported with its line number', async (t) => {
  const cases: [FormatErrorKind, string][] = [
    ['invalid_json', '{"messages": ['],
    ['data_type', '["not", "an", "object"]'],
    ['data_type', 'null'],
    ['missing_messages_list', '{"messages": []}'],
    ['missing_messages_list', '{"messages": "hi"}'],
    ['unknown_top_level_key', example('Hi').replace(/}$/, ', "metadata": {}}')],
    ['message_missing_key', line([{ content: 'Hi' }, { role: 'assistant', content: 'Hello' }])],
    ['message_missing_key', line([{ role: 'user' }, { role: 'assistant', content: 'Hello' }])],
    ['message_missing_key', line(['Hi' as unknown as Message, { role: 'assistant', content: 'Hello' }])],
    ['message_unrecognized_key', line([{ role: 'user', content: 'Hi', mood: 'calm' }, { role: 'assistant', content: 'Hello' }])],
    ['unrecognized_role', line([{ role: 'customer', content: 'Hi' }, { role: 'assistant', content: 'Hello' }])],
    ['missing_content', line([{ role: 'user', content: null }, { role: 'assistant', content: 'Hello' }])],
    ['non_string_content', line([{ role: 'user', content: 42 }, { role: 'assistant', content: 'Hello' }])],
    ['empty_content', line([{ role: 'user', content: ' \t' }, { role: 'assistant', content: 'Hello' }])],
    ['example_missing_assistant_message', line([{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'Hi' }])],
  ];
  for (const [kind, bad] of cases) {
    // The blank line counts for line numbers but is not an example.
    const report = checkDataFile('train.jsonl', jsonl(example('Hi'), '', bad));
    t.same(report.format_errors, { [kind]: { count: 1, lines: [3] } }, `${kind}: ${bad}`);
    t.equal(report.examples, 2);
    t.equal(report.valid_examples, 1);
  }
});

t.test('a tool-calling assistant turn without text is valid', async (t) => {
  const toolCall = { id: 'call_1', type: 'function', function: { name: 'track', arguments: '{}' } };
  const report = checkDataFile(
    'train.jsonl',
    jsonl(
      line([
        { role: 'system', content: 'Be kind.' },
        { role: 'user', content: 'Where is my order?' },
        { role: 'assistant', content: null, tool_calls: [toolCall] },
        { role: 'tool', content: 'Shipped', tool_call_id: 'call_1' },
        { role: 'assistant', content: 'It has shipped.', weight: 1 },
      ]),
    ),
  );
  t.same(report.format_errors, {});
  t.equal(report.valid_examples, 1);
});

t.test('a byte-order mark and CRLF line endings are not format errors', async (t) => {
  const report = checkDataFile('train.jsonl', `\uFEFF${example('Hi')}\r\n${example('Bye')}\r\n`);
  t.same(report.format_errors, {});
  t.equal(report.valid_examples, 2);
});

t.test('stored line numbers are capped while the count stays exact', async (t) => {
  const report = checkDataFile('train.jsonl', jsonl(...Array.from({ length: 25 }, () => 'oops')));
  t.equal(report.format_errors.invalid_json?.count, 25);
  t.same(report.format_errors.invalid_json?.lines, Array.from({ length: 20 }, (_, index) => index + 1));
  t.equal(report.tokens, null, 'no valid example, no token figures');
  t.equal(report.billed_tokens_per_epoch, 0);
});

t.test('warnings: missing system message, duplicate and near-duplicate examples', async (t) => {
  const reordered = JSON.stringify({
    messages: [
      { content: 'Be kind.', role: 'system' },
      { content: 'Inquiry: "Where is my order?"', role: 'user' },
      { content: 'Check Your Orders.', role: 'assistant' },
    ],
  });
  const report = checkDataFile(
    'train.jsonl',
    jsonl(
      example('Where is my order?'),
      example('Can I return a Kindle?', 'Yes.', false),
      reordered,
      example('  where is MY order!!', 'Look in Your Orders.'),
      example('Does the Echo need Wi-Fi?'),
    ),
  );
  t.same(report.warnings.missing_system_message, { count: 1, lines: [2] });
  t.same(report.warnings.duplicate_example, { count: 1, pairs: [[1, 3]] }, 'key order does not matter');
  t.same(
    report.warnings.near_duplicate_inquiry,
    { count: 1, pairs: [{ lines: [1, 4], similarity: 1 }] },
    'an exact duplicate is not reported again as a near-duplicate',
  );
});

t.test('near-duplicate inquiries: one extra word in a long question is near, two are not', async (t) => {
  const base = 'how do i reset my kindle paperwhite after the latest update';
  const report = checkDataFile(
    'train.jsonl',
    jsonl(
      example(base),
      example('Is the Echo Dot waterproof?'),
      example(`${base} please`),
      example(`${base} again tonight`),
    ),
  );
  t.same(report.warnings.near_duplicate_inquiry.pairs, [{ lines: [1, 3], similarity: 0.917 }]);
});

const naiveNearDuplicateCount = (inquiries: readonly string[]) => {
  const firstIndex = new Map<string, number>();
  let pairs = 0;
  for (const inquiry of inquiries) {
    if (firstIndex.has(inquiry)) pairs += 1;
    else firstIndex.set(inquiry, firstIndex.size);
  }
  const sets = [...firstIndex.keys()].map((inquiry) => new Set(inquiry.split(' ')));
  for (let i = 0; i < sets.length; i += 1) {
    for (let j = i + 1; j < sets.length; j += 1) {
      const a = sets[i] ?? new Set<string>();
      const b = sets[j] ?? new Set<string>();
      const shared = [...a].filter((word) => b.has(word)).length;
      if (shared / (a.size + b.size - shared) >= 0.9) pairs += 1;
    }
  }
  return pairs;
};

t.test('the candidate search finds every near-duplicate pair a full comparison finds', async (t) => {
  const vocabulary = 'a b c d e f g h i j k l m n o'.split(' ');
  const inquiries = fc.array(fc.array(fc.constantFrom(...vocabulary), { minLength: 1, maxLength: 14 }), { maxLength: 40 });
  fc.assert(
    fc.property(inquiries, (words) => {
      const texts = words.map((list) => list.join(' '));
      const report = checkDataFile('train.jsonl', jsonl(...texts.map((text, index) => example(text, `Answer ${index}`))));
      return report.warnings.near_duplicate_inquiry.count === naiveNearDuplicateCount(texts);
    }),
    { numRuns: 200 },
  );
  t.pass('matches the quadratic comparison');
});

t.test('near-duplicate search stays fast on 10,000 examples', async (t) => {
  const word = (n: number) => `w${n.toString(36)}`;
  const lines = Array.from({ length: 10_000 }, (_, index) =>
    example(Array.from({ length: 12 }, (_, position) => word((index * 7919 + position * 104_729) % 50_000)).join(' '), `A${index}`),
  );
  const base = Array.from({ length: 12 }, (_, position) => word(position * 104_729 % 50_000)).join(' ');
  lines.push(example(`${base} ${word(49_999)}`, 'near line 1'));
  const started = performance.now();
  const report = checkDataFile('train.jsonl', jsonl(...lines));
  t.same(report.warnings.near_duplicate_inquiry.pairs, [{ lines: [1, 10_001], similarity: 0.923 }]);
  t.equal(report.valid_examples, 10_001);
  t.ok(performance.now() - started < 60_000, 'well under the test timeout');
});

t.test('billed tokens: 1 per example plus 3 + role + content tokens per message', async (t) => {
  // Hand-checked o200k_base counts; every role name is a single token.
  t.equal(textTokens('system'), 1);
  t.equal(textTokens('user'), 1);
  t.equal(textTokens('assistant'), 1);
  t.equal(textTokens('Be kind.'), 3);
  t.equal(textTokens('Hi'), 1);
  t.equal(textTokens('Hello!'), 2);
  const messages = [
    { role: 'system', content: 'Be kind.' },
    { role: 'user', content: 'Hi' },
    { role: 'assistant', content: 'Hello!' },
  ];
  const billed = billedTokensForExample(messages);
  t.equal(billed, 1 + (3 + 1 + 3) + (3 + 1 + 1) + (3 + 1 + 2));
  t.equal(billed, 19);
  const cookbookEstimate = 3 + (3 + 1 + 3) + (3 + 1 + 1) + (3 + 1 + 2);
  t.equal(cookbookEstimate - billed, 2, 'the cookbook estimate overcounts each example by 2');

  t.equal(billedTokensForExample([{ role: 'user', content: 'a <|endoftext|> b' }]), 1 + 3 + 1 + 9, 'special tokens are plain text');

  const content = jsonl(line(messages), line(messages), 'not json');
  const report = checkDataFile('train.jsonl', content);
  t.same(report.tokens, { min: 19, mean: 19, p95: 19, max: 19, total: 38 }, 'the invalid line is left out');
  t.same(report.assistant_tokens, { total: 4, mean: 2 });
  t.equal(report.billed_tokens_per_epoch, 38);
  t.equal(report.epochs, 3);
  t.equal(report.estimated_billed_tokens, 114);
  t.equal(report.estimated_cost_usd, 0.00057);

  const custom = checkDataFile('train.jsonl', content, { epochs: 2, pricePerMillionTokens: 25 });
  t.equal(custom.estimated_billed_tokens, 76);
  t.equal(custom.estimated_cost_usd, 0.0019);
});

t.test('token statistics use nearest-rank p95', async (t) => {
  const lengths = Array.from({ length: 20 }, (_, index) => 'word '.repeat(index + 1).trim());
  const report = checkDataFile('train.jsonl', jsonl(...lengths.map((answer) => example('Hi', answer))));
  const overhead = 1 + (3 + 1 + 3) + (3 + 1 + textTokens('Inquiry: "Hi"')) + (3 + 1);
  t.equal(report.tokens?.min, overhead + 1);
  t.equal(report.tokens?.p95, overhead + 19);
  t.equal(report.tokens?.max, overhead + 20);
  t.equal(report.tokens?.mean, overhead + 10.5);
});

t.test('examples over the context limit are warned about', async (t) => {
  const messages = [
    { role: 'system', content: 'Be kind.' },
    { role: 'user', content: 'Hi' },
    { role: 'assistant', content: 'Hello!' },
  ];
  const content = jsonl(line(messages), example('A much longer question about a Kindle order'));
  t.same(checkDataFile('train.jsonl', content, { contextLimit: 19 }).warnings.over_context_limit, { count: 1, lines: [2] });
  t.same(checkDataFile('train.jsonl', content, { contextLimit: 18 }).warnings.over_context_limit, { count: 2, lines: [1, 2] });
  t.same(checkDataFile('train.jsonl', content).warnings.over_context_limit, { count: 0, lines: [] });
});

t.test('leakage: validation inquiries that occur in training, compared after normalising', async (t) => {
  const report = checkDataFiles([
    { name: 'data/val.jsonl', content: jsonl(example('Is the Echo waterproof?'), example('  WHERE is my order!! ')) },
    { name: 'data/train.jsonl', content: jsonl(example('Can I return a Kindle?'), example('Where is my order?')) },
    { name: 'data/notes.jsonl', content: jsonl(example('Where is my order?')) },
  ]);
  t.equal(report.ok, true);
  t.same(report.leakage, {
    training_file: 'data/train.jsonl',
    validation_files: ['data/val.jsonl'],
    count: 1,
    examples: [{ validation_file: 'data/val.jsonl', validation_line: 2, training_line: 2, inquiry: 'where is my order' }],
  });
});

t.test('leakage roles come from file names, not folders; without a training name the first file trains', async (t) => {
  const files = (names: string[]) => names.map((name) => ({ name, content: jsonl(example('Where is my order?')) }));
  const byName = checkDataFiles(files(['test/fixtures/extra.jsonl', 'test/fixtures/train.jsonl', 'test/fixtures/valid.jsonl']));
  t.equal(byName.leakage.training_file, 'test/fixtures/train.jsonl');
  t.same(byName.leakage.validation_files, ['test/fixtures/valid.jsonl']);

  const unnamed = checkDataFiles(files(['a.jsonl', 'b.jsonl', 'c.jsonl']));
  t.equal(unnamed.leakage.training_file, 'a.jsonl');
  t.same(
    unnamed.leakage.examples.map((leak) => [leak.validation_file, leak.training_line]),
    [['b.jsonl', 1], ['c.jsonl', 1]],
  );

  const single = checkDataFiles(files(['train.jsonl']));
  t.same(single.leakage, { training_file: null, validation_files: [], count: 0, examples: [] });
  t.match(formatDataCheckReport(single), /leakage: not checked/);
});

t.test('the readable report shows errors, warnings, tokens, billing and leakage', async (t) => {
  const names = ['train.jsonl', 'val.jsonl', 'broken.jsonl'];
  const files = await Promise.all(names.map(async (name) => ({ name, content: await readFile(join(FIXTURES, name), 'utf8') })));
  const report = checkDataFiles(files);
  t.equal(report.ok, false);
  const text = formatDataCheckReport(report);
  t.match(text, /^train\.jsonl\n {2}examples +5 \(5 valid\)\n {2}format errors +none/);
  t.match(text, /missing_system_message +1 +line 5\n/);
  t.match(text, /near_duplicate_inquiry +1 +lines 1 & 4\n/);
  t.match(text, /tokens per example +min +mean +p95 +max +total\n +36 +42\.8 +50 +50 +214\n/);
  t.match(text, /billed tokens +214 per epoch × 3 epochs = 642\n/);
  t.match(text, /estimated cost +\$0\.0032 at \$5\.00 per 1M training tokens/);
  t.match(text, /invalid_json +1 +line 2\n/);
  t.match(text, /example_missing_assistant_message +1 +line 3\n/);
  t.match(text, /leakage: 1 validation example whose inquiry occurs in train\.jsonl \(checked val\.jsonl\)\n {2}val\.jsonl:1 += +train\.jsonl:1 +"where is my order"/);
  t.match(text, /FAILED/);

  const many = checkDataFile('train.jsonl', jsonl(...Array.from({ length: 30 }, () => example('Hi', 'Same.', false))));
  const manyText = formatDataCheckReport({ files: [many], ok: true, leakage: { training_file: null, validation_files: [], count: 0, examples: [] } });
  t.match(manyText, /missing_system_message +30 +lines 1, 2, .*, 20 … \(\+10 more\)/);
  t.match(manyText, /duplicate_example +29 +lines 1 & 2, .* … \(\+9 more\)/);
});

t.test('the leakage list is shortened in the readable report only', async (t) => {
  const inquiries = Array.from({ length: 60 }, (_, index) => example(`Question number ${index}`));
  const report = checkDataFiles([
    { name: 'train.jsonl', content: jsonl(...inquiries) },
    { name: 'val.jsonl', content: jsonl(...inquiries) },
  ]);
  t.equal(report.leakage.examples.length, 60);
  t.match(formatDataCheckReport(report), /… \(\+10 more\)\n\nOK/);
});

const fakeIo = (files: Record<string, string>) => {
  const output = { stdout: '', stderr: '' };
  const io: DataCheckIo = {
    stdout: (text) => {
      output.stdout += text;
    },
    stderr: (text) => {
      output.stderr += text;
    },
    readFile: async (path) => {
      const content = files[path];
      if (content === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
      return content;
    },
  };
  return { io, output };
};

t.test('runDataCheck: --json prints the whole report and format errors exit 1', async (t) => {
  const { io, output } = fakeIo({ 'train.jsonl': jsonl(example('Hi'), 'not json') });
  t.equal(await runDataCheck(['--json', '--epochs', '4', '--price-per-million', '2.5', 'train.jsonl'], io), 1);
  const report = JSON.parse(output.stdout) as DataCheckReport;
  t.equal(report.ok, false);
  t.same(report.files[0]?.format_errors, { invalid_json: { count: 1, lines: [2] } });
  t.equal(report.files[0]?.epochs, 4);
  t.equal(report.files[0]?.price_per_million_tokens, 2.5);
  t.equal(output.stderr, '');
});

t.test('runDataCheck: a clean file exits 0 with the readable report', async (t) => {
  const { io, output } = fakeIo({ 'train.jsonl': jsonl(example('Hi')) });
  t.equal(await runDataCheck(['--context-limit', '10', 'train.jsonl'], io), 0);
  t.match(output.stdout, /over_context_limit +1 +line 1/);
  t.match(output.stdout, /OK: no format errors/);
});

t.test('runDataCheck: usage errors exit 2 with a one-line message', async (t) => {
  const usageErrors: [string[], RegExp][] = [
    [[], /no data files given/],
    [['--epochs', 'three', 'train.jsonl'], /--epochs: expected a non-negative number \(got "three"\)/],
    [['--epochs', '0', 'train.jsonl'], /--epochs: .*>=1/],
    [['--epochs', '2.5', 'train.jsonl'], /--epochs: .*expected int/],
    [['--price-per-million', '-1', 'train.jsonl'], /--price-per-million/],
    [['--context-limit', '', 'train.jsonl'], /--context-limit/],
    [['--verbose', 'train.jsonl'], /Unknown option '--verbose'/],
    [['missing.jsonl'], /cannot read missing\.jsonl: ENOENT/],
  ];
  for (const [argv, message] of usageErrors) {
    const { io, output } = fakeIo({ 'train.jsonl': jsonl(example('Hi')) });
    t.equal(await runDataCheck(argv, io), 2, argv.join(' '));
    t.match(output.stderr, message);
    t.match(output.stderr, /^data-check: [^\n]*\n$/);
    t.equal(output.stdout, '');
  }
});

t.test('runDataCheck: unexpected failures are not disguised as usage errors', async (t) => {
  const io: DataCheckIo = {
    stdout: () => {
      throw new Error('stdout closed');
    },
    stderr: () => {},
    readFile: async () => jsonl(example('Hi')),
  };
  await t.rejects(runDataCheck(['train.jsonl'], io), /stdout closed/);
});

t.test('the command exits 0, 1 and 2 as a process', async (t) => {
  const dir = t.testdir({ 'train.jsonl': jsonl(example('Hi')), 'broken.jsonl': jsonl('not json') });
  const run = (...args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      // The test's own loader (process.execArgv), so the child's coverage maps onto the same compiled source.
      const child = spawn(process.execPath, [...process.execArgv, 'src/cli/data-check.ts', ...args]);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
  const [good, broken, unreadable] = await Promise.all([
    run(join(dir, 'train.jsonl')),
    run('--json', join(dir, 'broken.jsonl')),
    run(join(dir, 'absent.jsonl')),
  ]);

  t.equal(good.status, 0, good.stderr);
  t.match(good.stdout, /OK: no format errors/);

  t.equal(broken.status, 1);
  t.equal((JSON.parse(broken.stdout) as DataCheckReport).ok, false);

  t.equal(unreadable.status, 2);
  t.match(unreadable.stderr, /^data-check: cannot read .*absent\.jsonl/);
  t.notMatch(unreadable.stderr, /\n\s+at /, 'no stack trace');
});
