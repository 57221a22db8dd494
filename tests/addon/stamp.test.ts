// Stamping a redemption's profile into the dedicated template, and reading it back
// (`sealcode dedicated ... --build FILE.xpi`), in-process and through the CLI.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildXpi } from '../../thunderbird-addon/build.js';
import { PROFILE_ENTRY, profileFromXpi, stampDedicatedXpi } from '../../thunderbird-addon/stamp.js';
import { TEMPLATE_ID, dedicatedId } from '../../thunderbird-addon/manifest.js';
import { loadBuildProfile } from '../../cli/build-profile.js';
import { isSealError } from '../../card/index.js';
import { aliceParty, cli, makeAddonWorld, sealWith, type AddonWorld } from './support/addon-world.js';

let dir: string;
let w: AddonWorld;
let template: Uint8Array;
let purchaser: Uint8Array;

const manifestOf = (xpi: Uint8Array) => JSON.parse(strFromU8(unzipSync(xpi)['manifest.json']!));
const sealErr = (code: string) => (e: unknown) => isSealError(e) && e.code === code;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-stamp-'));
  w = await makeAddonWorld(dir);
  [template, purchaser] = await Promise.all([buildXpi({ flavour: 'dedicated' }), buildXpi({ flavour: 'purchaser' })]);
});

describe('stampDedicatedXpi', () => {
  it('adds the profile and names the build for its purchaser, with its own id, leaving every other file as it was', () => {
    const out = stampDedicatedXpi(template, w.dana, { updateUrl: 'https://d.example.test/u.json' });
    const m = manifestOf(out);
    expect(m.name).toBe('sealcode for Alice Example');
    expect(m.browser_specific_settings.gecko.id).toBe(dedicatedId(w.dana.buildId));
    expect(m.browser_specific_settings.gecko.update_url).toBe('https://d.example.test/u.json');
    expect(profileFromXpi(out)).toEqual(w.dana);
    const before = unzipSync(template);
    const after = unzipSync(out);
    expect(Object.keys(after).sort()).toEqual([...Object.keys(before), PROFILE_ENTRY].sort());
    for (const k of Object.keys(before)) if (k !== 'manifest.json') expect(Buffer.from(after[k]!).equals(Buffer.from(before[k]!)), k).toBe(true);
  });

  it('gives two builds two ids, so one person can hold builds from several purchasers', () => {
    const a = manifestOf(stampDedicatedXpi(template, w.dana)).browser_specific_settings.gecko.id;
    const b = manifestOf(stampDedicatedXpi(template, w.erin)).browser_specific_settings.gecko.id;
    expect(a).not.toBe(b);
    expect([a, b]).not.toContain(TEMPLATE_ID);
  });

  it('is fast enough to run per download', () => {
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) stampDedicatedXpi(template, w.dana);
    console.log(`stamp: ${((performance.now() - t0) / 20).toFixed(1)} ms per XPI (${template.length} bytes template)`);
  });

  it('refuses what is not the template: the purchaser add-on, an already stamped build, a non-zip, a zip without manifest', () => {
    expect(() => stampDedicatedXpi(purchaser, w.dana)).toThrow(/not the sealcode dedicated template/);
    expect(() => stampDedicatedXpi(stampDedicatedXpi(template, w.dana), w.erin)).toThrow(/already stamped/);
    expect(() => stampDedicatedXpi(strToU8('hello'), w.dana)).toThrow(/not an XPI/);
    expect(() => stampDedicatedXpi(zipSync({ 'a.txt': strToU8('x') }), w.dana)).toThrow(/no manifest/);
    const damaged = template.slice();
    damaged.fill(0, 100, 400);
    let caught: unknown;
    try {
      stampDedicatedXpi(damaged, w.dana);
    } catch (e) {
      caught = e;
    }
    expect(sealErr('MALFORMED')(caught)).toBe(true);
  });

  it('refuses a profile that is not one', () => {
    expect(() => stampDedicatedXpi(template, { ...w.dana, buildCert: undefined } as never)).toThrow(/lacks buildCert/);
    expect(() => stampDedicatedXpi(template, { ...w.dana, purchaserCert: w.dana.buildCert })).toThrow(/wrong kind/);
  });
});

