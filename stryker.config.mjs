// Mutation testing (docs/testing.md "Mutation testing"): `npm run test:mutation`.
// Only the fast unit and API suites run (vitest.mutation.config.ts); no Thunderbird,
// Dovecot or Chromium suite is needed to judge these files.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  coverageAnalysis: 'perTest',
  concurrency: 2,
  // Static mutants (module-level constants) would each rerun every suite: ~60% of the
  // time for ~20% of the mutants. Their values are pinned by the vectors instead.
  ignoreStatic: true,
  mutate: [
    'card/policy.ts',
    'card/container/open.ts',
    'card/container/header.ts',
    'card/codes.ts',
    'distributor/seller/redemption.ts',
    'distributor/seller/online.ts',
    'gateway/verdict.ts',
  ],
  // Big or generated folders the tests do not read: faster sandbox copies.
  ignorePatterns: ['/.stryker-tmp-*', '/build', '/.tmp', '/coverage', '/bench/out', '/sealcode-data', '/docs/*.png'],
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
  thresholds: { high: 95, low: 90, break: null },
  timeoutMS: 20_000,
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
