// The first visit in Chromium, at phone and desktop widths: a stranger redeems a code,
// reloads the success page and submits the code again before downloading, and still
// gets the same link; the download then works and the code is used up. The expiry is
// shown in the visitor's own time with JavaScript and as UTC without it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { issueCard, type IssuedCard } from '../../distributor/seller/cards.js';
import { pagesInChromium, type PagesInChromium } from './pages.js';
import { profileInXpi, state, type TestServer } from '../distributor/helpers.js';

let w: PagesInChromium;
let s: TestServer;
let base: string;
let browser: Browser;
let paula: IssuedCard;

beforeAll(async () => {
  w = await pagesInChromium();
  ({ s, base, browser } = w);
  paula = await issueCard(s.seller, { name: 'Paula Purchaser', email: 'paula@example.test', codes: 3 });
}, 120_000);
afterAll(async () => w?.close());

describe('redemption in Chromium', () => {
  for (const [width, i] of [[390, 0], [1280, 1]] as const) {
    it(`at ${width} px: reload and resubmit before downloading keep the link; the download then works`, async () => {
      const code = paula.data.codes[i]!;
      const ctx = await browser.newContext({ viewport: { width, height: 800 }, acceptDownloads: true });
      const page = await ctx.newPage();
      await page.goto(base);
      await page.getByLabel('Code').fill(code.code);
      await page.getByLabel('Your email address').fill(`dana${i}@example.test`);
      await page.getByRole('button', { name: 'Get the add-on' }).click();
      await page.getByRole('heading', { name: 'Your add-on is ready' }).waitFor();
      expect(await page.locator('#inviter').textContent()).toBe('Paula Purchaser <paula@example.test> invites you to exchange sealed attachments.');
      const link = await page.locator('#download-link').getAttribute('href');
      expect(link).toMatch(/^\/download\/[A-Za-z0-9_-]{43}$/);
      // The expiry, rewritten into local time by the page's script.
      await expect.poll(() => page.locator('time').textContent()).toMatch(/\(your time\)$/);

      await page.reload();
      await page.getByRole('heading', { name: 'Your add-on is ready' }).waitFor();
      expect(await page.locator('#download-link').getAttribute('href')).toBe(link);

      await page.goto(base);
      await page.getByLabel('Code').fill(code.code);
      await page.getByLabel('Your email address').fill(`dana${i}@example.test`);
      await page.getByRole('button', { name: 'Get the add-on' }).click();
      await page.getByRole('heading', { name: 'Your add-on is ready' }).waitFor();
      expect(await page.locator('#download-link').getAttribute('href')).toBe(link);
      expect(await state(s.seller, code.serial)).toBe('in_use');

      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the add-on' }).click()]);
      const profile = profileInXpi(new Uint8Array(readFileSync((await download.path())!)));
      expect(profile.distributorUrl).toBeUndefined();
      await expect.poll(() => state(s.seller, code.serial)).toBe('already_used');
      await ctx.close();
    });
  }

  it('without JavaScript the page works and the expiry reads in UTC', async () => {
    const ctx = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 390, height: 800 } });
    const page = await ctx.newPage();
    await page.goto(base);
    await page.getByLabel('Code').fill(paula.data.codes[2]!.code);
    await page.getByLabel('Your email address').fill('nojs@example.test');
    await page.getByRole('button', { name: 'Get the add-on' }).click();
    await page.getByRole('heading', { name: 'Your add-on is ready' }).waitFor();
    expect(await page.locator('time').textContent()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    await ctx.close();
  });
});
