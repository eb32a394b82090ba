// Debian's Chromium driven by playwright-core for the dashboard tests: the system browser
// (never a downloaded one), headless, in a fresh profile removed afterwards.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.RAMPART_CHROMIUM ?? '/usr/bin/chromium';

/** Where the test run writes screenshots (gitignored). */
export const SCREENSHOTS = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  readonly context: BrowserContext;
  newPage(): Promise<Page>;
  /** Saves a full-page screenshot as test-output/screenshots/NAME.png; returns its path. */
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Launches Chromium with a fresh --user-data-dir (playwright passes it, with --headless, for
 * a persistent context); closed after test `t`. A laptop-sized viewport: 1366×768.
 * `hostsOnLoopback`: DNS names the browser resolves to 127.0.0.1 (another site's pages, served
 * here; a name rebound to this machine). `enforceCsp`: keep the pages' Content-Security-Policy
 * (probes must then poll from the test, not evaluate in the page).
 */
export async function launchBrowser(
  t: Pick<TestContext, 'after'>,
  executablePath = CHROMIUM,
  o: { hostsOnLoopback?: readonly string[]; enforceCsp?: boolean } = {},
): Promise<Browser> {
  const profile = mkdtempSync(path.join(tmpdir(), 'rampart-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: o.hostsOnLoopback?.length
        ? [...ARGS, `--host-resolver-rules=${o.hostsOnLoopback.map((h) => `MAP ${h} 127.0.0.1`).join(', ')}`]
        : ARGS,
      viewport: { width: 1366, height: 768 },
      // The dashboard's Content-Security-Policy forbids eval, which the tests' page probes use;
      // `enforceCsp` keeps it, for a test that checks the page lives within it.
      bypassCSP: !o.enforceCsp,
      timeout: 60_000,
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  let closed = false;
  const browser: Browser = {
    context,
    newPage: () => context.newPage(),
    screenshot: async (page, name) => {
      mkdirSync(SCREENSHOTS, { recursive: true });
      const file = path.join(SCREENSHOTS, `${name}.png`);
      await page.screenshot({ path: file, fullPage: false });
      return file;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
  t.after(() => browser.close());
  return browser;
}
