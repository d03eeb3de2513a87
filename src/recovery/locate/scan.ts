// Scan a folder of WAL segments: pick one timeline, check that every segment
// comes from the same cluster, choose the range (--since), find gaps, run
// pg_waldump over each contiguous run and feed the detector.
import { usageError } from '../../errors.js';
import { type PgBinaries, findBinaries } from '../../postgres/binaries.js';
import { type SegmentFile, listSegments, parseSegmentName, readSegmentHeader, segmentForLsn, segmentName } from '../../postgres/wal/segments.js';
import { readHistories } from '../../postgres/wal/history.js';
import { walTimeToIso } from '../../postgres/wal/records.js';
import { Lsn } from '../../postgres/wal/lsn.js';
import type { TablespaceScan } from '../../postgres/replay-guard.js';
import { streamWaldump, streamWaldumpLines, waldumpErrorLines } from '../../postgres/wal/waldump.js';
import { EventDetector } from './detector.js';
import type { DetectorStats, FileBirth, RawEvent, ScanWarning } from './types.js';

export interface ScanRange {
  /** A time (ISO) or an LSN (X/Y). */
  since?: string;
  until?: string;
  /** Default start when --since is absent (the newest base backup's start LSN). */
  defaultStartLsn?: string;
  /** Fallback default: this many ms before now (24 h). */
  defaultWindowMs?: number;
  now?: Date;
}

export interface ScanOptions extends ScanRange {
  dir: string;
  threshold: number;
  /** System identifier the WAL must have (production's), when known. */
  expectSystemId?: string;
  onProgress?: (msg: string) => void;
  onEvent?: (e: RawEvent) => void;
  /** Resource managers to read (pg_waldump -r); default: all. */
  rmgrs?: string[];
}

export interface ScanResult {
  events: RawEvent[];
  /** relfilenode → the transaction that created it in the scanned WAL. */
  births: Map<number, FileBirth>;
  stats: DetectorStats;
  firstSegment?: string;
  lastSegment?: string;
  segments: number;
  /** The newest timeline read. */
  timeline: number;
  timelines: number[];
  systemIdentifier?: string;
  major: number;
  gaps: { after: string; missing: string[] }[];
  warnings: ScanWarning[];
  bin: PgBinaries;
  /** What the scan saw of tablespaces, for the replay guard (the source is filled in by locate). */
  tablespaces: Omit<TablespaceScan, 'source'>;
}

interface Seg {
  file: SegmentFile;
  name: string;
  segno: bigint;
}

