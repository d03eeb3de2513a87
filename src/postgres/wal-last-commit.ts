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

const COMMIT_RE = /tx:\s+(\d+), lsn: ([0-9A-F]+\/[0-9A-F]+),.*desc: COMMIT(?:_PREPARED)? (?:\d+: )?(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?) (\S+)/;

function toIso(ts: string, zone: string): string | null {
  const z = /^(UTC|GMT)$/i.test(zone) ? 'Z' : /^[+-]\d{2}$/.test(zone) ? `${zone}:00` : /^[+-]\d{2}:?\d{2}$/.test(zone) ? zone : null;
  const t = Date.parse(z ? `${ts.replace(' ', 'T')}${z}` : `${ts} ${zone}`);
  return Number.isNaN(t) ? null : new Date(t).toISOString().replace('.000Z', 'Z');
}

/** Keep microseconds that Date drops ("…:48.715829" → "…:48.715829Z" when UTC). */
function preciseIso(ts: string, iso: string): string {
  const frac = /\.(\d+)$/.exec(ts)?.[1];
  if (!frac || !iso.endsWith('Z')) return iso;
  return iso.replace(/(\.\d+)?Z$/, `.${frac}Z`);
}

/** A pg_waldump COMMIT (or COMMIT_PREPARED) record line, or undefined. */
export function parseCommitLine(line: string): LastCommit | undefined {
  const m = COMMIT_RE.exec(line);
  if (!m) return undefined;
  const time = toIso(m[3]!, m[4]!);
  return time ? { time: preciseIso(m[3]!, time), lsn: m[2]!, xid: m[1]! } : undefined;
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
