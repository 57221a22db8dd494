import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/chromium.js';

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>infra</title></head><body>
<button id="go">Go</button><p id="out">idle</p>
<script>
document.getElementById('go').addEventListener('click', async () => {
  const r = await fetch('/api/echo?x=42');
  document.getElementById('out').textContent = 'clicked ' + (await r.json()).x;
});
</script></body></html>`;

describe('infra: chromium', () => {
  let browser: Browser | undefined;
  let server: http.Server | undefined;
  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  });

  it('opens a loopback page, clicks, reads text', async () => {
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname === '/api/echo') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ x: url.searchParams.get('x') }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    });
    const srv = server;
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const { port } = srv.address() as AddressInfo;

    browser = await launchChromium();
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    expect(await page.title()).toBe('infra');
    await page.click('#go');
    await page.waitForFunction(() => document.getElementById('out')?.textContent !== 'idle');
    expect(await page.textContent('#out')).toBe('clicked 42');
  });
});
