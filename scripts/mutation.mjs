// `npm run test:mutation [-- --mutate card/policy.ts]`: Stryker over the files listed in
// stryker.config.mjs, then one "file: score" line per mutated file.
// Stryker 10's CLI refuses Node < 22 at import; its engine runs on the Node 20 this
// project targets (checked: every run in docs/testing.md), so the run is started
// through the Stryker class, which has no such guard.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';

const root = join(import.meta.dirname, '..');
const { Stryker } = await import(pathToFileURL(join(root, 'node_modules/@stryker-mutator/core/dist/src/stryker.js')).href);

const args = process.argv.slice(2);
const options = {};
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--mutate' && args[i + 1]) (options.mutate ??= []).push(...args[++i].split(','));
  else if (args[i] === '--concurrency' && args[i + 1]) options.concurrency = Number(args[++i]);
  else {
    console.error(`unknown argument ${args[i]} (expected --mutate FILE[,FILE] or --concurrency N)`);
    process.exit(2);
  }
}

// A partial run (--mutate) reports beside the full one, under its own name, and works in
// its own temp folder, so runs of different files can overlap.
const slug = options.mutate ? options.mutate.map((f) => f.replace(/\.ts$/, '').replace(/[^A-Za-z0-9]+/g, '-')).join('+') : 'mutation';
Object.assign(options, {
  jsonReporter: { fileName: `reports/mutation/${slug}.json` },
  htmlReporter: { fileName: `reports/mutation/${slug}.html` },
  tempDirName: slug === 'mutation' ? '.stryker-tmp' : `.stryker-tmp-${slug}`,
});

const started = Date.now();
await new Stryker(options).runMutationTest();
const report = JSON.parse(readFileSync(join(root, options.jsonReporter.fileName), 'utf8'));
const MIN = 90;
let below = 0;
console.log(`\nmutation score per file (killed + timeout) / (all - ignored - no coverage is counted as survived):`);
for (const [file, f] of Object.entries(report.files)) {
  const n = (s) => f.mutants.filter((m) => m.status === s).length;
  const detected = n('Killed') + n('Timeout');
  const valid = f.mutants.filter((m) => !['CompileError', 'RuntimeError', 'Ignored'].includes(m.status)).length;
  const score = valid ? (100 * detected) / valid : 100;
  if (score < MIN) below++;
  console.log(`${file}: ${score.toFixed(2)}% (${detected}/${valid}; survived ${n('Survived')}, no coverage ${n('NoCoverage')})`);
}
console.log(`took ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(below ? 1 : 0);
