// The order test files start in. The forks take files from one queue: a long
// file started last leaves the other forks idle for its whole length. vitest
// orders by the durations in its cache, but CI runs a clean clone (no cache:
// it then runs larger files first, and some short files are the slowest).
// Here the longest known files go first (test/durations.json, seconds from a
// CI run, last at load ~9 with 3 forks: refresh it now and then; it only
// decides the order), unknown ones before them all, as vitest does.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const known = JSON.parse(readFileSync(new URL('./durations.json', import.meta.url), 'utf8')) as Record<string, number>;

export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const seconds = (f: TestSpecification) => known[relative(f.project.config.root, f.moduleId)] ?? Infinity;
    return [...files].sort((a, b) => seconds(b) - seconds(a));
  }
}
