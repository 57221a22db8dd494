// Stamping from the prepared template gives the same files as the add-on's own
// stampDedicatedXpi, deterministically, and refuses anything but the dedicated template.
import { describe, expect, it } from 'vitest';
import { unzipSync, zipSync, strToU8 } from 'fflate';
import { isSealError } from '../../card/index.js';
import { stampDedicatedXpi } from '../../thunderbird-addon/stamp.js';
import { prepareTemplate } from '../../distributor/server/xpi.js';
import { makeWorld } from '../support/world.js';
import { builtTemplate } from './helpers.js';

const template = builtTemplate();
const { D1 } = makeWorld();

describe('prepared dedicated template', () => {
  it('stamps the same files as stampDedicatedXpi, the same bytes every time', () => {
    const t = prepareTemplate(template, 'test');
    const a = t.stamp(D1);
    expect(Buffer.from(t.stamp(D1)).equals(Buffer.from(a))).toBe(true);
    const mine = unzipSync(a);
    const theirs = unzipSync(stampDedicatedXpi(template, D1));
    expect(Object.keys(mine).sort()).toEqual(Object.keys(theirs).sort());
    for (const k of Object.keys(theirs)) expect(Buffer.from(mine[k]!).equals(Buffer.from(theirs[k]!)), k).toBe(true);
    for (const opts of [{ updateUrl: 'https://dist.example/updates.json' }, { name: 'n'.repeat(60) }, { addonId: 'x@example.test' }]) {
      const m = unzipSync(prepareTemplate(template, 'opts', opts).stamp(D1));
      const t = unzipSync(stampDedicatedXpi(template, D1, opts));
      expect(Buffer.from(m['manifest.json']!).equals(Buffer.from(t['manifest.json']!)), JSON.stringify(opts)).toBe(true);
    }
    // A template prepared again (a restart) stamps the very same bytes: Range resumes hold.
    expect(Buffer.from(prepareTemplate(template, 'again').stamp(D1)).equals(Buffer.from(a))).toBe(true);
  });

  it('lays the zip out plainly: the central directory lists every entry in file order, each at its own local header', () => {
    // Unzipping does not see the central directory's order, but Range resumes need the
    // same bytes from every version of the stamper: the layout is pinned here.
    const z = Buffer.from(prepareTemplate(template, 'layout').stamp(D1));
    const eocd = z.length - 22;
    expect(z.readUInt32LE(eocd)).toBe(0x06054b50);
    const count = z.readUInt16LE(eocd + 10);
    const cdSize = z.readUInt32LE(eocd + 12);
    const cdOffset = z.readUInt32LE(eocd + 16);
    expect(cdOffset + cdSize).toBe(eocd);
    const local: { name: string; at: number }[] = [];
    for (let at = 0; at < cdOffset; ) {
      expect(z.readUInt32LE(at)).toBe(0x04034b50);
      const nameLen = z.readUInt16LE(at + 26);
      local.push({ name: z.toString('utf8', at + 30, at + 30 + nameLen), at });
      at += 30 + nameLen + z.readUInt16LE(at + 28) + z.readUInt32LE(at + 18);
    }
    const central: { name: string; at: number }[] = [];
    for (let at = cdOffset; at < eocd; ) {
      expect(z.readUInt32LE(at)).toBe(0x02014b50);
      const nameLen = z.readUInt16LE(at + 28);
      central.push({ name: z.toString('utf8', at + 46, at + 46 + nameLen), at: z.readUInt32LE(at + 42) });
      at += 46 + nameLen + z.readUInt16LE(at + 30) + z.readUInt16LE(at + 32);
    }
    expect(central).toEqual(local);
    expect(central.length).toBe(count);
    expect(local.slice(-2).map((e) => e.name)).toEqual(['manifest.json', 'profile.json']);
  });

  it('refuses what is not the dedicated template', () => {
    const codeOf = (f: () => unknown) => {
      try {
        f();
        return 'ok';
      } catch (e) {
        return isSealError(e) ? e.code : String(e);
      }
    };
    expect(codeOf(() => prepareTemplate(new Uint8Array([1, 2, 3]), 'junk'))).toBe('MALFORMED');
    expect(codeOf(() => prepareTemplate(zipSync({ 'a.txt': strToU8('x') }), 'no manifest'))).toBe('MALFORMED');
    expect(codeOf(() => prepareTemplate(zipSync({ 'manifest.json': strToU8('{"name":"other"}') }), 'other add-on'))).toBe('MALFORMED');
    expect(codeOf(() => prepareTemplate(stampDedicatedXpi(template, D1), 'already stamped'))).toBe('MALFORMED');
  });
});
