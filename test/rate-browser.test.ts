/**
 * Blind rating in a real browser (Debian's Chromium through playwright-core), against the service started as
 * `npm start` starts it: two people rate an offline run's answers on the rating page, by keyboard and by mouse,
 * and nothing on the page, in its address or in the replies it reads names a model; a reload resumes where the
 * rater left off and shows the saved ratings; the report then shows how far the heuristic agrees with them.
 * With SERVICE_API_KEYS the key says who rates, and the page shows its label.
 *
 * With SCREENSHOTS_DIR set (e.g. reports/screenshots), the run also saves the pictures the README shows.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import t from 'tap';
import { CRITERIA, DEFAULT_RUBRIC_WEIGHTS, RUBRIC, WEIGHTED_TIE_BAND, weightedScore } from '../src/scoring/rubric.js';
import { chromiumMissing, launchChromium, watchedPage } from './helpers/browser.js';
import { startTestService } from './helpers/server-process.js';

const STEP_MS = 30_000;
t.setTimeout(240_000);

const INQUIRIES = [
  { id: 'tv-return', inquiry: 'How long do I have to return a TV?', reference: 'Most electronics can be returned within 30 days of delivery; start in Your Orders with Return or replace items.' },
  { id: 'track', inquiry: 'Where is my package? It said it would arrive yesterday.', reference: "Go to 'Your Orders', find the order, then select 'Track package'." },
  { id: 'pair', inquiry: 'my bluetoth headphones wont pair with my phone', reference: 'Turn Bluetooth off and on, forget the device in Settings > Bluetooth, then pair again.' },
  { id: 'refund', inquiry: 'How long does a refund to my card take?', reference: 'Refunds to a card usually take 3 to 5 business days after the return is processed.' },
  { id: 'label', inquiry: 'Can I print the return label at home?', reference: "Yes: in 'Your Orders' choose 'Return or replace items', then print the label or use the QR code." },
  { id: 'swollen', inquiry: 'My tablet battery looks swollen, can I keep charging it?', reference: 'Stop using and charging it at once, keep it away from heat, and contact support for a safe return.' },
];
/** What a rater must never see: the offline models' aliases and ids. */
const MODEL_NAMES = /retrieval|handoff|bm25:/i;
/**
 * How each simulated rater leans from the heuristic, answer A's four criteria then answer B's: people who mostly
 * agree with it and a little less with each other, as the report's agreement figures should then show.
 */
const LEANINGS: Record<string, number[]> = { ana: [0, 0, 0, 0, 0, -1, 0, 0], ben: [1, 0, -1, 0, 0, 0, 1, -1] };

type ScoredItems = { items: { item_id: string; results: { answer: string | null; scores: Record<string, number | null> | null }[] }[] };

/**
 * The levels a simulated rater gives the item on screen: the heuristic's level of each answer shown, moved by the
 * rater's leaning. The test looks the answers up in the unblinded items; the page itself never names a model.
 */
async function levelsFor(page: Page, scored: ScoredItems, rater: string): Promise<number[]> {
  const itemId = await page.locator('#item-texts code').innerText();
  const texts = await page.locator('.rate-answer .answer-text').evaluateAll((answers) => answers.map((answer) => answer.textContent ?? ''));
  const results = scored.items.find((item) => item.item_id === itemId)?.results ?? [];
  return texts.flatMap((text, answer) => {
    const scores = results.find((result) => result.answer === text)?.scores;
    return CRITERIA.map((criterion, index) => Math.min(5, Math.max(1, (scores?.[criterion] ?? 3) + (LEANINGS[rater]?.[answer * 4 + index] ?? 0))));
  });
}

const radioState = (page: Page) =>
  page.locator('#answers input[type="radio"]:checked').evaluateAll((radios) => radios.map((radio) => Number((radio as unknown as { value: string }).value)));
const itemTitle = (page: Page) => page.locator('#item-title').innerText();

/** Waits for the item at this place in the run to be on screen. */
const itemShown = (page: Page, position: number) => page.locator('#item-title', { hasText: new RegExp(`^Item ${position}$`) }).waitFor();

