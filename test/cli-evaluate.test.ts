import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { CSV_COLUMNS } from '../src/export/csv.js';
import { EVALUATE_EXIT, runEvaluate } from '../src/cli/evaluate.js';
import { startFakeOpenAI, type FakeOpenAIOptions, type RecordedRequest } from './helpers/fake-openai.js';
import { parseXml } from './helpers/xml-tree.js';

function capture(env: NodeJS.ProcessEnv) {
  const out = { stdout: '', stderr: '' };
  const io = {
    stdout: (text: string) => (out.stdout += text),
    stderr: (text: string) => (out.stderr += text),
    isTerminal: false,
    env,
  };
  return { out, io };
}

t.test('runs a prompt file offline and prints the summary table; the CSV goes to --out', async (t) => {
  const dir = t.testdir({ 'prompts.json': JSON.stringify(['Where is my order?', { inquiry: 'My Bluetooth headphones will not pair', reference: "Open Settings > Bluetooth, then pair again." }]) });
  const { out, io } = capture({ REPORTS_DIR: join(dir, 'reports'), OPENAI_API_KEY: '' });
  const code = await runEvaluate(['--prompts', join(dir, 'prompts.json'), '--models', 'retrieval', '--out', join(dir, 'out', 'eval_results.csv')], io);
  t.equal(code, 0, out.stderr);
  t.match(out.stdout, /\| Criterion \| retrieval \|/);
  t.match(out.stdout, /\*\*Weighted score\*\*/);
  t.match(out.stdout, 'Reference coverage: 1/2 items have a reference answer');
  t.match(out.stdout, '**Safety gate**');
  t.match(out.stdout, 'The heuristic is a screening tool, not a judge');
  t.match(out.stderr, /2 answers from retrieval, scorer heuristic/);
  const csv = readFileSync(join(dir, 'out', 'eval_results.csv'), 'utf8');
  t.equal(csv.split('\n')[0], CSV_COLUMNS.join(','));
  t.equal(csv.trim().split('\n').length, 3);
  t.ok(existsSync(join(dir, 'reports', 'eval_results.csv')), 'the case study path is updated too');
});

t.test('uses the same engine against an upstream, with the scorer and concurrency asked for', async (t) => {
  const fake = await startFakeOpenAI({ apiKey: 'sk-cli' });
  t.teardown(() => fake.close());
  const dir = t.testdir({ 'prompts.json': JSON.stringify(['a', 'b', 'c']) });
  const { out, io } = capture({ REPORTS_DIR: join(dir, 'reports'), OPENAI_API_KEY: 'sk-cli', OPENAI_BASE_URL: fake.url, OPENAI_MAX_RETRIES: '0' });
  const code = await runEvaluate(['--prompts', join(dir, 'prompts.json'), '--scorer', 'none', '--concurrency', '2'], io);
  t.equal(code, 0, out.stderr);
  t.equal(fake.requests.length, 6, 'fine-tuned and baseline by default');
  t.ok(fake.maxInFlight <= 2);
});

t.test('the judge asked three times per answer, and the printed table shows the paired gain with its interval', async (t) => {
  const fake = await startFakeOpenAI({
    apiKey: 'sk-cli',
    structured: (request) => {
      const score = (request.body.model === 'gpt-4.1-2025-04-14' && request.userText.includes('Fake answer from ft:')) ? 5 : 3;
      return Object.fromEntries(['accuracy', 'actionability', 'completeness', 'safety_tone'].map((criterion) => [criterion, { rationale: 'r', score }]));
    },
  });
  t.teardown(() => fake.close());
  const dir = t.testdir({ 'prompts.json': JSON.stringify(['a', 'b', 'c']) });
  const { out, io } = capture({ REPORTS_DIR: join(dir, 'reports'), OPENAI_API_KEY: 'sk-cli', OPENAI_BASE_URL: fake.url, OPENAI_MAX_RETRIES: '0' });
  const code = await runEvaluate(['--prompts', join(dir, 'prompts.json'), '--scorer', 'judge', '--judge-samples', '3'], io);
  t.equal(code, 0, out.stderr);
  t.equal(fake.requests.length, 6 + 6 * 3, 'six answers, each judged three times');
  t.match(out.stdout, '**fine-tuned vs baseline, weighted score: +2.00 (95% CI +2.00 to +2.00, 3 pairs, W/T/L 3/0/0, p = 0.25)**');
  t.match(out.stdout, 'Only 3 pairs (fewer than 30)');
  t.match(out.stdout, '3 samples per verdict');
});

