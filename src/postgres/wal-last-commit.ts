// The last COMMIT in a stretch of WAL: what a crash-consistent copy (a
// snapshot) really contains. Streams pg_waldump; keeps one line.
import { createInterface } from 'node:readline';
import type { PgBinaries } from './binaries.js';
import { spawnProgram } from './run.js';

export interface LastCommit {
  xid: string;
  lsn: string;
  time: string;
}

const COMMIT = /tx:\s+(\d+), lsn: ([0-9A-F]+\/[0-9A-F]+),.*desc: COMMIT (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) UTC/;

export function parseCommitLine(line: string): LastCommit | undefined {
  const m = COMMIT.exec(line);
  if (!m) return undefined;
  return { xid: m[1]!, lsn: m[2]!, time: new Date(`${m[3]!.replace(' ', 'T')}Z`).toISOString() };
}

export async function lastCommitInWal(bin: PgBinaries, walDir: string, startLsn: string, timeline?: number): Promise<LastCommit | undefined> {
  const args = ['-p', walDir, '-s', startLsn, '-r', 'Transaction'];
  if (timeline) args.push('-t', String(timeline));
  const child = spawnProgram(bin.path('pg_waldump'), args, { timeoutMs: 10 * 60_000 });
  let last: LastCommit | undefined;
  const rl = createInterface({ input: child.stdout! });
  for await (const line of rl) {
    const c = parseCommitLine(line);
    if (c) last = c;
  }
  await child; // pg_waldump exits 1 at the end of valid WAL; that is normal here
  return last;
}
