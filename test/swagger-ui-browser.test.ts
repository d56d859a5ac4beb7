/**
 * A newcomer's first hour: the service started as `npm start` starts it, with no OpenAI key, and Swagger UI
 * driven in a real browser (Debian's Chromium through playwright-core) the way the README's Quick start walks
 * through it: compare the two offline models, start an offline evaluation, read its summary, see its chart.
 *
 * With SCREENSHOTS_DIR set (e.g. reports/screenshots), the run also saves the pictures the README shows.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import t from 'tap';
import { chromiumMissing, launchChromium } from './helpers/browser.js';
import { freePort, startServerProcess } from './helpers/server-process.js';

const OFFLINE_MODELS = ['retrieval', 'handoff'];
// Bounded, but generous: the suite runs its files in parallel on a machine that may have two busy cores.
const STEP_MS = 30_000;
const RUN_MS = 60_000;
t.setTimeout(180_000);

const within = <T>(promise: Promise<T>, ms: number, what: string) =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref())]);

/** Expands an operation (by Swagger UI's opblock id) and presses "Try it out". */
async function tryItOut(page: Page, operationId: string): Promise<Locator> {
  const operation = page.locator(`#operations-${operationId}`);
  await operation.locator('.opblock-summary').click();
  await operation.locator('.try-out__btn').click();
  return operation;
}

/** Presses Execute, as a person does again after "Clear", and reads the reply Swagger UI shows. */
async function execute(operation: Locator) {
  const clear = operation.locator('.btn-clear');
  if (await clear.isVisible()) await clear.click();
  await operation.locator('.execute').click();
  const reply = operation.locator('.live-responses-table tr.response');
  await reply.waitFor();
  const status = Number(await reply.locator('.response-col_status').innerText());
  const shown = await reply.locator('.response-col_description').innerText();
  const code = reply.locator('.highlight-code code');
  const body = (await code.count()) > 0 ? await code.innerText() : '';
  return { status, body, shown, reply };
}

/** Keeps, or picks in the request body's examples dropdown, the example that asks the two offline models. */
async function chooseOfflineExample(operation: Locator): Promise<string> {
  const select = operation.locator('.opblock-section-request-body .examples-select-element');
  const editor = operation.locator('textarea.body-param__text');
  const names = await select.locator('option').evaluateAll((options) => options.map((option) => (option as unknown as { value: string }).value));
  for (const name of names) {
    if ((await select.inputValue()) !== name) await select.selectOption(name);
    const example = JSON.parse(await editor.inputValue()) as { models?: string[] };
    if (example.models?.join() === OFFLINE_MODELS.join()) return name;
  }
  throw new Error(`none of the examples (${names.join(', ')}) asks ${OFFLINE_MODELS.join(' and ')}`);
}

