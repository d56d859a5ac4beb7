/**
 * The run list and a run's report in a real browser (Debian's Chromium through playwright-core), against the
 * service started as `npm start` starts it: a run followed live to its end, then a finished run read the way a
 * support lead reads it (filter, sort, search, open an item, download its CSV row), with script payloads in
 * inquiries, references, ids, categories and answers shown as the text they are: no dialog opens and no
 * Content-Security-Policy violation happens. With SERVICE_API_KEYS set, the page asks for the key once.
 *
 * With SCREENSHOTS_DIR set (e.g. reports/screenshots), the run also saves the pictures the README shows.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { Page } from 'playwright-core';
import t from 'tap';
import { chromiumMissing, launchChromium, watchedPage } from './helpers/browser.js';
import { startFakeOpenAI } from './helpers/fake-openai.js';
import { startTestService } from './helpers/server-process.js';

const STEP_MS = 30_000;
const SERVICE_KEY = 'report-browser-key-0123456789';
const UPSTREAM_KEY = 'sk-test-report-browser-0123456789';
t.setTimeout(240_000);

const trainingInquiry = (line: number) =>
  (JSON.parse(readFileSync('data/amazon_electronics_adapted_train.jsonl', 'utf8').split('\n')[line - 1] as string).messages[1].content as string).replace(
    /^Inquiry: "|"$/g,
    '',
  );

/** Markup that would run script if any page put it in as HTML. */
const PAYLOADS = {
  inquiry: '<img src=x onerror=alert(1)>',
  reference: '</script><script>alert(1)</script>',
  id: '"><svg onload=alert(1)>',
  category: '<b onmouseover=alert(1)>bold</b>',
  answer: '<img src=x onerror=alert(2)> Go to Your Orders </script><script>alert(3)</script>',
};

const OFFLINE_ITEMS = [
  { id: 'xss-inquiry', inquiry: PAYLOADS.inquiry, reference: PAYLOADS.reference, category: PAYLOADS.category },
  { id: PAYLOADS.id, inquiry: 'How long do I have to return a TV?', reference: 'Most electronics can be returned within 30 days of delivery; start in Your Orders with Return or replace items.', category: 'returns' },
  { id: 'track', inquiry: trainingInquiry(3), reference: "Go to 'Your Orders', find the order, then select 'Track package'.", category: 'orders' },
  { id: 'pair', inquiry: 'my bluetoth headphones wont pair with my phone', reference: 'Turn Bluetooth off and on, forget the device in Settings > Bluetooth, then pair again.', category: 'troubleshooting' },
  { id: 'refund', inquiry: 'How long does a refund to my card take?', reference: 'Refunds to a card usually take 3 to 5 business days after the return is processed.', category: 'returns' },
  { id: 'label', inquiry: 'Can I print the return label at home?', reference: "Yes: in 'Your Orders' choose 'Return or replace items', then print the label or use the QR code.", category: 'returns' },
];

const texts = (page: Page, selector: string) => page.locator(selector).allInnerTexts();
const rowIds = (page: Page) => page.locator('#items-body tr.item-row').evaluateAll((rows) => rows.map((row) => (row as unknown as { dataset: { itemId: string } }).dataset.itemId));

/** Waits until the items table shows what the filters asked for (the info line changes with each load). */
async function itemsShown(page: Page, info: RegExp) {
  await page.locator('#items-info', { hasText: info }).waitFor();
  await page.waitForFunction(() => !(globalThis as unknown as { document: { getElementById(id: string): { hasAttribute(name: string): boolean } } }).document.getElementById('items-body').hasAttribute('aria-busy'));
}

