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
  type FineTuningFileReport,
  type FormatErrorKind,
  type PromptSetReport,
} from '../src/data/check-data.js';
import { inquirySimilarity, NEAR_DUPLICATE_THRESHOLD } from '../src/data/near-duplicate.js';
import { extractInquiry, normalizeInquiry } from '../src/data/normalize-inquiry.js';
import { billedTokensForExample, textTokens } from '../src/data/token-accounting.js';
import { seededRandom } from './helpers/seeded-random.js';

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

t.test('an example without a user turn or without assistant text is left out of the inquiry and answer checks', async (t) => {
  const toolCall = { id: 'call_1', type: 'function', function: { name: 'track', arguments: '{}' } };
  const noUser = line([{ role: 'system', content: 'Be kind.' }, { role: 'assistant', content: 'Hello!' }]);
  const toolsOnly = line([
    { role: 'user', content: 'Where is my order?' },
    { role: 'assistant', content: null, tool_calls: [toolCall] },
  ]);
  const report = checkDataFiles([
    { name: 'train.jsonl', content: jsonl(noUser, noUser.replace('Be kind.', 'Be brief.'), toolsOnly, toolsOnly.replace('track', 'locate')) },
    { name: 'val.jsonl', content: jsonl(noUser.replace('Be kind.', 'Be warm.'), example('Where is my order?', 'Check Your Orders.')) },
  ]);
  t.equal(report.ok, true);
  t.same(report.files[0]?.warnings.near_duplicate_inquiry, { count: 1, pairs: [{ lines: [3, 4], similarity: 1 }] }, 'no inquiry, no pair');
  t.same(report.leakage.items.map(({ kind, line }) => [kind, line]), [['same_answer', 1], ['exact', 2]], 'no inquiry, but the answer still leaks');
  t.same(report.paraphrase_clusters.groups.map((group) => group.members.map((member) => member.line)), [[1, 2, 1]], 'no answer, no group');
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
  t.match(formatDataCheckReport(checkDataFiles([{ name: 'train.jsonl', content: 'oops\n' }])), /tokens per example +no valid examples\n/);
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

t.test('near-duplicate inquiries use the one measure: filler changes nothing, one more word in five is near, two are not', async (t) => {
  const base = 'how do i reset my kindle paperwhite after the latest update';
  const report = checkDataFile(
    'train.jsonl',
    jsonl(
      example(base, 'A1'),
      example('Is the Echo Dot waterproof?', 'A2'),
      example(`${base} please`, 'A3'),
      example(`${base} again`, 'A4'),
      example(`${base} again tonight`, 'A5'),
    ),
  );
  t.same(report.warnings.near_duplicate_inquiry.pairs, [
    { lines: [1, 3], similarity: 1 },
    { lines: [1, 4], similarity: 0.833 },
    { lines: [3, 4], similarity: 0.833 },
    { lines: [4, 5], similarity: 0.857 },
  ]);
  t.equal(inquirySimilarity(base, `${base} again tonight`) < NEAR_DUPLICATE_THRESHOLD, true, 'lines 1 and 5: 5 of 7 terms');
  t.match(
    formatDataCheckReport(checkDataFiles([{ name: 'train.jsonl', content: jsonl(example(base), example(`${base} again`, 'Other.')) }])),
    /near_duplicate_inquiry +1 +lines 1 & 2 \(0\.833\)\n/,
  );
});

const naiveNearDuplicateCount = (inquiries: readonly string[]) => {
  const firstIndex = new Map<string, number>();
  let pairs = 0;
  for (const inquiry of inquiries) {
    if (normalizeInquiry(inquiry) === '') continue;
    if (firstIndex.has(normalizeInquiry(inquiry))) pairs += 1;
    else firstIndex.set(normalizeInquiry(inquiry), firstIndex.size);
  }
  const distinct = [...firstIndex.keys()];
  for (let i = 0; i < distinct.length; i += 1) {
    for (let j = i + 1; j < distinct.length; j += 1) {
      if (inquirySimilarity(distinct[i] as string, distinct[j] as string) >= NEAR_DUPLICATE_THRESHOLD) pairs += 1;
    }
  }
  return pairs;
};

t.test('the candidate search finds every near-duplicate pair a full comparison finds', async (t) => {
  // Letters (some of them stopwords) and long words one typo apart.
  const vocabulary = 'a b c d e f g h i j k l m n o bqzkwt bqzkwx bqzktw'.split(' ');
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
  const random = seededRandom(7);
  const word = () => `w${Math.floor(random() * 50_000).toString(36)}`;
  const inquiries = Array.from({ length: 10_000 }, () => Array.from({ length: 12 }, word).join(' '));
  const lines = inquiries.map((inquiry, index) => example(inquiry, `A${index}`));
  lines.push(example(`${inquiries[0]} extra`, 'near line 1'));
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

const noLeakage = { exact: 0, near: 0, same_answer: 0 };

t.test('leakage: validation inquiries that occur in training, compared after normalising', async (t) => {
  const report = checkDataFiles([
    { name: 'data/val.jsonl', content: jsonl(example('Is the Echo waterproof?', 'IPX4.'), example('  WHERE is my order!! ', 'Look in Your Orders.')) },
    { name: 'data/train.jsonl', content: jsonl(example('Can I return a Kindle?', 'Yes.'), example('Where is my order?')) },
    { name: 'data/notes.jsonl', content: jsonl(example('Where is my order?')) },
  ]);
  t.equal(report.ok, true);
  t.equal(report.strict_ok, false);
  t.same(report.leakage, {
    training_file: 'data/train.jsonl',
    checked_files: ['data/val.jsonl'],
    checked: { validation: 2, evaluation: 0 },
    count: 1,
    by_kind: { ...noLeakage, exact: 1 },
    items: [
      {
        kind: 'exact',
        role: 'validation',
        file: 'data/val.jsonl',
        line: 2,
        item: null,
        id: null,
        inquiry: 'WHERE is my order!!',
        training_line: 2,
        training_inquiry: 'Where is my order?',
        similarity: 1,
      },
    ],
  });
  t.same(report.files.map((file) => [file.role, file.training_overlap]), [
    ['validation', { ...noLeakage, exact: 1 }],
    ['training', null],
    [null, null],
  ]);
});

t.test('leakage: a paraphrase is near, a copied answer is same_answer, each item listed once by its strongest kind', async (t) => {
  const report = checkDataFiles([
    {
      name: 'train.jsonl',
      content: jsonl(
        example('How do I set up a new Wi-Fi router from Amazon?', 'Open the app and follow the steps.'),
        example('Where is my order?', 'Check Your Orders.'),
      ),
    },
    {
      name: 'val.jsonl',
      content: jsonl(
        example('How do I set up a new Wi-Fi 6 router?', 'Use the app.'),
        example('Is my parcel lost?', '  check your   ORDERS. '),
        example('Where is my order?', 'Check Your Orders.'),
        example('Can I pay with PayPal?', 'Yes.'),
      ),
    },
  ]);
  t.same(
    report.leakage.items.map(({ kind, line, training_line, similarity }) => ({ kind, line, training_line, similarity })),
    [
      { kind: 'near', line: 1, training_line: 1, similarity: 0.8 },
      { kind: 'same_answer', line: 2, training_line: 2, similarity: 0 },
      { kind: 'exact', line: 3, training_line: 2, similarity: 1 },
    ],
  );
  t.same(report.leakage.by_kind, { exact: 1, near: 1, same_answer: 1 });
  t.same(report.files[1]?.training_overlap, { exact: 1, near: 1, same_answer: 1 });
  const text = formatDataCheckReport(report);
  t.match(text, /val\.jsonl:1 +near 0\.800 +train\.jsonl:1 +"How do I set up a new Wi-Fi 6 router\?" +~ +"How do I set up a new Wi-Fi router from Amazon\?"/);
  t.match(text, /val\.jsonl:2 +same answer +train\.jsonl:2 +"Is my parcel lost\?"/);
  t.match(text, /WARNING: 3 of 4 validation examples leak from training \(exact 1, near 1, same answer 1\)/);
});

t.test('leakage roles come from file names, not folders; without a training name the first file trains', async (t) => {
  const files = (names: string[]) => names.map((name) => ({ name, content: jsonl(example('Where is my order?')) }));
  const byName = checkDataFiles(files(['test/fixtures/extra.jsonl', 'test/fixtures/train.jsonl', 'test/fixtures/valid.jsonl']));
  t.equal(byName.leakage.training_file, 'test/fixtures/train.jsonl');
  t.same(byName.leakage.checked_files, ['test/fixtures/valid.jsonl']);

  const unnamed = checkDataFiles(files(['a.jsonl', 'b.jsonl', 'c.jsonl']));
  t.equal(unnamed.leakage.training_file, 'a.jsonl');
  t.same(
    unnamed.leakage.items.map((leak) => [leak.file, leak.training_line]),
    [['b.jsonl', 1], ['c.jsonl', 1]],
  );

  const single = checkDataFiles(files(['train.jsonl']));
  t.same(single.leakage, { training_file: null, checked_files: [], checked: { validation: 0, evaluation: 0 }, count: 0, by_kind: noLeakage, items: [] });
  t.match(formatDataCheckReport(single), /leakage: not checked/);
  t.match(formatDataCheckReport(single), /OK: no format errors\n$/);

  const promptSetsOnly = checkDataFiles([{ name: 'train_prompts.json', content: '["Where is my order?"]' }]);
  t.equal(promptSetsOnly.leakage.training_file, null, 'a prompt set never trains, whatever its name');
  t.equal(promptSetsOnly.files[0]?.role, 'evaluation');
  t.equal(promptSetsOnly.files[0]?.training_overlap, null);
});

t.test('a prompt set is an evaluation file: its items, its overlap with training, and no token figures', async (t) => {
  const names = ['data-check/train.jsonl', 'data-check-eval.json'];
  const files = await Promise.all(names.map(async (name) => ({ name, content: await readFile(join('test/fixtures', name), 'utf8') })));
  const report = checkDataFiles(files);
  const promptSet = report.files[1] as PromptSetReport;
  t.match(promptSet, { kind: 'prompt_set', role: 'evaluation', items: 3, valid_items: 3, format_errors: { count: 0, issues: [] } });
  t.notOk('tokens' in promptSet, 'token and cost figures are for JSONL fine-tuning files only');
  t.same(promptSet.training_overlap, { exact: 0, near: 1, same_answer: 1 });
  t.match(report.leakage.items, [
    { kind: 'near', role: 'evaluation', file: 'data-check-eval.json', line: null, item: 1, id: 'fx-1', training_line: 5, similarity: 1 },
    { kind: 'same_answer', item: 3, id: 'fx-3', training_line: 2 },
  ]);
  t.same(report.leakage.checked, { validation: 0, evaluation: 3 });
  const text = formatDataCheckReport(report);
  t.match(text, /data-check-eval\.json {2}\(evaluation\)\n {2}items +3 \(3 valid\)\n {2}format errors +none\n {2}warnings\n {4}near_duplicate_inquiry +0\n {2}training overlap +exact 0, near 1, same answer 1\n/);
  t.match(text, /data-check-eval\.json item 1 \(fx-1\) +near 1\.000 +data-check\/train\.jsonl:5 +"how can I reset the remote/);
  t.match(text, /WARNING: 2 of 3 evaluation items leak from training \(exact 0, near 1, same answer 1\)/);
});

t.test('a malformed prompt set is a format error naming the zod path, never a crash', async (t) => {
  const report = checkDataFiles([
    { name: 'train.jsonl', content: jsonl(example('Where is my order?')) },
    { name: 'bad.json', content: JSON.stringify([{ inquiry: '' }, 42, { inquiry: 'where is my order', note: 'x' }, 'How do I return a Kindle?', 'how do i return a kindle']) },
    { name: 'broken.json', content: '{"not": "closed"' },
    { name: 'object.json', content: '{"inquiry": "Where is my order?"}' },
  ]);
  t.equal(report.ok, false);
  const [, bad, broken, object] = report.files as PromptSetReport[];
  t.same(bad?.format_errors.issues.map(({ kind, path }) => [kind, path]), [
    ['invalid_prompt_set', '0.inquiry'],
    ['invalid_prompt_set', '1'],
    ['invalid_prompt_set', '2'],
  ]);
  t.match(bad, { items: 5, valid_items: 2, warnings: { near_duplicate_inquiry: { count: 1, pairs: [{ lines: [4, 5], similarity: 1 }] } } });
  t.same(report.leakage.items, [], 'the valid items are still checked; the invalid ones cannot leak');
  t.match(broken, { items: 0, valid_items: 0, format_errors: { count: 1, issues: [{ kind: 'invalid_json', path: '' }] } });
  t.match(object?.format_errors.issues, [{ kind: 'invalid_prompt_set', path: '', message: /expected array/ }]);
  const text = formatDataCheckReport(report);
  t.match(text, /invalid_prompt_set +0\.inquiry: inquiry must not be empty\n/);
  t.match(text, /invalid_json +\(root\): /);
  t.match(text, /near_duplicate_inquiry +1 +items 4 & 5\n/);
  t.match(text, /FAILED: fix the format errors before uploading\n$/);

  const nothing = checkDataFiles([
    { name: 'train.jsonl', content: jsonl(example('Where is my order?')) },
    { name: 'broken.json', content: '[' },
  ]);
  t.match(formatDataCheckReport(nothing), /leakage from train\.jsonl \(near: inquiry similarity ≥ 0\.8\): nothing to check \(no valid validation example or evaluation item\)\n/);
  const withoutId = checkDataFiles([
    { name: 'train.jsonl', content: jsonl(example('Where is my order?')) },
    { name: 'eval.json', content: JSON.stringify(['Is the Echo waterproof?', 'where is my order']) },
  ]);
  t.match(formatDataCheckReport(withoutId), /\n {2}eval\.json item 2 +exact +train\.jsonl:1 +"where is my order"\n/, 'a string item has no id');

  const many = checkDataFiles([{ name: 'many.json', content: JSON.stringify(Array.from({ length: 25 }, () => 7)) }]);
  t.equal((many.files[0] as PromptSetReport).format_errors.count, 25);
  t.equal((many.files[0] as PromptSetReport).format_errors.issues.length, 20);
  t.match(formatDataCheckReport(many), / {4}… \(\+5 more\)\n/);
});

t.test('paraphrase clusters: one answer taught for several inquiries, in training and across files', async (t) => {
  const report = checkDataFiles([
    {
      name: 'train.jsonl',
      content: jsonl(
        example('How do I track my package?', 'Open Your Orders and select Track package.'),
        example('Where is my parcel?', 'open your orders  and select TRACK package.'),
        example('Is my Echo waterproof?', 'No.'),
        example('Can I follow my delivery on a map?', 'Open Your Orders and select Track package.'),
      ),
    },
    { name: 'eval.json', content: JSON.stringify([{ id: 'e1', inquiry: 'Can I return a TV?', reference: 'No.' }, 'Where is my package?']) },
  ]);
  t.same(report.paraphrase_clusters, {
    count: 2,
    groups: [
      {
        answer: 'Open Your Orders and select Track package.',
        training: 3,
        other: 0,
        members: [
          { file: 'train.jsonl', line: 1, item: null, id: null, inquiry: 'How do I track my package?' },
          { file: 'train.jsonl', line: 2, item: null, id: null, inquiry: 'Where is my parcel?' },
          { file: 'train.jsonl', line: 4, item: null, id: null, inquiry: 'Can I follow my delivery on a map?' },
        ],
      },
      {
        answer: 'No.',
        training: 1,
        other: 1,
        members: [
          { file: 'train.jsonl', line: 3, item: null, id: null, inquiry: 'Is my Echo waterproof?' },
          { file: 'eval.json', line: null, item: 1, id: 'e1', inquiry: 'Can I return a TV?' },
        ],
      },
    ],
  });
  t.match(report.leakage.items, [{ kind: 'same_answer', item: 1, id: 'e1', training_line: 3 }]);
  const text = formatDataCheckReport(report);
  t.match(text, /paraphrase clusters: 2 answers given for several inquiries\n {2}"Open Your Orders and select Track package\." {2}\(3 in training\)\n {4}train\.jsonl:1 {2}"How do I track my package\?"\n/);
  t.match(text, / {2}"No\." {2}\(1 in training, 1 in validation or evaluation\)\n {4}train\.jsonl:3 {2}"Is my Echo waterproof\?"\n {4}eval\.json item 1 \(e1\) {2}"Can I return a TV\?"/);

  const many = checkDataFiles([{ name: 'train.jsonl', content: jsonl(...Array.from({ length: 30 }, (_, index) => example(`Question ${index}`, `Answer ${index % 12}`))) }]);
  t.equal(many.paraphrase_clusters.count, 12);
  t.match(many.paraphrase_clusters.groups[0], { training: 3, members: { length: 3 } });
  const manyText = formatDataCheckReport(many);
  t.match(manyText, /paraphrase clusters: 12 answers given for several inquiries\n/);
  t.match(manyText, /\n {2}… \(\+2 more\)\n\nOK/, 'ten groups are shown');
  const large = checkDataFiles([{ name: 'train.jsonl', content: jsonl(...Array.from({ length: 12 }, (_, index) => example(`Question ${index}`, 'Same.'))) }]);
  t.equal(large.paraphrase_clusters.groups[0]?.members.length, 10);
  t.match(formatDataCheckReport(large), / {4}… \(\+2 more\)\n/);
  t.match(formatDataCheckReport(checkDataFiles([{ name: 'train.jsonl', content: jsonl(example('Hi', 'A'), example('Bye', 'B')) }])), /paraphrase clusters: none/);
});

t.test('the readable report shows errors, warnings, tokens, billing and leakage', async (t) => {
  const names = ['train.jsonl', 'val.jsonl', 'broken.jsonl'];
  const files = await Promise.all(names.map(async (name) => ({ name, content: await readFile(join(FIXTURES, name), 'utf8') })));
  const report = checkDataFiles(files);
  t.equal(report.ok, false);
  const text = formatDataCheckReport(report);
  t.match(text, /^train\.jsonl {2}\(training\)\n {2}examples +5 \(5 valid\)\n {2}format errors +none/);
  t.match(text, /missing_system_message +1 +line 5\n/);
  t.match(text, /near_duplicate_inquiry +1 +lines 1 & 4\n/);
  t.match(text, /tokens per example +min +mean +p95 +max +total\n +36 +42\.8 +50 +50 +214\n/);
  t.match(text, /billed tokens +214 per epoch × 3 epochs = 642\n/);
  t.match(text, /estimated cost +\$0\.0032 at \$5\.00 per 1M training tokens/);
  t.match(text, /val\.jsonl {2}\(validation\)\n/);
  t.match(text, /training overlap +exact 1, near 0, same answer 0\n/);
  t.match(text, /^broken\.jsonl\n/m, 'a file with no role has no role in its heading');
  t.match(text, /invalid_json +1 +line 2\n/);
  t.match(text, /example_missing_assistant_message +1 +line 3\n/);
  t.match(text, /leakage from train\.jsonl \(near: inquiry similarity ≥ 0\.8\): 1 of 2 validation examples leaks from training \(exact 1, near 0\)\n {2}val\.jsonl:1 +exact +train\.jsonl:1 +"Where is my order!!"\n/);
  t.match(text, /WARNING: 1 of 2 validation examples leaks from training \(exact 1, near 0\)\.\nFAILED: fix the format errors before uploading\n$/);

  const many = checkDataFiles([{ name: 'train.jsonl', content: jsonl(...Array.from({ length: 30 }, () => example('Hi', 'Same.', false))) }]);
  const manyText = formatDataCheckReport(many);
  t.match(manyText, /missing_system_message +30 +lines 1, 2, .*, 20 … \(\+10 more\)/);
  t.match(manyText, /duplicate_example +29 +lines 1 & 2, .* … \(\+9 more\)/);
});

t.test('the leakage list is shortened in the readable report only, and leakage is never OK', async (t) => {
  const inquiries = Array.from({ length: 60 }, (_, index) => example(`Question number ${index}`, `Answer ${index}`));
  const report = checkDataFiles([
    { name: 'train.jsonl', content: jsonl(...inquiries) },
    { name: 'val.jsonl', content: jsonl(...inquiries) },
  ]);
  t.equal(report.leakage.items.length, 60);
  const text = formatDataCheckReport(report);
  t.match(text, /… \(\+10 more\)\n\nparaphrase clusters/);
  t.notMatch(text, /OK/);
  t.match(text, /\n\nWARNING: 60 of 60 validation examples leak from training \(exact 60, near 0\); scores on them flatter the fine-tune\. Use --strict to fail on this\.\n$/);
  t.match(formatDataCheckReport(report, { strict: true }), /\n\nFAILED \(--strict\): 60 of 60 validation examples leak from training \(exact 60, near 0\)\n$/);
});

t.test('--strict also fails on a file that repeats itself, without leakage', async (t) => {
  const report = checkDataFiles([
    { name: 'train.jsonl', content: jsonl(example('Where is my order?'), example('Where is my order?'), example('Is the Echo waterproof?', 'No.')) },
    { name: 'val.jsonl', content: jsonl(example('Can I return a Kindle?', 'Yes.'), example('can I return a kindle!', 'Yes, within 30 days.')) },
    { name: 'eval.json', content: JSON.stringify(['Does the Fire TV need Wi-Fi?']) },
  ]);
  t.equal(report.leakage.count, 0);
  t.equal(report.strict_ok, false);
  t.match(formatDataCheckReport(report), /\n\nOK: no format errors, no leakage from training\n$/);
  t.match(
    formatDataCheckReport(report, { strict: true }),
    /FAILED \(--strict\): train\.jsonl repeats itself \(duplicate_example 1, near_duplicate_inquiry 0\); val\.jsonl repeats itself \(duplicate_example 0, near_duplicate_inquiry 1\)\n$/,
  );
  t.match(formatDataCheckReport(report), /leakage from train\.jsonl \(near: inquiry similarity ≥ 0\.8\): none of 2 validation examples and 1 evaluation item\n/);
});

t.test('the real data: no leakage, no repeats, so it passes --strict', async (t) => {
  const names = ['data/amazon_electronics_adapted_train.jsonl', 'data/amazon_electronics_adapted_val.jsonl', 'data/prompt_sets/eval_inquiries.json'];
  const files = await Promise.all(names.map(async (name) => ({ name, content: await readFile(name, 'utf8') })));
  const report = checkDataFiles(files);
  t.equal(report.ok, true);
  t.equal(report.strict_ok, true);
  t.same(report.files.map((file) => file.role), ['training', 'validation', 'evaluation']);
  t.same(report.leakage.checked, { validation: 54, evaluation: 36 });
  t.equal(report.leakage.count, 0);
  t.equal(report.paraphrase_clusters.count, 0);
  t.match(report.files[2], { items: 36, valid_items: 36, training_overlap: noLeakage });
  const text = formatDataCheckReport(report, { strict: true });
  t.match(text, /none of 54 validation examples and 36 evaluation items\n/);
  t.match(text, /\n\nOK: no format errors, no leakage from training\n$/);
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
  const file = report.files[0] as FineTuningFileReport;
  t.same(file.format_errors, { invalid_json: { count: 1, lines: [2] } });
  t.equal(file.epochs, 4);
  t.equal(file.price_per_million_tokens, 2.5);
  t.equal(output.stderr, '');
});

t.test('runDataCheck: a clean file exits 0 with the readable report', async (t) => {
  const { io, output } = fakeIo({ 'train.jsonl': jsonl(example('Hi')) });
  t.equal(await runDataCheck(['--context-limit', '10', 'train.jsonl'], io), 0);
  t.match(output.stdout, /over_context_limit +1 +line 1/);
  t.match(output.stdout, /OK: no format errors/);
});

t.test('runDataCheck: a validation file copied from training warns and exits 0; --strict exits 1', async (t) => {
  const training = jsonl(example('Where is my order?', 'Check Your Orders.'), example('Can I return a Kindle?', 'Yes.'));
  const files = { 'data/train.jsonl': training, 'data/val.jsonl': training };
  const loose = fakeIo(files);
  t.equal(await runDataCheck(['data/train.jsonl', 'data/val.jsonl'], loose.io), 0);
  t.notMatch(loose.output.stdout, /OK/);
  t.match(
    loose.output.stdout,
    /WARNING: 2 of 2 validation examples leak from training \(exact 2, near 0\); scores on them flatter the fine-tune\. Use --strict to fail on this\.\n$/,
  );

  const strict = fakeIo(files);
  t.equal(await runDataCheck(['--strict', 'data/train.jsonl', 'data/val.jsonl'], strict.io), 1);
  t.match(strict.output.stdout, /FAILED \(--strict\)/);

  const json = fakeIo(files);
  t.equal(await runDataCheck(['--json', '--strict', 'data/train.jsonl', 'data/val.jsonl'], json.io), 1);
  const report = JSON.parse(json.output.stdout) as DataCheckReport;
  t.match(report, { ok: true, strict_ok: false, leakage: { count: 2, by_kind: { exact: 2 } }, paraphrase_clusters: { count: 2 } });
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
    [['--strict=yes', 'train.jsonl'], /--strict/],
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
  const leaking = [join(FIXTURES, 'train.jsonl'), join(FIXTURES, 'val.jsonl'), 'test/fixtures/data-check-eval.json'];
  const [good, broken, unreadable, warned, strict] = await Promise.all([
    run(join(dir, 'train.jsonl')),
    run('--json', join(dir, 'broken.jsonl')),
    run(join(dir, 'absent.jsonl')),
    run(...leaking),
    run('--strict', ...leaking),
  ]);

  t.equal(good.status, 0, good.stderr);
  t.match(good.stdout, /OK: no format errors/);

  t.equal(broken.status, 1);
  t.equal((JSON.parse(broken.stdout) as DataCheckReport).ok, false);

  t.equal(unreadable.status, 2);
  t.match(unreadable.stderr, /^data-check: cannot read .*absent\.jsonl/);
  t.notMatch(unreadable.stderr, /\n\s+at /, 'no stack trace');

  t.equal(warned.status, 0, warned.stderr);
  t.match(warned.stdout, /\nWARNING: 1 of 2 validation examples leaks from training \(exact 1, near 0\); 2 of 3 evaluation items leak from training \(exact 0, near 1, same answer 1\); /);
  t.equal(strict.status, 1, strict.stderr);
  t.match(strict.stdout, /\nFAILED \(--strict\): 1 of 2 validation examples leaks/);
});