t.test('usage, configuration and input errors exit 2 with a one-line reason', async (t) => {
  const dir = t.testdir({ 'bad.json': '{"not": "a list"}', 'broken.json': '[', 'ok.json': '["a"]' });
  const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
    [[], {}, /--prompts/],
    [['--prompts', join(dir, 'ok.json'), '--scorer', 'vibes'], {}, /--scorer/],
    [['--prompts', join(dir, 'ok.json'), '--concurrency', '0'], {}, /--concurrency/],
    [['--prompts', join(dir, 'ok.json'), '--judge-samples', '9'], {}, /--judge-samples/],
    [['--prompts', join(dir, 'ok.json'), '--bogus'], {}, /bogus/],
    [['--prompts', join(dir, 'missing.json')], {}, /missing\.json/],
    [['--prompts', join(dir, 'bad.json')], {}, /bad\.json/],
    [['--prompts', join(dir, 'broken.json')], {}, /broken\.json/],
    [['--prompts', join(dir, 'ok.json')], { PORT: 'x' }, /PORT/],
    [['--prompts', join(dir, 'ok.json')], { DATA_DIR: join(dir, 'nowhere') }, /file not found/],
    [['--prompts', join(dir, 'ok.json')], { REPORTS_DIR: join(dir, 'ok.json', 'reports') }, /REPORTS_DIR: .* cannot be created or written \(ENOTDIR\)/],
    [['--prompts', join(dir, 'ok.json'), '--models', 'fine-tuned'], { OPENAI_API_KEY: '' }, /OPENAI_API_KEY/],
    [['--prompts', join(dir, 'ok.json'), '--gate-margin', '-0.1'], {}, /^--gate-margin goes with --gate\n/],
    [['--prompts', join(dir, 'ok.json'), '--gate-allow-no-interval'], {}, /^--gate-allow-no-interval goes with --gate\n/],
    [['--prompts', join(dir, 'ok.json'), '--gate', '--models', 'retrieval'], {}, /^--gate compares the first model with another/],
    [['--prompts', join(dir, 'ok.json'), '--gate', '--scorer', 'pairwise'], {}, /^--gate reads the weighted gain of rubric scores, which --scorer pairwise does not give/],
    [['--prompts', join(dir, 'ok.json'), '--gate', '--scorer', 'none'], {}, /--scorer none does not give/],
    [['--prompts', join(dir, 'ok.json'), '--gate', '--gate-margin', 'small'], {}, /^--gate-margin: expected rubric points, e\.g\. -0\.1\n/],
    [['--prompts', join(dir, 'ok.json'), '--gate', '--gate-margin=-5'], {}, /^--gate-margin: .*>=-4/],
    [['--prompts', join(dir, 'ok.json'), '--gate', '--gate-margin'], {}, /--gate-margin <value>' argument missing/],
  ];
  for (const [argv, env, message] of cases) {
    const { out, io } = capture({ REPORTS_DIR: join(dir, 'reports'), ...env });
    t.equal(await runEvaluate(argv, io), 2, argv.join(' '));
    t.match(out.stderr, message);
    t.notMatch(out.stderr, /\n\s+at /, 'no stack trace');
  }
});

t.test('a missing API key says how to give this command the key, or which models need none', async (t) => {
  const dir = t.testdir({
    'ok.json': '["a"]',
    'models.json': JSON.stringify({ models: { 'azure-ft': { model_id: 'ft:azure', base_url: 'https://example.invalid/v1', api_key_env: 'AZURE_OPENAI_KEY' } } }),
  });
  const cases: Array<[string[], NodeJS.ProcessEnv, string]> = [
    [['--prompts', join(dir, 'ok.json'), '--models', 'fine-tuned,baseline'], {}, `OPENAI_API_KEY=... npm run evaluate -- --prompts ${join(dir, 'ok.json')} --models fine-tuned,baseline\n`],
    [['--prompts', join(dir, 'ok.json'), '--models', 'retrieval', '--scorer', 'judge'], {}, "Model 'judge' needs an API key, and OPENAI_API_KEY is not set."],
    [['--prompts', join(dir, 'ok.json'), '--models', 'azure-ft'], { MODELS_FILE: join(dir, 'models.json') }, "Model 'azure-ft' needs an API key, and AZURE_OPENAI_KEY is not set.\nSet it for this command: AZURE_OPENAI_KEY=..."],
    [['--prompts', join(dir, 'ok.json'), '--models', "fine-tuned,baseline", '--out', join(dir, "it's here.csv")], {}, `--out '${join(dir, "it'\\''s here.csv")}'\n`],
  ];
  for (const [argv, env, advice] of cases) {
    const { out, io } = capture({ REPORTS_DIR: join(dir, 'reports'), OPENAI_API_KEY: '', ...env });
    t.equal(await runEvaluate(argv, io), EVALUATE_EXIT.usage, argv.join(' '));
    t.match(out.stderr, advice);
    t.match(out.stderr, 'or evaluate the offline models, which need no key: --models retrieval,handoff --scorer heuristic');
    t.notMatch(out.stderr, /restart the service/, 'the CLI user has no service to restart');
  }
});

