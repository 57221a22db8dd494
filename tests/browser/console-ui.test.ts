// The pages as a person meets them, in headless Chromium at 1280 and 390 px: every page
// has no serious or critical axe violation and no sideways scrolling; a seller issues a
// card, gets its file and the code sheet once, prints the sheet and closes the view;
// a bad form keeps what was typed (never the passphrases) and says what to fix; a
// revocation asks first and says what it did. SEALCODE_SCREENSHOTS=1 also writes the
// screenshots in docs/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';
import { openCardFile, type CardData } from '../../card/index.js';
import { issueCard } from '../../distributor/seller/cards.js';
import { pagesInChromium, type PagesInChromium } from './pages.js';
import { PASSWORD, ROOT, state, type TestServer } from '../distributor/helpers.js';

const WIDTHS = [1280, 390] as const;
const SHOTS = process.env.SEALCODE_SCREENSHOTS === '1';

let w: PagesInChromium;
let s: TestServer;
let base: string;
let browser: Browser;

beforeAll(async () => {
  w = await pagesInChromium();
  ({ s, base, browser } = w);
}, 120_000);
afterAll(async () => w?.close());

/** Console messages of the browser: a style or script the CSP refused shows up here. */
const consoleErrors: string[] = [];
async function newPage(width: number): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ viewport: { width, height: 900 }, acceptDownloads: true });
  const page = await ctx.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) consoleErrors.push(`${page.url()}: ${m.text()}`);
  });
  return { ctx, page };
}

