// A replica that replayed no commit since it started has no
// pg_last_xact_replay_timestamp(). Its replay position still says what it
// holds: the last COMMIT at or before pg_last_wal_replay_lsn(), read with
// pg_waldump from the WAL archive (or the replica's own pg_wal), walking
// back segment by segment from the one holding the replay position.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { PgBinaries } from '../../postgres/binaries.js';
import { type LastCommit, lastCommitIn } from '../../postgres/wal/commits.js';
import type { Lsn } from '../../postgres/wal/lsn.js';
import { segmentForLsn, parseSegmentName, segmentName } from '../../postgres/wal/segments.js';
import { runWaldump } from '../../postgres/wal/waldump.js';

/** WAL folders to read, in order: the archive, then the replica's pg_wal (when it is on this machine). */
export function replicaWalDirs(walArchive: string | undefined, dataDir: string | undefined): string[] {
  return [walArchive, dataDir ? join(dataDir, 'pg_wal') : undefined].filter((d): d is string => !!d && existsSync(d));
}

/** The last COMMIT at or before `replayLsn` on `timeline`, looking back at most `maxSegments` segments. */
export async function lastCommitAtOrBefore(bin: PgBinaries, dirs: readonly string[], timeline: number, replayLsn: Lsn, maxSegments = 8, timeoutMs = 10_000): Promise<LastCommit | undefined> {
  const first = parseSegmentName(segmentForLsn(timeline, replayLsn)).segno;
  for (let back = 0n; back < BigInt(maxSegments) && first - back >= 0n; back++) {
    const seg = segmentName(timeline, first - back);
    const dir = dirs.find((d) => existsSync(join(d, seg)));
    if (!dir) return undefined; // a hole: stop rather than guess across it
    const r = await runWaldump(bin, { dir, startSegment: seg, endSegment: seg, rmgrs: ['Transaction'], ...(back === 0n ? { end: replayLsn } : {}), asServerUser: true, timeoutMs });
    const c = lastCommitIn(r.stdout);
    if (c) return c;
  }
  return undefined;
}
