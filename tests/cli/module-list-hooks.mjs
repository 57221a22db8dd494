// The loader hook behind module-list.mjs; runs on Node's hooks thread.
import fs from 'node:fs';

export async function load(url, context, next) {
  fs.writeSync(2, `LOADED ${url}\n`);
  return next(url, context);
}
