#!/usr/bin/env node
// The CLI is compiled by `npm run build` (tsc) into build/.
import('../build/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('build/cli/main.js')) {
    console.error('sealcode: not built yet; run `npm run build` first');
    process.exit(1);
  }
  throw err;
});
