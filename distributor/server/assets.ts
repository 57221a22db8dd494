// The pages' static files, all served from this machine: Pico CSS from its package,
// our own stylesheet, logo, favicon and the local-time script from ./assets. Read once at start-up.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Router } from 'express';
import { packageRoot } from './xpi.js';

const ASSETS_DIR = (): string => join(packageRoot(), 'distributor', 'server', 'assets');

export function assetRoutes(): Router {
  const pico = createRequire(import.meta.url).resolve('@picocss/pico/css/pico.min.css');
  const files: Record<string, { type: string; body: Buffer }> = {
    '/assets/pico.min.css': { type: 'text/css; charset=utf-8', body: readFileSync(pico) },
    '/assets/sealcode.css': { type: 'text/css; charset=utf-8', body: readFileSync(join(ASSETS_DIR(), 'sealcode.css')) },
    '/assets/local-time.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(join(ASSETS_DIR(), 'local-time.js')) },
    '/assets/logo.svg': { type: 'image/svg+xml', body: readFileSync(join(ASSETS_DIR(), 'logo.svg')) },
    '/favicon.ico': { type: 'image/x-icon', body: readFileSync(join(ASSETS_DIR(), 'favicon.ico')) },
  };
  const r = Router();
  for (const [path, f] of Object.entries(files))
    r.get(path, (_req, res) => {
      res.setHeader('Cache-Control', 'public, max-age=3600');
      res.type(f.type).send(f.body);
    });
  return r;
}
