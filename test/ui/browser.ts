/**
 * Debian's Chromium (/usr/bin/chromium, installed by scripts/ci-setup.sh) driven by
 * playwright-core: no browser is downloaded. Playwright runs it headless with a fresh temporary
 * profile; the flags keep it off the network this machine does not have.
 */
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.BERTH_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
}

export const DESKTOP = { width: 1280, height: 860 };
export const PHONE = { width: 390, height: 844 };

/** A page whose console errors and failed requests fail the test that reads `problems`. */
export async function openPage(
  browser: Browser,
  url: string,
  o: { colorScheme?: 'light' | 'dark'; viewport?: { width: number; height: number }; init?: string } = {},
): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: o.viewport ?? DESKTOP, colorScheme: o.colorScheme ?? 'light', deviceScaleFactor: 1, locale: 'en-US' });
  // Waits are for a state of the page, not a timing: generous, so a loaded CI machine does not fail them.
  context.setDefaultTimeout(120_000);
  if (o.init) await context.addInitScript(o.init);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[134]/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(url);
  return { page, problems };
}
