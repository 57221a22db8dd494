// The suites Stryker runs against each mutant (stryker.config.mjs): the fast unit and
// API tests of the mutated files, nothing that starts Thunderbird, Dovecot or Chromium.
// tests/format/tamper.test.ts is left out: it opens the container at every byte
// position, so each of the ~300 container mutants would cost it whole (minutes on a
// shared machine); header.test.ts and open.test.ts pin the same checks one by one.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'tests/card/certification-table.test.ts',
      'tests/card/policy.test.ts',
      'tests/format/header.test.ts',
      'tests/format/open.test.ts',
      'tests/format/format-rules.test.ts',
      'tests/format/codes.test.ts',
      'tests/format/vectors.test.ts',
      'tests/format/fast-path.test.ts',
      'tests/distributor/seller-core.test.ts',
      'tests/distributor/online-api.test.ts',
      'tests/distributor/redemption-api.test.ts',
      'tests/distributor/redemption-rules.test.ts',
      'tests/distributor/redemption-again.test.ts',
      'tests/distributor/online-rules.test.ts',
      'tests/gateway/verdict.test.ts',
    ],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One module graph per worker across runs: Stryker switches mutants at run time
    // (static mutants are ignored), so a fresh import per mutant only costs time.
    isolate: false,
  },
});
