// The distributor in headless Chromium: the seller issues a card in the console, a second
// person redeems one of its codes on the page and downloads the dedicated add-on, whose
// profile opens what the card sealed; the console shows the code in_use then
// already_used; a mistyped code shows the error page; forms posted from elsewhere fail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { buildParty, buildRecipient, cardParty, cardSecretsOf, openCardFile, profileCerts, profileSecrets, type CardData } from '../../card/index.js';
import { launchChromium } from '../support/chromium.js';
import { openBytes, sealBytes } from '../support/world.js';
import { PASSWORD, count, makeServer, profileInXpi, settled, state, type TestServer } from '../distributor/helpers.js';

let s: TestServer;
let server: Server;
let evil: Server;
let base: string;
let evilBase: string;
let browser: Browser;

const listen = async (srv: Server): Promise<string> => {
  srv.listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
};

beforeAll(async () => {
  s = await makeServer();
  base = await listen((server = http.createServer(s.app)));
  // Another origin serving forms that post to the distributor without its token.
  evil = http.createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><form method="post" action="${base}/console/cards"><input name="name" value="Mallory"><input name="email" value="m@example.test">
<input name="group" value="new"><input name="codes" value="1"><input name="maxCodes" value="10"><input name="amount" value="0">
<input name="passphrase" value="mallory-pass"><input name="passphrase2" value="mallory-pass"><input name="_csrf" value="guessed"><button id="go">go</button></form>`);
  });
  evilBase = await listen(evil);
  browser = await launchChromium();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await new Promise((r) => server.close(r));
  await new Promise((r) => evil.close(r));
  s.close();
});

async function codeState(page: Page, cardId: string, serial: string): Promise<string> {
  await page.goto(`${base}/console/codes?card=${cardId}`);
  return (await page.locator(`tr[data-serial="${serial}"]`).getAttribute('data-state'))!;
}

describe('distributor in Chromium', () => {
  it('console issues a card; a second person redeems a code and gets an add-on that opens what the card sealed', async () => {
    const seller = await browser.newContext();
    const page = await seller.newPage();
    await page.goto(`${base}/console`);
    expect(page.url()).toBe(`${base}/console/login`);
    await page.getByLabel('Console password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${base}/console`);
    await page.getByLabel('Purchaser name').fill('Alice Browser');
    await page.getByLabel('Purchaser email').fill('alice@example.test');
    await page.getByLabel('Codes on the card').fill('3');
    await page.getByLabel('Card file passphrase').fill('alice passphrase');
    await page.getByLabel('Passphrase again').fill('alice passphrase');
    await page.getByRole('button', { name: /Issue the card/ }).click();
    await page.getByRole('heading', { name: 'Card issued' }).waitFor();
    const [cardDownload] = await Promise.all([page.waitForEvent('download'), page.locator('#card-file').click()]);
    const card: CardData = await openCardFile(readFileSync((await cardDownload.path())!, 'utf8'), 'alice passphrase');
    expect(card.codes).toHaveLength(3);
    const code = card.codes[0]!;
    expect(await codeState(page, card.cardId, code.serial)).toBe('unused');

    // The second person, in their own browser.
    const visitor = await (await browser.newContext()).newPage();
    await visitor.goto(base);
    const typo = code.code.slice(0, -1) + (code.code.endsWith('0') ? '1' : '0');
    await visitor.getByLabel('Code').fill(typo);
    await visitor.getByLabel('Your email address').fill('dana@example.test');
    await visitor.getByRole('button', { name: 'Get the add-on' }).click();
    await expect.poll(() => visitor.locator('#error').textContent()).toMatch(/not valid/);
    expect(await codeState(page, card.cardId, code.serial)).toBe('unused');
    await visitor.getByLabel('Code').fill(code.code);
    await visitor.getByRole('button', { name: 'Get the add-on' }).click();
    await visitor.getByRole('heading', { name: 'Your add-on is ready' }).waitFor();
    expect(visitor.url()).not.toContain(code.serial);
    expect(await codeState(page, card.cardId, code.serial)).toBe('in_use');

    const [xpiDownload] = await Promise.all([visitor.waitForEvent('download'), visitor.locator('#download').click()]);
    expect(xpiDownload.suggestedFilename()).toMatch(/^sealcode-build_.*\.xpi$/);
    const profile = profileInXpi(new Uint8Array(readFileSync((await xpiDownload.path())!)));
    expect(profileCerts(profile).build.redeemerEmail).toBe('dana@example.test');
    const sealed = await sealBytes(cardParty(cardSecretsOf(card)), [buildRecipient(profileCerts(profile).build)], new TextEncoder().encode('for Dana, from Alice'));
    const { opened, data } = await openBytes(buildParty(profileSecrets(profile)), sealed, s.seller.issuerPub);
    expect(opened.verdict.certified).toBe(true);
    expect(new TextDecoder().decode(data)).toBe('for Dana, from Alice');
    await expect.poll(() => codeState(page, card.cardId, code.serial)).toBe('already_used');
    expect(await settled(() => state(s.seller, code.serial), 'already_used')).toBe('already_used');

    // The same link gives nothing more.
    const again = await visitor.goto(`${base}${new URL(xpiDownload.url()).pathname}`);
    expect(again!.status()).toBe(410);
  });

  it('refuses form posts that do not carry this site’s token, even from a logged-in browser', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${base}/console/login`);
    await page.getByLabel('Console password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${base}/console`);
    const cards = await count(s.seller, 'cards');
    await page.goto(evilBase);
    const [resp] = await Promise.all([page.waitForResponse((r) => r.url().startsWith(`${base}/console/cards`)), page.locator('#go').click()]);
    expect(resp.status()).toBe(403);
    expect(await count(s.seller, 'cards')).toBe(cards);
    // A form on the site itself, with its token removed, fails the same way.
    await page.goto(`${base}/console`);
    await page.locator('form[action="/console/cards"] input[name="_csrf"]').evaluate((e) => e.remove());
    await page.getByLabel('Purchaser name').fill('No Token');
    await page.getByLabel('Purchaser email').fill('nt@example.test');
    await page.getByLabel('Card file passphrase').fill('nt passphrase');
    await page.getByLabel('Passphrase again').fill('nt passphrase');
    const [r2] = await Promise.all([page.waitForResponse((r) => r.url() === `${base}/console/cards`), page.getByRole('button', { name: /Issue the card/ }).click()]);
    expect(r2.status()).toBe(403);
    expect(await count(s.seller, 'cards')).toBe(cards);
  });
});