/** Every criterion at 5 for the answers of one model and at 3 for the other's: a weighted gain of exactly ±2 on each item. */
function judgeFavouring(favoured: (request: RecordedRequest) => boolean): FakeOpenAIOptions['structured'] {
  return (request) => {
    const score = favoured(request) ? 5 : 3;
    return Object.fromEntries(['accuracy', 'actionability', 'completeness', 'safety_tone'].map((criterion) => [criterion, { rationale: 'r', score }]));
  };
}

const judgesFineTuned = (request: RecordedRequest) => request.userText.includes('Fake answer from ft:');

async function judgedRun(t: Test, argv: string[], options: FakeOpenAIOptions, prompts: unknown[] = ['a', 'b', 'c']) {
  const fake = await startFakeOpenAI({ apiKey: 'sk-cli', ...options });
  t.teardown(() => fake.close());
  const dir = t.testdir({ 'prompts.json': JSON.stringify(prompts) });
  const { out, io } = capture({ REPORTS_DIR: join(dir, 'reports'), OPENAI_API_KEY: 'sk-cli', OPENAI_BASE_URL: fake.url, OPENAI_MAX_RETRIES: '0' });
  const code = await runEvaluate(['--prompts', join(dir, 'prompts.json'), '--scorer', 'judge', ...argv.map((arg) => arg.replace('DIR', dir))], io);
  return { code, out, dir };
}

t.test('--gate fails with exit 3 when the fine-tune is significantly worse, and says why with the interval', async (t) => {
  const worse = { structured: judgeFavouring((request) => !judgesFineTuned(request)) };
  const failed = await judgedRun(t, ['--gate'], worse);
  t.equal(failed.code, EVALUATE_EXIT.gateFailed, failed.out.stderr);
  t.match(
    failed.out.stderr,
    '\ngate failed: fine-tuned vs baseline (all items): weighted gain -2.00, 95% CI -2.00 to -2.00 (3 pairs); ' +
      'the upper end -2.00 lies below the margin 0.00: fine-tuned is significantly worse than baseline\n',
  );
  t.match(failed.out.stdout, '**fine-tuned vs baseline, weighted score: -2.00', 'the table is printed as before');

  const tolerated = await judgedRun(t, ['--gate', '--gate-margin', '-2.5'], worse);
  t.equal(tolerated.code, EVALUATE_EXIT.completed, tolerated.out.stderr);
  t.match(tolerated.out.stderr, '\ngate passed: fine-tuned vs baseline (all items): weighted gain -2.00, 95% CI -2.00 to -2.00 (3 pairs); the upper end -2.00 is at or above the margin -2.50\n');

  const tooMuch = await judgedRun(t, ['--gate', '--gate-margin=-1'], worse);
  t.equal(tooMuch.code, EVALUATE_EXIT.gateFailed);
  t.match(tooMuch.out.stderr, 'lies below the margin -1.00: fine-tuned is significantly worse than baseline by more than the 1.00 the margin tolerates\n');

  const better = await judgedRun(t, ['--gate'], { structured: judgeFavouring(judgesFineTuned) });
  t.equal(better.code, EVALUATE_EXIT.completed, better.out.stderr);
  t.match(better.out.stderr, 'gate passed: fine-tuned vs baseline (all items): weighted gain +2.00, 95% CI +2.00 to +2.00 (3 pairs); the upper end +2.00 is at or above the margin 0.00\n');

  const ungated = await judgedRun(t, [], worse);
  t.equal(ungated.code, EVALUATE_EXIT.completed, 'without --gate a loss is reported, not enforced');
  t.notMatch(ungated.out.stderr, /gate (passed|failed)/);
});