export async function scanWal(o: ScanOptions): Promise<ScanResult> {
  const warnings: ScanWarning[] = [];
  const all = await listSegments(o.dir);
  const full = all.filter((f) => !f.name.endsWith('.partial'));
  if (full.length === 0) {
    throw usageError('WAL_EMPTY', `${o.dir} holds no WAL segment files.`, 'Point at the WAL archive folder (files named like 000000010000000000000016) or a data directory\'s pg_wal.');
  }
  // Every timeline there is, each read on its own (pg_waldump follows one timeline): a WAL with history
  // holds the parent's segments up to the fork and the child's from there. An event before the fork
  // appears in both (the child's first segment copies the parent's): it is kept once, on the parent.
  const byTli = new Map<number, Seg[]>();
  for (const f of full) {
    const n = parseSegmentName(f.name);
    byTli.set(n.timeline, [...(byTli.get(n.timeline) ?? []), { file: f, name: f.name, segno: n.segno }]);
  }
  const timelines = [...byTli.keys()].sort((a, b) => a - b);
  const timeline = timelines[timelines.length - 1]!;
  const histories = await readHistories(o.dir);
  for (const tli of timelines.slice(1)) {
    if (!histories.has(tli)) {
      const hist = `${segmentName(tli, 0n).slice(0, 8)}.history`;
      warnings.push({ code: 'WAL_HISTORY_MISSING', message: `Timeline ${tli} has no history file (${hist}) in ${o.dir}: where it forked is unknown, and a restore from a backup on an older timeline cannot follow it.`, hint: `Copy ${hist} from the server that created timeline ${tli} (its pg_wal) into the archive.` });
    }
  }
  const segsAll: Seg[] = timelines.flatMap((t) => byTli.get(t)!);

  // Same cluster everywhere, and the right pg_waldump.
  const headers = await Promise.all(segsAll.map((s) => readSegmentHeader(s.file.path)));
  const ids = new Map<string, string[]>();
  headers.forEach((h, i) => {
    if (!h) return;
    const list = ids.get(h.systemIdentifier) ?? [];
    list.push(segsAll[i]!.name);
    ids.set(h.systemIdentifier, list);
  });
  const systemIdentifier = o.expectSystemId ?? [...ids.entries()].sort((a, b) => b[1].length - a[1].length)[0]?.[0];
  const foreign = [...ids.entries()].filter(([id]) => id !== systemIdentifier);
  if (foreign.length > 0) {
    const names = foreign.flatMap(([, n]) => n);
    throw usageError(
      'WAL_OTHER_CLUSTER',
      o.expectSystemId && !ids.has(o.expectSystemId)
        ? `The WAL in ${o.dir} comes from another cluster: its system identifier is ${[...ids.keys()].join(', ')}, production's is ${o.expectSystemId}.`
        : `${names.length} WAL segment(s) in ${o.dir} come from another cluster (system identifier ${foreign.map(([id]) => id).join(', ')}, expected ${systemIdentifier}): ${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''}.`,
      'Point locate at the archive of the damaged cluster (compare `pg_controldata` "Database system identifier"), or move the foreign files away.',
    );
  }
  const majors = [...new Set(headers.map((h) => h?.major).filter((m): m is number => m !== undefined))];
  const major = majors.length ? Math.max(...majors) : 0;
  const bin = await findBinaries(major || undefined);

  const untilMs = o.until ? Date.parse(o.until) : undefined;
  if (o.until && Number.isNaN(untilMs)) throw usageError('UNTIL_INVALID', `--until ${o.until} is not a time.`, 'Use an ISO time such as 2026-11-25T02:00:00Z.');
  const events: RawEvent[] = [];
  const seen = new Set<string>();
  let current = timelines[0]!;
  const detector = new EventDetector((e) => {
    const key = `${e.xid}/${e.commitLsn}`;
    if (seen.has(key)) return;
    seen.add(key);
    const withTli = { ...e, timeline: current };
    events.push(withTli);
    o.onEvent?.(withTli);
  }, { threshold: o.threshold });
  const gaps: ScanResult['gaps'] = [];
  const scanned: Seg[] = [];
  // What the oldest timeline's runs read record by record, for the replay guard (replay-guard.ts:
  // TablespaceScan, one timeline: a base backup's), from each first segment's own page address.
  const spans: { from: string; to: string }[] = [];
  let creates: TablespaceScan['creates'] = [];
  for (const tli of timelines) {
    current = tli;
    const segs = byTli.get(tli)!;
    // Range start: the oldest timeline may start after --since (said); a later one begins at its fork.
    const oldest = tli === timelines[0];
    let startIdx = 0;
    const lsnStart = o.since && /^[0-9A-Fa-f]+\/[0-9A-Fa-f]+$/.test(o.since) ? o.since : !o.since ? o.defaultStartLsn : undefined;
    if (lsnStart) {
      const want = parseSegmentName(segmentForLsn(tli, lsnStart)).segno;
      if (want < segs[0]!.segno) {
        if (oldest) warnings.push({ code: 'SINCE_BEFORE_WAL', message: `The WAL starts at ${segs[0]!.name}, after ${lsnStart}; scanning from the oldest segment there is.` });
      } else {
        const at = segs.findIndex((s) => s.segno >= want);
        // Past this timeline's last segment (the start lies on a later timeline): its last one only.
        startIdx = at === -1 ? segs.length - 1 : segs[at]!.segno > want ? Math.max(0, at - 1) : at;
      }
    } else {
      const sinceMs = o.since ? Date.parse(o.since) : (o.now ?? new Date()).getTime() - (o.defaultWindowMs ?? 24 * 3600_000);
      if (Number.isNaN(sinceMs)) throw usageError('SINCE_INVALID', `--since ${o.since} is neither a time nor an LSN.`, 'Use an ISO time (2026-11-25T01:30:00Z) or an LSN (0/9000028).');
      const r = await segmentForTime(bin, o.dir, tli, segs, sinceMs);
      startIdx = r.index;
      if (r.beforeOldest && o.since && oldest) {
        warnings.push({ code: 'SINCE_BEFORE_WAL', message: `--since ${o.since} is before the oldest WAL there is (${segs[0]!.name}, first commit ${r.firstTime ?? 'unknown'}); scanning from there.`, hint: 'Events before that cannot be found in this WAL; an older archive or backup would be needed.' });
      }
    }
    const range = segs.slice(startIdx);
    scanned.push(...range);

    // Contiguous runs and gaps.
    const runs: Seg[][] = [];
    for (const s of range) {
      const cur = runs[runs.length - 1];
      const prev = cur?.[cur.length - 1];
      if (prev && s.segno === prev.segno + 1n) cur!.push(s);
      else {
        if (prev) {
          const missing: string[] = [];
          for (let n = prev.segno + 1n; n < s.segno && missing.length < 1000; n++) missing.push(segmentNameOf(tli, n));
          const g = { after: prev.name, missing };
          gaps.push(g);
          warnings.push({
            code: 'WAL_GAP',
            message: `WAL is missing after ${g.after}: ${g.missing[0]}${g.missing.length > 1 ? ` … ${g.missing[g.missing.length - 1]} (${g.missing.length} segments)` : ''}. Events in that stretch cannot be found; the rest was scanned.`,
            hint: 'Look for the missing segments (archive_command failures: pg_stat_archiver.failed_count, the server log). A PITR cannot replay past a gap either.',
          });
        }
        runs.push([s]);
      }
    }

    // No -r filter by default: it saves pg_waldump nothing (it decodes every record either way), and
    // the records it would hide (Btree, Heap2, XLOG …) can be a transaction's first one (firstLsn).
    const rmgrs = o.rmgrs;
    const onCommit = untilMs === undefined ? undefined : (t: string) => Date.parse(t) <= untilMs;
    let stop = false;
    for (let i = 0; i < runs.length && !stop; i++) {
      const run = runs[i]!;
      if (i > 0 || tli !== timelines[0]) detector.markGap();
      const recordsBefore = detector.stats.records;
      o.onProgress?.(`reading WAL ${run[0]!.name} … ${run[run.length - 1]!.name}`);
      const outcome = await streamWaldumpLines(bin, { dir: o.dir, timeline: tli, rmgrs, startSegment: run[0]!.name, endSegment: run[run.length - 1]!.name }, (buf, start, end) => {
        if (detector.pushLines(buf, start, end, onCommit)) return true;
        stop = true;
        return false;
      });
      if (!outcome.stoppedEarly && outcome.exitCode !== 0 && !outcome.endOfWal) {
        warnings.push({ code: 'WAL_READ_ERROR', message: `pg_waldump stopped with an error in ${run[0]!.name} … ${run[run.length - 1]!.name}: ${waldumpErrorLines(outcome.stderr).join(' ')}`, hint: 'The WAL after that point may be damaged; events after it were not found.' });
      }
      const from = headers[segsAll.indexOf(run[0]!)]?.pageAddr;
      if (tli === timelines[0] && from && detector.stats.records > recordsBefore && detector.stats.lastLsn) spans.push({ from, to: Lsn.canonical(detector.stats.lastLsn) });
    }
    if (tli === timelines[0]) creates = [...detector.tablespaceCreates];
  }
  const range = scanned;
  return {
    events,
    births: detector.births,
    stats: detector.stats,
    firstSegment: range[0]?.name,
    lastSegment: range[range.length - 1]?.name,
    segments: range.length,
    timeline,
    timelines,
    systemIdentifier,
    major: bin.major,
    gaps,
    warnings,
    bin,
    // Several timelines: a replay crosses the fork onto a newer one, whose records past the fork the oldest
    // timeline's spans do not hold; the guard then reads the WAL itself (no spans, no shared answer).
    tablespaces: { timeline: timelines[0]!, spans: timelines.length === 1 ? spans : [], creates },
  };
}

