import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import pg from 'pg';
import t, { type Test } from 'tap';
import { runEvaluate } from '../src/cli/evaluate.js';
import { loadConfig } from '../src/config.js';
import { comparisonBetween } from '../src/models/alias-promotion.js';
import { ALIASES_FILE, createFileAliasStore } from '../src/models/model-alias-file-store.js';
import { createPostgresAliasStore } from '../src/models/model-alias-postgres-store.js';
import { createModelAliases, type AliasAssignment } from '../src/models/model-aliases.js';
import { buildModelRegistry } from '../src/models/registry.js';
import { buildTestApp } from './helpers/build-app.js';
import { startFakeOpenAI, type FakeOpenAI } from './helpers/fake-openai.js';
import { startTestPostgres } from './helpers/postgres.js';

const KEY = 'sk-test-model-aliases-0123456789';
const CURRENT = 'ft:gpt-4.1-mini-2025-04-14:acme:support:A1';
const NEXT = 'ft:gpt-4.1-mini-2025-04-14:acme:next:B2';
const GOOD_ANSWER = "Go to 'Your Orders', select the order, then choose 'Return or replace items'. Most items can be returned within 30 days of delivery.";
const POOR_ANSWER = 'You may want to contact customer service.';

function tempDir(t: Test, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A logger that keeps its warnings, for the assignments that cannot be applied. */
function warningsLogger() {
  const warnings: string[] = [];
  const log = { warn: (_fields: unknown, message: string) => warnings.push(message) } as unknown as FastifyBaseLogger;
  return { log, warnings };
}

function registryFor(env: Record<string, string> = {}) {
  return buildModelRegistry(loadConfig({ FT_MODEL_ID: CURRENT, ...env }), { models: {} }, { model_id: 'bm25:train', description: 'Offline.' });
}

async function aliasesOver(t: Test, reportsDir: string, registry = registryFor()) {
  const { log, warnings } = warningsLogger();
  const aliases = await createModelAliases({ registry, store: createFileAliasStore(reportsDir), log, refreshIntervalMs: 0 });
  t.teardown(() => aliases.close());
  return { aliases, registry, warnings };
}

const fineTune = { alias: 'fine-tuned-next', model_id: NEXT, assigned_by: 'fine-tune ftjob-1', reason: 'fine_tune' as const, fine_tune_id: 'ftjob-1' };

t.test('assign registers a new alias like fine-tuned, is idempotent, and keeps the audit trail in order', async (t) => {
  const reportsDir = tempDir(t, 'aliases-');
  const { aliases, registry } = await aliasesOver(t, reportsDir);
  const first = await aliases.assign(fineTune);
  t.match(first, { alias: 'fine-tuned-next', model_id: NEXT, previous_model_id: null, reason: 'fine_tune', fine_tune_id: 'ftjob-1', like: 'fine-tuned', overrode_significant_loss: false });
  const entry = registry.resolve('fine-tuned-next');
  t.equal(entry.model_id, NEXT, 'applied to the registry at once');
  t.same(entry.pricing, { input_per_million: 0.8, output_per_million: 3.2 }, "the fine-tuned model's list price");
  t.equal(registry.resolve(NEXT).alias, 'fine-tuned-next', 'its model id resolves too');
  t.match(entry.description, /Assigned at run time/);

  const again = await aliases.assign({ ...fineTune, assigned_by: 'fine-tune ftjob-2', fine_tune_id: 'ftjob-2' });
  t.same(again, first, 'the same alias and model again records nothing and returns the current assignment');

  const repointed = await aliases.assign({ alias: 'fine-tuned', model_id: NEXT, assigned_by: 'alice', reason: 'promote' });
  t.match(repointed, { previous_model_id: CURRENT, like: null }, 'an alias as configured: its configured model is the previous one');
  t.equal(registry.resolve('fine-tuned').model_id, NEXT);
  const back = await aliases.assign({ alias: 'fine-tuned', model_id: CURRENT, assigned_by: 'bob', reason: 'promote' });
  t.equal(back.previous_model_id, NEXT, 'then the last assignment is the previous one');

  t.same((await aliases.history()).map((a) => [a.alias, a.model_id, a.assigned_by]), [
    ['fine-tuned-next', NEXT, 'fine-tune ftjob-1'],
    ['fine-tuned', NEXT, 'alice'],
    ['fine-tuned', CURRENT, 'bob'],
  ]);
  t.same((await aliases.history('fine-tuned')).map((a) => a.assigned_by), ['alice', 'bob'], 'per alias, oldest first');
  t.equal(readFileSync(join(reportsDir, ALIASES_FILE), 'utf8').trim().split('\n').length, 3, 'one line per assignment');
  t.equal(aliases.current('fine-tuned')?.assigned_by, 'bob');
  t.equal(aliases.current('baseline'), undefined, 'an alias as configured has no assignment');
});

t.test('assign refuses offline aliases, unknown templates and malformed names, storing nothing', async (t) => {
  const reportsDir = tempDir(t, 'aliases-');
  const { aliases } = await aliasesOver(t, reportsDir);
  const refusals: Array<[Parameters<typeof aliases.assign>[0], number, string]> = [
    [{ ...fineTune, alias: 'retrieval' }, 400, 'offline_alias'],
    [{ ...fineTune, alias: 'handoff' }, 400, 'offline_alias'],
    [{ ...fineTune, like: 'handoff' }, 400, 'offline_alias'],
    [{ ...fineTune, like: 'no-such-alias' }, 400, 'unknown_model'],
    [{ ...fineTune, alias: 'has space' }, 400, 'validation_error'],
  ];
  for (const [input, statusCode, code] of refusals) {
    await t.rejects(aliases.assign(input), { statusCode, code }, `${input.alias} like ${input.like ?? 'fine-tuned'}: ${code}`);
  }
  t.same(await aliases.history(), [], 'nothing stored');
});

t.test('a new alias copies the settings of `like`, not its retirement date; the judge can be re-pointed', async (t) => {
  const reportsDir = tempDir(t, 'aliases-');
  const registry = buildModelRegistry(
    loadConfig({ FT_MODEL_ID: CURRENT }),
    { models: { 'llama-local': { model_id: 'llama3.1:8b', base_url: 'http://localhost:11434/v1', api_key_env: null, api_style: 'chat', pricing: { input_per_million: 0, output_per_million: 0 }, retires_on: '2027-01-31' } } },
  );
  const { aliases } = await aliasesOver(t, reportsDir, registry);
  await aliases.assign({ ...fineTune, alias: 'llama-next', model_id: 'llama3.2:3b', like: 'llama-local' });
  const entry = registry.resolve('llama-next');
  t.match(entry, { kind: 'openai', upstream: { base_url: 'http://localhost:11434/v1', api_key_env: null, api_style: 'chat' }, pricing: { input_per_million: 0 } });
  t.notOk('retires_on' in entry, 'the retirement date was the old model’s');
  await aliases.assign({ alias: 'judge', model_id: 'gpt-4.1-2025-04-14', assigned_by: 'alice', reason: 'promote' });
  t.match(registry.resolve('judge'), { model_id: 'gpt-4.1-2025-04-14', defaults: { temperature: 0 }, pricing: { input_per_million: 2 } }, 'the judge keeps its own settings');
});

t.test('the trail survives a torn last line, and another instance sees assignments on refresh', async (t) => {
  const reportsDir = tempDir(t, 'aliases-');
  const first = await aliasesOver(t, reportsDir);
  const second = await aliasesOver(t, reportsDir);
  await first.aliases.assign(fineTune);
  t.throws(() => second.registry.resolve('fine-tuned-next'), { code: 'unknown_model' }, 'not yet seen by the other');
  await second.aliases.refresh();
  t.equal(second.registry.resolve('fine-tuned-next').model_id, NEXT, 'seen after refresh');

  appendFileSync(join(reportsDir, ALIASES_FILE), '{"alias":"fine-tuned","model_id":"ft:torn');
  const third = await aliasesOver(t, reportsDir);
  t.equal(third.registry.resolve('fine-tuned').model_id, CURRENT, 'a torn line is no assignment');
  await third.aliases.assign({ alias: 'fine-tuned', model_id: NEXT, assigned_by: 'alice', reason: 'promote' });
  const lines = readFileSync(join(reportsDir, ALIASES_FILE), 'utf8').split('\n');
  t.equal(lines.length, 3, 'the torn line was cut before the append');
  t.same(lines.slice(0, 2).map((line) => (JSON.parse(line) as AliasAssignment).alias), ['fine-tuned-next', 'fine-tuned']);
});

t.test('a stored assignment the configuration no longer allows is skipped with a warning; the timer reads the store again', async (t) => {
  const reportsDir = tempDir(t, 'aliases-');
  const stale: AliasAssignment = { ...fineTune, alias: 'gone-like', previous_model_id: null, assigned_at: new Date().toISOString(), evaluation_run_id: null, overrode_significant_loss: false, like: 'llama-local' };
  writeFileSync(join(reportsDir, ALIASES_FILE), `${JSON.stringify(stale)}\n`);
  const { log, warnings } = warningsLogger();
  const registry = registryFor();
  const aliases = await createModelAliases({ registry, store: createFileAliasStore(reportsDir), log, refreshIntervalMs: 10 });
  t.teardown(() => aliases.close());
  t.match(warnings, ['a stored alias assignment cannot be applied']);
  t.throws(() => registry.resolve('gone-like'), { code: 'unknown_model' });

  const other = await aliasesOver(t, reportsDir);
  await other.aliases.assign(fineTune);
  const deadline = Date.now() + 5000;
  while (registry.entries.every((entry) => entry.alias !== 'fine-tuned-next') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  t.equal(registry.resolve('fine-tuned-next').model_id, NEXT, 'picked up by the timed refresh');
});

t.test('a comparison is read as candidate minus current, whichever model the run listed first', async (t) => {
  const models = [
    { alias: 'fine-tuned-next', model_id: NEXT },
    { alias: 'fine-tuned', model_id: CURRENT },
    { alias: 'baseline', model_id: 'gpt-4.1-mini-2025-04-14' },
  ];
  const gain = (first: string, second: string, mean: number | null, ci: [number, number] | null) => ({
    first,
    second,
    n_pairs: 30,
    mean_difference: mean,
    ci95: ci && { low: ci[0], high: ci[1], method: 'bootstrap' as const },
    text: 'line',
  });
  const headline = (gains: ReturnType<typeof gain>[]) => ({ section: 'unseen' as const, items: 30, partial: false, gains });
  t.match(comparisonBetween(models, headline([gain('fine-tuned-next', 'fine-tuned', -0.5, [-0.8, -0.2])]), NEXT, CURRENT), { gain: -0.5, ci95: { low: -0.8, high: -0.2 }, significant_loss: true });
  t.match(comparisonBetween(models, headline([gain('fine-tuned-next', 'fine-tuned', -0.5, [-0.8, 0.1])]), NEXT, CURRENT), { significant_loss: false }, 'an interval containing 0');
  t.match(comparisonBetween(models, headline([gain('fine-tuned', 'fine-tuned-next', 0.5, [0.2, 0.8])]), NEXT, CURRENT), { gain: -0.5, ci95: { low: -0.8, high: -0.2 }, significant_loss: true, headline: 'fine-tuned vs fine-tuned-next: line' });
  t.match(comparisonBetween(models, headline([gain('fine-tuned', 'fine-tuned-next', null, null)]), NEXT, CURRENT), { gain: null, ci95: null, significant_loss: false });
  t.equal(comparisonBetween(models, headline([gain('baseline', 'fine-tuned', 0.5, [0.2, 0.8]), gain('baseline', 'fine-tuned-next', 1, [0.5, 1.5])]), NEXT, CURRENT), null, 'neither first: no paired comparison of the two');
});

t.test('the command line answers with the aliases as they were assigned', async (t) => {
  const fake = await startFakeOpenAI({ apiKey: KEY });
  t.teardown(() => fake.close());
  const dir = tempDir(t, 'cli-aliases-');
  const reportsDir = join(dir, 'reports');
  const { aliases } = await aliasesOver(t, reportsDir);
  await aliases.assign({ alias: 'fine-tuned', model_id: NEXT, assigned_by: 'alice', reason: 'promote' });
  writeFileSync(join(dir, 'prompts.json'), JSON.stringify(['Where is my order?', 'My earbuds will not pair']));
  let stderr = '';
  const io = { stdout: () => undefined, stderr: (text: string) => (stderr += text), isTerminal: false, env: { REPORTS_DIR: reportsDir, OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, FT_MODEL_ID: CURRENT, OPENAI_MAX_RETRIES: '0' } };
  const code = await runEvaluate(['--prompts', join(dir, 'prompts.json'), '--models', 'fine-tuned', '--scorer', 'none'], io);
  t.equal(code, 0, stderr);
  t.same(fake.requests.map((request) => request.body.model), [NEXT, NEXT]);
});

// ---- Through the API ----

const modelsFile = (t: Test) => {
  const path = join(tempDir(t, 'models-file-'), 'models.json');
  writeFileSync(path, JSON.stringify({ models: { 'fine-tuned-next': { model_id: NEXT } } }));
  return path;
};

async function startFake(t: Test, poorModel: string | null = null): Promise<FakeOpenAI> {
  const fake = await startFakeOpenAI({ apiKey: KEY, answer: (request) => (request.body.model === poorModel ? POOR_ANSWER : GOOD_ANSWER) });
  t.teardown(() => fake.close());
  return fake;
}

const appEnv = (fake: FakeOpenAI, file: string, extra: Record<string, string> = {}) => ({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.url, FT_MODEL_ID: CURRENT, MODELS_FILE: file, ...extra });

const promote = (app: FastifyInstance, alias: string, payload: object, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: `/models/${alias}/promote`, payload, headers });

async function modelOf(app: FastifyInstance, alias: string) {
  const { models } = (await app.inject('/models')).json() as { models: Array<{ alias: string; model_id: string; assigned_by: string | null; assigned_at: string | null }> };
  return models.find((model) => model.alias === alias);
}

/** The model id the fake received for an answer from `alias`. */
async function answeredBy(app: FastifyInstance, fake: FakeOpenAI, alias: string): Promise<unknown> {
  const reply = await app.inject({ method: 'POST', url: '/answer', payload: { inquiry: 'Where is my order?', model: alias } });
  if (reply.statusCode !== 200) throw new Error(`POST /answer: ${reply.statusCode} ${reply.body}`);
  return fake.requests.at(-1)?.body.model;
}

async function endedRun(app: FastifyInstance, body: object): Promise<string> {
  const created = await app.inject({ method: 'POST', url: '/evaluate', payload: body });
  if (created.statusCode !== 202) throw new Error(`POST /evaluate: ${created.statusCode} ${created.body}`);
  const { run_id } = created.json() as { run_id: string };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const run = (await app.inject(`/evaluate/${run_id}`)).json() as { status: string };
    if (['completed', 'failed', 'cancelled'].includes(run.status)) return run_id;
    if (Date.now() > deadline) throw new Error(`run ${run_id} still ${run.status}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

t.test('promote re-points the alias at once and across a restart, recorded with who and when', async (t) => {
  const fake = await startFake(t);
  const env = appEnv(fake, modelsFile(t), { SERVICE_API_KEYS: `alice:${KEY}-service` });
  const auth = { authorization: `Bearer ${KEY}-service` };
  const first = await buildTestApp(t, env);
  const reply = await promote(first.app, 'fine-tuned', { model: 'fine-tuned-next', reason: 'the new fine-tune' }, auth);
  t.equal(reply.statusCode, 200, reply.body);
  const body = reply.json();
  t.match(body.assignment, { alias: 'fine-tuned', model_id: NEXT, previous_model_id: CURRENT, assigned_by: 'alice', reason: 'promote', evaluation_run_id: null, overrode_significant_loss: false, note: 'the new fine-tune', fine_tune_id: null });
  t.equal(body.evaluation, null);
  t.match(body.warning, /No ended evaluation compared/);
  t.notMatch(readFileSync(join(first.reportsDir, ALIASES_FILE), 'utf8'), `${KEY}-service`, 'never the key');

  const answer = await first.app.inject({ method: 'POST', url: '/answer', payload: { inquiry: 'Where is my order?', model: 'fine-tuned' }, headers: auth });
  t.equal(answer.statusCode, 200);
  t.equal(fake.requests.at(-1)?.body.model, NEXT, 'the fake received the new model id');
  const listed = (await first.app.inject({ url: '/models', headers: auth })).json().models.find((model: { alias: string }) => model.alias === 'fine-tuned');
  t.match(listed, { model_id: NEXT, assigned_by: 'alice', assigned_at: body.assignment.assigned_at });
  await first.app.close();

  const second = await buildTestApp(t, { ...env, REPORTS_DIR: first.reportsDir });
  const again = (await second.app.inject({ url: '/models/fine-tuned/history', headers: auth })).json();
  t.same(again, { alias: 'fine-tuned', assignments: [body.assignment] }, 'the trail survives the restart');
  await second.app.inject({ method: 'POST', url: '/answer', payload: { inquiry: 'Where is my order?', model: 'fine-tuned' }, headers: auth });
  t.equal(fake.requests.at(-1)?.body.model, NEXT, 'and so does the assignment, over FT_MODEL_ID');
});

t.test('a significant loss in the newest ended evaluation refuses the promote, unless overridden', async (t) => {
  const fake = await startFake(t, NEXT);
  const { app } = await buildTestApp(t, appEnv(fake, modelsFile(t)));
  const runId = await endedRun(app, { prompt_set: 'eval_inquiries', models: ['fine-tuned-next', 'fine-tuned'], scorer: 'heuristic' });

  const refused = await promote(app, 'fine-tuned', { model: NEXT });
  t.equal(refused.statusCode, 409, refused.body);
  const { error } = refused.json();
  t.equal(error.code, 'significant_loss');
  t.match(error.message, new RegExp(`^Run ${runId} shows ${NEXT} worse than ${CURRENT}.*weighted gain -\\d\\.\\d\\d \\(95% CI -\\d\\.\\d\\d to -\\d\\.\\d\\d`));
  t.match(error.details, { run_id: runId, candidate_model_id: NEXT, current_model_id: CURRENT, significant_loss: true });
  t.ok(error.details.ci95.high < 0);
  t.equal(await answeredBy(app, fake, 'fine-tuned'), CURRENT, 'the alias did not move');
  t.same((await app.inject('/models/fine-tuned/history')).json().assignments, []);

  const overridden = await promote(app, 'fine-tuned', { model: 'fine-tuned-next', override_significant_loss: true });
  t.equal(overridden.statusCode, 200, overridden.body);
  t.match(overridden.json(), { assignment: { evaluation_run_id: runId, overrode_significant_loss: true, assigned_by: 'ip:127.0.0.1' }, evaluation: { run_id: runId }, warning: /despite a significant loss/ });
  t.equal(await answeredBy(app, fake, 'fine-tuned'), NEXT);

  const same = await promote(app, 'fine-tuned', { model: NEXT });
  t.match(same.json(), { assignment: overridden.json().assignment, warning: /already points at/ }, 'promoting to the model it points at changes nothing');
  t.equal((await app.inject('/models/fine-tuned/history')).json().assignments.length, 1);
});

t.test('an evaluation without a significant loss is recorded with the promote', async (t) => {
  const fake = await startFake(t, CURRENT);
  const { app } = await buildTestApp(t, appEnv(fake, modelsFile(t)));
  const runId = await endedRun(app, { prompt_set: 'eval_inquiries', models: ['fine-tuned', 'fine-tuned-next'], scorer: 'heuristic' });
  const reply = await promote(app, 'fine-tuned', { model: 'fine-tuned-next' });
  t.equal(reply.statusCode, 200, reply.body);
  const { assignment, evaluation, warning } = reply.json();
  t.match(assignment, { evaluation_run_id: runId, overrode_significant_loss: false });
  t.match(evaluation, { run_id: runId, candidate_model_id: NEXT, current_model_id: CURRENT, significant_loss: false });
  t.ok(evaluation.gain > 0, 'the candidate is better: the run listed it second, so its gain is turned around');
  t.equal(warning, null);
});

t.test('promote and history refuse unknown aliases, unknown models and offline aliases', async (t) => {
  const fake = await startFake(t);
  const { app } = await buildTestApp(t, appEnv(fake, modelsFile(t)));
  const cases: Array<[string, object, number, string]> = [
    ['no-such-alias', { model: 'fine-tuned-next' }, 404, 'unknown_alias'],
    ['fine-tuned', { model: 'gpt-9' }, 400, 'unknown_model'],
    ['retrieval', { model: 'fine-tuned-next' }, 400, 'offline_alias'],
    ['fine-tuned', { model: 'handoff' }, 400, 'offline_alias'],
    ['fine-tuned', { model: 'fine-tuned-next', force: true }, 400, 'validation_error'],
    ['fine-tuned', {}, 400, 'validation_error'],
  ];
  for (const [alias, payload, status, code] of cases) {
    const reply = await promote(app, alias, payload);
    t.equal(reply.statusCode, status, `${alias} ${JSON.stringify(payload)}`);
    t.equal(reply.json().error.code, code);
  }
  t.match((await app.inject('/models/no-such-alias/history')).json(), { error: { code: 'unknown_alias', details: { aliases: ['fine-tuned', 'baseline', 'judge', 'retrieval', 'handoff', 'fine-tuned-next'] } } });
  t.same((await app.inject('/models/baseline/history')).json(), { alias: 'baseline', assignments: [] });
  t.match(await modelOf(app, 'baseline'), { assigned_by: null, assigned_at: null });
});

t.test('PostgreSQL: replicas on one database see a promote after a refresh, and a restart keeps it', async (t) => {
  const db = await startTestPostgres(t);
  const fake = await startFake(t);
  const env = appEnv(fake, modelsFile(t), { RUNS_STORE: 'postgres', DATABASE_URL: db.url, RUN_SWEEP_INTERVAL_MS: '600000' });
  const one = await buildTestApp(t, env);
  const two = await buildTestApp(t, env);
  t.equal(await answeredBy(two.app, fake, 'fine-tuned'), CURRENT);

  const reply = await promote(one.app, 'fine-tuned', { model: 'fine-tuned-next', reason: 'ok' });
  t.equal(reply.statusCode, 200, reply.body);
  t.match(await modelOf(two.app, 'fine-tuned'), { model_id: NEXT, assigned_by: 'ip:127.0.0.1' }, 'GET /models reads the store again');
  t.equal(await answeredBy(two.app, fake, 'fine-tuned'), NEXT);

  // Two replicas assigning at once are taken in turn: each sees the other's as the previous one.
  const [a, b] = await Promise.all([
    promote(one.app, 'baseline', { model: NEXT }),
    promote(two.app, 'baseline', { model: 'judge' }),
  ]);
  t.same([a.statusCode, b.statusCode], [200, 200]);
  const trail = (await one.app.inject('/models/baseline/history')).json().assignments as AliasAssignment[];
  t.equal(trail.length, 2);
  t.equal(trail[1]?.previous_model_id, trail[0]?.model_id, 'the later one names the earlier as previous');

  await one.app.close();
  const three = await buildTestApp(t, env);
  t.equal(await answeredBy(three.app, fake, 'fine-tuned'), NEXT, 'a restarted replica applies the stored assignment at boot');
  t.same((await three.app.inject('/models/fine-tuned/history')).json().assignments, [reply.json().assignment]);

  // An append that fails part-way leaves nothing behind.
  const pool = new pg.Pool({ connectionString: db.url });
  const store = createPostgresAliasStore(pool);
  await t.rejects(
    store.append('fine-tuned', () => {
      throw new Error('decided nothing');
    }),
    { message: 'decided nothing' },
  );
  t.equal((await store.readAll()).length, 3);
  await pool.end();

  await db.stop();
  const unreadable = await three.app.inject('/models/fine-tuned/history');
  t.equal(unreadable.json().error.code, 'database_unavailable', 'a history that cannot be read is a 503');
  t.match(await modelOf(three.app, 'fine-tuned'), { model_id: NEXT }, 'GET /models answers with what the replica last read');
  t.ok(three.logs().some((line) => line.msg === 'model aliases could not be read again'));
  await db.start();
});

t.test('a promote during a run leaves the run answering and judging with the models it was created with', async (t) => {
  const fake = await startFakeOpenAI({ apiKey: KEY, answer: () => GOOD_ANSWER, latencyMs: 40 });
  t.teardown(() => fake.close());
  const { app } = await buildTestApp(t, appEnv(fake, modelsFile(t)));
  const created = await app.inject({ method: 'POST', url: '/evaluate', payload: { prompt_set: 'eval_inquiries', models: ['fine-tuned'], scorer: 'judge', concurrency: 1 } });
  t.equal(created.statusCode, 202, created.body);
  const { run_id: runId } = created.json() as { run_id: string };
  for (;;) {
    const run = (await app.inject(`/evaluate/${runId}`)).json() as { progress: { done: number } };
    if (run.progress.done >= 2) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const modelsCalled = () => [...new Set(fake.requests.map((request) => (request.body as { model: string }).model))].sort();
  const before = modelsCalled();
  t.equal(before.length, 2, 'the answering model and the judge were both called before the promotes');
  const promoted = Date.now();
  t.equal((await promote(app, 'fine-tuned', { model: 'fine-tuned-next' })).statusCode, 200);
  t.equal((await promote(app, 'judge', { model: 'fine-tuned-next' })).statusCode, 200);
  let ended: { status: string };
  do {
    await new Promise((resolve) => setTimeout(resolve, 20));
    ended = (await app.inject(`/evaluate/${runId}`)).json() as { status: string };
  } while (ended.status === 'running' || ended.status === 'queued');
  t.equal(ended.status, 'completed');
  t.ok(fake.requests.some((request) => request.at > promoted), 'the run went on calling after the promotes');
  t.same(modelsCalled(), before, 'every answer and every verdict of the run came from the models it was created with');
  const csv = (await app.inject(`/evaluate/${runId}/results.csv`)).body;
  t.notMatch(csv, NEXT, 'and its results name no other');
  t.equal(await answeredBy(app, fake, 'fine-tuned'), NEXT, 'while new calls reach the promoted model');
});
