import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, TRAINED_SYSTEM_PROMPT } from '../src/config.js';
import { buildKnowledgeBase, loadKnowledgeBase, parseTrainingExamples } from '../src/knowledge/knowledge-base.js';
import { HANDOFF_ANSWER } from '../src/models/retrieval-model.js';
import { buildTestApp } from './helpers/build-app.js';

const line = (inquiry: string, answer: string) =>
  JSON.stringify({
    messages: [
      { role: 'system', content: TRAINED_SYSTEM_PROMPT },
      { role: 'user', content: `Inquiry: "${inquiry}"` },
      { role: 'assistant', content: answer },
    ],
  });

const trainingLines = readFileSync('data/amazon_electronics_adapted_train.jsonl', 'utf8').trim().split('\n');
const example = (lineNumber: number) => {
  const messages = JSON.parse(trainingLines[lineNumber - 1] as string).messages as Array<{ content: string }>;
  return { inquiry: (messages[1]?.content as string).replace(/^Inquiry: "|"$/g, ''), answer: messages[2]?.content as string };
};

t.test('with no API key, the retrieval model answers through POST /answer with the matched example', async (t) => {
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const { inquiry, answer } = example(10);
  const reply = await app.inject({ method: 'POST', url: '/answer', payload: { inquiry: inquiry.toUpperCase(), model: 'retrieval' } });
  t.equal(reply.statusCode, 200);
  const body = reply.json();
  t.match(body, {
    answer,
    model: 'retrieval',
    model_id: 'bm25:amazon_electronics_adapted_train',
    status: 'completed',
    response_id: null,
    usage: { input_tokens: null, output_tokens: null, total_tokens: null },
    latency_ms: Number,
    match: { source: 'amazon_electronics_adapted_train.jsonl', line: 10, inquiry, confidence: 1, min_confidence: 0.35 },
  });
  t.ok(body.match.score > 0);
});

