// The newest commit in the last reachable WAL segments, from pg_waldump.
import { open } from 'node:fs/promises';
import type { PgBinaries } from '../../postgres/binaries.js';
import { pgWaldumpSegments } from '../../postgres/programs.js';
import { type LastCommit, parseCommitLine } from '../../postgres/wal-last-commit.js';

export type { LastCommit };

/** The last COMMIT record in pg_waldump output. */
export function lastCommitIn(waldumpOutput: string): LastCommit | null {
  const lines = waldumpOutput.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const c = parseCommitLine(lines[i]!);
    if (c) return c;
  }
  return null;
}

/** Newest commit in [first, last] (segment names in `dir`), or null when none. */
export async function lastCommitInSegments(bin: PgBinaries, dir: string, first: string, last: string, timeoutMs: number): Promise<{ commit: LastCommit | null; error: string | null }> {
  const r = await pgWaldumpSegments(bin, dir, first, last, { rmgr: 'Transaction', timeoutMs });
  const commit = lastCommitIn(r.stdout);
  // pg_waldump stops with an error at the end of valid WAL; that is normal when records were printed.
  const err = r.exitCode !== 0 && !commit ? (r.stderr.split('\n').find((l) => l.includes('error')) ?? r.stderr.trim()) : null;
  return { commit, error: err };
}

/** XLOG_PAGE_MAGIC of a segment → PostgreSQL major (so pg_waldump of the right version reads it). */
const MAGIC: Record<number, number> = { 0xd098: 11, 0xd101: 12, 0xd106: 13, 0xd10d: 14, 0xd110: 15, 0xd113: 16, 0xd116: 17, 0xd118: 18 };
export function majorFromWalMagic(magic: number): number | null {
  return MAGIC[magic] ?? null;
}

export async function walFileMajor(path: string): Promise<number | null> {
  try {
    const fh = await open(path, 'r');
    try {
      const b = Buffer.alloc(2);
      await fh.read(b, 0, 2, 0);
      return majorFromWalMagic(b.readUInt16LE(0));
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}
