// What WAL Barman holds for a server: a read-only listing of its wals
// directory (hash folders of segments, history files at the top), and the
// newest commit in a stretch of it, fetched with `barman get-wal`.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findBinaries } from '../../postgres/binaries.js';
import { barmanGetWal, type BarmanOptions, chownForBarman } from '../../postgres/barman-programs.js';
import { chownForServer } from '../../postgres/os-user.js';
import { type LastCommit, lastCommitInSegments } from '../../postgres/wal/commits.js';
import { parseSegmentName, segmentName } from '../../postgres/wal/segments.js';
import { makeStage, removeStage } from '../../postgres/work-dir.js';
import { type ArchiveListing, listingFromNames, parseHistory } from '../common/wal-archive.js';

/** Every WAL file name under Barman's wals directory (xlog.db and other files left out). */
export async function listBarmanWals(walsDir: string): Promise<ArchiveListing> {
  const top = await readdir(walsDir, { withFileTypes: true });
  const names: string[] = [];
  for (const e of top) {
    if (e.isDirectory() && /^[0-9A-F]{16}$/.test(e.name)) names.push(...(await readdir(join(walsDir, e.name))));
    else if (e.isFile()) names.push(e.name);
  }
  const listing = listingFromNames(names);
  for (const n of names.filter((x) => /^[0-9A-F]{8}\.history$/.test(x))) {
    const text = await readFile(join(walsDir, n), 'utf8').catch(() => '');
    listing.histories.set(parseInt(n.slice(0, 8), 16), parseHistory(text));
  }
  return listing;
}

/**
 * The newest commit in the WAL that ends with segment `last`: the last two
 * segments, then further back (a backup ends with a WAL switch, so the
 * newest segments may hold no commit at all). `first` bounds how far back.
 */
export async function newestCommitUpTo(opts: BarmanOptions, barmanUser: string, workDir: string, last: string, first: string, major?: number): Promise<{ commit: LastCommit | null; note: string | null }> {
  const dir = await makeStage(workDir, 'probe-barman');
  try {
    const end = parseSegmentName(last);
    const floor = parseSegmentName(first).segno;
    const bin = await findBinaries(major).catch(() => findBinaries());
    const names: string[] = [];
    let found: { commit: LastCommit | null; note: string | null } = { commit: null, note: null };
    for (const back of [1n, 7n]) {
      await chownForBarman(dir, barmanUser, true);
      for (let s = end.segno - back; s <= end.segno; s++) {
        if (s < floor || s < 0n) continue;
        const name = segmentName(end.timeline, s);
        if (names.includes(name)) continue;
        const r = await barmanGetWal({ ...opts, timeoutMs: 60_000 }, name, dir);
        if (r.exitCode === 0) names.push(name);
      }
      if (names.length === 0) return { commit: null, note: `barman get-wal of ${last} failed` };
      names.sort();
      // pg_waldump runs as the server OS user: the fetched files are handed to it.
      await chownForServer(dir);
      const r = await lastCommitInSegments(bin, dir, names[0]!, names[names.length - 1]!, 30_000);
      found = { commit: r.commit, note: r.error };
      if (r.commit) break;
    }
    return found;
  } finally {
    removeStage(dir);
  }
}
