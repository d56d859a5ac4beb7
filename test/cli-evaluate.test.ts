import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { CSV_COLUMNS } from '../src/export/csv.js';
import { runEvaluate } from '../src/cli/evaluate.js';
import { startFakeOpenAI } from './helpers/fake-openai.js';

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
  ];
  for (const [argv, env, message] of cases) {
    const { out, io } = capture({ REPORTS_DIR: join(dir, 'reports'), ...env });
    t.equal(await runEvaluate(argv, io), 2, argv.join(' '));
    t.match(out.stderr, message);
    t.notMatch(out.stderr, /\n\s+at /, 'no stack trace');
  }
});
