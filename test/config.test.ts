import t from 'tap';
import { ConfigError, DEFAULT_FT_MODEL_ID, loadConfig } from '../src/config.js';

t.test('defaults apply with an empty environment', async (t) => {
  const config = loadConfig({});
  t.equal(config.PORT, 3000);
  t.equal(config.HOST, '127.0.0.1');
  t.equal(config.OPENAI_API_STYLE, 'responses');
  t.equal(config.FT_MODEL_ID, DEFAULT_FT_MODEL_ID);
  t.equal(config.TEMPERATURE, 0.2);
  t.equal(config.MAX_OUTPUT_TOKENS, 300);
  t.equal(config.SEED, 42);
  t.equal(config.OPENAI_API_KEY, undefined);
});

t.test('a bad value stops the boot with a message naming the variable', async (t) => {
  t.throws(() => loadConfig({ PORT: 'eighty' }), { name: 'ConfigError', message: /PORT/ });
  t.throws(() => loadConfig({ OPENAI_API_STYLE: 'completions' }), /OPENAI_API_STYLE/);
  t.throws(() => loadConfig({ TEMPERATURE: '3' }), /TEMPERATURE/);
  const error = t.throws(() => loadConfig({ OPENAI_BASE_URL: 'not a url' })) as ConfigError;
  t.match(error.message, /OPENAI_BASE_URL.*not a url/);
});

t.test('empty strings fall back to defaults', async (t) => {
  t.equal(loadConfig({ PORT: '', OPENAI_API_KEY: '' }).PORT, 3000);
  t.equal(loadConfig({ OPENAI_API_KEY: '' }).OPENAI_API_KEY, undefined);
});

t.test('rubric weights are read from RUBRIC_WEIGHTS and must sum to 1', async (t) => {
  t.same(loadConfig({}).RUBRIC_WEIGHTS, { accuracy: 0.4, actionability: 0.25, completeness: 0.25, safety_tone: 0.1 });
  t.same(loadConfig({ RUBRIC_WEIGHTS: 'accuracy=0.25,actionability=0.25,completeness=0.25,safety_tone=0.25' }).RUBRIC_WEIGHTS, {
    accuracy: 0.25,
    actionability: 0.25,
    completeness: 0.25,
    safety_tone: 0.25,
  });
  t.throws(() => loadConfig({ RUBRIC_WEIGHTS: 'accuracy=0.5,actionability=0.25,completeness=0.25,safety_tone=0.1' }), /RUBRIC_WEIGHTS: .*sum to 1/);
});
