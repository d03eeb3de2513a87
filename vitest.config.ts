import { defineConfig } from 'vitest/config';
import { LongestFirst } from './test/sequencer.js';

// Integration tests start real PostgreSQL instances: keep them in one worker
// pool with generous timeouts; the machine has 2 cores.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/ when a source is newer: the tests spawn the built CLI (test/cli.ts).
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ['default'],
    // Longest files first, so that neither fork is left idle at the end (test/sequencer.ts).
    sequence: { sequencer: LongestFirst },
  },
});
