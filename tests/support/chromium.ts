/**
 * Headless Chromium (the Debian package) through playwright-core.
 *
 *   const browser = await launchChromium();
 *   const page = await browser.newPage();
 *   ...
 *   await browser.close();
 */
import fs from 'node:fs';
import { chromium, type Browser, type LaunchOptions } from 'playwright-core';

export const CHROMIUM_PATH = process.env.SEALCODE_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface ChromiumOptions {
  /** Extra command-line switches. */
  args?: string[];
  /** Passed to chromium.launch (overrides). */
  launch?: LaunchOptions;
}

export async function launchChromium(opts: ChromiumOptions = {}): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} not found (apt-get install chromium; see scripts/ensure-system-deps.sh)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(opts.args ?? [])],
    timeout: 60_000,
    ...opts.launch,
  });
}
