import t from 'tap';
import type { GateVerdict } from '../src/export/gain-gate.js';
import { junitReport, type JunitReportInput } from '../src/export/junit.js';
import type { PairwiseResult, RunResult } from '../src/runs/run-result.js';
import { REDACTED, registerSecrets } from '../src/secrets.js';
import { parseXml, type XmlElement } from './helpers/xml-tree.js';

function failedResult(item_id: string, model_alias: string, stage: 'answer' | 'score', message: string, fields: Partial<RunResult> = {}): RunResult {
  return {
    run_id: 'run-1',
    item_id,
    inquiry: `inquiry ${item_id}`,
    reference: null,
    category: null,
    in_training: 'none',
    training_line: null,
    training_similarity: null,
    model_alias,
    model_id: model_alias,
    answer: stage === 'score' ? `answer of ${model_alias}` : null,
    answer_status: stage === 'score' ? 'completed' : null,
    tokens_in: null,
    tokens_out: null,
    latency_ms: null,
    cache_hit: false,
    scores: null,
    outcome: 'failed',
    error: { stage, code: stage === 'answer' ? 'upstream_timeout' : 'judge_invalid_reply', message },
    finished_at: '2026-06-01T10:00:00.000Z',
    ...fields,
  };
}

const failedVerdict = (item_id: string, second: string): PairwiseResult => ({
  run_id: 'run-1',
  item_id,
  in_training: 'none',
  first: 'fine-tuned',
  second,
  verdict: null,
  outcome: 'failed',
  error: { stage: 'score', code: 'upstream_error', message: 'the judge failed' },
  finished_at: '2026-06-01T10:00:00.000Z',
});

const gateOf = (second: string, passed: boolean): GateVerdict => ({ first: 'fine-tuned', second, passed, reason: `gate ${passed ? 'passed' : 'failed'}: fine-tuned vs ${second}` });

const report = (input: Partial<JunitReportInput>) =>
  parseXml(
    junitReport({ runId: 'run-1', models: ['fine-tuned', 'baseline'], gates: [], gateEnforced: true, failed: { results: [], verdicts: [] }, ...input }),
  );

/** Each testcase as [suite, name, what it holds], for one comparison of the whole report. */
const casesOf = (root: XmlElement) =>
  root.children.flatMap((suite) =>
    suite.children.map((testCase) => [suite.attributes.name, testCase.attributes.name, testCase.children[0]?.name ?? 'passed', testCase.children[0]?.attributes.type]),
  );

t.test('a testsuite per comparison: its gate, the failed answers of either model (failures), failed scoring and verdicts (errors)', async (t) => {
  const root = report({
    models: ['fine-tuned', 'baseline', 'retrieval'],
    gates: [gateOf('baseline', false), gateOf('retrieval', true)],
    failed: {
      results: [
        failedResult('q2', 'fine-tuned', 'score', 'the judge replied with no score'),
        failedResult('q1', 'baseline', 'answer', 'no answer within 30 s'),
        { ...failedResult('q3', 'retrieval', 'answer', 'x'), outcome: 'scored', error: null },
      ],
      verdicts: [failedVerdict('q4', 'retrieval'), { ...failedVerdict('q5', 'retrieval'), outcome: 'judged', error: null }],
    },
  });
  t.equal(root.name, 'testsuites');
  t.match(root.attributes, { name: 'evaluate run-1', tests: '6', failures: '2', errors: '3', skipped: '0' });
  t.same(casesOf(root), [
    ['fine-tuned vs baseline', 'gate', 'failure', 'gate'],
    ['fine-tuned vs baseline', 'q1: baseline', 'failure', 'upstream_timeout'],
    ['fine-tuned vs baseline', 'q2: fine-tuned', 'error', 'judge_invalid_reply'],
    ['fine-tuned vs retrieval', 'gate', 'passed', undefined],
    ['fine-tuned vs retrieval', 'q2: fine-tuned', 'error', 'judge_invalid_reply'],
    ['fine-tuned vs retrieval', 'q4: pairwise judge', 'error', 'upstream_error'],
  ]);
  t.match(root.children[0]?.attributes, { tests: '3', failures: '2', errors: '1', skipped: '0' });
  t.match(root.children[1]?.attributes, { tests: '3', failures: '0', errors: '2' });
  const [gate, answer, scoring] = root.children[0]?.children ?? [];
  t.equal(gate?.attributes.classname, 'fine-tuned vs baseline');
  t.equal(gate?.children[0]?.attributes.message, 'gate failed: fine-tuned vs baseline');
  t.equal(answer?.children[0]?.attributes.message, 'baseline gave no answer: upstream_timeout: no answer within 30 s');
  t.equal(answer?.children[0]?.text, 'inquiry: inquiry q1');
  t.equal(scoring?.children[0]?.attributes.message, 'scoring the answer of fine-tuned failed: judge_invalid_reply: the judge replied with no score');
  t.equal(scoring?.children[0]?.text, 'inquiry: inquiry q2\nanswer: answer of fine-tuned');
});

