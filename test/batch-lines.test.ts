/** The pure translations of batch runs: custom_id, output and error lines, the split into parts. */
import t from 'tap';
import { answerCustomId, parseAnswerCustomId, parseVerdictCustomId, readOutputLine, splitIntoParts, verdictCustomId } from '../src/runs/batch-lines.js';

t.test('custom_id names the item and the model, and reads back exactly', async (t) => {
  for (const [item, alias] of [['q1', 'fine-tuned'], ['a:b/c d%', 'my.model:v2'], ['ünï', 'x']] as const) {
    t.same(parseAnswerCustomId(answerCustomId(item, alias)), { item_id: item, alias });
  }
  t.equal(parseAnswerCustomId('j:x:y:0'), undefined);
  t.equal(parseAnswerCustomId('a:%E0%A4%A:x'), undefined, 'a malformed escape is not an id');
});

t.test('a verdict line’s custom_id names the item, the model compared with the first, the order and the sample', async (t) => {
  for (const [item, alias] of [['q1', 'baseline'], ['a:b/c d%', 'my.model:v2']] as const) {
    for (const order of ['first_as_a', 'second_as_a'] as const) {
      t.same(parseVerdictCustomId(verdictCustomId(item, alias, order, 3)), { item_id: item, alias, order, sample: 3 });
    }
  }
  for (const id of [answerCustomId('q1', 'x'), 'v:q1:x:a_first:0', 'v:q1:x:first_as_a:one', 'v:q1:x:first_as_a:0:extra', 'v:%E0%A4%A:x:first_as_a:0']) {
    t.equal(parseVerdictCustomId(id), undefined, id);
  }
});

t.test('output and error lines: a success, an error body, a line error, and rows that are not output lines', async (t) => {
  const rows = [
    JSON.stringify({ id: 'r1', custom_id: 'ok', response: { status_code: 200, request_id: 'q', body: { hello: 1 } }, error: null }),
    JSON.stringify({ id: 'r2', custom_id: 'http', response: { status_code: 429, request_id: 'q', body: { error: { code: 'rate_limit_exceeded', message: 'Slow down.' } } }, error: null }),
    JSON.stringify({ id: 'r3', custom_id: 'expired', response: null, error: { code: 'batch_expired', message: 'Too late.' } }),
    JSON.stringify({ id: 'r4', custom_id: 'bare', response: { status_code: 500, request_id: 'q', body: null }, error: null }),
    JSON.stringify({ id: 'r5', custom_id: 'nothing', response: null, error: null }),
    '{not json',
    JSON.stringify({ id: 'r6', response: null }),
    '',
  ];
  t.same(rows.map(readOutputLine).filter(Boolean), [
    { custom_id: 'ok', ok: true, body: { hello: 1 } },
    { custom_id: 'http', ok: false, code: 'rate_limit_exceeded', message: 'Slow down.' },
    { custom_id: 'expired', ok: false, code: 'batch_expired', message: 'Too late.' },
    { custom_id: 'bare', ok: false, code: 'upstream_status_500', message: 'The batch request failed with status 500.' },
    { custom_id: 'nothing', ok: false, code: 'batch_request_failed', message: 'The batch request failed.' },
  ]);
});

t.test('parts: at most maxRequests lines and maxBytes bytes each, an item never cut, the same parts every time', async (t) => {
  const units = [['aaaa'], ['bb', 'bb'], ['c'], ['dddddd'], ['e']];
  t.same(splitIntoParts(units, { maxRequests: 2, maxBytes: 1000 }), [
    { first: 0, count: 1, lines: 1 },
    { first: 1, count: 1, lines: 2 },
    { first: 2, count: 2, lines: 2 },
    { first: 4, count: 1, lines: 1 },
  ]);
  t.same(splitIntoParts(units, { maxRequests: 100, maxBytes: 8 }).map((part) => part.count), [1, 2, 1, 1], 'bytes count each line with its newline');
  t.throws(() => splitIntoParts([['x'.repeat(20)]], { maxRequests: 10, maxBytes: 8 }), /do not fit/);
  t.same(splitIntoParts([], { maxRequests: 1, maxBytes: 1 }), []);
});
