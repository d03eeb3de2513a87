// Replaying a CREATE TABLESPACE recreates the tablespace at the absolute path
// the WAL names, and PostgreSQL's redo first removes whatever version folder
// is already there (tablespace.c: "forcibly drop the target subdirectory if
// present"). On the database host, or with shared storage, that path is the
// live tablespace: a temporary instance replaying from a base backup older
// than the tablespace would empty production's. Before such a replay starts,
// the WAL range is read for Tablespace records, and a CREATE whose path
// exists here stops the run.
import { existsSync } from 'node:fs';
import { failure } from '../errors.js';
import type { PgBinaries } from './binaries.js';
import { runWaldump } from './wal/waldump.js';

export interface TablespaceCreate {
  oid: string;
  path: string;
}

/** `desc: CREATE 16390 "/srv/ts"` lines of pg_waldump -r Tablespace. */
export function tablespaceCreates(waldump: string): TablespaceCreate[] {
  const out: TablespaceCreate[] = [];
  for (const line of waldump.split('\n')) {
    const m = /desc: CREATE (\d+) "(.*)"\s*$/.exec(line);
    if (m) out.push({ oid: m[1]!, path: m[2]! });
  }
  return out;
}

/** Refuse a replay (from `startLsn` to `endLsn`, WAL in `walDir`) that would create a tablespace over an existing path. */
export async function assertReplayLeavesTablespacesAlone(bin: PgBinaries, o: { walDir: string; startLsn: string; endLsn?: string; timeline?: number; label: string }): Promise<void> {
  const r = await runWaldump(bin, { dir: o.walDir, start: o.startLsn, end: o.endLsn, timeline: o.timeline, rmgrs: ['Tablespace'], timeoutMs: 30 * 60_000 });
  const hits = tablespaceCreates(r.stdout).filter((t) => existsSync(t.path));
  if (hits.length) {
    throw failure('REPLAY_WOULD_TOUCH_TABLESPACE', `Replaying WAL from ${o.label} re-creates tablespace ${hits.map((h) => `${h.oid} at ${h.path}`).join(', ')}, and that folder exists on this host; PostgreSQL's replay would empty it. Nothing was started.`, {
      hint: 'Use a base backup taken after the tablespace was created (or another source), or run undrop on a host where that path does not exist.',
    });
  }
}
