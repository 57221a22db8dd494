// The suites Stryker runs against each mutant (stryker.config.mjs): the fast unit and
// API tests of the mutated files, nothing that starts Thunderbird, Dovecot or Chromium.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'tests/card/certification-table.test.ts',
      'tests/card/policy.test.ts',
      'tests/format/codes.test.ts',
      'tests/format/vectors.test.ts',
      'tests/format/tamper.test.ts',
      'tests/format/fast-path.test.ts',
      'tests/distributor/seller-core.test.ts',
      'tests/distributor/online-api.test.ts',
      'tests/distributor/redemption-api.test.ts',
    ],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
