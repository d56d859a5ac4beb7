import t from 'tap';
import { buildTestApp } from './helpers/build-app.js';
import { startTestPostgres } from './helpers/postgres.js';

// With RUNS_STORE=postgres the rate limit is counted in the database: a caller spreading its requests over
// replicas gets the same budget as one that talks to a single replica.

t.test('replicas on one database share each caller’s rate limit; a database that is away lets requests through', async (t) => {
  const db = await startTestPostgres(t);
  const env = { OPENAI_API_KEY: '', RUNS_STORE: 'postgres', DATABASE_URL: db.url, RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW_MS: '60000' };
  const [first, second] = await Promise.all([buildTestApp(t, env), buildTestApp(t, env)]);
  const statuses: number[] = [];
  for (let i = 0; i < 6; i += 1) statuses.push((await (i % 2 === 0 ? first : second).app.inject('/models')).statusCode);
  t.same(statuses, [200, 200, 200, 200, 200, 429], 'the sixth request in the window is refused, whichever replica gets it');
  const refused = await first.app.inject('/models');
  t.equal(refused.statusCode, 429);
  t.match(refused.json(), { error: { code: 'rate_limited', message: /at most 5 requests per 60 s/ } });
  t.ok(Number(refused.headers['retry-after']) > 0 && Number(refused.headers['retry-after']) <= 60, `Retry-After ${refused.headers['retry-after']} s, what is left of the window`);
  t.equal((await second.app.inject('/health')).statusCode, 200, 'probes are never counted');

  const other = await first.app.inject({ url: '/models', remoteAddress: '10.1.2.3' });
  t.equal(other.statusCode, 200, 'another caller has its own budget');

  await db.stop();
  const answer = await first.app.inject({ method: 'POST', url: '/answer', payload: { model: 'retrieval', inquiry: 'My earbuds will not pair' }, remoteAddress: '10.9.9.9' });
  t.equal(answer.statusCode, 200, 'with the database away, what does not need it still answers');
});