t.test('a paraphrase finds the example it paraphrases', async (t) => {
  const { app } = await buildTestApp(t);
  const reply = await app.inject({ method: 'POST', url: '/answer', payload: { inquiry: 'my bluetoth headphones wont pair', model: 'retrieval' } });
  const body = reply.json();
  t.equal(body.status, 'completed');
  t.match(body.match.inquiry, /Bluetooth headphones won't pair/i, 'typo-tolerant');
  t.equal(body.answer, example(body.match.line).answer);
});

t.test('below the confidence threshold it hands off instead of guessing', async (t) => {
  const { app } = await buildTestApp(t);
  const unrelated = await app.inject({ method: 'POST', url: '/answer', payload: { inquiry: 'How do I bake a chocolate cake?', model: 'retrieval' } });
  t.match(unrelated.json(), { status: 'no_match', answer: HANDOFF_ANSWER, match: null });

  const strict = await buildTestApp(t, { RETRIEVAL_MIN_CONFIDENCE: '0.99' });
  const weak = await strict.app.inject({ method: 'POST', url: '/answer', payload: { inquiry: 'need to cancel my order asap, bought the wrong cable', model: 'retrieval' } });
  const body = weak.json();
  t.equal(body.status, 'no_match');
  t.equal(body.answer, HANDOFF_ANSWER);
  t.ok(body.match.confidence < 0.99, 'the closest example is still shown, with its confidence');
  t.notMatch(HANDOFF_ANSWER, /password|card number/i, 'the hand-off asks for nothing sensitive');
});

t.test('a hand-off shows the closest example whenever one shares a word with the inquiry, and null only when none does', async (t) => {
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const ask = async (inquiry: string) => (await app.inject({ method: 'POST', url: '/answer', payload: { inquiry, model: 'retrieval' } })).json();

  const weak = await ask('What is the capital of France? I ordered a map of it');
  t.match(weak, { status: 'no_match', answer: HANDOFF_ANSWER, match: { inquiry: /order/i, min_confidence: 0.35 } });
  t.ok(weak.match.confidence > 0 && weak.match.confidence < weak.match.min_confidence, `its low confidence is shown (${weak.match.confidence})`);

  t.match(await ask('What is the capital of France?'), { status: 'no_match', answer: HANDOFF_ANSWER, match: null }, 'no word in common: no candidate');
  const readme = readFileSync('README.md', 'utf8');
  t.match(readme, /`match` is `null` only when there is no candidate at all[^.]*"What is the capital of France\?"/, 'the README says when match is null');
  t.notMatch(readme, /\(with the closest example still shown in `match`\)/, 'and no longer that it is always shown');
});

t.test('the hand-off floor always hands off, even where retrieval would answer', async (t) => {
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const { inquiry } = example(10);
  const reply = await app.inject({ method: 'POST', url: '/answer', payload: { inquiry, model: 'handoff' } });
  t.equal(reply.statusCode, 200);
  t.match(reply.json(), { answer: HANDOFF_ANSWER, model: 'handoff', model_id: 'handoff:safe-reply', status: 'no_match', match: null, usage: { total_tokens: null } });
});

t.test('the knowledge base: closest match, confidence and contamination lookups', async (t) => {
  const kb = buildKnowledgeBase('inline', [
    { line: 1, inquiry: 'How do I return a defective speaker?', answer: 'Use Return or replace items.' },
    { line: 2, inquiry: 'My PS5 SSD is not detected', answer: 'Check the M.2 slot.' },
  ]);
  t.equal(kb.closest('return my speaker')?.example.line, 1);
  t.equal(kb.closest('ps5 ssd not detected')?.example.line, 2);
  t.equal(kb.closest('the and of'), null, 'stopwords alone match nothing');
  t.equal(kb.closest('zebra giraffe'), null);
  const partial = kb.closest('speaker zebra giraffe');
  t.ok(partial && partial.confidence > 0 && partial.confidence < 0.5, 'unknown words weigh against the match');
  t.ok(kb.contains('how do i RETURN a defective speaker'));
  t.notOk(kb.contains('how do i return a speaker'));
});

t.test('a missing or malformed training file stops the boot naming the file and the line', async (t) => {
  t.throws(() => loadKnowledgeBase('nowhere/train.jsonl'), { name: 'ConfigError', message: /nowhere\/train\.jsonl: file not found.*DATA_DIR/ });
  const cases: Array<[string, RegExp]> = [
    [`${line('a', 'b')}\n{not json`, /x\.jsonl line 2: not valid JSON/],
    [`${line('a', 'b')}\n\n{"rows": []}`, /line 3: expected an object with a "messages" list/],
    [JSON.stringify({ messages: [{ role: 'user', content: 'Inquiry: "a"' }] }), /line 1: no assistant message/],
    [JSON.stringify({ messages: [{ role: 'assistant', content: 'b' }] }), /line 1: no user message/],
    ['\n\n', /no training examples/],
  ];
  for (const [content, message] of cases) {
    const error = t.throws(() => parseTrainingExamples('x.jsonl', content)) as Error;
    t.ok(error instanceof ConfigError);
    t.match(error.message, message);
  }

  const dir = t.testdir({ 'amazon_electronics_adapted_train.jsonl': `${line('Where is my order?', 'Check Your Orders.')}\n` });
  const { app } = await buildTestApp(t, { DATA_DIR: dir });
  const reply = await app.inject({ method: 'POST', url: '/answer', payload: { inquiry: 'where is my order', model: 'retrieval' } });
  t.match(reply.json(), { answer: 'Check Your Orders.', match: { line: 1 } });
});

t.test("the match names the training file, never the server's folders", async (t) => {
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: '', DATA_DIR: join(process.cwd(), 'data') });
  const reply = await app.inject({ method: 'POST', url: '/answer', payload: { inquiry: 'How do I track my package?', model: 'retrieval' } });
  t.equal(reply.json().match.source, 'amazon_electronics_adapted_train.jsonl');
  t.notMatch(reply.body, process.cwd());
});