function segmentNameOf(timeline: number, segno: bigint): string {
  return segmentName(timeline, segno);
}

/** First commit time in one segment (undefined when it has none). */
async function firstCommitIn(bin: PgBinaries, dir: string, timeline: number, seg: string): Promise<number | undefined> {
  let found: number | undefined;
  await streamWaldump(bin, { dir, timeline, rmgrs: bin.major >= 15 ? ['Transaction'] : undefined, startSegment: seg, endSegment: seg }, (line) => {
    const m = /desc: (?:COMMIT|ABORT) (\d{4}-\d{2}-\d{2} [^;]*)/.exec(line);
    if (m) {
      found = Date.parse(walTimeToIso(m[1]!));
      return false;
    }
    return true;
  });
  return found;
}

/**
 * The segment to start from for a time: the last segment whose first commit
 * is at or before it (its later commits may be after it). Binary search,
 * one short pg_waldump per probe.
 */
async function segmentForTime(bin: PgBinaries, dir: string, timeline: number, segs: Seg[], sinceMs: number): Promise<{ index: number; beforeOldest: boolean; firstTime?: string }> {
  const cache = new Map<number, number | undefined>();
  const timeAt = async (i: number): Promise<number | undefined> => {
    if (!cache.has(i)) cache.set(i, await firstCommitIn(bin, dir, timeline, segs[i]!.name));
    return cache.get(i);
  };
  // Probe i, or the nearest later segment with a commit.
  const probe = async (i: number, hi: number): Promise<[number, number] | undefined> => {
    for (let j = i; j <= hi && j < i + 8; j++) {
      const t = await timeAt(j);
      if (t !== undefined) return [j, t];
    }
    return undefined;
  };
  const first = await probe(0, segs.length - 1);
  if (!first) return { index: 0, beforeOldest: false };
  if (first[1] > sinceMs) return { index: 0, beforeOldest: true, firstTime: new Date(first[1]).toISOString() };
  let lo = first[0];
  let hi = segs.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const p = await probe(mid, hi);
    if (p && p[1] <= sinceMs) lo = p[0];
    else hi = mid - 1;
  }
  return { index: lo, beforeOldest: false };
}
