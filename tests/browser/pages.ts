// The distributor's pages on a loopback port with a real SQLite seller, and a Chromium
// to look at them: what each browser suite starts before its tests.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { makeServer, type TestServer } from '../distributor/helpers.js';

export interface PagesInChromium {
  s: TestServer;
  base: string;
  browser: Browser;
  close(): Promise<void>;
}

export async function pagesInChromium(): Promise<PagesInChromium> {
  const s = await makeServer();
  const server = http.createServer(s.app).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const browser = await launchChromium();
  return {
    s,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    browser,
    async close() {
      await browser.close();
      await new Promise((r) => server.close(r));
      await s.close();
    },
  };
}
