import t from 'tap';
import { loadConfig } from '../src/config.js';
import { LATEST_SCHEMA_VERSION } from '../src/db/migrations.js';
import { buildTestApp } from './helpers/build-app.js';
import { startTestPostgres } from './helpers/postgres.js';
import { freePort, startServerProcess } from './helpers/server-process.js';

const PASSWORD = 'db-secret-passw0rd-xyz';

t.test('DATABASE_URL is checked at boot, and never shown', async (t) => {
  t.equal(loadConfig({}).RUNS_STORE, 'file', 'the file store is the default');
  t.equal(loadConfig({}).DATABASE_URL, undefined);
  t.throws(() => loadConfig({ RUNS_STORE: 'postgres' }), { name: 'ConfigError', message: /DATABASE_URL: required when RUNS_STORE=postgres/ });
  t.throws(() => loadConfig({ RUNS_STORE: 'mysql' }), { message: /RUNS_STORE/ });
  for (const url of [`mysql://admin:${PASSWORD}@db:3306/runs`, `postgres//admin:${PASSWORD}@db/runs`, 'not a url']) {
    const error = (() => {
      try {
        loadConfig({ RUNS_STORE: 'postgres', DATABASE_URL: url });
      } catch (caught) {
        return caught as Error;
      }
    })();
    t.match(error?.message, /DATABASE_URL: expected a postgres:\/\/ or postgresql:\/\/ URL/, url);
    t.notMatch(error?.message, PASSWORD, 'the password is not shown');
  }
  t.equal(loadConfig({ RUNS_STORE: 'postgres', DATABASE_URL: 'postgresql://u:p@db/runs' }).DATABASE_URL, 'postgresql://u:p@db/runs');
});

t.test('an unreachable database stops the process with a message naming DATABASE_URL, without the password', async (t) => {
  const closed = await freePort();
  const server = startServerProcess({
    HOST: '127.0.0.1',
    PORT: String(await freePort()),
    RUNS_STORE: 'postgres',
    DATABASE_URL: `postgres://evaluator:${PASSWORD}@127.0.0.1:${closed}/runs`,
  });
  t.teardown(() => server.child.kill('SIGKILL'));
  t.equal(await server.exited, 1);
  t.match(server.output(), new RegExp(`DATABASE_URL: cannot connect to postgres://127\\.0\\.0\\.1:${closed}/runs .*ECONNREFUSED`));
  t.notMatch(server.output(), PASSWORD);
  t.notMatch(server.output(), /\n\s+at /, 'no stack trace');
});

t.test('/ready answers for the database: ready while it answers, 503 once it is gone, ready again when it is back', async (t) => {
  const db = await startTestPostgres(t, PASSWORD);
  const { app, rawLogs, logs } = await buildTestApp(t, { RUNS_STORE: 'postgres', DATABASE_URL: db.url });
  t.match(logs(), [{ msg: /connected to PostgreSQL/, schema_version: LATEST_SCHEMA_VERSION }]);

  const ready = await app.inject('/ready');
  t.equal(ready.statusCode, 200);
  t.match(ready.json(), { status: 'ready', database: { status: 'ok', schema_version: LATEST_SCHEMA_VERSION } });

  await db.stop();
  const down = await app.inject('/ready');
  t.equal(down.statusCode, 503);
  t.match(down.json(), { error: { code: 'database_unavailable', message: /^The database \(DATABASE_URL\) did not answer: .+/ } });
  t.equal((await app.inject('/health')).statusCode, 200, 'liveness does not depend on the database');

  await db.start();
  t.equal((await app.inject('/ready')).statusCode, 200, 'ready again, with no restart');
  t.notMatch(rawLogs(), PASSWORD, 'the password never reaches a log line');
  t.notMatch(down.body, PASSWORD);
});

t.test('with the file store, /ready does not mention a database', async (t) => {
  const { app } = await buildTestApp(t);
  t.notOk('database' in (await app.inject('/ready')).json());
});
