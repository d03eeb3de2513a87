// A WAL archive as data: segments per timeline, timeline history files,
// and the gap analysis from a backup's start segment to the newest segment.
import { readdir } from 'node:fs/promises';
import { type HistoryEntry, parseHistory } from '../../postgres/wal/history.js';
import { isSegmentName, parseSegmentName, segmentName, segnoOfLsn } from '../../postgres/wal/segments.js';

export { parseHistory };

export interface ArchiveListing {
  /** Segment names present (compression suffix stripped), by timeline. */
  segments: Map<number, Set<bigint>>;
  /** Raw file name for each present segment name (e.g. with .gz). */
  files: Map<string, string>;
  /** Timeline → its history file's entries (the file NNNNNNNN.history of that timeline). */
  histories: Map<number, HistoryEntry[]>;
  /** Archived backup history files (*.backup). */
  backupFiles: string[];
  partials: string[];
}

const COMPRESSED = /\.(gz|zst|lz4|xz|bz2|br)$/;

export function emptyListing(): ArchiveListing {
  return { segments: new Map(), files: new Map(), histories: new Map(), backupFiles: [], partials: [] };
}

/** Build a listing from file names (history contents supplied separately). */
export function listingFromNames(names: readonly string[]): ArchiveListing {
  const l = emptyListing();
  for (const n of names) {
    const base = n.replace(COMPRESSED, '');
    if (isSegmentName(base)) {
      const s = parseSegmentName(base);
      let set = l.segments.get(s.timeline);
      if (!set) l.segments.set(s.timeline, (set = new Set()));
      set.add(s.segno);
      l.files.set(base, n);
    } else if (/^[0-9A-F]{24}\.[0-9A-F]{8}\.backup$/.test(base)) l.backupFiles.push(n);
    else if (/^[0-9A-F]{24}\.partial$/.test(base)) l.partials.push(n);
  }
  return l;
}

export async function listArchiveDir(dir: string, readText: (name: string) => Promise<string>): Promise<ArchiveListing> {
  const names = await readdir(dir);
  const l = listingFromNames(names);
  for (const n of names) {
    const m = /^([0-9A-F]{8})\.history$/.exec(n);
    if (m) {
      try {
        l.histories.set(parseInt(m[1]!, 16), parseHistory(await readText(n)));
      } catch {
        /* unreadable history: treated as absent */
      }
    }
  }
  return l;
}

export interface TimelineSpan {
  tli: number;
  /** First segment that belongs to this timeline (the switch segment of its parent). */
  beginSegno: bigint;
  /** Last segment (the segment holding the switch point to the next timeline), or null for the newest. */
  endSegno: bigint | null;
}

/** The timelines recovery follows from `startTli` with recovery_target_timeline = latest. */
export function timelinePath(listing: ArchiveListing, startTli: number, targetTli?: number): TimelineSpan[] {
  let newest = startTli;
  for (const [tli, hist] of listing.histories) {
    if (tli > newest && hist.some((h) => h.parentTli === startTli)) newest = tli;
  }
  // recovery_target_timeline N: that timeline, when it descends from the start (else recovery refuses it anyway).
  if (targetTli !== undefined && (targetTli === startTli || listing.histories.get(targetTli)?.some((h) => h.parentTli === startTli))) newest = targetTli;
  if (newest === startTli) return [{ tli: startTli, beginSegno: 0n, endSegno: null }];
  const hist = listing.histories.get(newest)!;
  const spans: TimelineSpan[] = [];
  let begin = 0n;
  for (const h of hist) {
    const end = segnoOfLsn(h.switchLsn);
    spans.push({ tli: h.parentTli, beginSegno: begin, endSegno: end });
    begin = end;
  }
  spans.push({ tli: newest, beginSegno: begin, endSegno: null });
  const from = spans.findIndex((s) => s.tli === startTli);
  return from >= 0 ? spans.slice(from) : spans;
}

