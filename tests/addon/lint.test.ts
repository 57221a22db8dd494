// addons-linter on what we ship: both flavours, and a stamped dedicated build. Zero
// errors; the warnings must be the reviewed Thunderbird ones (the linter knows only
// Firefox: Thunderbird permissions come back as MANIFEST_PERMISSIONS warnings).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildXpi } from '../../thunderbird-addon/build.js';
import { stampDedicatedXpi } from '../../thunderbird-addon/stamp.js';
import { makeAddonWorld, ROOT } from './support/addon-world.js';

/** Thunderbird-only permissions the Firefox linter does not know. */
const THUNDERBIRD_PERMISSIONS = ['messagesRead', 'messagesModify', 'compose', 'accountsRead', 'accountsFolders', 'compose.send'];
/** Reviewed warning codes: Firefox-only checks that do not apply to a Thunderbird add-on. */
const ALLOWED = new Set(['MANIFEST_PERMISSIONS', 'MISSING_DATA_COLLECTION_PERMISSIONS']);

interface Msg {
  code: string;
  message: string;
  file?: string;
}
interface LintResult {
  errors: Msg[];
  warnings: Msg[];
  notices: Msg[];
}

/** selfHosted: builds with an update_url are served by our distributor, not by Mozilla. */
function lint(xpi: string, selfHosted = false): Promise<LintResult> {
  return new Promise((resolve, reject) => {
    execFile(
      path.join(ROOT, 'node_modules', '.bin', 'addons-linter'),
      ['--output', 'json', '--boring', ...(selfHosted ? ['--self-hosted'] : []), xpi],
      { maxBuffer: 16 << 20 },
      (_err, stdout, stderr) => {
        try {
          resolve(JSON.parse(stdout) as LintResult);
        } catch {
          reject(new Error(`addons-linter gave no JSON: ${stderr}${stdout.slice(0, 2000)}`));
        }
      },
    );
  });
}

function checkWarnings(r: LintResult): void {
  for (const w of r.warnings) {
    expect(ALLOWED.has(w.code), `unexpected warning ${w.code}: ${w.message}`).toBe(true);
    if (w.code === 'MANIFEST_PERMISSIONS') {
      const name = /"([^"]+)"/.exec(w.message)?.[1];
      expect(THUNDERBIRD_PERMISSIONS, w.message).toContain(name);
    }
  }
}

let dir: string;
const xpis: Record<string, string> = {};

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-lint-'));
  const w = await makeAddonWorld(dir);
  const purchaser = await buildXpi({ flavour: 'purchaser' });
  const template = await buildXpi({ flavour: 'dedicated' });
  const files: Record<string, Uint8Array> = {
    purchaser,
    template,
    stamped: stampDedicatedXpi(template, w.dana, { updateUrl: 'https://distributor.example.test/updates.json' }),
  };
  for (const [k, v] of Object.entries(files)) {
    xpis[k] = path.join(dir, `${k}.xpi`);
    fs.writeFileSync(xpis[k]!, v);
  }
});

describe('addons-linter', () => {
  for (const which of ['purchaser', 'template', 'stamped']) {
    it(`passes with zero errors: ${which}`, async () => {
      const r = await lint(xpis[which]!, which === 'stamped');
      expect(r.errors, JSON.stringify(r.errors, null, 1)).toEqual([]);
      checkWarnings(r);
    }, 60_000);
  }

  it('does fail a broken add-on (the gate is real)', async () => {
    const broken = path.join(dir, 'broken.xpi');
    const { zipSync, strToU8 } = await import('fflate');
    fs.writeFileSync(broken, zipSync({ 'manifest.json': strToU8('{"manifest_version": 3, "name": 5}') }));
    const r = await lint(broken);
    expect(r.errors.length).toBeGreaterThan(0);
  }, 60_000);
});