t.test('the run list and a report: a run followed live, then filtered, sorted, searched and opened, payloads shown as text', async (t) => {
  const missing = chromiumMissing();
  if (missing) {
    t.fail(missing);
    return;
  }
  const started = Date.now();
  // The fine-tune answers slowly (so a run can be watched while it goes) and with markup in its answers.
  const fake = await startFakeOpenAI({ apiKey: UPSTREAM_KEY, latencyMs: 800, answer: () => PAYLOADS.answer });
  t.teardown(() => fake.close());
  const service = await startTestService(t, { OPENAI_API_KEY: UPSTREAM_KEY, OPENAI_BASE_URL: fake.url });
  const browser = await launchChromium(t, STEP_MS);
  const screenshots = process.env.SCREENSHOTS_DIR;
  if (screenshots) mkdirSync(screenshots, { recursive: true });

  const offline = await service.startRun({ inquiries: OFFLINE_ITEMS, models: ['retrieval', 'handoff'], scorer: 'heuristic' });
  t.match(await service.waitForEnd(offline), { status: 'completed' }, 'the offline run completed');

  // A run still going: the report follows its progress and shows its headline once it ends, without a reload.
  const liveInquiries = Array.from({ length: 10 }, (_, index) => ({ id: `live-${index + 1}`, inquiry: `Where is order number ${index + 1}?`, reference: "Go to 'Your Orders' and select 'Track package'." }));
  const live = await service.startRun({ inquiries: liveInquiries, models: ['fine-tuned', 'retrieval'], scorer: 'heuristic', concurrency: 1 });
  const watched = await watchedPage(t, browser, STEP_MS);
  const { page } = watched;
  await page.goto(`${service.base}/evaluate/${live}/report`);
  await page.locator('#run-state').waitFor();
  t.match(await page.locator('#run-state').innerText(), /queued|running/, 'the report opens while the run goes on');
  t.match(await page.locator('#live').innerText(), /live/, 'and says it is live');
  const progressSeen = new Set<string>();
  const noteProgress = async () => progressSeen.add(await page.locator('#run-progress-text').innerText());
  // The page refreshes every 2 s while the run goes on: the keyboard's place must survive it.
  await page.locator('#items-body tr.item-row .open-button').first().waitFor();
  // After the first answer the buttons change only with the status (the rating link appears with that answer).
  await page.locator('#rate-link').waitFor();
  await noteProgress();
  const statusBefore = await page.locator('#run-state').innerText();
  await page.locator('#run-actions button[data-download="results.csv"]').focus();
  await page.waitForTimeout(2500);
  await noteProgress();
  const focusedDownload = (await page.locator(':focus').count()) > 0 ? await page.locator(':focus').getAttribute('data-download') : null;
  const statusAfter = await page.locator('#run-state').innerText();
  t.ok(focusedDownload === 'results.csv' || statusAfter !== statusBefore, `a focused button keeps the focus across polls (${statusBefore} → ${statusAfter}, focus on ${focusedDownload})`);
  const watchedRow = page.locator('#items-body tr.item-row').first();
  const rowId = await watchedRow.getAttribute('data-item-id');
  await watchedRow.locator('.open-button').focus();
  await page.waitForTimeout(2500);
  await noteProgress();
  const focusedRow = page.locator('#items-body tr.item-row:has(.open-button:focus)');
  t.equal((await focusedRow.count()) > 0 ? await focusedRow.getAttribute('data-item-id') : null, rowId, "and so does a row's button when the items are refreshed");
  for (const deadline = Date.now() + 45_000; Date.now() < deadline; await page.waitForTimeout(150)) {
    progressSeen.add(await page.locator('#run-progress-text').innerText());
    if ((await page.locator('#run-state').innerText()) === 'completed') break;
  }
  t.equal(await page.locator('#run-state').innerText(), 'completed', 'the status turns to completed by itself');
  t.ok(progressSeen.size >= 3, `the progress moved on the page (${[...progressSeen].join(' → ')})`);
  await page.locator('#headline-body .gain-card').waitFor();
  t.match(await page.locator('#headline-body .gain-card h3').innerText(), 'fine-tuned vs retrieval', 'the headline appears when the run ends');
  await itemsShown(page, /Items 1–10 of 10/);
  t.equal(await page.locator('#items-body .badge-pending').count(), 0, 'and every item is in, none pending');
  await page.locator('#items-body tr.item-row .open-button').first().click();
  const answer = page.locator('.answer-card[data-model="fine-tuned"] .answer-text').first();
  t.equal(await answer.innerText(), PAYLOADS.answer, 'an answer holding markup is shown as its text');
  t.equal(await page.locator('#items-body img, #items-body script').count(), 0, 'no element was made from it');

  // The run list: both runs, their status, progress and headline gain; a link to each report.
  await page.goto(service.base);
  await page.locator(`#runs tr[data-run-id="${offline}"]`).waitFor();
  t.same(await page.locator('#runs tr').evaluateAll((rows) => rows.map((row) => (row as unknown as { dataset: { runId: string } }).dataset.runId)), [live, offline], 'newest first');
  t.match(await page.locator(`#runs tr[data-run-id="${live}"]`).innerText(), /20 \/ 20[\s\S]*fine-tuned\s+vs retrieval/);
  const offlineRow = page.locator(`#runs tr[data-run-id="${offline}"]`);
  t.match(await offlineRow.innerText(), /completed[\s\S]*12 \/ 12[\s\S]*retrieval\s+vs handoff[\s\S]*heuristic[\s\S]*[+-]\d\.\d\d[\s\S]*95% CI/, 'status, progress, models, scorer and the headline gain with its interval');
  if (screenshots) await page.screenshot({ path: join(screenshots, 'run-list.png'), clip: { x: 0, y: 0, width: 1200, height: 420 } });

  await offlineRow.locator('a.run-link').click();
  await page.waitForURL(`**/evaluate/${offline}/report`);
  await itemsShown(page, /Items 1–6 of 6/);
  t.equal(await page.locator('#run-title').innerText(), offline);
  t.match(await page.locator('#headline-section').innerText(), /not in the training set: 1 exact and 1 near/, 'the headline is on unseen items, and says why');
  t.match(await page.locator('#headline-body .gain-card').innerText(), /retrieval vs handoff[\s\S]*W\/T\/L \d+\/\d+\/\d+[\s\S]*p [=<]/, 'the paired gain with W/T/L and p-value');
  t.match(await page.locator('#headline-body .safety-gate').innerText(), /Safety gate/);
  t.match(await page.locator('#provenance-body').innerText(), /Scorer\s+heuristic[\s\S]*Prompt hash \(SHA-256\)\s+[0-9a-f]{64}[\s\S]*Weights\s+Accuracy 0.4[\s\S]*seed \d+/i, 'provenance: scorer, prompt hash, weights, seed');
  const chart = page.locator('#chart');
  await chart.waitFor({ state: 'visible' });
  t.match(await chart.getAttribute('src'), /^blob:/, 'the chart is fetched with the key and shown from a blob: URL');
  const drawn = await chart.evaluate(async (element) => {
    const img = element as unknown as { decode(): Promise<void>; naturalWidth: number };
    await img.decode();
    return img.naturalWidth;
  });
  t.ok(drawn > 300, `the chart is drawn (${drawn} px wide)`);

  // Every payload is on the page as text, and none became an element.
  t.same(await rowIds(page), OFFLINE_ITEMS.map((item) => item.id), "the items in the run's order, ids as text");
  const firstRow = page.locator('#items-body tr.item-row').first();
  t.equal(await firstRow.locator('td.inquiry').innerText(), PAYLOADS.inquiry, 'an inquiry holding markup is shown as text');
  t.equal(await firstRow.locator('.category').innerText(), PAYLOADS.category, 'a category holding markup too');
  t.equal(await page.locator('#filter-category option', { hasText: 'bold' }).innerText(), `${PAYLOADS.category} (1)`, 'and in the category filter');
  t.equal(await page.locator('#items-body tr.item-row').nth(1).locator('td.item-id code').innerText(), PAYLOADS.id, 'an id holding markup too');
  t.equal(await page.locator('main img').count(), 1, 'the only image is the chart');
  t.equal(await page.locator('main script, main svg, main b, main iframe').count(), 0, 'no element was made from the data');
  if (screenshots) await page.screenshot({ path: join(screenshots, 'report.png') });

  // Filter by a flag: the copies of training inquiries.
  await page.locator('#filter-flag').selectOption('in_training');
  await itemsShown(page, /Items 1–2 of 2 matching/);
  t.same(await rowIds(page), ['track', 'pair'], 'flag "in training": the exact and the near copy');
  t.same(await texts(page, '#items-body .badge-training'), ['in training: exact', 'in training: near']);
  t.match(page.url(), /[?&]flag=in_training\b/, 'the filter is in the address, to share or reload');
  await page.locator('#filter-flag').selectOption('');
  await itemsShown(page, /Items 1–6 of 6$/);

  // Sort by the difference, largest first; items without one last.
  await page.locator('#filter-sort').selectOption('difference_desc');
  await itemsShown(page, /Items 1–6 of 6$/);
  const shown = (await texts(page, '#items-body td.difference')).map((text) => (text === '–' ? null : Number(text)));
  const known = shown.filter((value): value is number => value !== null);
  t.ok(known.length >= 3, `differences are shown (${shown.join(', ')})`);
  t.same(known, known.toSorted((a, b) => b - a), 'largest first');
  t.same(shown.slice(known.length), shown.filter((value) => value === null), 'items without a difference last');
  await page.locator('#filter-sort').selectOption('position');

  // Search the text: a misspelling only the inquiry has.
  await page.locator('#filter-q').fill('BLUETOTH');
  await itemsShown(page, /Items 1–1 of 1 matching/);
  t.same(await rowIds(page), ['pair'], 'search finds the inquiry, whatever the case');
  await page.locator('#filter-q').fill('');
  await itemsShown(page, /Items 1–6 of 6$/);

  // Open an item: the inquiry, the reference, each model's answer with its four scores and rationales, its CSV rows.
  const row = page.locator('#items-body tr.item-row').first();
  await row.locator('.open-button').click();
  const detail = page.locator('.item-detail').first();
  await detail.waitFor();
  t.equal(await row.locator('.open-button').getAttribute('aria-expanded'), 'true');
  t.equal(await detail.locator('.inquiry-text').innerText(), PAYLOADS.inquiry, 'the opened inquiry, as text');
  t.equal(await detail.locator('.reference-text').innerText(), PAYLOADS.reference, 'the reference, as text');
  t.same(await detail.locator('.answer-card h3').allInnerTexts(), ['retrieval bm25:amazon_electronics_adapted_train', 'handoff handoff:safe-reply'], 'both answers side by side');
  t.equal(await detail.locator('.answer-card').first().locator('table.scores tbody tr').count(), 5, 'four criteria and the weighted score');
  t.match(await detail.locator('.answer-card').first().locator('td.rationale').allInnerTexts(), [String, String, String, String], 'each with its rationale');
  t.ok((await detail.innerText()).includes(PAYLOADS.reference), 'the rationale quotes the reference, as text');
  const csvLink = detail.locator('.answer-card').first().locator('button.csv-row');
  const csvRow = Number(/row (\d+)/.exec(await csvLink.innerText())?.[1]);
  const [downloaded] = await Promise.all([page.waitForEvent('download'), csvLink.click()]);
  t.equal(downloaded.suggestedFilename(), `${offline}.csv`, 'the CSV link downloads results.csv');
  const csv = parse(readFileSync(await downloaded.path(), 'utf8'), { columns: true }) as Record<string, string>[];
  t.match(csv[csvRow - 2], { item_id: 'xss-inquiry', model_alias: 'retrieval', inquiry: PAYLOADS.inquiry }, `and row ${csvRow} of it is this answer`);
  if (screenshots) {
    const box = await page.locator('#items').evaluate((element) => {
      const { top, height } = element.getBoundingClientRect();
      return { y: top + (globalThis as unknown as { scrollY: number }).scrollY, height };
    });
    await page.screenshot({ path: join(screenshots, 'report-item.png'), fullPage: true, clip: { x: 0, y: box.y - 8, width: 1200, height: Math.min(box.height + 16, 1100) } });
  }

  // A rescore of the offline run: its report says whose answers it scored, with a way back to that run.
  t.notMatch(await page.locator('#run-facts').innerText(), /answers/i, 'a run whose models answered says nothing of where its answers came from');
  const rescored = await service.startRescore(offline, { scorer: 'heuristic' });
  t.match(await service.waitForEnd(rescored), { status: 'completed' });
  await page.goto(`${service.base}/evaluate/${rescored}/report`);
  await page.locator('#run-facts .rescore-link').waitFor();
  t.match(await page.locator('#run-facts').innerText(), new RegExp(`Answers\\s+the stored answers of ${offline}: scored again, no model answered anew`, 'i'), 'the rescore names the run it scored again');
  await page.locator('#run-facts .rescore-link').click();
  await page.waitForURL(`**/evaluate/${offline}/report`);
  t.equal(await page.locator('#run-title').innerText(), offline, 'and links to its report');

  t.same(watched.incidents, [], 'no dialog, no error, no CSP message in the console');
  t.same(await watched.violations(), [], 'no Content-Security-Policy violation');
  t.comment(`browser test: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

t.test('with SERVICE_API_KEYS the page asks for the key once, then works; the key never goes in a URL', async (t) => {
  const missing = chromiumMissing();
  if (missing) {
    t.fail(missing);
    return;
  }
  const service = await startTestService(t, { SERVICE_API_KEYS: SERVICE_KEY });
  const runId = await service.startRun({ inquiries: OFFLINE_ITEMS.slice(1, 4), models: ['retrieval', 'handoff'], scorer: 'heuristic' });
  await service.waitForEnd(runId);
  const browser = await launchChromium(t, STEP_MS);
  const { page, incidents, requests, violations } = await watchedPage(t, browser, STEP_MS);

  await page.goto(service.base);
  const dialog = page.locator('#key-dialog[open]');
  await dialog.waitFor();
  t.match(await dialog.innerText(), /needs an API key/, 'the list asks for a key');
  await page.locator('#key-input').fill('not-the-key-0000000000');
  await page.locator('#key-submit').click();
  await page.locator('#key-message', { hasText: 'refused' }).waitFor();
  t.ok(await dialog.isVisible(), 'a wrong key is refused, and the form asks again');
  await page.locator('#key-input').fill(SERVICE_KEY);
  await page.locator('#key-submit').click();
  await page.locator(`#runs tr[data-run-id="${runId}"]`).waitFor();
  t.equal(await page.locator('#key-dialog[open]').count(), 0, 'the right key closes the form and the runs show');
  t.match(await page.locator('#key-status').innerText(), /set for this tab/);

  await page.locator(`#runs tr[data-run-id="${runId}"] a.run-link`).click();
  await itemsShown(page, /Items 1–3 of 3/);
  t.equal(await page.locator('#key-dialog[open]').count(), 0, 'the report does not ask again in the same tab');
  await page.locator('#chart').waitFor({ state: 'visible' });
  t.match(await page.locator('#headline-body').innerText(), /retrieval vs handoff/);

  const api = requests.filter((request) => /\/evaluate(?:\?|\/|$)/.test(new URL(request.url).pathname + new URL(request.url).search) && !request.url.endsWith('/report'));
  t.ok(api.length >= 4, `the page called the API (${api.length} requests)`);
  t.ok(
    api.filter((request) => request.authorization === `Bearer ${SERVICE_KEY}`).length >= 3,
    'with the key in the Authorization header',
  );
  t.same(requests.filter((request) => request.url.includes(SERVICE_KEY) || request.url.includes('not-the-key')), [], 'never in a URL');
  t.notOk(page.url().includes(SERVICE_KEY));

  await page.locator('#key-forget').click();
  t.match(await page.locator('#key-status').innerText(), /none/, 'the key can be forgotten');
  await page.reload();
  await page.locator('#key-dialog[open]').waitFor();
  t.pass('and the page asks for it again');

  t.same(incidents.filter((incident) => !/status of 401/.test(incident)), [], 'no dialog, no error (the 401s the key form answers aside)');
  t.same(await violations(), [], 'no Content-Security-Policy violation');
});
