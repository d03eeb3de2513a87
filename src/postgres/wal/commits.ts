// The last COMMIT in a stretch of WAL: what a crash-consistent copy (a
// snapshot) or the end of an archive really contains.
import type { PgBinaries } from '../binaries.js';
import { type CommitRecord, parseCommitLine } from './records.js';
import { runWaldump, streamWaldump } from './waldump.js';

export type LastCommit = CommitRecord;

/** The last COMMIT record in pg_waldump output. */
export function lastCommitIn(waldumpOutput: string): LastCommit | null {
  const lines = waldumpOutput.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const c = parseCommitLine(lines[i]!);
    if (c) return c;
  }
  return null;
}

/** Newest commit from `startLsn` to the end of the WAL in `walDir` (streamed: one line held at a time). */
export async function lastCommitInWal(bin: PgBinaries, walDir: string, startLsn: string, timeline?: number): Promise<LastCommit | undefined> {
  let last: LastCommit | undefined;
  // pg_waldump exits 1 at the end of valid WAL; that is normal here.
  await streamWaldump(bin, { dir: walDir, start: startLsn, rmgrs: ['Transaction'], timeline }, (line) => {
    last = parseCommitLine(line) ?? last;
  });
  return last;
}

/** Newest commit in the segments [first, last] of `dir`, or null when none. */
export async function lastCommitInSegments(bin: PgBinaries, dir: string, first: string, last: string, timeoutMs: number): Promise<{ commit: LastCommit | null; error: string | null }> {
  const r = await runWaldump(bin, { dir, startSegment: first, endSegment: last, rmgrs: ['Transaction'], timeoutMs });
  const commit = lastCommitIn(r.stdout);
  // pg_waldump stops with an error at the end of valid WAL; that is normal when records were printed.
  const err = r.exitCode !== 0 && !commit ? (r.stderr.split('\n').find((l) => l.includes('error')) ?? r.stderr.trim()) : null;
  return { commit, error: err };
}
