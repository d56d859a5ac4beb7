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
