import type { PairwiseResult, RunResult } from '../runs/run-result.js';
import { redactSecrets } from '../secrets.js';
import type { GateVerdict } from './gain-gate.js';

export interface JunitReportInput {
  runId: string;
  /** The run's models in order: with a single model there is no comparison, and its failures make the one suite. */
  models: readonly string[];
  gates: readonly GateVerdict[];
  /** Whether --gate decides the exit code; without it the gate's testcase is skipped, with the verdict it would give. */
  gateEnforced: boolean;
  /** The run's failed results and pairwise verdicts (others are left out). */
  failed: { results: readonly RunResult[]; verdicts: readonly PairwiseResult[] };
}

/**
 * JUnit's two kinds of trouble: a failure is the model under test falling short (the gate, an answer
 * it could not give); an error is the harness failing around it (the judge could not score).
 */
type Outcome = { kind: 'passed' } | { kind: 'failure' | 'error' | 'skipped'; type: string; message: string; details?: string };

interface TestCase {
  name: string;
  outcome: Outcome;
}

// XML 1.0 cannot hold most control characters or lone surrogates, which a model's answer may contain.
const NOT_XML_CHARACTER = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;
const ESCAPED: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Text fit for an attribute or an element: secrets redacted before anything else, then made valid XML. */
function xmlText(raw: string): string {
  return redactSecrets(raw)
    .replace(NOT_XML_CHARACTER, '\uFFFD')
    .replace(/[&<>"']/g, (character) => ESCAPED[character] as string);
}

// A parser folds line breaks in an attribute into spaces; saying so here keeps the message as it is read.
const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();

const byItemThenModel = (a: RunResult, b: RunResult) =>
  a.item_id < b.item_id ? -1 : a.item_id > b.item_id ? 1 : a.model_alias < b.model_alias ? -1 : a.model_alias > b.model_alias ? 1 : 0;

function gateCase(gate: GateVerdict, enforced: boolean): TestCase {
  const outcome: Outcome = !enforced
    ? { kind: 'skipped', type: 'gate', message: `not enforced (evaluate --gate enforces it); ${gate.reason}` }
    : gate.passed
      ? { kind: 'passed' }
      : { kind: 'failure', type: 'gate', message: gate.reason };
  return { name: 'gate', outcome };
}

function failedResultCase(result: RunResult): TestCase {
  const { error } = result;
  const reason = error ? `${error.code}: ${error.message}` : 'no reason recorded';
  const inquiry = `inquiry: ${result.inquiry}`;
  const outcome: Outcome =
    error?.stage === 'score'
      ? { kind: 'error', type: error.code, message: `scoring the answer of ${result.model_alias} failed: ${reason}`, details: `${inquiry}\nanswer: ${result.answer ?? ''}` }
      : { kind: 'failure', type: error?.code ?? 'failed', message: `${result.model_alias} gave no answer: ${reason}`, details: inquiry };
  return { name: `${result.item_id}: ${result.model_alias}`, outcome };
}

function failedVerdictCase(verdict: PairwiseResult): TestCase {
  const { error } = verdict;
  const reason = error ? `${error.code}: ${error.message}` : 'no reason recorded';
  const kind = error?.stage === 'answer' ? 'failure' : 'error';
  return { name: `${verdict.item_id}: pairwise judge`, outcome: { kind, type: error?.code ?? 'failed', message: `the pairwise judgement failed: ${reason}` } };
}

function testCaseXml(suite: string, testCase: TestCase): string {
  const opening = `    <testcase classname="${xmlText(suite)}" name="${xmlText(testCase.name)}"`;
  const { outcome } = testCase;
  if (outcome.kind === 'passed') return `${opening}/>`;
  const body = outcome.details === undefined ? '/>' : `>${xmlText(outcome.details)}</${outcome.kind}>`;
  return `${opening}>\n      <${outcome.kind} type="${xmlText(outcome.type)}" message="${xmlText(oneLine(outcome.message))}"${body}\n    </testcase>`;
}

const count = (cases: readonly TestCase[], kind: Outcome['kind']) => cases.filter((testCase) => testCase.outcome.kind === kind).length;

const countsXml = (cases: readonly TestCase[]) =>
  `tests="${cases.length}" failures="${count(cases, 'failure')}" errors="${count(cases, 'error')}" skipped="${count(cases, 'skipped')}"`;

/**
 * The run as JUnit XML, for CI systems: one testsuite per comparison of the first model with another,
 * holding the gate's testcase and one testcase per failed answer of either model or failed verdict.
 */
export function junitReport(input: JunitReportInput): string {
  const failedResults = input.failed.results.filter((result) => result.outcome === 'failed').toSorted(byItemThenModel);
  const failedVerdicts = input.failed.verdicts.filter((verdict) => verdict.outcome === 'failed');
  const [first = ''] = input.models;
  const suites =
    input.gates.length > 0
      ? input.gates.map((gate) => ({
          name: `${gate.first} vs ${gate.second}`,
          cases: [
            gateCase(gate, input.gateEnforced),
            ...failedResults.filter((result) => result.model_alias === gate.first || result.model_alias === gate.second).map(failedResultCase),
            ...failedVerdicts.filter((verdict) => verdict.first === gate.first && verdict.second === gate.second).map(failedVerdictCase),
          ],
        }))
      : [{ name: first, cases: failedResults.filter((result) => result.model_alias === first).map(failedResultCase) }];
  const everyCase = suites.flatMap((suite) => suite.cases);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xmlText(`evaluate ${input.runId}`)}" ${countsXml(everyCase)}>`,
    ...suites.flatMap((suite) => [
      `  <testsuite name="${xmlText(suite.name)}" ${countsXml(suite.cases)}>`,
      ...suite.cases.map((testCase) => testCaseXml(suite.name, testCase)),
      '  </testsuite>',
    ]),
    '</testsuites>',
    '',
  ].join('\n');
}