describe('loadBuildProfile (for sealcode dedicated --build)', () => {
  it('reads a profile from a stamped XPI and from its JSON', () => {
    const xpi = path.join(dir, 'dana.xpi');
    fs.writeFileSync(xpi, stampDedicatedXpi(template, w.dana));
    const json = path.join(dir, 'dana.json');
    fs.writeFileSync(json, JSON.stringify(w.dana));
    expect(loadBuildProfile(xpi)).toEqual(w.dana);
    expect(loadBuildProfile(json)).toEqual(w.dana);
  });

  it('says what is wrong with the unstamped template, garbage and a missing file', () => {
    const t = path.join(dir, 'template.xpi');
    fs.writeFileSync(t, template);
    expect(() => loadBuildProfile(t)).toThrow(/holds no dedicated profile/);
    const g = path.join(dir, 'garbage.bin');
    fs.writeFileSync(g, 'not json');
    expect(() => loadBuildProfile(g)).toThrow(/neither a dedicated profile/);
    expect(() => loadBuildProfile(path.join(dir, 'nope.xpi'))).toThrow(/cannot read/);
  });
});

describe('sealcode dedicated --build STAMPED.xpi (CLI)', () => {
  it("opens what Alice's card sealed, with the profile read out of the stamped add-on", async () => {
    const xpi = path.join(dir, 'dana-cli.xpi');
    fs.writeFileSync(xpi, stampDedicatedXpi(template, w.dana));
    const data = new Uint8Array(5000).map((_, i) => i % 256);
    const sealed = path.join(dir, 'for-dana.bin.seal');
    fs.writeFileSync(sealed, await sealWith(aliceParty(w), [{ kind: 'code', label: w.serial }], data, 'for-dana.bin'));
    const out = path.join(dir, 'for-dana.out');
    const r = await cli(['dedicated', 'decrypt', '--build', xpi, sealed, '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(Buffer.from(fs.readFileSync(out)).equals(Buffer.from(data))).toBe(true);
    const t = path.join(dir, 'template-cli.xpi');
    fs.writeFileSync(t, template);
    const bad = await cli(['dedicated', 'decrypt', '--build', t, sealed, '-o', path.join(dir, 'never.out')]);
    expect(bad.code).toBe(4);
    expect(bad.stderr).toMatch(/no dedicated profile/);
    expect(fs.existsSync(path.join(dir, 'never.out'))).toBe(false);
  }, 30_000);
});

describe('sealcode addon stamp (CLI)', () => {
  it('writes a stamped XPI from a profile and the template', async () => {
    const profile = path.join(dir, 'p.json');
    fs.writeFileSync(profile, JSON.stringify(w.dana));
    const tpl = path.join(dir, 'tpl.xpi');
    fs.writeFileSync(tpl, template);
    const out = path.join(dir, 'out.xpi');
    const r = await cli(['addon', 'stamp', '--profile', profile, '--template', tpl, '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ out, buildId: w.dana.buildId, purchaser: 'Alice Example' });
    expect(profileFromXpi(new Uint8Array(fs.readFileSync(out)))).toEqual(w.dana);
  }, 30_000);

  it('fails with the usage exit code on a missing template and malformed on a bad profile', async () => {
    const profile = path.join(dir, 'p.json');
    fs.writeFileSync(profile, JSON.stringify(w.dana));
    const r = await cli(['addon', 'stamp', '--profile', profile, '--template', path.join(dir, 'none.xpi'), '--out', path.join(dir, 'x.xpi')]);
    expect(r.code).toBe(2);
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, '{"sealcode":"dedicated-profile","v":1}');
    const r2 = await cli(['addon', 'stamp', '--profile', bad, '--out', path.join(dir, 'y.xpi')]);
    expect(r2.code).toBe(4);
    expect(fs.existsSync(path.join(dir, 'y.xpi'))).toBe(false);
  }, 30_000);
});
