import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../src/config.js';
import { AppError } from '../src/errors.js';
import { buildModelRegistry, readModelsFile, type ModelRegistry, type OpenAIModelEntry } from '../src/models/registry.js';

const upstreamModel = (registry: ModelRegistry, alias: string) => registry.resolve(alias) as OpenAIModelEntry;

t.test('fine-tuned and baseline always exist and resolve by alias or model id', async (t) => {
  const registry = buildModelRegistry(loadConfig({}));
  t.same(
    registry.entries.map((entry) => entry.alias),
    ['fine-tuned', 'baseline', 'judge'],
  );
  t.same(registry.resolve('baseline').pricing, { input_per_million: 0.4, output_per_million: 1.6 }, 'list price by default');
  t.same(registry.resolve('fine-tuned').pricing, { input_per_million: 0.8, output_per_million: 3.2 });
  t.equal(buildModelRegistry(loadConfig({ BASELINE_MODEL_ID: 'my-model' })).resolve('baseline').pricing, undefined);
  t.equal(registry.resolve('gpt-4.1-mini-2025-04-14').alias, 'baseline');
  const error = t.throws(() => registry.resolve('davinci')) as AppError;
  t.equal(error.statusCode, 400);
  t.equal(error.code, 'unknown_model');
});

t.test('an alias without a key variable needs no key; others need theirs', async (t) => {
  const registry = buildModelRegistry(loadConfig({ OTHER_KEY: 'k2' }), {
    models: {
      local: { model_id: 'qwen2.5', api_key_env: null },
      other: { model_id: 'gpt-x', api_key_env: 'OTHER_KEY' },
      missing: { model_id: 'gpt-y', api_key_env: 'NOT_SET_KEY' },
    },
  });
  t.ok(registry.apiKeyFor(upstreamModel(registry, 'local')));
  t.equal(registry.apiKeyFor(upstreamModel(registry, 'other')), 'k2');
  t.equal(registry.apiKeyFor(upstreamModel(registry, 'missing')), undefined);
  t.equal(registry.apiKeyFor(upstreamModel(registry, 'fine-tuned')), undefined);
  t.same(registry.availability(registry.resolve('missing')), { available: false, reason: 'Set NOT_SET_KEY.' });
  t.same(registry.availability(registry.resolve('local')), { available: true });
});

t.test('the retrieval alias is reserved for the offline model', async (t) => {
  t.throws(() => buildModelRegistry(loadConfig({}), { models: { retrieval: { model_id: 'x' } } }), /reserved/);
  const registry = buildModelRegistry(loadConfig({}), { models: {} }, { model_id: 'bm25:train', description: 'offline' });
  t.same(registry.availability(registry.resolve('retrieval')), { available: true });
  t.equal(registry.resolve('bm25:train').alias, 'retrieval');
});

t.test('a new alias needs a model id', async (t) => {
  t.throws(() => buildModelRegistry(loadConfig({}), { models: { extra: { description: 'no id' } } }), /alias 'extra' needs a model_id/);
});

t.test('a malformed MODELS_FILE stops the boot naming the file and the faulty field', async (t) => {
  const dir = t.testdir({
    'broken.json': '{"models": {',
    'wrong.json': JSON.stringify({ models: { x: { model_id: 'm', api_style: 'completions' } } }),
    'unknown.json': JSON.stringify({ models: { x: { model_id: 'm', temperature: 0.1 } } }),
  });
  t.throws(() => readModelsFile(join(dir, 'broken.json')), /MODELS_FILE .*broken\.json/);
  t.throws(() => readModelsFile(join(dir, 'wrong.json')), /models\.x\.api_style/);
  t.throws(() => readModelsFile(join(dir, 'unknown.json')), /temperature/);
  t.throws(() => readModelsFile(join(dir, 'absent.json')), /absent\.json/);
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify({ models: { y: { model_id: 'm' } } }));
  t.equal(buildModelRegistry(loadConfig({ MODELS_FILE: good })).resolve('y').model_id, 'm');
});

t.test('the hand-off floor is a second offline model: reserved, always available, never an answer', async (t) => {
  t.throws(() => buildModelRegistry(loadConfig({}), { models: { handoff: { model_id: 'x' } } }), /'handoff' is reserved/);
  const registry = buildModelRegistry(loadConfig({}), { models: {} }, { model_id: 'bm25:train', description: 'offline' });
  const handoff = registry.resolve('handoff');
  t.match(handoff, { kind: 'retrieval', model_id: 'handoff:safe-reply', handoff_only: true });
  t.same(registry.availability(handoff), { available: true });
});

t.test('retires_on: GET /models and the boot log warn from 90 days before a model retires; the service stays ready', async (t) => {
  const { retirementWarning } = await import('../src/models/registry.js');
  const today = new Date('2026-12-02T15:00:00Z');
  t.equal(retirementWarning(undefined, today), null, 'no date, nothing to say');
  t.equal(retirementWarning('2027-03-03', today), null, 'more than 90 days ahead: not yet');
  t.match(retirementWarning('2027-03-02', today), /^retires on 2027-03-02, in 90 days/, 'within 90 days');
  t.match(retirementWarning('2026-12-03', today), /in 1 day:/);
  t.match(retirementWarning('2026-12-02', today), /^retired on 2026-12-02/);

  const dir = t.testdir();
  const soon = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
  const file = join(dir, 'models.json');
  writeFileSync(
    file,
    JSON.stringify({ models: { 'fine-tuned': { retires_on: soon }, baseline: { retires_on: '2099-01-01' }, local: { model_id: 'llama3', base_url: 'http://127.0.0.1:11434/v1', api_key_env: null }, proxy: { model_id: 'gpt-4.1-mini-2025-04-14', base_url: 'http://127.0.0.1:8080/v1', batch_api: true } } }),
  );
  const { buildTestApp } = await import('./helpers/build-app.js');
  const { app, logs } = await buildTestApp(t, { OPENAI_API_KEY: '', MODELS_FILE: file });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const models = (await app.inject('/models')).json().models as { alias: string; retires_on: string | null; retirement_warning: string | null }[];
  const byAlias = new Map(models.map((model) => [model.alias, model]));
  t.match(byAlias.get('fine-tuned'), { retires_on: soon, retirement_warning: /^retires on .+, in (29|30) days/ });
  t.match(byAlias.get('baseline'), { retires_on: '2099-01-01', retirement_warning: null });
  t.match(byAlias.get('judge'), { retires_on: null, retirement_warning: null });
  t.same(
    models.map((model) => [model.alias, (model as { batch_api?: boolean | null }).batch_api]),
    [['fine-tuned', true], ['baseline', true], ['judge', true], ['retrieval', null], ['handoff', null], ['local', false], ['proxy', true]],
    'batch_api: true on OPENAI_BASE_URL, false for an alias with its own server unless it says so, null offline',
  );
  t.equal((await app.inject('/ready')).statusCode, 200, 'ready all the same');
  t.ok(logs().some((line) => line.level === 40 && line.alias === 'fine-tuned' && /retires on/.test(String(line.msg))), 'the boot log says it');

  writeFileSync(file, JSON.stringify({ models: { 'fine-tuned': { retires_on: '2027-13-01' } } }));
  t.throws(() => readModelsFile(file), /models\.fine-tuned\.retires_on/, 'a date that is not one is refused with its path');
});