/** The timeline whose file recovery reads for a segment: the newest span that has begun by then. */
export function expectedTimeline(path: readonly TimelineSpan[], segno: bigint): number {
  let tli = path[0]!.tli;
  for (const s of path) if (s.beginSegno <= segno) tli = s.tli;
  return tli;
}

export interface GapAnalysis {
  path: TimelineSpan[];
  startSegno: bigint;
  /** Newest segment on the path (null when the archive holds none from the start on). */
  endSegno: bigint | null;
  endName: string | null;
  /** First missing segment between start and end, or null. */
  firstGap: { segno: bigint; name: string } | null;
  missing: string[];
  missingCount: number;
  /** Last segment of the unbroken run from the start (null when the start itself is missing). */
  lastContiguous: { segno: bigint; name: string; tli: number } | null;
}

function present(listing: ArchiveListing, extra: ReadonlySet<string> | undefined, tli: number, segno: bigint): boolean {
  if (listing.segments.get(tli)?.has(segno)) return true;
  return extra?.has(segmentName(tli, segno)) ?? false;
}

/**
 * From a backup's start segment up to the newest segment on its timeline
 * path, which segments are missing. `extra` holds segments available
 * elsewhere (the backup's own pg_wal).
 */
export function analyzeGaps(listing: ArchiveListing, startTli: number, startLsn: string, extra?: ReadonlySet<string>, maxListed = 20, targetTli?: number): GapAnalysis {
  const path = timelinePath(listing, startTli, targetTli);
  const startSegno = segnoOfLsn(startLsn);
  let endSegno: bigint | null = null;
  const consider = (tli: number, segno: bigint) => {
    const span = path.find((s) => s.tli === tli);
    if (!span) return;
    if (segno < startSegno || segno < span.beginSegno) return;
    if (span.endSegno !== null && segno > span.endSegno) return;
    if (endSegno === null || segno > endSegno) endSegno = segno;
  };
  for (const span of path) for (const segno of listing.segments.get(span.tli) ?? []) consider(span.tli, segno);
  for (const name of extra ?? []) {
    const s = parseSegmentName(name);
    consider(s.timeline, s.segno);
  }
  const missing: string[] = [];
  let missingCount = 0;
  let firstGap: GapAnalysis['firstGap'] = null;
  let lastContiguous: GapAnalysis['lastContiguous'] = null;
  if (endSegno !== null) {
    for (let s = startSegno; s <= endSegno; s++) {
      const tli = expectedTimeline(path, s);
      if (present(listing, extra, tli, s)) {
        if (!firstGap) lastContiguous = { segno: s, name: segmentName(tli, s), tli };
        continue;
      }
      const name = segmentName(tli, s);
      if (!firstGap) firstGap = { segno: s, name };
      missingCount++;
      if (missing.length < maxListed) missing.push(name);
    }
  } else {
    firstGap = { segno: startSegno, name: segmentName(expectedTimeline(path, startSegno), startSegno) };
    missing.push(firstGap.name);
    missingCount = 1;
  }
  const end: bigint | null = endSegno;
  return {
    path,
    startSegno,
    endSegno: end,
    endName: end === null ? null : segmentName(expectedTimeline(path, end), end),
    firstGap,
    missing,
    missingCount,
    lastContiguous,
  };
}

/** True when an LSN lies in a segment this analysis can reach without crossing a gap. */
export function lsnReachable(g: GapAnalysis, lsn: string): boolean {
  if (!g.lastContiguous) return false;
  const seg = segnoOfLsn(lsn);
  return seg >= g.startSegno && seg <= g.lastContiguous.segno && (g.firstGap === null || seg < g.firstGap.segno);
}

export function lsnSegmentName(g: GapAnalysis, lsn: string): string {
  const seg = segnoOfLsn(lsn);
  return segmentName(expectedTimeline(g.path, seg), seg);
}

