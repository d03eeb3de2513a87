import { defineConfig } from 'vitest/config';
import { LongestFirst } from './test/sequencer.js';

// Integration tests start real PostgreSQL instances: keep them in one worker
// pool with generous timeouts. The machine has 2 cores, yet 3 forks: a file
// spends much of its time waiting (fsync, replication, programs starting), so
// 2 forks left the cores partly idle. 8 mid-size files, 2 → 3 forks, at load
// 9-10: 359 s → 310 s wall for the same CPU (226 → 233 CPU-s).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/ when a source is newer: the tests spawn the built CLI (test/cli.ts).
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 3, minForks: 1 } },
    reporters: ['default'],
    // Longest files first, so that no fork is left idle at the end (test/sequencer.ts).
    sequence: { sequencer: LongestFirst },
  },
});