async function loggedIn(width: number): Promise<{ ctx: BrowserContext; page: Page }> {
  const { ctx, page } = await newPage(width);
  await page.goto(`${base}/console/login`);
  await page.getByLabel('Console password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${base}/console`);
  return { ctx, page };
}

/** axe finds nothing serious, and nothing is wider than the window. */
async function checkPage(page: Page, label: string): Promise<void> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), label).toEqual([]);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  const wide = await page.evaluate(() =>
    Array.from(document.querySelectorAll('body *'))
      .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
      .slice(0, 5)
      .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}: ${(e.textContent ?? '').slice(0, 40)}`),
  );
  expect(overflow, `${label}: sideways scroll from ${wide.join(' | ')}`).toBeLessThanOrEqual(0);
  // Our stylesheet and Pico were applied: the logo loaded and is sized (2rem in the bar, larger on the visitor's pages), buttons wear the seal colour.
  const logo = await page.locator('body > header .brand img').evaluate((e) => [(e as HTMLImageElement).naturalWidth > 0, e.getBoundingClientRect().height / parseFloat(getComputedStyle(document.documentElement).fontSize)]);
  expect(logo[0], label).toBe(true);
  expect([2, 3.5], label).toContain(logo[1]);
  expect(await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--pico-primary').trim()), label).toBe('#9b1c2c');
}

async function shot(page: Page, name: string, width: number, fullPage = true): Promise<void> {
  if (SHOTS) await page.screenshot({ path: join(ROOT, 'docs', `${name}-${width}.png`), fullPage });
}

async function issue(page: Page, o: { name: string; email: string; codes: string; pass: string }): Promise<void> {
  await page.goto(`${base}/console`);
  await page.getByLabel('Purchaser name').fill(o.name);
  await page.getByLabel('Purchaser email').fill(o.email);
  await page.getByLabel('Codes on the card').fill(o.codes);
  await page.getByLabel('Card file passphrase').fill(o.pass);
  await page.getByLabel('Passphrase again').fill(o.pass);
  await page.getByRole('button', { name: 'Issue the card' }).click();
  await page.getByRole('heading', { name: 'Card issued' }).waitFor();
}

describe('pages at 1280 and 390 px', () => {
  for (const width of WIDTHS)
    it(`every page at ${width} px: no serious accessibility violation, no sideways scroll`, async () => {
      const { ctx: visitorCtx, page: v } = await newPage(width);
      await v.goto(base);
      await checkPage(v, 'code page');
      await shot(v, 'distributor-redeem', width);
      await v.getByLabel('Code').fill('SC-NOT-A-CODE');
      await v.getByLabel('Your email address').fill('dana@example.test');
      await v.getByRole('button', { name: 'Get the add-on' }).click();
      await v.locator('#error').waitFor();
      await checkPage(v, 'code page with an error');
      const card = await issueCard(s.seller, { name: 'Paula Purchaser', email: 'paula@example.test', codes: 2 });
      await v.getByLabel('Code').fill(card.data.codes[0]!.code);
      await v.getByRole('button', { name: 'Get the add-on' }).click();
      await v.getByRole('heading', { name: 'Your add-on is ready' }).waitFor();
      await checkPage(v, 'download page');
      await shot(v, 'distributor-success', width);
      const missing = await v.goto(`${base}/no/such/page`);
      expect(missing!.status()).toBe(404);
      expect(await v.title()).toBe('Page not found · sealcode');
      await checkPage(v, '404 page');
      await v.goto(`${base}/download/${'A'.repeat(43)}`);
      await checkPage(v, 'download link no longer valid');
      await visitorCtx.close();

      const { ctx, page } = await loggedIn(width);
      await page.goto(`${base}/console/login`);
      await checkPage(page, 'console login');
      await issue(page, { name: `Alice ${width}`, email: `alice${width}@example.test`, codes: '4', pass: 'alice passphrase' });
      await checkPage(page, 'card issued, with the code sheet');
      await shot(page, 'console-issued', width);
      await page.getByRole('button', { name: /^Done/ }).click();
      await page.waitForURL(`${base}/console`);
      await checkPage(page, 'console cards');
      await shot(page, 'console', width);
      await page.getByLabel('Purchaser name').fill('Bad Form');
      await page.getByLabel('Purchaser email').fill('not an address');
      await page.getByRole('button', { name: 'Issue the card' }).click();
      await page.locator('#error').waitFor();
      await checkPage(page, 'console form with errors');
      for (const path of [
        '/console/issued',
        '/console/codes',
        `/console/codes?card=${card.cardId}&state=in_use`,
        '/console/redemptions',
        '/console/payments',
        '/console/payback',
        `/console/cards/${card.cardId}/revoke`,
        `/console/codes/${card.data.codes[1]!.serial}/revoke`,
      ]) {
        await page.goto(base + path);
        await checkPage(page, path);
      }
      await page.goto(`${base}/console/redemptions`);
      await page.locator('tr[data-build] a', { hasText: 'Revoke' }).first().click();
      await checkPage(page, 'revoke a build');
      await ctx.close();
      expect(consoleErrors).toEqual([]);
    }, 180_000);
});

describe('a seller’s day', () => {
  it('issues a card: confirmation, the card file, the code sheet once, printable; the card is listed without a reload', async () => {
    const { ctx, page } = await loggedIn(1280);
    await issue(page, { name: 'Carla Card', email: 'carla@example.test', codes: '3', pass: 'carla passphrase' });
    expect(page.url()).toBe(`${base}/console/issued`);
    await expect.poll(() => page.locator('#notice').textContent()).toMatch(/A card for Carla Card <carla@example.test> was issued with 3 codes/);
    // The passphrases are nowhere in the page.
    expect(await page.content()).not.toContain('carla passphrase');
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#card-file').click()]);
    const card: CardData = await openCardFile(readFileSync((await download.path())!, 'utf8'), 'carla passphrase');
    expect(download.suggestedFilename()).toBe(`${card.cardId}.card`);
    // The sheet holds exactly the card's codes, each with its serial and this distributor's address.
    const seals = page.locator('#sheet .seal');
    expect(await seals.count()).toBe(3);
    for (const c of card.codes) {
      const seal = page.locator(`#sheet .seal[data-serial="${c.serial}"]`);
      expect(await seal.locator('.code').textContent()).toBe(c.code);
      expect(await seal.textContent()).toContain(`${base}/`);
    }
    // A reload shows the same view (no second card); the list counts one.
    await page.reload();
    expect(await page.locator('#sheet .seal').count()).toBe(3);
    expect((await s.seller.db.value('SELECT COUNT(*) FROM cards WHERE purchaser_id = ?', card.purchaser.id))).toBe(1);

    // Printing: only the sheet, every seal whole on a page.
    await page.emulateMedia({ media: 'print' });
    for (const sel of ['header.site', 'footer.site', 'main > h1', '#notice', '#card-file', 'form[action="/console/issued/done"]']) expect(await page.locator(sel).isVisible(), sel).toBe(false);
    expect(await page.locator('#sheet .seal').first().isVisible()).toBe(true);
    expect(await page.locator('#sheet .seal').first().evaluate((e) => getComputedStyle(e).breakInside)).toBe('avoid');
    const pdf = await page.pdf({ format: 'A4' });
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    if (SHOTS) await page.screenshot({ path: join(ROOT, 'docs', 'console-code-sheet-print.png'), fullPage: true });
    await page.emulateMedia({ media: 'screen' });
    // Until Done, the cards page points back to the waiting view.
    await page.goto(`${base}/console`);
    await page.locator('#pending').click();
    await page.getByRole('heading', { name: 'Card issued' }).waitFor();

    await page.getByRole('button', { name: /^Done/ }).click();
    await page.waitForURL(`${base}/console`);
    expect(await page.locator('#notice').textContent()).toContain(`Card ${card.cardId} of Carla Card is in the list below`);
    expect(await page.locator(`tr[data-card="${card.cardId}"]`).getAttribute('data-state')).toBe('active');
    // Offered once: after Done the sheet and the file are gone from the server.
    const again = await page.goto(`${base}/console/issued`);
    expect(again!.status()).toBe(410);
    expect(await page.content()).not.toContain(card.codes[0]!.code);
    expect((await s.seller.db.value('SELECT COUNT(*) FROM issued_views WHERE card_id = ?', card.cardId))).toBe(0);
    await ctx.close();
  });

  it('a bad form keeps what was typed, never the passphrases, and says in words what to fix', async () => {
    const { ctx, page } = await loggedIn(390);
    const before = (await s.seller.db.value('SELECT COUNT(*) FROM cards'));
    await page.getByLabel('Purchaser name').fill('Dora Draft');
    await page.getByLabel('Purchaser email').fill('dora@example');
    await page.getByLabel('Codes on the card').fill('12');
    await page.getByLabel('Card file passphrase').fill('short');
    await page.getByLabel('Passphrase again').fill('short');
    await page.getByRole('button', { name: 'Issue the card' }).click();
    await page.locator('#error').waitFor();
    const error = (await page.locator('#error').textContent())!;
    expect(error).toContain('The card was not issued');
    expect(error).toContain('Type the purchaser’s email address, like name@example.com.');
    expect(error).toContain('Choose a passphrase of at least 8 characters.');
    expect(error).not.toMatch(/Too small|expected|Invalid/);
    expect(await page.getByLabel('Purchaser name').inputValue()).toBe('Dora Draft');
    expect(await page.getByLabel('Purchaser email').inputValue()).toBe('dora@example');
    expect(await page.getByLabel('Codes on the card').inputValue()).toBe('12');
    expect(await page.getByLabel('Card file passphrase').inputValue()).toBe('');
    expect(await page.content()).not.toContain('short"');
    expect(await page.getByLabel('Purchaser email').getAttribute('aria-invalid')).toBe('true');
    // Different passphrases, and more codes than the card may hold.
    await page.getByLabel('Purchaser email').fill('dora@example.test');
    await page.getByLabel('Most codes the card may ever hold').fill('5');
    await page.getByLabel('Card file passphrase').fill('dora passphrase');
    await page.getByLabel('Passphrase again').fill('dora passphrase?');
    await page.getByRole('button', { name: 'Issue the card' }).click();
    await page.locator('#error').waitFor();
    expect(await page.locator('#codes-error').textContent()).toContain('at most 5 codes');
    expect(await page.locator('#passphrase2-error').textContent()).toContain('The two passphrases differ');
    expect((await s.seller.db.value('SELECT COUNT(*) FROM cards'))).toBe(before);
    // The token module kind is gone from the form.
    expect(await page.locator('select#moduleKind, option[value="pkcs11"]').count()).toBe(0);
    await ctx.close();
  });

  it('revoking asks first; Cancel changes nothing; confirming revokes and says so', async () => {
    const { ctx, page } = await loggedIn(390);
    const card = await issueCard(s.seller, { name: 'Rita Revoked', email: 'rita@example.test', codes: 1 });
    const serial = card.data.codes[0]!.serial;
    await page.goto(`${base}/console/codes?card=${card.cardId}`);
    await page.locator(`tr[data-serial="${serial}"] a`, { hasText: 'Revoke' }).click();
    await page.getByRole('heading', { name: 'Revoke this code?' }).waitFor();
    await page.getByRole('button', { name: 'Cancel' }).or(page.getByRole('link', { name: 'Cancel' })).click();
    await page.waitForURL(`${base}/console/codes`);
    expect(await state(s.seller, serial)).toBe('unused');
    await page.goto(`${base}/console`);
    await page.locator(`tr[data-card="${card.cardId}"] a`, { hasText: 'Revoke' }).click();
    await page.getByRole('heading', { name: 'Revoke this card?' }).waitFor();
    expect(await page.locator('main').textContent()).toContain('Rita Revoked');
    await page.getByRole('button', { name: 'Revoke the card' }).click();
    await page.waitForURL(`${base}/console`);
    expect(await page.locator('#notice').textContent()).toContain(`The card ${card.cardId} was revoked.`);
    expect(await page.locator(`tr[data-card="${card.cardId}"]`).getAttribute('data-state')).toBe('revoked');
    expect((await s.seller.db.value('SELECT revoked_at FROM cards WHERE id = ?', card.cardId))).not.toBeNull();
    // The message is shown once.
    await page.reload();
    expect(await page.locator('#notice').count()).toBe(0);
    // Groups are shown by their members' names.
    expect(await page.locator('#groups').textContent()).toContain('Rita Revoked');
    await ctx.close();
  });

  it('serves the favicon, the logo and the stylesheets from this server', async () => {
    for (const [path, type] of [
      ['/favicon.ico', 'image/x-icon'],
      ['/assets/logo.svg', 'image/svg+xml'],
      ['/assets/pico.min.css', 'text/css'],
      ['/assets/sealcode.css', 'text/css'],
    ]) {
      const r = await fetch(base + path);
      expect(r.status, path).toBe(200);
      expect(r.headers.get('content-type'), path).toContain(type);
    }
  });
});