t.test('--gate reads the unseen items when some items were in training: those flatter the fine-tune', async (t) => {
  const training = readFileSync('data/amazon_electronics_adapted_train.jsonl', 'utf8')
    .trim()
    .split('\n')
    .slice(0, 3)
    .map((line) => (JSON.parse(line) as { messages: { role: string; content: string }[] }).messages[1]?.content.replace(/^Inquiry: "(.*)"$/, '$1') as string);
  const seen = (request: RecordedRequest) => training.some((inquiry) => request.userText.includes(inquiry));
  // Better on the three items it was trained on, worse on the three it never saw: the mean over all six is 0.
  const judge = judgeFavouring((request) => seen(request) === judgesFineTuned(request));
  const { code, out } = await judgedRun(t, ['--gate'], { structured: judge }, [...training, 'unseen one', 'unseen two', 'unseen three']);
  t.equal(code, EVALUATE_EXIT.gateFailed, out.stderr);
  t.match(out.stderr, 'gate failed: fine-tuned vs baseline (unseen items): weighted gain -2.00, 95% CI -2.00 to -2.00 (3 pairs)');
  t.match(out.stdout, '## All items (6 items)', 'the whole run would show no difference');
});

t.test('--gate without an interval (fewer than 2 scored pairs) fails unless --gate-allow-no-interval', async (t) => {
  const dir = t.testdir({ 'one.json': JSON.stringify([{ inquiry: 'My Bluetooth headphones will not pair', reference: 'Open Settings > Bluetooth, then pair again.' }]) });
  const argv = ['--prompts', join(dir, 'one.json'), '--models', 'retrieval,handoff', '--scorer', 'heuristic', '--gate'];
  const strict = capture({ REPORTS_DIR: join(dir, 'reports') });
  t.equal(await runEvaluate(argv, strict.io), EVALUATE_EXIT.gateFailed, strict.out.stderr);
  t.match(
    strict.out.stderr,
    '\ngate failed: retrieval vs handoff (all items): no 95% interval of the weighted gain from 1 pair (an interval needs 2 or more); score more items, or pass --gate-allow-no-interval\n',
  );
  const allowed = capture({ REPORTS_DIR: join(dir, 'reports') });
  t.equal(await runEvaluate([...argv, '--gate-allow-no-interval'], allowed.io), EVALUATE_EXIT.completed, allowed.out.stderr);
  t.match(allowed.out.stderr, '\ngate passed: retrieval vs handoff (all items): no 95% interval of the weighted gain from 1 pair (an interval needs 2 or more); passed because of --gate-allow-no-interval\n');
});

t.test('--junit writes a well-formed report: a testsuite per comparison with the gate and each failed item', async (t) => {
  const { code, out, dir } = await judgedRun(
    t,
    ['--gate', '--junit', 'DIR/ci/junit.xml'],
    {
      structured: judgeFavouring((request) => !judgesFineTuned(request)),
      behaviour: (request) => {
        // The fine-tune cannot answer item 2, and the judge cannot score the baseline's answer to item 3.
        if (request.userText.includes('Fake answer from gpt-4.1-mini-2025-04-14 to') && request.userText.includes('<c> & "c"')) return { status: 400 };
        if (String(request.body.model).startsWith('ft:') && request.userText.includes('b')) return { status: 500 };
        return undefined;
      },
    },
    ['a', 'b', '<c> & "c"', 'd'],
  );
  t.equal(code, EVALUATE_EXIT.gateFailed, out.stderr);
  t.match(out.stderr, `JUnit: ${join(dir, 'ci/junit.xml')}\n`);
  const report = parseXml(readFileSync(join(dir, 'ci/junit.xml'), 'utf8'));
  t.match(report.attributes, { tests: '3', failures: '2', errors: '1', skipped: '0' });
  t.equal(report.children.length, 1);
  const [suite] = report.children;
  t.match(suite?.attributes, { name: 'fine-tuned vs baseline', tests: '3', failures: '2', errors: '1' });
  const cases = suite?.children.map((testCase) => [testCase.attributes.name, testCase.children[0]?.name, testCase.children[0]?.attributes.type]);
  t.same(cases, [
    ['gate', 'failure', 'gate'],
    ['item-2: fine-tuned', 'failure', 'upstream_error'],
    ['item-3: baseline', 'error', 'upstream_error'],
  ]);
  t.match(suite?.children[0]?.children[0]?.attributes.message, /^gate failed: fine-tuned vs baseline \(all items\): weighted gain -2\.00, 95% CI -2\.00 to -2\.00 \(2 pairs\)/);
  t.match(suite?.children[2]?.children[0]?.text, 'inquiry: <c> & "c"\nanswer: Fake answer from gpt-4.1-mini', 'markup in an inquiry comes back as written');
});
