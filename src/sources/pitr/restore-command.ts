// An archive reached only through restore_command (any program: cp, scp,
// pgbackrest archive-get, wal-g…): it cannot be listed, so segments are
// fetched one by one into a private folder, from the oldest backup's start
// until the command stops finding them. Fetched files are deleted as we go,
// except the last few (pg_waldump reads them). The command runs through
// common/restore-command.ts.
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { segmentName } from '../../postgres/wal/segments.js';
import { type FetchResult, fetchWalFile } from '../common/restore-command.js';
import { type ArchiveListing, emptyListing, expectedTimeline, parseHistory, timelinePath } from '../common/wal-archive.js';

export interface WalkResult {
  listing: ArchiveListing;
  /** First failure of the command itself (not a plain "file not found"), for the finding. */
  firstFailure: FetchResult | null;
  fetched: number;
  /** The walk stopped on its budget before the end of the archive. */
  truncated: boolean;
}

export async function walkRestoreCommand(
  cmd: string,
  starts: { tli: number; segno: bigint }[],
  dir: string,
  o: { budgetMs: number; maxSegments: number; keepLast?: number; lookahead?: number; fetchTimeoutMs?: number },
): Promise<WalkResult> {
  const listing = emptyListing();
  const until = Date.now() + o.budgetMs;
  const fetchTimeout = o.fetchTimeoutMs ?? 30_000;
  let firstFailure: FetchResult | null = null;
  let fetched = 0;
  let truncated = false;
  if (starts.length === 0) return { listing, firstFailure, fetched, truncated };
  const startTli = Math.min(...starts.map((s) => s.tli));
  // Timeline history files: the next few timelines, until one is missing.
  for (let tli = startTli + 1, misses = 0; misses < 2 && tli < startTli + 10; tli++) {
    const name = `${tli.toString(16).toUpperCase().padStart(8, '0')}.history`;
    const r = await fetchWalFile(cmd, name, dir, fetchTimeout);
    if (r.ok) {
      listing.histories.set(tli, parseHistory(await readFile(join(dir, name), 'utf8')));
      misses = 0;
    } else misses++;
  }
  const path = timelinePath(listing, startTli);
  let keep: string[] = [];
  const keepLast = o.keepLast ?? 4;
  const lookahead = o.lookahead ?? 2;
  const add = (tli: number, segno: bigint) => {
    let set = listing.segments.get(tli);
    if (!set) listing.segments.set(tli, (set = new Set()));
    set.add(segno);
    const name = segmentName(tli, segno);
    listing.files.set(name, name);
  };
  const fetchSeg = async (segno: bigint): Promise<boolean> => {
    const tli = expectedTimeline(path, segno);
    const name = segmentName(tli, segno);
    const r = await fetchWalFile(cmd, name, dir, fetchTimeout);
    fetched++;
    if (!r.ok) {
      if (!firstFailure && (r.exitCode === 127 || r.exitCode === 126 || r.exitCode > 128)) firstFailure = r;
      if (!firstFailure && fetched === 1) firstFailure = r;
      return false;
    }
    add(tli, segno);
    keep.push(name);
    while (keep.length > keepLast) await rm(join(dir, keep.shift()!), { force: true });
    return true;
  };
  let gapSeen = false;
  let segno = starts.reduce((m, s) => (s.segno < m ? s.segno : m), starts[0]!.segno);
  for (;;) {
    if (Date.now() > until || fetched >= o.maxSegments) {
      truncated = true;
      break;
    }
    if (await fetchSeg(segno)) {
      segno++;
      continue;
    }
    // Missing: a gap if a later segment exists, else the end of the archive.
    let found: bigint | null = null;
    for (let k = 1n; k <= BigInt(lookahead); k++) {
      if (await fetchSeg(segno + k)) {
        found = segno + k;
        break;
      }
    }
    if (found === null) break;
    // Keep the segments before the first gap: the recovery point is read from them.
    if (!gapSeen) {
      gapSeen = true;
      const after = keep.pop()!;
      keep = [after];
    }
    segno = found + 1n;
  }
  return { listing, firstFailure, fetched, truncated };
}