t.test('a newcomer compares and evaluates the offline models in Swagger UI, with no key', async (t) => {
  // Fails, never skips: a machine without Chromium must not pass this silently.
  const missing = chromiumMissing();
  if (missing) return t.fail(missing);
  const reportsDir = mkdtempSync(join(tmpdir(), 'reports-swagger-ui-'));
  t.teardown(() => rmSync(reportsDir, { recursive: true, force: true }));
  const port = await freePort();
  // An empty key is no key, and keeps a developer's .env out of the test.
  const server = startServerProcess({ PORT: String(port), HOST: '127.0.0.1', OPENAI_API_KEY: '', REPORTS_DIR: reportsDir, RATE_LIMIT_MAX: '0' });
  t.teardown(async () => {
    // SIGTERM lets the process close gracefully and write its coverage; SIGKILL if it does not.
    server.child.kill('SIGTERM');
    await within(server.exited, 15_000, 'server exit').catch(() => server.child.kill('SIGKILL'));
  });
  await within(server.listening, RUN_MS, 'server start');
  // Shown with a failed status: what the service logged as an error.
  const serverErrors = () => server.output().split('\n').filter((line) => /"level":[56]0/.test(line));

  const browser = await launchChromium(t, STEP_MS);
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  page.setDefaultTimeout(STEP_MS);
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  const screenshots = process.env.SCREENSHOTS_DIR;
  if (screenshots) mkdirSync(screenshots, { recursive: true });

  await page.goto(`http://127.0.0.1:${port}/docs`);
  await page.locator('.opblock').first().waitFor();

  // POST /compare: both offline models answer, each answer scored on the rubric.
  const compare = await tryItOut(page, 'compare-post_compare');
  const compareExample = await chooseOfflineExample(compare);
  const compared = await execute(compare);
  t.equal(compared.status, 200, `POST /compare with the ${compareExample} example: 200`, { reply: compared.body, serverErrors: serverErrors() });
  const comparison = JSON.parse(compared.body) as {
    results: Array<{ model: string; answer: string | null; scores: Record<string, unknown> | null }>;
    winner: string | null;
    deltas: unknown;
  };
  t.same(
    comparison.results.map((result) => result.model),
    OFFLINE_MODELS,
    'the reply shows both models side by side',
  );
  for (const result of comparison.results) {
    t.match(result.answer, /\w{3,}/, `${result.model} answered`);
    t.match(
      result.scores,
      { accuracy: Number, actionability: Number, completeness: Number, safety_tone: Number, weighted: Number },
      `${result.model}'s answer is scored on the rubric`,
    );
  }
  t.ok(comparison.winner === null || OFFLINE_MODELS.includes(comparison.winner), `a winner is named or a tie: ${comparison.winner}`);
  t.match(comparison.deltas, { first: 'retrieval', second: 'handoff', weighted: Number }, 'and the differences between the two');
  if (screenshots) {
    const onPage = (locator: Locator) =>
      locator.evaluate((element) => {
        const box = element.getBoundingClientRect();
        const { scrollX, scrollY } = globalThis as unknown as { scrollX: number; scrollY: number };
        return { x: box.x + scrollX, y: box.y + scrollY, width: box.width, bottom: box.bottom + scrollY };
      });
    // From the examples dropdown to the start of the reply: where to look, not the whole JSON.
    const top = await onPage(compare.locator('.opblock-section-request-body'));
    const { bottom } = await onPage(compared.reply.locator('.highlight-code'));
    const clip = { x: top.x, y: top.y, width: top.width, height: Math.min(bottom - top.y, 1100) };
    await page.screenshot({ path: join(screenshots, 'swagger-ui-compare.png'), fullPage: true, clip });
  }

  // POST /evaluate: a run over the prompt set starts (202) and its id is in the reply.
  const evaluate = await tryItOut(page, 'evaluate-post_evaluate');
  const evaluateExample = await chooseOfflineExample(evaluate);
  const started = await execute(evaluate);
  t.equal(started.status, 202, `POST /evaluate with the ${evaluateExample} example: 202`, { reply: started.body, serverErrors: serverErrors() });
  const { run_id: runId } = JSON.parse(started.body) as { run_id: string };
  t.match(runId, /^run_\w+$/, 'the reply gives the run id');
  t.match(started.shown, new RegExp(`location: /evaluate/${runId}\\b`), 'and Swagger UI shows its Location header');

  // GET /evaluate/{run_id}, executed again until the run has completed: its summary is in the reply.
  const status = await tryItOut(page, 'evaluate-get_evaluate__run_id_');
  await status.locator('.parameters input[placeholder="run_id"]').fill(runId);
  type Run = {
    status: string;
    progress: { total: number; done: number; failed: number };
    summary?: { all: { items: number; models: Array<{ alias: string; means: { weighted: number } }>; comparisons: unknown } };
  };
  let polled: Awaited<ReturnType<typeof execute>> | undefined;
  let run: Run | undefined;
  for (const deadline = Date.now() + RUN_MS; Date.now() < deadline; await page.waitForTimeout(500)) {
    polled = await execute(status);
    run = polled.status === 200 ? (JSON.parse(polled.body) as Run) : undefined;
    if (!run || !['queued', 'running'].includes(run.status)) break;
  }
  t.equal(polled?.status, 200, 'GET /evaluate/{run_id}: 200', { reply: polled?.body, serverErrors: serverErrors() });
  t.equal(run?.status, 'completed', 'the run completed', { run: polled?.body });
  const answers = (run?.summary?.all.items ?? 0) * OFFLINE_MODELS.length;
  t.ok(answers > 0, `${answers} answers`);
  t.same(run?.progress, { total: answers, done: answers, failed: 0 }, 'every item answered by both models');
  t.same(
    run?.summary?.all.models.map((model) => model.alias),
    OFFLINE_MODELS,
    'the summary has both models',
  );
  t.ok(
    run?.summary?.all.models.every((model) => typeof model.means.weighted === 'number'),
    'each with its mean weighted score',
  );
  t.match(
    run?.summary?.all.comparisons,
    [{ first: 'retrieval', second: 'handoff', measures: { weighted: { mean_difference: Number, ci95_t: { low: Number, high: Number } } } }],
    'and the paired gains with their 95% intervals',
  );

  // GET /evaluate/{run_id}/chart.svg: Swagger UI draws the chart (the SVG plugin in src/plugins/openapi.ts).
  const chart = await tryItOut(page, 'evaluate-get_evaluate__run_id__chart_svg');
  await chart.locator('.parameters input[placeholder="run_id"]').fill(runId);
  const drawn = await execute(chart);
  t.equal(drawn.status, 200, 'GET /evaluate/{run_id}/chart.svg: 200', { shown: drawn.shown.slice(0, 2000), serverErrors: serverErrors() });
  const image = drawn.reply.locator('img[src^="data:image/svg+xml"]');
  await image.waitFor();
  const size = await image.evaluate(async (element) => {
    const img = element as unknown as { decode(): Promise<void>; naturalWidth: number; naturalHeight: number };
    await img.decode();
    return { width: img.naturalWidth, height: img.naturalHeight };
  });
  t.ok(size.width > 100 && size.height > 100, `the chart is shown as a picture (${size.width}×${size.height})`);
  t.ok(await image.isVisible(), 'and it is visible');
  if (screenshots) {
    await drawn.reply.locator('.response-col_description > div').first().screenshot({ path: join(screenshots, 'swagger-ui-chart.png') });
  }

  t.same(pageErrors, [], 'the page threw no error');
});
