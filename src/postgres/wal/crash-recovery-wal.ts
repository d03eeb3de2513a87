// Which of a snapshot's pg_wal segments crash recovery can read. A running
// server keeps up to max_wal_size of segments in pg_wal, most of them
// recycled: old segments renamed ahead of the insert position, whose first
// page still carries their old address. Crash recovery starts at the
// checkpoint's REDO and ends at the first page that does not follow (a page
// address that is not the expected one ends the WAL, exactly as a missing
// file does), so a segment before REDO's, or one whose long page header does
// not name the segment it is filed as, is never read. Copying only the others
// gives the temporary instance the same WAL, in the size of the WAL written
// since the checkpoint rather than of max_wal_size.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseLsn } from './lsn.js';
import { isSegmentName, parseSegmentName, readSegmentHeader, type SegmentHeader } from './segments.js';

export interface WalFileFacts {
  name: string;
  size: number;
  /** The long page header at the file's start, for segment files (null: none or unreadable). */
  header: SegmentHeader | null;
}

export interface CrashRecoveryWal {
  /** Names of pg_wal's files to copy (every file that is not a segment is kept: history, .partial, .backup, archive_status). */
  keep: (name: string) => boolean;
  /** Segments left out, and their bytes. */
  skipped: string[];
  skippedBytes: number;
  /** Bytes of the segments kept. */
  keptBytes: number;
}

export interface CheckpointFacts {
  /** pg_control's "Latest checkpoint's REDO location". */
  redo: string;
  /** pg_control's "Database system identifier". */
  systemId: string;
  /** pg_control's "Bytes per WAL segment". */
  segmentSize: number;
  /** A backup_label beside pg_control: recovery then starts where it says, so nothing before REDO is left out. */
  backupLabel: boolean;
}

/** Pure: does this segment's header name the segment it is filed as, in this cluster? */
export function headerNamesSegment(name: string, header: SegmentHeader | null, c: Pick<CheckpointFacts, 'systemId' | 'segmentSize'>): boolean {
  // not the magic: a major newer than undrop's table still names its segments the same way
  if (!header) return false;
  const { segno } = parseSegmentName(name, c.segmentSize);
  return header.segmentSize === c.segmentSize && header.systemIdentifier === c.systemId && parseLsn(header.pageAddr) === segno * BigInt(c.segmentSize);
}

/** Pure: the files crash recovery reads (and every non-segment file), from what each one's header says. */
export function planCrashRecoveryWal(files: readonly WalFileFacts[], c: CheckpointFacts): CrashRecoveryWal {
  const redoSegno = parseLsn(c.redo) / BigInt(c.segmentSize);
  const skipped: string[] = [];
  let skippedBytes = 0;
  let keptBytes = 0;
  let redoKept = false;
  for (const f of files) {
    if (!isSegmentName(f.name)) continue;
    const segno = parseSegmentName(f.name, c.segmentSize).segno;
    if ((!c.backupLabel && segno < redoSegno) || !headerNamesSegment(f.name, f.header, c)) {
      skipped.push(f.name);
      skippedBytes += f.size;
    } else {
      keptBytes += f.size;
      if (segno === redoSegno) redoKept = true;
    }
  }
  // Without the redo point's own segment crash recovery cannot start: never the cause, copy everything as it is.
  if (!redoKept) return { keep: () => true, skipped: [], skippedBytes: 0, keptBytes: keptBytes + skippedBytes };
  const out = new Set(skipped);
  return { keep: (name) => !out.has(name), skipped, skippedBytes, keptBytes };
}

/** Read pg_wal's files (the folder a pg_wal link leads to, already resolved) and plan what crash recovery needs. */
export async function crashRecoveryWal(walDir: string, c: CheckpointFacts): Promise<CrashRecoveryWal> {
  const files: WalFileFacts[] = [];
  for (const name of await readdir(walDir)) {
    if (!isSegmentName(name)) continue;
    const path = join(walDir, name);
    const s = await stat(path).catch(() => undefined);
    if (!s?.isFile()) continue;
    files.push({ name, size: s.size, header: await readSegmentHeader(path) });
  }
  return planCrashRecoveryWal(files, c);
}
