// A private SoftHSM2 token for one test file: its own config and token folder in a temp
// directory (SOFTHSM2_CONF), never the system's. The CLI under test inherits the env.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsm {
  dir: string;
  conf: string;
  env: Record<string, string>;
  /** Initialises a new token with this label; returns it. */
  initToken(label: string, pin: string, soPin?: string): string;
  /** Removes the token's files, as if it were pulled out. */
  removeTokens(): void;
  cleanup(): void;
}

export function startSoftHsm(): SoftHsm {
  if (!fs.existsSync(SOFTHSM_MODULE)) throw new Error(`SoftHSM2 is not installed (${SOFTHSM_MODULE}): scripts/ensure-system-deps.sh installs it`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-hsm-'));
  const tokens = path.join(dir, 'tokens');
  fs.mkdirSync(tokens);
  const conf = path.join(dir, 'softhsm2.conf');
  fs.writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const env = { SOFTHSM2_CONF: conf };
  // The module reads SOFTHSM2_CONF when loaded: in-process tests load it too.
  process.env.SOFTHSM2_CONF = conf;
  return {
    dir,
    conf,
    env,
    initToken(label, pin, soPin = '87654321') {
      execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', soPin, '--pin', pin], { env: { ...process.env, ...env }, stdio: 'pipe' });
      return label;
    },
    removeTokens() {
      for (const e of fs.readdirSync(tokens)) fs.rmSync(path.join(tokens, e), { recursive: true, force: true });
    },
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