/** Types a level per criterion with the digit keys alone, focus moving on by itself. */
async function typeLevels(page: Page, levels: number[]) {
  for (const level of levels) await page.keyboard.press(String(level));
}

/** The preference key of a simulated rater: the answer their levels weigh higher, or a tie (t) within the tie band. */
function preferenceFor(levels: number[]): 'a' | 'b' | 't' {
  const [a, b] = [levels.slice(0, 4), levels.slice(4, 8)].map((four) => weightedScore({ accuracy: four[0] ?? 0, actionability: four[1] ?? 0, completeness: four[2] ?? 0, safety_tone: four[3] ?? 0 }, DEFAULT_RUBRIC_WEIGHTS)) as [number, number];
  return Math.abs(a - b) <= WEIGHTED_TIE_BAND ? 't' : a > b ? 'a' : 'b';
}

/** Opens the rating page in a fresh browser context as a new rater without keys: the page asks the name once. */
async function openAsRater(page: Page, url: string, name: string) {
  await page.goto(url);
  await page.locator('#rater-dialog[open]').waitFor();
  await page.locator('#rater-input').fill(name);
  await page.keyboard.press('Enter');
  await page.locator('#rater-name', { hasText: name }).waitFor();
}

t.test('two people rate blind, resume after a reload, and the report shows how far the heuristic agrees with them', async (t) => {
  const missing = chromiumMissing();
  if (missing) {
    t.fail(missing);
    return;
  }
  const started = Date.now();
  const service = await startTestService(t, {});
  const runId = await service.startRun({ inquiries: INQUIRIES, models: ['retrieval', 'handoff'], scorer: 'heuristic' });
  t.match(await service.waitForEnd(runId), { status: 'completed' });
  const browser = await launchChromium(t, STEP_MS);
  const screenshots = process.env.SCREENSHOTS_DIR;
  if (screenshots) mkdirSync(screenshots, { recursive: true });
  const rateUrl = `${service.base}/evaluate/${runId}/rate`;
  const scored = (await service.getJson(`/evaluate/${runId}/items?limit=100`)) as ScoredItems;
  const given: number[][] = [];

  const ana = await watchedPage(t, browser, STEP_MS);
  const { page } = ana;
  const replies: Promise<string>[] = [];
  page.on('response', (response) => {
    if (response.request().resourceType() === 'fetch') replies.push(response.text().catch(() => ''));
  });
  await openAsRater(page, rateUrl, 'ana');
  await itemShown(page, 1);
  t.match(await page.locator('#rate-progress-text').innerText(), /^0 of 6 rated$/, 'the progress');
  t.same(await page.locator('.rate-answer h3').allInnerTexts(), ['Answer A', 'Answer B'], 'the answers by key only');
  t.equal(await page.locator('#item-texts .inquiry-text').innerText(), INQUIRIES[0]?.inquiry);
  t.equal(await page.locator('#item-texts .reference-text').innerText(), INQUIRIES[0]?.reference);

  // The rubric, every level of every criterion, as the judge is shown it.
  const rubric = page.locator('#rubric-body');
  t.same(await rubric.locator('.rubric-criterion summary').allInnerTexts(), CRITERIA.map((criterion) => RUBRIC[criterion].title));
  for (const criterion of CRITERIA) {
    const levels = await rubric.locator(`.rubric-criterion[data-criterion="${criterion}"] .rubric-levels li`).allInnerTexts();
    t.same(levels, [1, 2, 3, 4, 5].map((level) => `${level} ${RUBRIC[criterion].levels[level as 1]}`), `${criterion}: its five levels`);
  }
  t.match(await page.locator('#shortcuts').innerText(), /1\s+to\s+5[\s\S]*Enter[\s\S]*N or J[\s\S]*P or K/, 'the keyboard shortcuts are listed');

  // Enter with a criterion left without a level saves nothing and says what is missing.
  await page.keyboard.press('Enter');
  await page.locator('#message', { hasText: 'Missing: Answer A, accuracy' }).waitFor();
  t.pass('saving with levels missing says which');

  // Item 1 by keyboard alone: eight digits, a preference, Enter.
  given.push(await levelsFor(page, scored, 'ana'));
  await typeLevels(page, given[0] ?? []);
  const firstLevel = given[0]?.[0] as 1;
  t.equal(
    await page.locator('fieldset.levels[data-key="A"][data-criterion="accuracy"] .level-meaning').innerText(),
    `${firstLevel}: ${RUBRIC.accuracy.levels[firstLevel]}`,
    "the chosen level's description shows under it",
  );
  await page.keyboard.press(preferenceFor(given[0] ?? []));
  await page.keyboard.press('Enter');
  await itemShown(page, 2);
  t.match(await page.locator('#save-status').innerText(), /Saved item 1/);
  t.match(await page.locator('#rate-progress-text').innerText(), /^1 of 6 rated$/);
  given.push(await levelsFor(page, scored, 'ana'));
  if (screenshots) {
    await typeLevels(page, given[1]?.slice(0, 6) ?? []);
    await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
    await page.screenshot({ path: join(screenshots, 'rate.png'), fullPage: true, clip: { x: 0, y: 0, width: 1200, height: 1240 } });
  }

  // Item 2 by mouse: a click per level, "A tie", Save; a comment too.
  const answerOrder = ['A', 'B'];
  for (const [index, level] of (given[1] ?? []).entries()) {
    const key = answerOrder[Math.floor(index / 4)];
    const criterion = CRITERIA[index % 4];
    await page.locator(`fieldset.levels[data-key="${key}"][data-criterion="${criterion}"] label`, { hasText: new RegExp(`^${level}$`) }).click();
  }
  const preferences = { a: 'Answer A', b: 'Answer B', t: 'A tie' } as const;
  await page.locator('#preference-options label', { hasText: preferences[preferenceFor(given[1] ?? [])] }).click();
  await page.locator('#comment').fill('Both miss the tracking page <b>by name</b>.');
  await page.locator('#save').click();
  await itemShown(page, 3);

  // Back to item 2: its saved values show; forward again, and item 3 with Ctrl+Enter from the comment.
  await page.keyboard.press('p');
  await itemShown(page, 2);
  t.same(await radioState(page), given[1], 'a saved item shows its levels');
  const preferenceValue = (levels: number[]) => ({ a: 'A', b: 'B', t: 'tie' })[preferenceFor(levels)];
  t.equal(await page.locator('#preference-options input:checked').getAttribute('value'), preferenceValue(given[1] ?? []));
  t.equal(await page.locator('#comment').inputValue(), 'Both miss the tracking page <b>by name</b>.');
  t.match(await page.locator('#item-state').innerText(), /rated, saved/);
  await page.keyboard.press('j');
  await itemShown(page, 3);
  given.push(await levelsFor(page, scored, 'ana'));
  await typeLevels(page, given[2] ?? []);
  await page.keyboard.press(preferenceFor(given[2] ?? []));
  await page.locator('#comment').fill('A is the safer one.');
  await page.keyboard.press('Control+Enter');
  await itemShown(page, 4);
  t.match(await page.locator('#rate-progress-text').innerText(), /^3 of 6 rated$/);

  // Blind: no alias or model id in the page, its address, or any reply it read.
  const html = await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { outerHTML: string } } }).document.documentElement.outerHTML);
  t.notMatch(html, MODEL_NAMES, 'no model name anywhere in the page, text or attributes');
  t.notMatch(page.url(), MODEL_NAMES);
  const read = await Promise.all(replies);
  t.ok(read.length >= 5, `the page read ${read.length} replies`);
  for (const body of read) t.notMatch(body, MODEL_NAMES, 'nor in a reply the page read');
  const paths = ana.requests.map((request) => new URL(request.url).pathname);
  t.same(
    paths.filter((path) => !path.startsWith('/ui/') && path !== `/evaluate/${runId}/rate` && path !== '/rubric' && !/^\/evaluate\/[^/]+\/(?:rating-items|ratings)$/.test(path)),
    [],
    'it calls nothing but the rubric, its items and the ratings',
  );

  // A reload keeps the name and the ratings, and resumes at the first unrated item.
  await page.reload();
  await itemShown(page, 4);
  t.equal(await page.locator('#rater-dialog[open]').count(), 0, 'the name is not asked again');
  t.equal(await page.locator('#rater-name').innerText(), 'ana');
  t.match(await page.locator('#rate-progress-text').innerText(), /^3 of 6 rated$/, 'the ratings are kept');
  await page.locator('#previous').click();
  await itemShown(page, 3);
  t.same(await radioState(page), given[2], 'item 3 as it was saved');
  t.equal(await page.locator('#preference-options input:checked').getAttribute('value'), preferenceValue(given[2] ?? []));

  // A revision: the preference taken back on the saved item, saved again; the count of rated items stays.
  await page.locator('#preference-options label', { hasText: 'No preference' }).click();
  t.match(await page.locator('#item-state').innerText(), /changed, not saved/);
  await page.keyboard.press('Enter');
  await itemShown(page, 4);
  t.match(await page.locator('#save-status').innerText(), /Saved item 3 \(revised\)/);
  t.match(await page.locator('#rate-progress-text').innerText(), /^3 of 6 rated$/, 'a revision is not another item rated');

  const stored = (await service.getJson(`/evaluate/${runId}/ratings`)).ratings as { rater: string; item_id: string; comment: string | null }[];
  t.same(stored.map((rating) => [rating.rater, rating.item_id]), INQUIRIES.slice(0, 3).map((item) => ['ana', item.id]), 'three ratings stored, in item order');
  t.same(stored.map((rating) => rating.comment), [null, 'Both miss the tracking page <b>by name</b>.', 'A is the safer one.'], 'with their comments, as typed');

  // A second person at another browser: asked their name, their own order, the same three items by keyboard.
  const ben = await watchedPage(t, browser, STEP_MS);
  await ben.page.goto(rateUrl);
  await ben.page.locator('#rater-input').fill('ben:b');
  await ben.page.keyboard.press('Enter');
  await ben.page.locator('#rater-message', { hasText: 'That name cannot be used' }).waitFor();
  t.pass('a name the service refuses is asked for again, with why');
  await ben.page.locator('#rater-input').fill('ben');
  await ben.page.keyboard.press('Enter');
  await ben.page.locator('#rater-name', { hasText: 'ben' }).waitFor();
  for (const index of [0, 1, 2]) {
    await itemShown(ben.page, index + 1);
    const levels = await levelsFor(ben.page, scored, 'ben');
    await typeLevels(ben.page, levels);
    await ben.page.keyboard.press(preferenceFor(levels));
    await ben.page.keyboard.press('Enter');
  }
  await itemShown(ben.page, 4);
  t.match(await ben.page.locator('#rate-progress-text').innerText(), /^3 of 6 rated$/);

  // The report: the "Rate blindly" link, and the human-ratings panel with the agreement the summary computed.
  const run = await service.getJson(`/evaluate/${runId}`);
  const human = run.summary.human;
  t.same(human.raters, ['ana', 'ben']);
  await page.goto(`${service.base}/evaluate/${runId}/report`);
  const panel = page.locator('#human-ratings');
  await panel.waitFor({ state: 'visible' });
  t.equal(await page.locator('#rate-link').getAttribute('href'), `/evaluate/${runId}/rate`, 'the report links to the rating page');
  t.match(await page.locator('#human-raters').innerText(), /Rated blind by ana, ben: 3 items, 6 ratings/);
  t.equal(await page.locator('#calibration').innerText(), `Calibration: ${run.summary.calibration}`, 'the calibration sentence');
  t.match(run.summary.calibration, /^heuristic vs 2 raters on 3 items: weighted kappa/);
  for (const criterion of CRITERIA) {
    const row = page.locator(`#agreement-table tr[data-criterion="${criterion}"]`);
    const agreement = human.scorer_agreement.criteria[criterion];
    t.equal(await row.locator('.kappa').innerText(), agreement.weighted_kappa === null ? '–' : agreement.weighted_kappa.toFixed(2), `${criterion}: weighted kappa`);
    t.equal(Number(await row.locator('.pairs').innerText()), agreement.n, `${criterion}: n`);
    t.equal(await row.locator('.alpha').innerText(), human.inter_rater.criteria[criterion].alpha?.toFixed(3) ?? '–', `${criterion}: the raters' alpha`);
  }
  t.ok(human.scorer_agreement.criteria.accuracy.weighted_kappa > 0.5, 'raters who mostly agree with the heuristic: a kappa to match');
  t.match(await page.locator('#agreement-table thead').innerText(), /Weighted kappa[\s\S]*Spearman[\s\S]*Exact[\s\S]*Within one[\s\S]*n \(pairs\)[\s\S]*alpha/i, "the table's columns");
  t.match(await page.locator('#preference-agreement').innerText(), /retrieval vs handoff: the raters’ preference is the sign of the weighted difference .* in \d+% of \d ratings/);
  if (screenshots) await panel.screenshot({ path: join(screenshots, 'report-human-ratings.png') });

  await page.goto(service.base);
  const rateLink = page.locator(`#runs tr[data-run-id="${runId}"] a.rate-link`);
  await rateLink.waitFor();
  t.equal(await rateLink.getAttribute('href'), `/evaluate/${runId}/rate`, 'the run list links each run to its rating page');

  t.same(ana.incidents, [], 'no dialog, no error, no CSP message in the console');
  t.same(ben.incidents, ['console error: Failed to load resource: the server responded with a status of 400 (Bad Request)'], 'nothing but the refused name');
  for (const watched of [ana, ben]) t.same(await watched.violations(), [], 'no Content-Security-Policy violation');
  t.comment(`rate browser test: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

t.test('with SERVICE_API_KEYS the key says who rates: the page asks for the key, never a name, and shows its label', async (t) => {
  const missing = chromiumMissing();
  if (missing) {
    t.fail(missing);
    return;
  }
  const key = 'rate-browser-key-0123456789';
  const service = await startTestService(t, { SERVICE_API_KEYS: `ana:${key}` });
  const runId = await service.startRun({ inquiries: INQUIRIES.slice(0, 2), models: ['retrieval', 'handoff'], scorer: 'heuristic' });
  await service.waitForEnd(runId);
  const browser = await launchChromium(t, STEP_MS);
  const { page, incidents, requests, violations } = await watchedPage(t, browser, STEP_MS);

  await page.goto(`${service.base}/evaluate/${runId}/rate`);
  await page.locator('#key-dialog[open]').waitFor();
  await page.locator('#key-input').fill(key);
  await page.locator('#key-submit').click();
  await itemShown(page, 1);
  t.equal(await page.locator('#rater-name').innerText(), 'ana', "the key's label is the rater shown");
  t.match(await page.locator('#rater-status').innerText(), /your API key/);
  t.equal(await page.locator('#rater-dialog[open]').count(), 0, 'no name is asked');
  t.equal(await page.locator('#rater-change').count(), 0, 'nor can one be changed');

  await typeLevels(page, [3, 3, 3, 3, 4, 4, 4, 4]);
  await page.keyboard.press('Enter');
  await itemShown(page, 2);
  const posted = requests.filter((request) => request.method === 'POST');
  t.equal(posted.length, 1);
  t.notOk('rater' in JSON.parse(posted[0]?.body ?? '{}'), 'the rating is posted without a name: the key names the rater');
  t.equal(posted[0]?.authorization, `Bearer ${key}`);
  t.same(((await service.getJson(`/evaluate/${runId}/ratings`)).ratings as { rater: string }[]).map((rating) => rating.rater), ['ana'], 'filed under the label');
  t.same(requests.filter((request) => request.url.includes(key)), [], 'the key never goes in a URL');

  t.same(incidents.filter((incident) => !/status of 401/.test(incident)), [], 'no dialog, no error (the 401 the key form answers aside)');
  t.same(await violations(), [], 'no Content-Security-Policy violation');
});
