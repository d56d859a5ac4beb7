import t from 'tap';
import { loadConfig } from '../src/config.js';
import { CSV_COLUMNS } from '../src/export/csv.js';
import { availableAliases, buildModelRegistry } from '../src/models/registry.js';
import { API_TITLE, svgReplies } from '../src/plugins/openapi.js';
import { buildTestApp } from './helpers/build-app.js';

interface Media {
  schema?: { examples?: unknown[] };
  examples?: Record<string, { value: unknown }>;
}
type Operation = { requestBody?: { content: Record<string, Media> }; responses: Record<string, { content?: Record<string, Media> }> };
type Paths = Record<string, Record<string, Operation>>;

t.test("the exports' replies have their media types and an example in each", async (t) => {
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const paths = (app.swagger() as unknown as { paths: Paths }).paths;
  const exampleOf = (file: string, type: string) => paths[`/evaluate/{run_id}/${file}`]?.get?.responses['200']?.content?.[type]?.schema?.examples?.[0] as string;

  const csv = exampleOf('results.csv', 'text/csv').split('\n');
  t.equal(csv[0], CSV_COLUMNS.join(','), 'the CSV example starts with the real header');
  t.match(csv[1], /^How do I return a defective Bluetooth speaker\?,ft:gpt-4\.1-mini/, 'and has a row');
  t.match(exampleOf('summary.md', 'text/markdown'), /^# Evaluation run run_\w+\n[\s\S]*\*\*Safety gate\*\*[\s\S]*\| Criterion \|/, 'a Markdown summary');
  t.match(exampleOf('chart.svg', 'image/svg+xml'), /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/, 'an SVG');
});

t.test('Swagger UI has a title and draws SVG replies as images', async (t) => {
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  t.match((await app.inject('/docs')).body, `<title>${API_TITLE}: API</title>`);
  const initializer = (await app.inject('/docs/static/swagger-initializer.js')).body;
  t.match(initializer, 'data:image/svg+xml;charset=utf-8,', 'the page gets the plugin');
  t.notMatch(initializer, '__name', 'as browser JavaScript, without tsx helpers');

  // The plugin, run as Swagger UI runs it, with React's createElement recorded as plain objects.
  const React = { createElement: (type: unknown, props: unknown, ...children: unknown[]) => ({ type, props, children }) };
  const plugin = svgReplies({ React });
  const Original = 'OriginalResponseBody';
  const responseBody = (plugin.wrapComponents.responseBody as (original: unknown) => (props: object) => unknown)(Original);
  const svg = '<svg xmlns="http://www.w3.org/2000/svg"><rect width="4" height="2"/></svg>';
  t.match(responseBody({ contentType: 'image/svg+xml', content: svg }), {
    type: 'div',
    children: [{ type: 'h5' }, { type: 'img', props: { src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}` } }],
  });
  t.match(responseBody({ contentType: 'text/csv', content: 'a,b' }), { type: Original, props: { content: 'a,b' } }, 'other replies as before');

  const fn = { getSampleSchema: (_schema: unknown, contentType: string) => `made up for ${contentType}` };
  plugin.afterLoad({ fn });
  t.equal(fn.getSampleSchema({ type: 'string', examples: [svg] }, 'image/svg+xml'), svg, "an SVG's documented example is shown as written");
  t.equal(fn.getSampleSchema({ type: 'string', examples: ['a,b'] }, 'text/csv'), 'made up for text/csv', 'other media types as before');
});

t.test('with no key, the first example of each POST uses models that answer, and works', async (t) => {
  const { app } = await buildTestApp(t, { OPENAI_API_KEY: '' });
  const paths = (app.swagger() as unknown as { paths: Paths }).paths;
  const config = loadConfig({ OPENAI_API_KEY: '' });
  const answering = availableAliases(buildModelRegistry(config, { models: {} }, { model_id: 'bm25:training', description: 'offline' }));
  t.same(answering, ['retrieval', 'handoff']);

  for (const [path, expected] of [
    ['/answer', 200],
    ['/compare', 200],
    ['/evaluate', 202],
  ] as const) {
    const examples = Object.values(paths[path]?.post?.requestBody?.content['application/json']?.examples ?? {});
    const first = examples[0]?.value as { model?: string; models?: string[] };
    t.ok(examples.length > 1, `${path}: an offline example, then the others`);
    const models = first.models ?? [first.model ?? ''];
    t.ok(
      models.every((model) => answering.includes(model)),
      `${path}: the first example's models (${models.join(', ')}) answer with no key`,
    );
    const reply = await app.inject({ method: 'POST', url: path, payload: first });
    t.equal(reply.statusCode, expected, `${path}: "Try it out" with the first example answers ${expected}`);
  }
});