t.test('without --gate the gate is skipped, with the verdict it would give', async (t) => {
  const root = report({ gates: [gateOf('baseline', false)], gateEnforced: false });
  t.match(root.attributes, { tests: '1', failures: '0', skipped: '1' });
  t.same(root.children[0]?.children[0]?.children[0]?.attributes, { type: 'gate', message: 'not enforced (evaluate --gate enforces it); gate failed: fine-tuned vs baseline' });
});

t.test('a single model: one testsuite of its failed answers', async (t) => {
  const root = report({ models: ['retrieval'], failed: { results: [failedResult('q1', 'retrieval', 'answer', 'x')], verdicts: [] } });
  t.same(casesOf(root), [['retrieval', 'q1: retrieval', 'failure', 'upstream_timeout']]);
});

t.test('any text is escaped so that it reads back as written; characters XML cannot hold become U+FFFD', async (t) => {
  const markup = `<b>"Tom" & 'Jerry'</b> ]]> &amp; \u00e9\u{1F600}`;
  const root = report({
    models: ['retrieval'],
    failed: { results: [failedResult(`q<1>&"'`, 'retrieval', 'score', `${markup}\nline two`, { inquiry: `${markup}\u0007\u0000\uD800\uFFFF`, answer: markup })], verdicts: [] },
  });
  const testCase = root.children[0]?.children[0];
  t.equal(testCase?.attributes.name, `q<1>&"': retrieval`);
  t.equal(testCase?.children[0]?.attributes.message, `scoring the answer of retrieval failed: judge_invalid_reply: ${markup} line two`, 'one line');
  t.equal(testCase?.children[0]?.text, `inquiry: ${markup}\uFFFD\uFFFD\uFFFD\uFFFD\nanswer: ${markup}`);
});

t.test('secrets in answers, inquiries and errors never reach the report', async (t) => {
  const secret = 'sk-junit-SECRET-0123456789';
  registerSecrets([secret]);
  const xml = junitReport({
    runId: 'run-1',
    models: ['fine-tuned', 'baseline'],
    gates: [gateOf('baseline', true)],
    gateEnforced: true,
    failed: {
      results: [failedResult('q1', 'fine-tuned', 'score', `rejected key ${secret}`, { inquiry: `my key is ${secret}`, answer: `echo ${encodeURIComponent(secret)}` })],
      verdicts: [],
    },
  });
  t.notMatch(xml, 'SECRET');
  t.match(parseXml(xml).children[0]?.children[1]?.children[0]?.attributes.message, `rejected key ${REDACTED}`);
});

t.test('the well-formedness check rejects what a conforming XML parser rejects', async (t) => {
  const malformed = [
    '<a>&</a>',
    '<a>&nbsp;</a>',
    '<a>1 < 2</a>',
    '<a b="<"/>',
    '<a b="1" b="2"/>',
    '<a b=1/>',
    '<a></b>',
    '<a>',
    '<a/><b/>',
    '<a>\u0001</a>',
    '<a>&#1;</a>',
    '<a>]]></a>',
    '<a><!-- comment --></a>',
  ];
  for (const xml of malformed) t.throws(() => parseXml(xml), xml);
  t.same(parseXml(`<?xml version="1.0" encoding="UTF-8"?>\n<a x='&#60;&#x3e;'>t&lt;<b/>u</a>\n`), {
    name: 'a',
    attributes: { x: '<>' },
    children: [{ name: 'b', attributes: {}, children: [], text: '' }],
    text: 't<u',
  });
});
