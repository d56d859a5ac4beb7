import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium: playwright-core downloads no browser, and the tests never do either. */
export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

/** Why a browser test cannot run here, or null when Chromium is installed. */
export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM)
    ? null
    : `${CHROMIUM} is missing: the browser tests drive Debian's Chromium (playwright-core downloads no browser). Install the Debian package: apt-get install chromium`;
}

interface TapLike {
  teardown(fn: () => unknown): void;
}

/**
 * Launches Chromium for a test and closes it on teardown. Throws with what to install when it is missing:
 * a browser test fails rather than skips, so a machine without Chromium never passes it silently.
 */
export async function launchChromium(t: TapLike, timeout = 30_000): Promise<Browser> {
  const missing = chromiumMissing();
  if (missing) throw new Error(missing);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout });
  t.teardown(() => browser.close());
  return browser;
}

/**
 * A page in a context of its own (its own storage: another person at another browser) that records
 * everything that must not happen: a dialog (alert), an error, a Content-Security-Policy violation; and
 * every request it makes.
 */
export async function watchedPage(t: TapLike, browser: Browser, stepMs = 30_000) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, acceptDownloads: true });
  t.teardown(() => context.close());
  const page = await context.newPage();
  page.setDefaultTimeout(stepMs);
  const incidents: string[] = [];
  page.on('dialog', (dialog) => {
    incidents.push(`dialog: ${dialog.type()} ${dialog.message()}`);
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => incidents.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' || /Content Security Policy|Trusted Type/i.test(message.text())) incidents.push(`console ${message.type()}: ${message.text()}`);
  });
  // Before any script of the page: a violation the console might word differently is still caught.
  await page.addInitScript(() => {
    const seen: string[] = [];
    (globalThis as unknown as { cspViolations: string[] }).cspViolations = seen;
    (globalThis as unknown as { document: { addEventListener(type: string, listener: (event: { violatedDirective: string; blockedURI: string }) => void): void } }).document.addEventListener(
      'securitypolicyviolation',
      (event) => seen.push(`${event.violatedDirective} ${event.blockedURI}`),
    );
  });
  const requests: Array<{ url: string; method: string; authorization: string | undefined; body: string | null }> = [];
  page.on('request', (request) => requests.push({ url: request.url(), method: request.method(), authorization: request.headers().authorization, body: request.postData() }));
  const violations = () => page.evaluate(() => (globalThis as unknown as { cspViolations: string[] }).cspViolations);
  return { page, incidents, requests, violations };
}
